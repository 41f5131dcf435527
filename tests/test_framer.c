/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_framer.c - tests of io/framer.c (streaming readLine framing).
 *
 * Most tests compare the framer, fed in pieces, with a tiny reference that frames the
 * whole input at once byte by byte (ref_frame), so every split position of an input
 * must give exactly the records (and skip count) of the unsplit input.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "col.h"
#include "framer.h"
#include "mem.h"

static sl_mem *mem;

static void setup(void)
{
	cr_assert_eq(sl_mem_new(&mem, 0), 0);
}

static void teardown(void)
{
	cr_expect_eq(sl_mem_in_use(mem), 0, "framer or columns leaked memory");
	sl_mem_free(mem);
	mem = NULL;
}

TestSuite(framer, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a simple reference: the whole input at once, byte by byte ---- */

typedef struct recs {
	size_t n;
	size_t cap;
	char **p;
	size_t *len;
	uint64_t skipped;
} recs;

static void recs_add(recs *r, const char *p, size_t n)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->p = realloc(r->p, r->cap * sizeof(*r->p));
		r->len = realloc(r->len, r->cap * sizeof(*r->len));
		cr_assert(r->p && r->len);
	}
	r->p[r->n] = malloc(n + 1);
	cr_assert_not_null(r->p[r->n]);
	if (n)
		memcpy(r->p[r->n], p, n);
	r->len[r->n++] = n;
}

static void recs_free(recs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->p[i]);
	free(r->p);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

static void ref_frame(const char *in, size_t n, size_t max, recs *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] != '\n' && in[i] != '\r')
			continue;
		size_t len = i - start;
		if (len > max)
			out->skipped++;
		else
			recs_add(out, in + start, len);
		if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	if (start < n) {
		if (n - start > max)
			out->skipped++;
		else
			recs_add(out, in + start, n - start);
	}
}

/* ---- driving the framer ---- */

static void col_to_recs(const sl_col *c, recs *out)
{
	for (size_t i = 0; i < c->len; i++)
		recs_add(out, c->v.s[i].p, c->v.s[i].len);
}

/* Feed with sl_framer_feed_view instead of sl_framer_feed (views into the input). */
static bool feed_views;
/* The framing loop to use (sl_framer_set_isa); NULL: the one sl_framer_init picks. */
static const char *framer_isa;

/* Frame in[0..n) fed at the cut points cuts[0..ncuts) (increasing), then EOF; each
 * feed may be limited to `limit` records per call (the rest is fed again). Also checks
 * the stats against the column. */
static void run_framer(const char *in, size_t n, size_t max, const size_t *cuts, size_t ncuts,
		       uint64_t limit, recs *out)
{
	sl_framer f;
	sl_framer_init(&f, mem, max);
	if (framer_isa)
		sl_framer_set_isa(&f, framer_isa);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	cr_assert_not_null(c);
	sl_framer_stats st = {0};
	size_t at = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : n;
		while (at < to) {
			uint64_t before = st.records;
			size_t used = feed_views
					  ? sl_framer_feed_view(&f, in + at, to - at, c, limit, &st)
					  : sl_framer_feed(&f, in + at, to - at, c, limit, &st);
			cr_assert_leq(st.records - before, limit);
			if (used < to - at)
				cr_assert_eq(st.records - before, limit,
					     "stopped early without the limit");
			at += used;
		}
	}
	sl_framer_eof(&f, c, &st);
	cr_assert_eq(sl_framer_pending(&f), 0);
	cr_assert_eq(st.records, c->len);
	cr_assert_eq(st.nomem, 0);
	uint64_t bytes = 0;
	for (size_t i = 0; i < c->len; i++)
		bytes += c->v.s[i].len;
	cr_assert_eq(st.bytes, bytes);
	/* views point into the input, copies into the column's buffers */
	uint64_t inside = 0;
	for (size_t i = 0; i < c->len; i++)
		inside += c->v.s[i].p >= in && c->v.s[i].p <= in + n;
	cr_assert_eq(inside, feed_views ? st.views : 0);
	col_to_recs(c, out);
	out->skipped += st.skipped;
	sl_col_unref(c);
	sl_framer_fini(&f);
}

