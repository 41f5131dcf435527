/* SPDX-License-Identifier: Apache-2.0 */
/*
 * framer.c - streaming readLine framing (contract in framer.h).
 *
 * A feed is scanned once, 64 bytes at a time. f->lines (one per ISA: SSE2, AVX2, AVX-512,
 * chosen by sl_framer_set_isa) takes whole blocks: one mask of the '\n' bytes per block,
 * and per set bit a count of trailing zeros and one 16-byte view stored straight into the
 * output column; it stops at a block that holds a '\r' or when the column needs room. It
 * only gets blocks in which no record can be longer than max and the record limit cannot
 * be reached, so it checks neither. Everything else (a '\r', which may swallow a following
 * '\n'; a record that may be too long; the limit in reach; no memory for views; the last
 * partial block) is framed one record at a time from the masks of f->block. On lines of a
 * few dozen bytes the framing costs about what reading the received bytes from memory
 * costs (the receive buffers are cold by the time the io thread frames them).
 *
 * View mode leaves the views pointing into the input. Copy mode does the same, then
 * "settles" the pending views: the span from the first pending record to the end of the
 * last one is copied with one sl_col_str_space reservation and one memcpy (terminators
 * between records are copied too: at most 2 bytes per record, cheaper than a memcpy per
 * record) and the pending views are moved onto the copy. A skipped record settles first,
 * so no skipped bytes are ever copied. The first record of a feed, when it continues a
 * partial (or skipped) record of earlier feeds, is handled on its own before the loop
 * (assembled from the partial buffer and the head of this feed).
 *
 * Invariants (between calls):
 *   - plen <= max; plen > 0 implies !skipping (a partial that grows beyond max is
 *     dropped at once and the framer switches to skipping);
 *   - cr implies the last byte consumed was a '\r' that ended a record and plen == 0,
 *     !skipping: a '\n' as the next byte is swallowed, anything else starts a record;
 *   - records are appended in stream order: the partial is appended when its terminator
 *     is seen, before any record of the loop; views are settled in place, in order.
 */
#include "framer.h"

#include <errno.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FRAMER_X86 1
#endif

#define PART_MIN 256 /* first size of the partial-record buffer */

/* ------------------------------------------------------------ per-ISA code
 * The only per-ISA part of the framer, each written once and compiled per ISA with a
 * target attribute (the build compiles the rest for baseline x86-64):
 *
 *   block_<isa>(q, &cr)  the masks of the '\n' bytes (returned) and the '\r' bytes (*cr)
 *                        of q[0..63] (bit k: q[k]); q[0..63] readable
 *   lines_<isa>(pb, nblk, &ps, &w, wend)
 *                        frames the whole 64-byte blocks pb[0 .. 64 nblk) in order and
 *                        stops before the first block that holds a '\r' or when fewer
 *                        than 64 views fit in [w, wend): each '\n' at e ends the record
 *                        [ps, e), stored at w as a view; ps moves past the '\n', w past
 *                        the view. Returns the blocks done. The caller has made sure
 *                        that no record can be too long and that the limit cannot be
 *                        reached in those blocks.
 */
/* Received bytes are out of cache when framed (one io_uring wait copies up to 32 buffers
 * of 256 KiB before the io thread frames the first), so the framer's loads missed: its
 * first compare took 72 % of its samples in a steady-state profile. A software prefetch 2 KiB ahead
 * cut the io thread's CPU per 64-byte line from 18-20 to 15-17 ns in bench_ingest (1 KiB and 4 KiB:
 * about the same). Past the end of the buffer it is harmless: prefetches do not fault (the
 * address is formed in uintptr_t, so no out-of-bounds pointer is made). */
