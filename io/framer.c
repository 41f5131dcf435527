/* SPDX-License-Identifier: Apache-2.0 */
/*
 * framer.c - streaming readLine framing (contract in framer.h).
 *
 * A feed is scanned once: next_eol() finds the next '\n' or '\r' (64-byte SSE2 masks,
 * or memchr; see scanner). Complete records that lie wholly inside the feed are collected as a
 * "run" of (offset, length) pairs; a run is flushed with one sl_col_str_space reservation and one
 * memcpy of the span from its first record to its last (terminators between records are copied too:
 * at most 2 bytes per record, cheaper than a memcpy per record), then one view per record is stored
 * in place (sl_col_reserve once). A skipped record ends the run, so no skipped bytes are ever
 * copied. A record that began in an earlier feed is assembled from the partial buffer and the head
 * of this feed with a reservation of its own.
 *
 * Invariants (between calls):
 *   - plen <= max; plen > 0 implies !skipping (a partial that grows beyond max is
 *     dropped at once and the framer switches to skipping);
 *   - cr implies the last byte consumed was a '\r' that ended a record and plen == 0,
 *     !skipping: a '\n' as the next byte is swallowed, anything else starts a record;
 *   - records are appended in stream order: the run is flushed before anything else
 *     is appended, and the partial is only appended when its terminator is seen, which
 *     happens before any record of the run.
 */
#include "framer.h"

#include <errno.h>
#include <string.h>

#define RUN_MAX  256 /* records collected before a run is flushed */
#define PART_MIN 256 /* first size of the partial-record buffer */

/* Complete records of the current feed not yet appended: p[off[k] .. off[k] + len[k]). */
typedef struct run {
	uint32_t n;
	size_t off[RUN_MAX];
	size_t len[RUN_MAX];
} run;

#ifdef __SSE2__
#include <emmintrin.h>

/*
 * Finds terminators 64 bytes at a time: a 64-bit mask of the '\n' and '\r' bytes of
 * the window [base, wend) is computed once (four 16-byte compares with SSE2, or a byte
 * loop for the last window of a feed, which never reads past end), and each record
 * then costs a shift and a count of trailing zeros. Lines of a few dozen bytes made the
 * two memchr calls per record (one per terminator byte) the framer's main cost.
 */
typedef struct scanner {
	const char *end;
	const char *base, *wend; /* the window; empty until the first call */
	uint64_t mask;           /* bit k: base[k] is '\n' or '\r' */
} scanner;

#define SCANNER_INIT(p, n)                                                                         \
	{                                                                                          \
		.end = (p) + (n), .base = (p), .wend = (p), .mask = 0                              \
	}

static inline uint64_t eol_mask64(const char *q)
{
	const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	uint64_t m = 0;
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k));
		__m128i e = _mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr));
		m |= (uint64_t)(uint32_t)_mm_movemask_epi8(e) << (16 * k);
	}
	return m;
}

/* The first '\n' or '\r' in [from, sc->end), or NULL; from never decreases. */
static inline const char *next_eol(scanner *sc, const char *from)
{
	for (;;) {
		if (from < sc->wend) {
			/* base <= from < wend = base + at most 64 */
			uint64_t m = sc->mask & (~(uint64_t)0 << (from - sc->base));
			if (m)
				return sc->base + __builtin_ctzll(m);
			from = sc->wend;
		}
		if (from >= sc->end)
			return NULL;
		size_t left = (size_t)(sc->end - from);
		sc->base = from;
		if (left >= 64) {
			sc->mask = eol_mask64(from);
			sc->wend = from + 64;
		} else {
			uint64_t m = 0;
			for (size_t k = 0; k < left; k++)
				if (from[k] == '\n' || from[k] == '\r')
					m |= (uint64_t)1 << k;
			sc->mask = m;
			sc->wend = sc->end;
		}
	}
}
#else
/*
 * Finds terminators with two memchr scans that never go backwards: the position of
 * the next '\n' and of the next '\r' at or after the cursor are cached, and a scan is
 * only redone once the cursor has passed its cached hit. So each byte is looked at
 * about twice in all, even when one of the two bytes never occurs.
 */