static void expect_same(const recs *a, const recs *b, const char *what)
{
	cr_assert_eq(a->n, b->n, "%s: %zu records, expected %zu", what, a->n, b->n);
	cr_assert_eq(a->skipped, b->skipped, "%s: %llu skipped, expected %llu", what,
		     (unsigned long long)a->skipped, (unsigned long long)b->skipped);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_eq(a->len[i], b->len[i], "%s: record %zu has length %zu, expected %zu",
			     what, i, a->len[i], b->len[i]);
		cr_assert(!memcmp(a->p[i], b->p[i], a->len[i]), "%s: record %zu differs", what, i);
	}
}

/* The records of in (fed at once) are exactly exp[0..nexp), with `skipped` skipped. */
static void expect_records(const char *in, size_t n, size_t max, const char *const *exp,
			   size_t nexp, uint64_t skipped)
{
	recs got = {0}, want = {0}, ref = {0};
	for (size_t i = 0; i < nexp; i++)
		recs_add(&want, exp[i], strlen(exp[i]));
	want.skipped = skipped;
	run_framer(in, n, max, NULL, 0, UINT64_MAX, &got);
	expect_same(&got, &want, "at once");
	ref_frame(in, n, max, &ref);
	expect_same(&ref, &want, "reference");
	recs_free(&got);
	recs_free(&want);
	recs_free(&ref);
}

/* Every way to cut in into two and three feeds gives the records of the reference;
 * so does feeding one byte at a time, with and without a limit of 1 record per call. */
static void expect_all_splits(const char *in, size_t n, size_t max)
{
	recs ref = {0};
	ref_frame(in, n, max, &ref);
	char what[64];
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			size_t cuts[2] = {a, b};
			recs got = {0};
			run_framer(in, n, max, cuts, 2, UINT64_MAX, &got);
			snprintf(what, sizeof(what), "cuts at %zu, %zu", a, b);
			expect_same(&got, &ref, what);
			recs_free(&got);
		}
	}
	size_t *cuts = malloc((n + 1) * sizeof(size_t));
	cr_assert_not_null(cuts);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	for (uint64_t limit = 1; limit <= 2; limit++) {
		recs got = {0};
		run_framer(in, n, max, cuts, n, limit, &got);
		expect_same(&got, &ref, "byte by byte");
		recs_free(&got);
		recs got2 = {0};
		run_framer(in, n, max, NULL, 0, limit, &got2);
		expect_same(&got2, &ref, "limited");
		recs_free(&got2);
	}
	free(cuts);
	recs_free(&ref);
}

#define S(lit) lit, sizeof(lit) - 1

Test(framer, every_terminator_kind)
{
	const char *lf[] = {"a", "bc"};
	expect_records(S("a\nbc\n"), 100, lf, 2, 0);
	expect_records(S("a\r\nbc\r\n"), 100, lf, 2, 0);
	expect_records(S("a\rbc\r"), 100, lf, 2, 0);
	const char *mixed[] = {"one", "two", "three", "four", "five"};
	expect_records(S("one\ntwo\r\nthree\rfour\r\nfive"), 100, mixed, 5, 0);
	expect_all_splits(S("one\ntwo\r\nthree\rfour\r\nfive"), 100);
}

Test(framer, empty_lines)
{
	const char *two[] = {"", ""};
	expect_records(S("\n\n"), 100, two, 2, 0);
	expect_records(S("\r\r"), 100, two, 2, 0);
	expect_records(S("\r\n\r\n"), 100, two, 2, 0);
	expect_records(S("\n\r"), 100, two, 2, 0); /* LF then CR: two terminators */
	const char *three[] = {"", "x", ""};
	expect_records(S("\nx\r\r\n"), 100, three, 3, 0);
	expect_records(S(""), 100, NULL, 0, 0);
	expect_all_splits(S("\n\r\n\r\r\n\n\r"), 100);
}

Test(framer, crlf_split_at_every_position)
{
	/* the CR and the LF of each terminator land in different feeds at some cut */
	expect_all_splits(S("ab\r\ncd\r\n\r\nef\r\n"), 100);
	/* a feed that is exactly "\r" then one that is exactly "\n" */
	sl_framer f;
	sl_framer_init(&f, mem, 100);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	sl_framer_stats st = {0};
	cr_assert_eq(sl_framer_feed(&f, S("x\r"), c, UINT64_MAX, &st), 2);
	cr_assert_eq(c->len, 1, "a CR ends the record at once, without waiting for the LF");
	cr_assert_eq(sl_framer_feed(&f, S("\n"), c, UINT64_MAX, &st), 1);
	cr_assert_eq(sl_framer_feed(&f, S("\n"), c, UINT64_MAX, &st), 1);
	cr_assert_eq(c->len, 2, "the second LF is an empty record");
	cr_assert_eq(c->v.s[1].len, 0);
	sl_framer_eof(&f, c, &st);
	cr_assert_eq(c->len, 2);
	sl_col_unref(c);
	sl_framer_fini(&f);
}