#define FRAME_AHEAD 2048
#define LINES_BODY(BLOCK)                                                                          \
	{                                                                                          \
		const char *ps = *psp;                                                             \
		sl_str *w = *wp;                                                                   \
		size_t q = 0;                                                                      \
		for (; q < nblk; q++, pb += 64) {                                                  \
			__builtin_prefetch((const void *)((uintptr_t)pb + FRAME_AHEAD));           \
			uint64_t c, m = BLOCK(pb, &c);                                             \
			if (c || wend - w < 64)                                                    \
				break;                                                             \
			while (m) {                                                                \
				const char *e = pb + __builtin_ctzll(m);                           \
				m &= m - 1;                                                        \
				w->p = ps;                                                         \
				w->len = (size_t)(e - ps);                                         \
				w++;                                                               \
				ps = e + 1;                                                        \
			}                                                                          \
		}                                                                                  \
		*psp = ps;                                                                         \
		*wp = w;                                                                           \
		return q;                                                                          \
	}

#ifdef __SSE2__
static inline __attribute__((always_inline)) uint64_t block_base_in(const char *q, uint64_t *cr)
{
	const __m128i n = _mm_set1_epi8('\n'), r = _mm_set1_epi8('\r');
	__m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)q);
	__m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(q + 16));
	__m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(q + 32));
	__m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(q + 48));
	*cr = (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x0, r)) |
	      (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x1, r)) << 16 |
	      (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x2, r)) << 32 |
	      (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x3, r)) << 48;
	return (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x0, n)) |
	       (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x1, n)) << 16 |
	       (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x2, n)) << 32 |
	       (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x3, n)) << 48;
}
#else
static inline __attribute__((always_inline)) uint64_t block_base_in(const char *q, uint64_t *cr)
{
	uint64_t m = 0, c = 0;
	for (unsigned k = 0; k < 64; k++) {
		m |= (uint64_t)(q[k] == '\n') << k;
		c |= (uint64_t)(q[k] == '\r') << k;
	}
	*cr = c;
	return m;
}
#endif

static uint64_t block_base(const char *q, uint64_t *cr)
{
	return block_base_in(q, cr);
}

static size_t lines_base(const char *pb, size_t nblk, const char **psp, sl_str **wp,
			 const sl_str *wend) LINES_BODY(block_base_in)

#ifdef FRAMER_X86
    __attribute__((target("avx2"))) static inline __attribute__((always_inline)) uint64_t
    block_avx2_in(const char *q, uint64_t *cr)
{
	const __m256i n = _mm256_set1_epi8('\n'), r = _mm256_set1_epi8('\r');
	__m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)q);
	__m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
	*cr = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x0, r)) |
	      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x1, r)) << 32;
	return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x0, n)) |
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x1, n)) << 32;
}

__attribute__((target("avx2"))) static uint64_t block_avx2(const char *q, uint64_t *cr)
{
	return block_avx2_in(q, cr);
}

__attribute__((target("avx2"))) static size_t
lines_avx2(const char *pb, size_t nblk, const char **psp, sl_str **wp, const sl_str *wend)
    LINES_BODY(block_avx2_in)

	__attribute__((target("avx512f,avx512bw"))) static inline
    __attribute__((always_inline)) uint64_t block_avx512_in(const char *q, uint64_t *cr)
{
	__m512i x = _mm512_loadu_si512((const void *)q);
	*cr = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('\r'));
	return _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('\n'));
}

__attribute__((target("avx512f,avx512bw"))) static uint64_t block_avx512(const char *q,
									 uint64_t *cr)
{
	return block_avx512_in(q, cr);
}

__attribute__((target("avx512f,avx512bw"))) static size_t
lines_avx512(const char *pb, size_t nblk, const char **psp, sl_str **wp, const sl_str *wend)
    LINES_BODY(block_avx512_in)
