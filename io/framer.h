/* SPDX-License-Identifier: Apache-2.0 */
/*
 * framer.h - streaming line framing with Java's BufferedReader.readLine rules, for
 * receivers that get a byte stream in arbitrary pieces (one recv at a time).
 *
 * Rules:
 *   - "\n", "\r\n" and "\r" each end a record; a "\r" that is the last byte of one feed
 *     and a "\n" that is the first byte of the next are ONE terminator;
 *   - the terminator is not part of the record; "\n\n" is two empty records;
 *   - bytes after the last terminator are held (the partial record) until their
 *     terminator arrives, or until sl_framer_eof, which makes them a record
 *     (readLine at end of stream); an empty partial is no record;
 *   - a record longer than max bytes is skipped whole: its bytes up to the next
 *     terminator (or end of stream) are dropped and it is counted in `skipped`; it is
 *     never truncated; a record of exactly max bytes is kept;
 *   - every other byte, NUL and invalid UTF-8 included, is an ordinary byte.
 *
 * Output: records are appended to a String column given per call: the bytes are copied
 * once into the column's own buffer (sl_col_str_space, then sl_col_push_view), so the
 * caller may reuse its input buffer as soon as the call returns. Consecutive records
 * of one feed share one reservation. sl_framer_feed_view instead appends the records
 * that lie wholly inside the input as views into it (no copy); the caller must have
 * made the column hold the buffer the input lives in.
 *
 * Memory: the partial record lives in a buffer of the framer (sl_alloc from the sl_mem
 * given to init), at most max bytes. If memory runs out, the record that needed it is
 * dropped and counted in both `skipped` and `nomem`; framing goes on with the next
 * record (the framer never gets into an inconsistent state).
 *
 * Thread safety: none; a framer belongs to one connection of one thread.
 */
#ifndef SL_FRAMER_H
#define SL_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/col.h"

/* What a call did; every call adds to the fields (the caller zeroes them). */
typedef struct sl_framer_stats {
	uint64_t records; /* records appended to the column */
	uint64_t skipped; /* records dropped: too long, or no memory */
	uint64_t nomem;   /* of which dropped because an allocation failed */
	uint64_t bytes;   /* record bytes appended to the column (terminators excluded) */
	uint64_t views;   /* of the records, those appended as views into the input */
} sl_framer_stats;

typedef struct sl_framer {
	sl_mem *mem;
	size_t max; /* longest record kept, in bytes */
	char *part; /* the partial record: part[0 .. plen) */
	size_t plen, pcap;
	bool cr;       /* the last byte fed was a '\r' that ended a record */
	bool skipping; /* inside a record longer than max: drop up to the next terminator */
	/* the per-ISA loops (sl_framer_set_isa; framer.c describes them) */
	uint64_t (*block)(const char *q, uint64_t *cr);
	size_t (*lines)(const char *pb, size_t nblk, const char **ps, sl_str **w,
			const sl_str *wend);
} sl_framer;

/*
 * sl_framer_init - an empty framer that keeps records of at most max bytes and
 * allocates its partial-record buffer from m. Never fails (the buffer is allocated on
 * first use). Free with sl_framer_fini.
 */
void sl_framer_init(sl_framer *f, sl_mem *m, size_t max);

/*
 * sl_framer_set_isa - frame with the instruction set isa ("avx512", "avx2"; anything
 * else, NULL included: the baseline of the build, SSE2 on x86-64), as the context's kernel
 * table names it (env->kern->isa), falling back to a smaller one when this CPU lacks it.
 * Same output for every choice. Returns the name of the loop chosen ("avx512", "avx2",
 * "base"). sl_framer_init chooses "base".
 */
const char *sl_framer_set_isa(sl_framer *f, const char *isa);

/*
 * sl_framer_fini - free the partial-record buffer (a pending partial is discarded).
 * The framer may be initialised again afterwards.
 */
void sl_framer_fini(sl_framer *f);

/*
 * sl_framer_feed - frame the next n bytes of the stream (p may be NULL when n is 0).
 * Complete records are appended to out (a String column); at most `limit` records are
 * appended (UINT64_MAX: no limit; 0 appends nothing and consumes nothing). Returns the
 * number of bytes consumed: n, or fewer when the limit was reached, in which case
 * framing stopped right after the terminator of the limit-th record and the caller
 * feeds p + consumed later. st (not NULL) is added to.
 */
size_t sl_framer_feed(sl_framer *f, const char *p, size_t n, sl_col *out, uint64_t limit,
		      sl_framer_stats *st);

/*
 * sl_framer_feed_view - sl_framer_feed, except that records lying wholly inside
 * p[0 .. n) are appended as views pointing into p instead of copies (counted in
 * st->views as well as st->records); records that began in an earlier feed are still
 * assembled by copying. The caller must keep p's bytes alive and unchanged as long as
 * out (or anything sharing its buffers) lives, i.e. out must hold a reference to the
 * sl_buf p lies in before the call. Same return value and rules as sl_framer_feed.
 */
size_t sl_framer_feed_view(sl_framer *f, const char *p, size_t n, sl_col *out, uint64_t limit,
			   sl_framer_stats *st);

/*
 * sl_framer_eof - end of stream: a non-empty partial record becomes a record (or is
 * counted as skipped when it was too long); then the framer is reset to its initial
 * state, ready for a new stream. st (not NULL) is added to.
 */
void sl_framer_eof(sl_framer *f, sl_col *out, sl_framer_stats *st);

/*
 * sl_framer_reset - forget the current stream without producing anything (the
 * partial record, if any, is dropped). Returns the bytes of partial record dropped
 * (0 when the framer was between records; a skipped oversize record counts 0).
 */
size_t sl_framer_reset(sl_framer *f);

/* sl_framer_pending - bytes of partial record held (0 when between records). */
static inline size_t sl_framer_pending(const sl_framer *f)
{
	return f->plen;
}

#endif