Test(framer, feed_boundaries_at_every_byte)
{
	const char in[] =
	    "alpha\nbeta\r\ngamma\rdelta\n\nepsilon zeta eta theta iota kappa\r\nlast";
	expect_all_splits(in, sizeof(in) - 1, 1000);
	/* long records (several words for the 8-byte scanner) around every cut */
	char big[300];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	big[37] = '\n';
	big[38] = '\r';
	big[101] = '\r';
	big[102] = '\n';
	big[200] = '\n';
	big[201] = '\n';
	recs ref = {0};
	ref_frame(big, sizeof(big), 1000, &ref);
	cr_assert_eq(ref.n, 6);
	for (size_t a = 0; a <= sizeof(big); a++) {
		size_t cuts[1] = {a};
		recs got = {0};
		run_framer(big, sizeof(big), 1000, cuts, 1, UINT64_MAX, &got);
		expect_same(&got, &ref, "one cut");
		recs_free(&got);
	}
	recs_free(&ref);
}

Test(framer, oversize_skipped_and_counted)
{
	const char *ok[] = {"abc", "xy", "", "wxyz"};
	expect_records(S("abc\nabcdefgh\nxy\n\nwxyz\r\n"), 4, ok, 4, 1);
	/* several in a row, every terminator kind, and one at EOF */
	const char *ok2[] = {"1", "2", "3"};
	expect_records(S("toolong\r1\rtoolong\r\n2\r\ntoolong\n3\ntoolong"), 4, ok2, 3, 4);
	/* oversize across feeds, at every cut, also byte by byte with limits */
	expect_all_splits(S("abc\nabcdefgh\nxy\r\nabcdefghijk\rq\r\nlongerthanmax"), 4);
	/* a record that becomes too long only after several feeds */
	sl_framer f;
	sl_framer_init(&f, mem, 10);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	sl_framer_stats st = {0};
	sl_framer_feed(&f, S("ok\n0123"), c, UINT64_MAX, &st);
	sl_framer_feed(&f, S("4567"), c, UINT64_MAX, &st);
	cr_assert_eq(sl_framer_pending(&f), 8);
	sl_framer_feed(&f, S("89A"), c, UINT64_MAX, &st);
	cr_assert_eq(sl_framer_pending(&f), 0, "a partial beyond max is dropped at once");
	sl_framer_feed(&f, S("BCDEFGHIJKLMNOPQRSTUVWXYZ"), c, UINT64_MAX, &st);
	sl_framer_feed(&f, S("...\r"), c, UINT64_MAX, &st);
	sl_framer_feed(&f, S("\nnext\n"), c, UINT64_MAX, &st);
	cr_assert_eq(st.skipped, 1);
	cr_assert_eq(st.records, 2);
	cr_assert_eq(c->len, 2);
	cr_assert_eq(c->v.s[1].len, 4);
	cr_assert(!memcmp(c->v.s[1].p, "next", 4));
	sl_col_unref(c);
	sl_framer_fini(&f);
}

Test(framer, max_exactly_fitting)
{
	const char *fit[] = {"abcd", "wxyz", "", "ab"};
	expect_records(S("abcd\nabcde\nwxyz\r\n\nab"), 4, fit, 4, 1);
	expect_all_splits(S("abcd\nabcde\nwxyz\r\nabcd"), 4);
	const char *last[] = {"abcd"};
	expect_records(S("abcd"), 4, last, 1, 0);
	expect_records(S("abcde"), 4, NULL, 0, 1);
	/* max 0: only empty records are kept */
	const char *empties[] = {"", ""};
	expect_records(S("\na\n\r"), 0, empties, 2, 1);
	expect_all_splits(S("\na\n\rbb\r\n"), 0);
}