#endif

    /* The masks of p[b .. b + len) (len <= 64; bit k: p[b + k]), never reading outside
     * p[0 .. n): a whole block, the last 64 bytes of p shifted down, or a byte loop when
     * n < 64. */
    static uint64_t
    masks_at(const sl_framer *f, const char *p, size_t b, size_t len, size_t n, uint64_t *cr)
{
	if (len == 64)
		return f->block(p + b, cr);
	if (n >= 64) {
		uint64_t c, m = f->block(p + n - 64, &c);
		*cr = c >> (64 - len);
		return m >> (64 - len);
	}
	uint64_t m = 0, c = 0;
	for (size_t k = 0; k < len; k++) {
		m |= (uint64_t)(p[b + k] == '\n') << k;
		c |= (uint64_t)(p[b + k] == '\r') << k;
	}
	*cr = c;
	return m;
}

/* The first '\n' or '\r' in p[i .. n), or n. */
static size_t find_eol(const sl_framer *f, const char *p, size_t i, size_t n)
{
	for (; i < n; i += 64) {
		uint64_t cr, m = masks_at(f, p, i, n - i < 64 ? n - i : 64, n, &cr) | cr;
		if (m)
			return i + (size_t)__builtin_ctzll(m);
	}
	return n;
}

/* sl_framer_init: see the contract in framer.h */
void sl_framer_init(sl_framer *f, sl_mem *m, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->mem = m;
	f->max = max;
	f->block = block_base;
	f->lines = lines_base;
}

/* sl_framer_set_isa: see the contract in framer.h */
const char *sl_framer_set_isa(sl_framer *f, const char *isa)
{
	f->block = block_base;
	f->lines = lines_base;
#ifdef FRAMER_X86
	if (isa && !strcmp(isa, "avx512") && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw")) {
		f->block = block_avx512;
		f->lines = lines_avx512;
		return "avx512";
	}
	if (isa && (!strcmp(isa, "avx2") || !strcmp(isa, "avx512")) &&
	    __builtin_cpu_supports("avx2")) {
		f->block = block_avx2;
		f->lines = lines_avx2;
		return "avx2";
	}
#else
	(void)isa;
#endif
	return "base";
}

/* sl_framer_fini: see the contract in framer.h */
void sl_framer_fini(sl_framer *f)
{
	if (f->part)
		sl_dealloc(f->mem, f->part, f->pcap);
	f->part = NULL;
	f->plen = f->pcap = 0;
	f->cr = f->skipping = false;
}

/* sl_framer_reset: see the contract in framer.h */
size_t sl_framer_reset(sl_framer *f)
{
	size_t n = f->plen;
	f->plen = 0;
	f->cr = f->skipping = false;
	return n;
}

/* Append the record part[0..plen) + q[0..n) (total <= max). */
static void emit_joined(sl_framer *f, const char *q, size_t n, sl_col *out, sl_framer_stats *st)
{
	size_t total = f->plen + n;
	char *d = sl_col_str_space(out, total);
	if (!d || sl_col_push_view(out, d, total)) {
		st->skipped++;
		st->nomem++;
		return;
	}
	memcpy(d, f->part, f->plen);
	if (n)
		memcpy(d + f->plen, q, n);
	st->records++;
	st->bytes += total;
}

/* Keep q[0..n) as (the rest of) the partial record, or switch to skipping. */
static void hold_tail(sl_framer *f, const char *q, size_t n, sl_framer_stats *st)
{
	if (f->skipping || !n)
		return;
	if (n > f->max - f->plen) {
		f->plen = 0;
		f->skipping = true;
		return;
	}
	size_t need = f->plen + n;
	if (need > f->pcap) {
		size_t cap = f->pcap ? f->pcap : PART_MIN;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > f->max && need <= f->max)
			cap = f->max;
		char *np = sl_realloc(f->mem, -1, f->part, f->pcap, cap);
		if (!np) {
			/* the record cannot be kept: drop it like an oversize one, counted */
			st->nomem++;
			f->plen = 0;
			f->skipping = true;
			return;
		}
		f->part = np;
		f->pcap = cap;
	}
	memcpy(f->part + f->plen, q, n);
	f->plen = need;
}

/* Past the terminator at p[j]: a "\r\n" inside the feed is one terminator; a '\r' that is the
 * feed's last byte leaves f->cr set for the next feed. Returns the next record's start. */