typedef struct scanner {
	const char *end;
	const char *lf, *cr; /* next hit, or NULL: none before end */
	bool lf_ok, cr_ok;   /* the cached value is valid for the cursor */
} scanner;

#define SCANNER_INIT(p, n)                                                                         \
	{                                                                                          \
		.end = (p) + (n)                                                                   \
	}

/* The first '\n' or '\r' in [from, sc->end), or NULL; from never decreases. */
static inline const char *next_eol(scanner *sc, const char *from)
{
	if (!sc->lf_ok || (sc->lf && sc->lf < from)) {
		sc->lf = memchr(from, '\n', (size_t)(sc->end - from));
		sc->lf_ok = true;
	}
	if (!sc->cr_ok || (sc->cr && sc->cr < from)) {
		sc->cr = memchr(from, '\r', (size_t)(sc->end - from));
		sc->cr_ok = true;
	}
	if (!sc->lf)
		return sc->cr;
	if (!sc->cr)
		return sc->lf;
	return sc->lf < sc->cr ? sc->lf : sc->cr;
}
#endif

/* sl_framer_init: see the contract in framer.h */
void sl_framer_init(sl_framer *f, sl_mem *m, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->mem = m;
	f->max = max;
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

/* Flush the run: its records lie in one span of the input (with their terminators in
 * between); the span is copied with one reservation and one memcpy, then one view per
 * record is stored. In view mode nothing is copied: the views point into p. */
static void run_flush(run *r, const char *p, sl_col *out, sl_framer_stats *st, bool view)
{
	uint32_t n = r->n;
	if (!n)
		return;
	r->n = 0;
	if (view) {
		if (sl_col_reserve(out, n)) {
			st->skipped += n;
			st->nomem += n;
			return;
		}
		sl_str *v = out->v.s + out->len;
		uint64_t bytes = 0;
		for (uint32_t k = 0; k < n; k++) {
			v[k].p = p + r->off[k];
			v[k].len = r->len[k];
			bytes += r->len[k];
		}
		out->len += n;
		st->records += n;
		st->views += n;
		st->bytes += bytes;
		return;
	}
	size_t base = r->off[0], span = r->off[n - 1] + r->len[n - 1] - base;
	/* span 0 (empty records only): views still point into a buffer of the column */
	char *d = sl_col_str_space(out, span);
	if (!d || sl_col_reserve(out, n)) {
		/* d, if reserved, is left unused in the column's buffer */
		st->skipped += n;
		st->nomem += n;
		return;
	}
	if (span)
		memcpy(d, p + base, span);
	sl_str *v = out->v.s + out->len;
	uint64_t bytes = 0;
	for (uint32_t k = 0; k < n; k++) {
		v[k].p = d + (r->off[k] - base);
		v[k].len = r->len[k];
		bytes += r->len[k];
	}
	out->len += n;
	st->records += n;
	st->bytes += bytes;
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
	run r;
	r.n = 0;
	scanner sc = SCANNER_INIT(p, n);
	while (i < n && emitted < limit) {
		const char *e = next_eol(&sc, p + i);
		if (!e) {
			hold_tail(f, p + i, n - i, st);
			i = n;
			break;
		}
		size_t j = (size_t)(e - p), len = j - i;
		if (f->skipping) {
			f->skipping = false;
			st->skipped++;
		} else if (f->plen) {
			/* only the first record of a feed can have a partial, so the run is empty
			 */
			if (len > f->max - f->plen) {
				st->skipped++;
			} else {
				emit_joined(f, p + i, len, out, st);
				emitted++;
			}
			f->plen = 0;
		} else if (len > f->max) {
			/* the run must not span the skipped bytes */
			run_flush(&r, p, out, st, view);
			st->skipped++;
		} else {
			r.off[r.n] = i;
			r.len[r.n] = len;
			emitted++;
			if (++r.n == RUN_MAX)
				run_flush(&r, p, out, st, view);
		}
		if (*e == '\r') {
			if (j + 1 < n) {
				if (p[j + 1] == '\n')
					j++;
			} else {
				f->cr = true;
			}
		}
		i = j + 1;
	}
	run_flush(&r, p, out, st, view);
	return i;
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