Test(framer, nul_and_binary_bytes_are_ordinary)
{
	const char in[] = "a\0b\n\0\n\xff\xfe\x80\r\n\0";
	recs got = {0};
	run_framer(in, sizeof(in) - 1, 100, NULL, 0, UINT64_MAX, &got);
	cr_assert_eq(got.n, 4);
	cr_assert_eq(got.len[0], 3);
	cr_assert(!memcmp(got.p[0], "a\0b", 3));
	cr_assert_eq(got.len[1], 1);
	cr_assert_eq(got.p[1][0], '\0');
	cr_assert_eq(got.len[2], 3);
	cr_assert(!memcmp(got.p[2], "\xff\xfe\x80", 3));
	cr_assert_eq(got.len[3], 1);
	cr_assert_eq(got.p[3][0], '\0');
	recs_free(&got);
	expect_all_splits(in, sizeof(in) - 1, 100);
}

Test(framer, eof_with_and_without_partial)
{
	sl_framer f;
	sl_framer_init(&f, mem, 100);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	sl_framer_stats st = {0};
	sl_framer_eof(&f, c, &st); /* empty stream: nothing */
	cr_assert_eq(c->len, 0);
	sl_framer_feed(&f, S("abc\n"), c, UINT64_MAX, &st);
	sl_framer_eof(&f, c, &st); /* no partial: nothing more */
	cr_assert_eq(c->len, 1);
	sl_framer_feed(&f, S("de"), c, UINT64_MAX, &st);
	cr_assert_eq(c->len, 1);
	cr_assert_eq(sl_framer_pending(&f), 2);
	sl_framer_eof(&f, c, &st); /* partial: a record */
	cr_assert_eq(c->len, 2);
	cr_assert(c->v.s[1].len == 2 && !memcmp(c->v.s[1].p, "de", 2));
	/* after eof the framer starts a new stream: a pending CR is forgotten */
	sl_framer_feed(&f, S("x\r"), c, UINT64_MAX, &st);
	sl_framer_eof(&f, c, &st);
	sl_framer_feed(&f, S("\ny\n"), c, UINT64_MAX, &st);
	cr_assert_eq(c->len, 5, "the LF after EOF starts an empty record of the new stream");
	cr_assert_eq(c->v.s[3].len, 0);
	/* reset drops the partial and says how much */
	sl_framer_feed(&f, S("lost"), c, UINT64_MAX, &st);
	cr_assert_eq(sl_framer_reset(&f), 4);
	sl_framer_eof(&f, c, &st);
	cr_assert_eq(c->len, 5);
	cr_assert_eq(st.records, 5);
	cr_assert_eq(st.skipped, 0);
	sl_col_unref(c);
	sl_framer_fini(&f);
}

Test(framer, limit_stops_after_the_terminator)
{
	sl_framer f;
	sl_framer_init(&f, mem, 100);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	sl_framer_stats st = {0};
	cr_assert_eq(sl_framer_feed(&f, S("a\r\nb\r\nc"), c, 0, &st), 0);
	cr_assert_eq(sl_framer_feed(&f, S("a\r\nb\r\nc"), c, 1, &st), 3, "the LF of CRLF too");
	cr_assert_eq(sl_framer_feed(&f, S("b\r\nc"), c, 1, &st), 3);
	cr_assert_eq(sl_framer_feed(&f, S("c"), c, 1, &st), 1);
	cr_assert_eq(c->len, 2);
	/* skipped records do not count against the limit */
	sl_framer_fini(&f);
	sl_framer_init(&f, mem, 2);
	cr_assert_eq(sl_framer_feed(&f, S("long\nlong\nok\nz\n"), c, 1, &st), 13);
	cr_assert_eq(c->len, 3);
	cr_assert_eq(st.skipped, 2);
	sl_col_unref(c);
	sl_framer_fini(&f);
}