static inline size_t after_eol(sl_framer *f, const char *p, size_t j, size_t n)
{
	if (p[j] == '\r') {
		if (j + 1 == n)
			f->cr = true;
		else if (p[j + 1] == '\n')
			return j + 2;
	}
	return j + 1;
}

/* The views out->v.s[from .. out->len) point into the feed: in copy mode, copy their span
 * p[s0 .. e0) once and move them onto the copy (view mode: nothing to do). If there is no
 * memory, the records are dropped: returns how many (their bytes added to *lost). */
static size_t settle(const char *p, size_t s0, size_t e0, sl_col *out, size_t from, bool view,
		     uint64_t *lost)
{
	size_t n = out->len - from;
	if (view || !n)
		return 0;
	/* span 0 (empty records only): views still point into a buffer of the column */
	char *d = sl_col_str_space(out, e0 - s0);
	sl_str *v = out->v.s + from;
	if (!d) {
		for (size_t k = 0; k < n; k++)
			*lost += v[k].len;
		out->len = from;
		return n;
	}
	if (e0 > s0)
		memcpy(d, p + s0, e0 - s0);
	const char *base = p + s0;
	for (size_t k = 0; k < n; k++)
		v[k].p = d + (v[k].p - base);
	return 0;
}

/*
 * The records that begin at p[i] or later (the framer is between records: no partial, not
 * skipping): at most lim (>= 1) of them are appended. Returns the bytes consumed: n, or
 * the end of the lim-th record's terminator. Whole blocks go to f->lines as long as no
 * record can be too long and the limit cannot be reached in them (the common case: one
 * count of trailing zeros and one view per record); a block it stops at ('\r', no room
 * for views) and the last partial block are framed here, one record at a time.
 */
static size_t bulk(sl_framer *f, const char *p, size_t i, size_t n, sl_col *out, uint64_t lim,
		   sl_framer_stats *st, bool view)
{
	const size_t max = f->max;
	/* views out->v.s[from .. k) are this call's that settle() has not seen; the first
	 * of them starts at p[s0]; the current record starts at p[start] */
	size_t start = i, s0 = i, from = out->len, k = out->len;
	uint64_t bytes = 0, got = 0, skipped = 0, nomem = 0, lost = 0;
	bool carry = false; /* the block at b begins with the '\n' of a "\r\n" */
	bool hit = false;
	size_t b = i;
	while (b < n) {
		size_t whole = (n - b) / 64;
		if (whole && !carry) {
			/* blocks in which every record is at most max bytes (the longest
			 * ends at their end) and that hold fewer records than the limit */
			size_t nb =
			    max - (b - start) >= 64 * whole ? whole : (max - (b - start)) / 64;
			if (lim - got < 64 * (uint64_t)nb)
				nb = (size_t)((lim - got) / 64);
			if (nb && b - start <= max) {
				const char *ps = p + start;
				sl_str *v = out->v.s, *w = v + k;
				size_t done = f->lines(p + b, nb, &ps, &w, v + out->cap);
				size_t cnt = (size_t)(w - (v + k));
				k += cnt;
				got += cnt;
				/* the records' bytes: all of them but one terminator each */
				bytes += (size_t)(ps - p) - start - cnt;
				start = (size_t)(ps - p);
				b += 64 * done;
				if (b >= n)
					break;
			}
		}
		/* one block, one record at a time: a '\r', a record that may be too long,
		 * the limit in reach, no room for views, or the last partial block */
		size_t len = n - b < 64 ? n - b : 64;
		uint64_t c, m = masks_at(f, p, b, len, n, &c);
		if (carry)
			m &= ~(uint64_t)1;
		carry = false;
		m |= c;
		if (m) {
			bool room = out->cap - k >= 64; /* a block ends at most 64 records */
			if (!room) {
				/* without memory for 64 more, what is left may hold this block */
				out->len = k;
				room = !sl_col_reserve(out, 64) ||
				       out->cap - k >= (size_t)__builtin_popcountll(m);
			}
			sl_str *v = out->v.s;
			do {
				size_t j = b + (size_t)__builtin_ctzll(m), rl = j - start;
				m &= m - 1;
				if (rl <= max && room) {
					v[k].p = p + start;
					v[k].len = rl;
					k++;
					bytes += rl;
					got++;
				} else {
					/* settle what precedes, so that a copy never spans
					 * skipped bytes */
					out->len = k;
					size_t d = settle(p, s0, start, out, from, view, &lost);
					got -= d;
					/* no room: dropped for want of memory */
					nomem += d + (rl <= max);
					skipped += d + 1;
					k = from = out->len;
					s0 = j + 1;
				}
				start = j + 1;
				if (c >> (j - b) & 1) {
					start = after_eol(f, p, j, n);
					if (start == j + 2) { /* "\r\n": this '\n' ends nothing */
						if (j + 1 - b < 64)
							m &= ~((uint64_t)1 << (j + 1 - b));
						else
							carry = true;
						if (s0 == j + 1)
							s0 = j + 2;
					}
				}
				if (got == lim) {
					hit = true;
					goto done;
				}
			} while (m);
		}
		b += len;
	}
done:
	out->len = k;
	if (k > from) {
		/* the span ends with the last record (its terminator excluded) */
		sl_str *last = &out->v.s[k - 1];
		size_t d = settle(p, s0, (size_t)(last->p - p) + last->len, out, from, view, &lost);
		got -= d;
		nomem += d;
		skipped += d;
	}
	st->records += got;
	st->views += view ? got : 0;
	st->bytes += bytes - lost;
	st->skipped += skipped;
	st->nomem += nomem;
	if (hit)
		return start;
	if (start < n)
		hold_tail(f, p + start, n - start, st);
	return n;
}