Test(framer, out_of_memory_drops_and_counts)
{
	sl_framer f;
	sl_framer_init(&f, mem, 1 << 20);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	sl_framer_stats st = {0};
	sl_framer_feed(&f, S("before\n"), c, UINT64_MAX, &st);
	sl_mem_fail_after(mem, 0);
	/* the chunk buffer has room for this one: no allocation needed */
	sl_framer_feed(&f, S("fits\npartial"), c, UINT64_MAX, &st);
	sl_framer_feed(&f, S("rest\n"), c, UINT64_MAX, &st);
	char big[70000];
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	sl_framer_feed(&f, big, sizeof(big), c, UINT64_MAX, &st);
	sl_mem_fail_after(mem, -1);
	sl_framer_feed(&f, S("after\n"), c, UINT64_MAX, &st);
	cr_assert_eq(st.records, 3);
	cr_assert_eq(c->len, 3);
	cr_assert_eq(st.nomem, 2, "the split record and the 70000-byte one");
	cr_assert_eq(st.skipped, 2);
	cr_assert(c->v.s[2].len == 5 && !memcmp(c->v.s[2].p, "after", 5));
	sl_col_unref(c);
	sl_framer_fini(&f);
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

Test(framer, fuzz_against_reference)
{
	uint64_t seed = 0x5eed5eedULL;
	char *in = malloc(4096);
	size_t *cuts = malloc(4096 * sizeof(size_t));
	cr_assert(in && cuts);
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = rng(&seed) % 4096;
		unsigned density = 1 + (unsigned)(rng(&seed) % 64); /* terminators per 256 */
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rng(&seed);
			unsigned pick = (unsigned)(x & 255);
			if (pick < density)
				in[i] = (x >> 8) & 1 ? '\n' : '\r';
			else if (pick < density + 8)
				in[i] = '\0';
			else
				in[i] = (char)(x >> 16);
		}
		size_t max = rng(&seed) % 200;
		size_t ncuts = n ? rng(&seed) % 20 : 0;
		for (size_t k = 0; k < ncuts; k++)
			cuts[k] = rng(&seed) % (n + 1);
		/* sort the cuts (insertion sort, few of them) */
		for (size_t k = 1; k < ncuts; k++)
			for (size_t j = k; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		uint64_t limit = rng(&seed) % 4 ? UINT64_MAX : 1 + rng(&seed) % 5;
		recs ref = {0}, got = {0};
		ref_frame(in, n, max, &ref);
		run_framer(in, n, max, cuts, ncuts, limit, &got);
		char what[64];
		snprintf(what, sizeof(what), "fuzz iteration %d", iter);
		expect_same(&got, &ref, what);
		recs_free(&ref);
		recs_free(&got);
	}
	free(in);
	free(cuts);
}

Test(framer, views_frame_like_copies)
{
	feed_views = true;
	const char in[] =
	    "alpha\nbeta\r\ngamma\rdelta\n\nepsilon zeta eta theta iota kappa\r\nlast";
	expect_all_splits(in, sizeof(in) - 1, 1000);
	expect_all_splits(in, sizeof(in) - 1, 5);
	uint64_t seed = 0xfeedULL;
	char *big = malloc(4096);
	size_t cuts[8];
	cr_assert_not_null(big);
	for (int iter = 0; iter < 500; iter++) {
		size_t n = rng(&seed) % 4096;
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rng(&seed);
			unsigned pick = (unsigned)(x & 63);
			big[i] = pick == 0   ? '\r'
				 : pick == 1 ? '\n'
				 : pick == 2 ? '\0'
					     : (char)(x >> 8);
		}
		size_t ncuts = n ? rng(&seed) % 8 : 0;
		for (size_t k = 0; k < ncuts; k++)
			cuts[k] = (k ? cuts[k - 1] : 0) + rng(&seed) % (n / 8 + 1);
		size_t max = 50 + rng(&seed) % 200;
		uint64_t limit = rng(&seed) % 4 ? UINT64_MAX : 1 + rng(&seed) % 5;
		recs ref = {0}, got = {0};
		ref_frame(big, n, max, &ref);
		run_framer(big, n, max, cuts, ncuts, limit, &got);
		expect_same(&got, &ref, "views");
		recs_free(&ref);
		recs_free(&got);
	}
	free(big);
	feed_views = false;
}

/* Inputs of the shape receivers see (lines of a few dozen bytes, 64-byte aligned or not,
 * '\r' absent or rare, now and then a line longer than max), large enough for the
 * block loops, framed with every ISA this CPU runs, as copies and as views, at random
 * cuts and limits: the records are the reference's. */
Test(framer, every_isa_against_reference)
{
	static const char *const isas[] = {"base", "avx2", "avx512"};
	static const size_t maxes[] = {(size_t)1 << 20, 63, 64, 100, 1000, 5000};
	uint64_t seed = 0x15a15aULL;
	size_t cap = 40000;
	char *in = malloc(cap + 64);
	size_t *cuts = malloc(64 * sizeof(size_t));
	cr_assert(in && cuts);
	for (size_t a = 0; a < sizeof(isas) / sizeof(isas[0]); a++) {
		sl_framer probe;
		sl_framer_init(&probe, mem, 1);
		if (strcmp(sl_framer_set_isa(&probe, isas[a]), isas[a])) {
			sl_framer_fini(&probe);
			continue; /* this CPU lacks it */
		}
		sl_framer_fini(&probe);
		framer_isa = isas[a];
		for (int iter = 0; iter < 400; iter++) {
			/* misaligned inputs: the buffer starts 0..63 bytes into in */
			char *p = in + rng(&seed) % 64;
			size_t n = rng(&seed) % cap;
			unsigned crs = rng(&seed) % 3 ? 0 : 1 + (unsigned)(rng(&seed) % 8);
			for (size_t i = 0; i < n;) {
				size_t len = rng(&seed) % 20 ? rng(&seed) % 100 : rng(&seed) % 3000;
				for (size_t k = 0; k < len && i < n; k++, i++)
					p[i] = (char)('a' + (rng(&seed) & 15));
				if (i < n) {
					unsigned t =
					    crs && rng(&seed) % 100 < crs ? 1 + rng(&seed) % 2 : 0;
					p[i++] = t ? '\r' : '\n';
					if (t == 2 && i < n)
						p[i++] = '\n';
				}
			}
			size_t max = maxes[rng(&seed) % (sizeof(maxes) / sizeof(maxes[0]))];
			size_t ncuts = n ? rng(&seed) % 6 : 0;
			for (size_t k = 0; k < ncuts; k++)
				cuts[k] = (k ? cuts[k - 1] : 0) + rng(&seed) % (n / 4 + 1);
			while (ncuts && cuts[ncuts - 1] > n)
				ncuts--;
			uint64_t limit = rng(&seed) % 4 ? UINT64_MAX : 1 + rng(&seed) % 200;
			feed_views = rng(&seed) & 1;
			recs ref = {0}, got = {0};
			ref_frame(p, n, max, &ref);
			run_framer(p, n, max, cuts, ncuts, limit, &got);
			char what[96];
			snprintf(what, sizeof(what), "%s iteration %d (n %zu, max %zu, %s)",
				 isas[a], iter, n, max, feed_views ? "views" : "copies");
			expect_same(&got, &ref, what);
			recs_free(&ref);
			recs_free(&got);
		}
		/* the short inputs of the other tests, at every cut */
		expect_all_splits(S("one\ntwo\r\nthree\rfour\r\nfive"), 100);
		expect_all_splits(S("\n\r\n\r\r\n\n\r"), 100);
	}
	framer_isa = NULL;
	feed_views = false;
	free(in);
	free(cuts);
}

/* A chunk column that cannot grow: the records of the block loop that do not fit are
 * dropped and counted (skipped and nomem), the framer goes on, nothing leaks. */
Test(framer, block_loop_out_of_memory)
{
	char in[64 * 40];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = i % 32 == 31 ? '\n' : 'x'; /* 80 records of 31 bytes */
	sl_framer f;
	sl_framer_init(&f, mem, 1 << 20);
	sl_col *c = sl_col_new(mem, &sl_type_str, 4);
	sl_framer_stats st = {0};
	size_t room = c->cap; /* what the column holds without growing */
	cr_assert_lt(room, 80);
	sl_mem_fail_after(mem, 0);
	size_t used = sl_framer_feed_view(&f, in, sizeof(in), c, UINT64_MAX, &st);
	sl_mem_fail_after(mem, -1);
	cr_assert_eq(used, sizeof(in));
	cr_assert_eq(st.records, c->len);
	cr_assert_eq(st.records, room, "the room the column had");
	cr_assert_eq(st.skipped, 80 - room);
	cr_assert_eq(st.nomem, 80 - room);
	cr_assert_eq(st.bytes, room * 31);
	for (size_t i = 0; i < c->len; i++)
		cr_assert(c->v.s[i].p == in + 32 * i && c->v.s[i].len == 31);
	/* and framing resumes once memory is back */
	sl_framer_feed_view(&f, in, sizeof(in), c, UINT64_MAX, &st);
	cr_assert_eq(c->len, room + 80);
	sl_col_unref(c);
	sl_framer_fini(&f);
}