/* The feed loop of sl_framer_feed (view false) and sl_framer_feed_view (view true). */
static inline size_t feed(sl_framer *f, const char *p, size_t n, sl_col *out, uint64_t limit,
			  sl_framer_stats *st, bool view)
{
	size_t i = 0;
	uint64_t emitted = 0;
	if (!n || !limit)
		return 0;
	if (f->cr) {
		f->cr = false;
		if (p[0] == '\n')
			i = 1;
	}
	if (f->plen || f->skipping) {
		/* the first record began in an earlier feed */
		size_t j = find_eol(f, p, i, n);
		if (j == n) {
			hold_tail(f, p + i, n - i, st);
			return n;
		}
		size_t len = j - i;
		if (f->skipping) {
			f->skipping = false;
			st->skipped++;
		} else {
			if (len > f->max - f->plen) {
				st->skipped++;
			} else {
				emit_joined(f, p + i, len, out, st);
				emitted++;
			}
			f->plen = 0;
		}
		i = after_eol(f, p, j, n);
		if (emitted == limit)
			return i;
	}
	if (i == n)
		return n;
	return bulk(f, p, i, n, out, limit - emitted, st, view);
}

/* sl_framer_feed: see the contract in framer.h */
size_t sl_framer_feed(sl_framer *f, const char *p, size_t n, sl_col *out, uint64_t limit,
		      sl_framer_stats *st)
{
	return feed(f, p, n, out, limit, st, false);
}

/* sl_framer_feed_view: see the contract in framer.h */
size_t sl_framer_feed_view(sl_framer *f, const char *p, size_t n, sl_col *out, uint64_t limit,
			   sl_framer_stats *st)
{
	return feed(f, p, n, out, limit, st, true);
}

/* sl_framer_eof: see the contract in framer.h */
void sl_framer_eof(sl_framer *f, sl_col *out, sl_framer_stats *st)
{
	if (f->skipping)
		st->skipped++;
	else if (f->plen)
		emit_joined(f, NULL, 0, out, st);
	sl_framer_reset(f);
}
