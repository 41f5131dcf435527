/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_col.c - columns (appends, nesting, sharing, gather/slice/concat, hashing and
 * equality), types (names, parsing, equality) and the key dictionary.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "col.h"
#include "fmt.h"
#include "testutil.h"
#include "keydict.h"
#include "pool.h"
#include "rdd.h"
#include "shuffle.h"

static sl_env env;
#define mem   (env.mem)
#define types (env.types)

static void setup(void)
{
	sl_test_env_init(&env);
}

static void teardown(void)
{
	cr_assert_eq(sl_mem_in_use(mem), 0, "leaked %zu bytes", sl_mem_in_use(mem));
	sl_test_env_fini(&env);
}

TestSuite(col, .init = setup, .fini = teardown);

static const char *show(const sl_col *c)
{
	static char out[4096];
	sl_sbuf b = {0};
	for (size_t i = 0; i < c->len; i++) {
		if (i)
			sl_sbuf_put(&b, "|", 1);
		sl_fmt_row(&b, c, i);
	}
	snprintf(out, sizeof(out), "%s", b.p ? b.p : "");
	sl_sbuf_fini(&b);
	return out;
}

Test(col, types_names_parse_and_equality)
{
	const sl_type *p = sl_type_pair(types, &sl_type_str, &sl_type_i64);
	const sl_type *g =
	    sl_type_pair(types, &sl_type_str, sl_type_list(types, &sl_type_f64, SL_LIST_BUFFER));
	char buf[64];
	cr_assert_str_eq(sl_type_name(p, buf, sizeof(buf)), "(String, Long)");
	cr_assert_str_eq(sl_type_name(g, buf, sizeof(buf)), "(String, Iterable[Double])");
	cr_assert_str_eq(sl_type_name(sl_type_opt(types, p), buf, 12), "Option[(Str");
	cr_assert(sl_type_eq(sl_type_parse(types, "(String,Long)"), p));
	cr_assert(sl_type_eq(sl_type_parse(types, " ( String , Int ) "), p));
	cr_assert(sl_type_eq(sl_type_parse(types, "(String, Seq[Double])"), g)); /* style ignored */
	cr_assert_null(sl_type_parse(types, "(String"));
	cr_assert_null(sl_type_parse(types, "Strin"));
	cr_assert_null(sl_type_parse(types, "(Long) x"));
	cr_assert_eq(sl_type_pair(types, &sl_type_str, &sl_type_i64), p); /* interned */
	cr_assert(!sl_type_eq(p, sl_type_pair(types, &sl_type_i64, &sl_type_str)));
}

Test(col, nested_appends_and_zero_rows)
{
	const sl_type *opt = sl_type_opt(types, &sl_type_str);
	const sl_type *seq = sl_type_list(types, &sl_type_i64, SL_LIST_SEQ);
	const sl_type *k3[3] = {&sl_type_bool, opt, seq};
	const sl_type *t = sl_type_tuple(types, 3, k3);
	sl_col *c = sl_col_new(mem, t, 0);
	for (int i = 0; i < 40; i++) { /* crosses several growth steps */
		cr_assert_eq(sl_col_push_bool(c->kid[0], i % 2), 0);
		if (i % 3) {
			char s[16];
			int n = snprintf(s, sizeof(s), "s%d", i);
			cr_assert_eq(sl_col_push_str(c->kid[1]->kid[0], s, (size_t)n), 0);
			cr_assert_eq(sl_col_commit(c->kid[1]), 0);
		} else {
			cr_assert_eq(sl_col_push_none(c->kid[1]), 0);
		}
		for (int j = 0; j < i % 4; j++)
			cr_assert_eq(sl_col_push_i64(c->kid[2]->kid[0], j), 0);
		cr_assert_eq(sl_col_commit(c->kid[2]), 0);
		cr_assert_eq(sl_col_commit(c), 0);
	}
	cr_assert_eq(sl_col_push_zero(c), 0);
	cr_assert_eq(c->len, 41);
	uint32_t idx[] = {0, 1, 3, 40};
	sl_col *g = sl_col_gather(c, idx, 4);
	cr_assert_str_eq(show(g), "(false,None,List())|(true,Some(s1),List(0))|(true,None,List(0, "
				  "1, 2))|(false,None,List())");
	sl_col *s = sl_col_slice(c, 38, 2);
	cr_assert_str_eq(show(s), "(false,Some(s38),List(0, 1))|(true,None,List(0, 1, 2))");
	sl_col *parts[3] = {s, NULL, g};
	sl_col *cat = sl_col_concat(mem, t, parts, 3);
	cr_assert_eq(cat->len, 6);
	cr_assert(sl_col_row_eq(cat, 0, c, 38));
	cr_assert(sl_col_row_eq(cat, 5, c, 40));
	cr_assert(!sl_col_row_eq(cat, 0, c, 39));
	cr_assert_eq(sl_col_hash_row(cat, 1), sl_col_hash_row(c, 39));
	cr_assert_eq(sl_col_row_cmp(cat, 0, cat, 0), 0);
	sl_col_unref(c); /* gathered views keep the strings alive */
	cr_assert_str_eq(show(g), "(false,None,List())|(true,Some(s1),List(0))|(true,None,List(0, "
				  "1, 2))|(false,None,List())");
	sl_col_unref(g);
	sl_col_unref(s);
	sl_col_unref(cat);
}

Test(col, string_views_share_buffers)
{
	sl_col *a = sl_col_new(mem, &sl_type_str, 2);
	sl_col_push_str(a, "hello world", 11);
	sl_col *b = sl_col_new(mem, &sl_type_str, 2);
	cr_assert_eq(sl_col_share_bufs(b, a), 0);
	cr_assert_eq(sl_col_push_view(b, a->v.s[0].p + 6, 5), 0);
	/* a buffer another column also holds is never appended to: new bytes go elsewhere */
	sl_col_push_str(b, "x", 1);
	cr_assert_eq(b->nbufs, 2);
	sl_col_unref(a);
	cr_assert_str_eq(show(b), "world|x");
	sl_col_unref(b);
}

Test(col, hash_and_equality_follow_java_equals)
{
	sl_col *d = sl_col_new(mem, &sl_type_f64, 4);
	sl_col_push_f64(d, 0.0);
	sl_col_push_f64(d, -0.0);
	sl_col_push_f64(d, NAN);
	sl_col_push_f64(d, NAN);
	cr_assert(!sl_col_row_eq(d, 0, d, 1)); /* Double.equals(0.0, -0.0) is false */
	cr_assert(sl_col_row_eq(d, 2, d, 3));  /* and NaN equals NaN */
	cr_assert_eq(sl_col_hash_row(d, 2), sl_col_hash_row(d, 3));
	uint64_t h[4];
	sl_col_hash(d, h);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(h[i], sl_col_hash_row(d, (size_t)i));
	sl_col_unref(d);
	sl_col *s = sl_col_new(mem, &sl_type_str, 3);
	sl_col_push_str(s, "", 0);
	sl_col_push_str(s, "a\0b", 3);
	sl_col_push_str(s, "a\0c", 3);
	cr_assert(!sl_col_row_eq(s, 1, s, 2));
	cr_assert(sl_col_row_cmp(s, 0, s, 1) < 0 && sl_col_row_cmp(s, 2, s, 1) > 0);
	sl_col_unref(s);
}

Test(col, keydict_ids_are_dense_in_first_seen_order)
{
	sl_keydict d;
	cr_assert_eq(sl_keydict_init(&d, mem, &sl_type_str, 4), 0);
	sl_col *s = sl_col_new(mem, &sl_type_str, 16);
	const char *w[] = {"b", "a", "b", "", "c", "a", ""};
	for (int i = 0; i < 7; i++)
		sl_col_push_str(s, w[i], strlen(w[i]));
	int64_t want[] = {0, 1, 0, 2, 3, 1, 2};
	for (size_t i = 0; i < 7; i++)
		cr_assert_eq(sl_keydict_put(&d, s, i, sl_col_hash_row(s, i)), want[i], "row %zu",
			     i);
	cr_assert_eq(d.n, 4);
	cr_assert_str_eq(show(d.keys), "b|a||c");
	cr_assert_eq(sl_keydict_get(&d, s, 4, sl_col_hash_row(s, 4)), 3);
	cr_assert_eq(sl_keydict_put_str(&d, "c", 1, sl_col_hash_row(s, 4)), 3);
	sl_col_unref(s); /* keys are copies: the dictionary does not pin its inputs */
	cr_assert_str_eq(show(d.keys), "b|a||c");
	sl_keydict_fini(&d);
}

Test(col, keydict_grows_and_survives_colliding_tags)
{
	sl_keydict d;
	cr_assert_eq(sl_keydict_init(&d, mem, &sl_type_i64, 1), 0);
	/* the same tag (high 32 bits) and the same home bucket for every key: equality decides */
	for (int64_t k = 0; k < 5000; k++)
		cr_assert_eq(sl_keydict_put_i64(&d, k * 7, 0xabcd0000ull | (uint64_t)(k % 3)), k);
	for (int64_t k = 0; k < 5000; k++)
		cr_assert_eq(sl_keydict_put_i64(&d, k * 7, 0xabcd0000ull | (uint64_t)(k % 3)), k);
	cr_assert_eq(d.n, 5000);
	sl_keydict_clear(&d);
	cr_assert_eq(d.n, 0);
	cr_assert_eq(sl_keydict_put_i64(&d, 42, 1), 0);
	sl_keydict_fini(&d);
}

/* Every full slot holds its id's key inline (Long dictionaries) or its hash (the others);
 * empty slots hold 0; the full slots of each bucket are its first lanes; the load is within
 * sl_kdict_cap. */
static void assert_skey(const sl_keydict *d)
{
	int i64 = d->keys->type->kind == SL_I64;
	cr_assert_leq(d->n, sl_kdict_cap(d->mask + 1));
	for (size_t p = 0; p < 2 * (d->mask + 1); p += 8)
		for (size_t l = 0; l < 4; l++) {
			uint64_t s = d->tab[p + 4 + l];
			uint32_t id = (uint32_t)s - 1;
			cr_assert_eq(d->tab[p + l],
				     !s    ? 0
				     : i64 ? (uint64_t)d->keys->v.i64[id]
					   : d->hash[id],
				     "slot %zu", p + l);
			cr_assert(s || l == 3 || !d->tab[p + 5 + l], "bucket %zu: a gap", p);
		}
}

/* A column at a time (kernels: hash, probe, insert, growth between blocks) gives the ids,
 * keys and hashes one row at a time gives, for Long, String and tuple keys. */
Test(col, keydict_put_rows_and_gather_match_row_at_a_time)
{
	const sl_kernels *k = env.kern ? env.kern : sl_kernels_select(NULL, NULL);
	const sl_type *tt[2] = {&sl_type_i64, &sl_type_str};
	const sl_type *kinds[4] = {&sl_type_i64, &sl_type_str, sl_type_tuple(types, 2, tt),
				   &sl_type_i64};
	size_t n = 30000;
	uint64_t *h = malloc(n * 8);
	uint32_t *ids = malloc(n * 4), *sel = malloc(n * 4);
	cr_assert(h && ids && sel);
	for (int t = 0; t < 4; t++) {
		sl_col *c = sl_col_new(mem, kinds[t], n);
		uint64_t r = 7;
		for (size_t i = 0; i < n; i++) {
			r = r * 6364136223846793005u + 1442695040888963407u;
			/* 9000 distinct keys, INT64_MIN among them (but for the last Long
			 * column, whose first block then spans them all) */
			int64_t v = (int64_t)((r >> 33) % 9000) - 4500;
			if (v == -4500 && t != 3)
				v = INT64_MIN;
			char buf[32];
			int len = snprintf(buf, sizeof(buf), "w%" PRId64, v);
			if (kinds[t]->kind == SL_I64)
				sl_col_push_i64(c, v);
			else if (t == 1)
				sl_col_push_str(c, buf, (size_t)len);
			else {
				sl_col_push_i64(c->kid[0], v % 7);
				sl_col_push_str(c->kid[1], buf, (size_t)len);
				cr_assert_eq(sl_col_commit(c), 0);
			}
		}
		sl_keydict a, b, g;
		cr_assert_eq(sl_keydict_init(&a, mem, kinds[t], 0), 0);
		cr_assert_eq(sl_keydict_init(&b, mem, kinds[t], 4), 0);
		cr_assert_eq(sl_keydict_init(&g, mem, kinds[t], 4), 0);
		for (size_t i = 0; i < n; i++)
			cr_assert_geq(sl_keydict_put(&a, c, i, sl_col_hash_row(c, i)), 0);
		/* an empty block first (decides nothing), then blocks of odd sizes, so growth
		 * happens inside and between kernel calls */
		cr_assert_eq(sl_keydict_put_rows(&b, k, c, 0, 0, h, ids), 0);
		for (size_t from = 0, step = t == 3 ? 5000 : 1; from < n;
		     from += step, step = step * 3 + 1) {
			size_t m = n - from < step ? n - from : step;
			cr_assert_eq(sl_keydict_put_rows(&b, k, c, from, m, h + from, ids + from),
				     0);
		}
		cr_assert_eq(b.n, a.n, "kind %d", t);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ids[i], sl_keydict_get(&a, c, i, sl_col_hash_row(c, i)),
				     "kind %d row %zu", t, i);
		/* Long keys: a direct map was set up by the first block (one key, then
		 * 5000 rows spanning every key) and the others missed it or fell outside */
		if (kinds[t]->kind == SL_I64)
			cr_assert_not_null(b.dm);
		for (size_t id = 0; id < a.n; id++) {
			cr_assert(sl_col_row_eq(a.keys, id, b.keys, id));
			cr_assert_eq(a.hash[id], b.hash[id]);
		}
		/* gather: b's keys backwards, with their hashes */
		for (size_t i = 0; i < b.n; i++) {
			sel[i] = (uint32_t)(b.n - 1 - i);
			h[i] = b.hash[sel[i]];
		}
		cr_assert_eq(sl_keydict_put_gather(&g, k, b.keys, sel, b.n, h, ids), 0);
		for (size_t i = 0; i < b.n; i++)
			cr_assert_eq(ids[i], i);
		for (size_t i = 0; i < b.n; i++)
			cr_assert(sl_col_row_eq(g.keys, i, b.keys, sel[i]));
		assert_skey(&a);
		assert_skey(&b);
		assert_skey(&g);
		if (a.mask == b.mask)
			cr_assert(!memcmp(a.tab, b.tab, (a.mask + 1) * 16), "kind %d: same table",
				  t);
		sl_keydict_fini(&a);
		sl_keydict_fini(&b);
		sl_keydict_fini(&g);
		sl_col_unref(c);
	}
	free(h);
	free(ids);
	free(sel);
}

/* The reference: every row of c interned one at a time, in a new dictionary a. */
static void dict_row_at_a_time(sl_keydict *a, const sl_col *c)
{
	cr_assert_eq(sl_keydict_init(a, mem, c->type, 0), 0);
	for (size_t i = 0; i < c->len; i++)
		cr_assert_geq(sl_keydict_put(a, c, i, sl_col_hash_row(c, i)), 0);
}

/* The rows of c interned through the kernels k into a new dictionary b, in blocks of growing
 * odd sizes (step, then step * mul + 1, ...) so the table grows inside and between calls; ids
 * (and the scratch h) hold c->len entries. */
static void dict_in_blocks(sl_keydict *b, const sl_kernels *k, const sl_col *c, size_t step,
			   size_t mul, uint64_t *h, uint32_t *ids)
{
	cr_assert_eq(sl_keydict_init(b, mem, c->type, 4), 0);
	for (size_t from = 0, n = c->len; from < n; from += step, step = step * mul + 1) {
		size_t m = n - from < step ? n - from : step;
		cr_assert_eq(sl_keydict_put_rows(b, k, c, from, m, h + from, ids + from), 0);
	}
}

/* n Long keys, about 70 000 distinct ones spread over the Long range (too wide for a direct
 * map), every `every`-th row one of the edges INT64_MIN, 0, -1 instead. */
static sl_col *wide_long_keys(size_t n, uint64_t seed, size_t every)
{
	sl_col *c = sl_col_new(mem, &sl_type_i64, n);
	cr_assert_not_null(c);
	uint64_t r = seed;
	for (size_t i = 0; i < n; i++) {
		r = r * 6364136223846793005u + 1442695040888963407u;
		/* (unsigned: the product wraps, as intended) */
		int64_t v = (int64_t)((r >> 33) % 70000 * UINT64_C(0x9e3779b97f4a7c1));
		if (i % every == 0)
			v = (int64_t[]){INT64_MIN, 0, -1}[(i / every) % 3];
		cr_assert_eq(sl_col_push_i64(c, v), 0);
	}
	return c;
}

/* Long keys spread too wide for a direct map take the fused hash-and-probe kernel
 * (dict_put_hash_i64), growing inside and between calls (past SL_KDICT_SMALL, where the load
 * goes from a quarter to a half, and into the prefetching tables): the same ids, keys, hashes,
 * inline keys and table as one row at a time, in every ISA; the edges INT64_MIN, 0, -1 among
 * them. */
Test(col, keydict_put_rows_wide_long_keys_match_row_at_a_time)
{
	const char *isa[] = {"scalar", "avx2", "avx512"};
	size_t n = 200000;
	uint64_t *h = malloc(n * 8);
	uint32_t *ids = malloc(n * 4);
	cr_assert(h && ids);
	sl_col *c = wide_long_keys(n, 11, 97);
	sl_keydict a;
	dict_row_at_a_time(&a, c);
	assert_skey(&a);
	for (int t = 0; t < 3; t++) {
		int err;
		const sl_kernels *k = sl_kernels_select(isa[t], &err);
		if (!k)
			continue;
		sl_keydict b;
		dict_in_blocks(&b, k, c, 1000, 3, h, ids);
		cr_assert_null(b.dm, "%s: keys too wide for a direct map", isa[t]);
		cr_assert_eq(b.n, a.n, "%s", isa[t]);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ids[i], sl_keydict_get(&a, c, i, sl_col_hash_row(c, i)),
				     "%s row %zu", isa[t], i);
		for (size_t id = 0; id < a.n; id++) {
			cr_assert_eq(a.keys->v.i64[id], b.keys->v.i64[id]);
			cr_assert_eq(a.hash[id], b.hash[id]);
		}
		assert_skey(&b);
		if (b.mask == a.mask)
			cr_assert(!memcmp(a.tab, b.tab, (a.mask + 1) * 16), "%s: same table",
				  isa[t]);
		sl_keydict_clear(&b);
		cr_assert_eq(sl_keydict_put_rows(&b, k, c, 0, n, h, ids), 0);
		cr_assert_eq(b.n, a.n);
		assert_skey(&b);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ids[i], sl_keydict_get(&a, c, i, sl_col_hash_row(c, i)),
				     "%s again, row %zu", isa[t], i);
		/* lookups in a table big enough for the prefetching loops */
		cr_assert_gt(b.mask + 1, (size_t)1 << 17);
		sl_kdict v = {.tab = b.tab,
			      .mask = b.mask,
			      .keys = b.keys->v.i64,
			      .hash = b.hash,
			      .n = b.n,
			      .limit = sl_kdict_cap(b.mask + 1)};
		k->hash_i64(c->v.i64, n, h);
		memset(ids, 0xff, n * 4);
		uint32_t *miss = malloc(n * 4);
		cr_assert_not_null(miss);
		cr_assert_eq(k->dict_find_i64(&v, c->v.i64, h, n, ids, miss), 0, "%s", isa[t]);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ids[i], sl_keydict_get(&a, c, i, sl_col_hash_row(c, i)),
				     "%s find, row %zu", isa[t], i);
		free(miss);
		sl_keydict_fini(&b);
	}
	sl_keydict_fini(&a);
	sl_col_unref(c);
	free(h);
	free(ids);
}

/* sl_keydict_sum_i64 over all of c (Long keys) with values vals (NULL: sl_keydict_count_i64)
 * against one row at a time: in blocks of growing odd sizes, so the table grows inside and
 * between calls, in every ISA: the same ids, keys and hashes, and each key's wrapping sum (or
 * count); whether the direct map was taken is `direct`. Then allocation f failing, for each
 * f until the first `part` rows go through: -ENOMEM, and the dictionary stays consistent
 * (acc->len is d.n, every key of the blocks before the failing one known); the run that goes
 * through has the sums. */
static int sum_or_count(sl_keydict *d, const sl_kernels *k, const sl_col *c, size_t from, size_t m,
			const int64_t *vals, sl_col *acc)
{
	return vals ? sl_keydict_sum_i64(d, k, c, from, m, vals + from, acc)
		    : sl_keydict_count_i64(d, k, c, from, m, acc);
}

static uint64_t value_of(const int64_t *vals, size_t i)
{
	return vals ? (uint64_t)vals[i] : 1;
}

static void check_sum_i64(const sl_col *c, const int64_t *vals, bool direct, size_t part)
{
	const char *isa[] = {"scalar", "avx2", "avx512"};
	size_t n = c->len;
	int64_t *want = calloc(n, 8);
	cr_assert_not_null(want);
	sl_keydict a;
	dict_row_at_a_time(&a, c);
	for (size_t i = 0; i < n; i++) {
		int64_t id = sl_keydict_get(&a, c, i, sl_col_hash_row(c, i));
		want[id] = (int64_t)((uint64_t)want[id] + value_of(vals, i));
	}
	for (int t = 0; t < 3; t++) {
		int err;
		const sl_kernels *k = sl_kernels_select(isa[t], &err);
		if (!k)
			continue;
		sl_keydict b;
		sl_col *acc = sl_col_new(mem, &sl_type_i64, 4);
		cr_assert_eq(sl_keydict_init(&b, mem, &sl_type_i64, 4), 0);
		cr_assert_eq(sum_or_count(&b, k, c, 0, 0, vals, acc), 0);
		for (size_t from = 0, step = 1000; from < n; from += step, step = step * 3 + 1) {
			size_t m = n - from < step ? n - from : step;
			cr_assert_eq(sum_or_count(&b, k, c, from, m, vals, acc), 0);
			cr_assert_eq(acc->len, b.n);
		}
		cr_assert_eq(b.dm != NULL, direct, "%s: direct map", isa[t]);
		if (direct) /* both kinds of block ran (there are at least n / 1024 blocks) */
			cr_assert(b.dm_two_pass > 1 && b.dm_two_pass < n / 1024,
				  "%s: %zu two-pass blocks", isa[t], b.dm_two_pass);
		else
			cr_assert_gt(b.mask + 1, (size_t)1 << 17, "into the prefetching tables");
		cr_assert_eq(b.n, a.n, "%s", isa[t]);
		for (size_t id = 0; id < a.n; id++) {
			cr_assert_eq(a.keys->v.i64[id], b.keys->v.i64[id], "%s id %zu", isa[t], id);
			cr_assert_eq(a.hash[id], b.hash[id]);
			cr_assert_eq(acc->v.i64[id], want[id], "%s sum of id %zu", isa[t], id);
			/* every key in the map's range is cached there, late ones too */
			uint64_t u = (uint64_t)b.keys->v.i64[id] - (uint64_t)b.dm_base;
			if (b.dm && u < b.dm_len)
				cr_assert_eq(b.dm[u], id + 1, "%s: key of id %zu not in the map",
					     isa[t], id);
		}
		assert_skey(&b);
		sl_keydict_fini(&b);
		sl_col_unref(acc);
	}
	const sl_kernels *k = sl_kernels_select(NULL, &(int){0});
	for (long f = 0;; f++) {
		sl_keydict b;
		sl_col *acc = sl_col_new(mem, &sl_type_i64, 4);
		cr_assert(acc && !sl_keydict_init(&b, mem, &sl_type_i64, 4));
		sl_mem_fail_after(mem, f);
		size_t from = 0;
		int rc = 0;
		for (; from < part && !rc; from += 1000)
			rc = sum_or_count(&b, k, c, from, 1000, vals, acc);
		sl_mem_fail_after(mem, -1);
		cr_assert(rc == 0 || rc == -ENOMEM, "rc %d", rc);
		cr_assert_eq(acc->len, b.n);
		/* every key so far is known; all blocks before the failing one are summed */
		if (rc)
			from -= 1000;
		int64_t *sum = calloc(b.n + 1, 8);
		cr_assert_not_null(sum);
		for (size_t i = 0; i < from; i++) {
			int64_t id = sl_keydict_get(&b, c, i, sl_col_hash_row(c, i));
			cr_assert_geq(id, 0, "fail at %ld: row %zu", f, i);
			sum[id] = (int64_t)((uint64_t)sum[id] + value_of(vals, i));
		}
		if (!rc)
			for (size_t id = 0; id < b.n; id++)
				cr_assert_eq(acc->v.i64[id], sum[id], "fail at %ld: id %zu", f, id);
		free(sum);
		sl_keydict_fini(&b);
		sl_col_unref(acc);
		if (!rc)
			break;
	}
	sl_keydict_fini(&a);
	free(want);
}

/* Values for check_sum_i64: the edges every 101st row, else spread from the key. */
static int64_t *sum_values(const sl_col *c)
{
	int64_t *vals = malloc(c->len * 8);
	cr_assert_not_null(vals);
	for (size_t i = 0; i < c->len; i++)
		vals[i] = i % 101 == 0 ? (int64_t[]){INT64_MAX, INT64_MIN}[i % 2]
				       : (int64_t)((uint64_t)c->v.i64[i] >> 40) - (1 << 23);
	return vals;
}

/* reduceByKey(_ + _) in one pass (sl_keydict_sum_i64), both paths. Long keys too wide for a
 * direct map: the hash table, growing past SL_KDICT_SMALL and into the prefetching tables.
 * Keys in a small range: the direct map (lookup and add in one kernel), with keys past its
 * range (misses every time: the hash table) and keys first seen late (misses once, then
 * cached in the map); the first blocks and those of the late keys bring many new keys, so
 * they take the two-pass blocks (checked to fail when those drop a row). */
Test(col, keydict_sum_i64_matches_row_at_a_time)
{
	sl_col *c = wide_long_keys(200000, 7, 89);
	int64_t *vals = sum_values(c);
	check_sum_i64(c, vals, false, 30000);
	free(vals);
	sl_col_unref(c);
	/* the first block spans 3000 keys (a map of 8192 around them); rows 30000 to 50000 hold
	 * keys past the map (10^12 + ..., the Long edges), rows 50000 to 70000 new keys inside
	 * it: blocks with many misses (two passes next) between blocks with none (one pass) */
	size_t n = 100000;
	c = sl_col_new(mem, &sl_type_i64, n);
	cr_assert_not_null(c);
	for (size_t i = 0; i < n; i++) {
		int64_t key = (int64_t)(i * 7919 % 3000);
		if (i >= 30000 && i < 50000 && i % 10 == 0)
			key = 1000000000000 + (int64_t)(i % 50);
		else if (i >= 30000 && i < 50000 && i % 10 == 1)
			key = i % 20 == 1 ? INT64_MIN : INT64_MAX;
		else if (i >= 50000 && i < 70000 && i % 10 == 2)
			key = 3000 + (int64_t)(i * 31 % 2000);
		cr_assert_eq(sl_col_push_i64(c, key), 0);
	}
	vals = sum_values(c);
	check_sum_i64(c, vals, true, 60000);
	free(vals);
	sl_col_unref(c);
}

/* The sum table lent to the dictionary (d->sums, as the combining shuffle lends a worker's):
 * sl_keydict_sum_i64 and sl_keydict_count_i64 over Long keys too wide for a direct map, at
 * most 4 K of them (small ones among them: every key of an empty lane), one call over the
 * first half and then calls of 20000 rows with new keys coming (the dictionary grows between
 * and inside calls), in every ISA: the same ids, keys and sums as one row at a time. AVX2 and
 * AVX-512 must have used the table. */
Test(col, keydict_sum_and_count_through_the_sum_table)
{
	const char *isa[] = {"scalar", "avx2", "avx512"};
	size_t n = 200000;
	sl_col *c = sl_col_new(mem, &sl_type_i64, n);
	cr_assert_not_null(c);
	uint64_t r = 3;
	for (size_t i = 0; i < n; i++) {
		r = r * 6364136223846793005u + 1442695040888963407u;
		uint64_t j = (r >> 33) % (i < n / 2 ? 1500 : 3500);
		int64_t key = i % 997 == 0 ? INT64_MIN
			      : j % 3 == 0 ? (int64_t)j
					   : (int64_t)(j * UINT64_C(0x9e3779b97f4a7c1));
		cr_assert_eq(sl_col_push_i64(c, key), 0);
	}
	int64_t *vals = sum_values(c), *want = calloc(n, 8);
	sl_ksums *sums = aligned_alloc(64, sizeof(*sums));
	cr_assert(vals && want && sums);
	sl_keydict a;
	dict_row_at_a_time(&a, c);
	for (int cnt = 0; cnt < 2; cnt++) {
		const int64_t *vv = cnt ? NULL : vals;
		memset(want, 0, n * 8);
		for (size_t i = 0; i < n; i++) {
			int64_t id = sl_keydict_get(&a, c, i, sl_col_hash_row(c, i));
			want[id] = (int64_t)((uint64_t)want[id] + value_of(vv, i));
		}
		for (int t = 0; t < 3; t++) {
			int err;
			const sl_kernels *k = sl_kernels_select(isa[t], &err);
			if (!k)
				continue;
			memset(sums, 0, sizeof(*sums));
			sl_keydict b;
			sl_col *acc = sl_col_new(mem, &sl_type_i64, 4);
			cr_assert(acc && !sl_keydict_init(&b, mem, &sl_type_i64, 4));
			b.sums = sums;
			cr_assert_eq(sum_or_count(&b, k, c, 0, n / 2, vv, acc), 0);
			for (size_t from = n / 2; from < n; from += 20000)
				cr_assert_eq(sum_or_count(&b, k, c, from, 20000, vv, acc), 0);
			cr_assert_null(b.dm);
			cr_assert_eq(sums->ready, t > 0, "%s: the sum table used", isa[t]);
			cr_assert_eq(acc->len, b.n);
			cr_assert_eq(b.n, a.n, "%s", isa[t]);
			for (size_t id = 0; id < a.n; id++) {
				cr_assert_eq(a.keys->v.i64[id], b.keys->v.i64[id], "%s id %zu",
					     isa[t], id);
				cr_assert_eq(acc->v.i64[id], want[id], "%s cnt=%d: sum of id %zu",
					     isa[t], cnt, id);
			}
			b.sums = NULL;
			sl_keydict_fini(&b);
			sl_col_unref(acc);
		}
	}
	sl_keydict_fini(&a);
	free(sums), free(want), free(vals);
	sl_col_unref(c);
}

/* countByValue of Long keys (sl_keydict_count_i64), both paths, as the sums above with every
 * value 1: the hash table for wide keys, the direct map (lookup and count in one kernel pass)
 * for keys in a small range, with keys past the map and keys first seen late. */
Test(col, keydict_count_i64_matches_row_at_a_time)
{
	sl_col *c = wide_long_keys(200000, 11, 97);
	check_sum_i64(c, NULL, false, 30000);
	sl_col_unref(c);
	size_t n = 100000;
	c = sl_col_new(mem, &sl_type_i64, n);
	cr_assert_not_null(c);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sl_col_push_i64(c, i >= 20000 && i < 30000 && i % 9 == 0
						    ? INT64_MIN + (int64_t)(i % 7)
						: i >= 40000 && i % 9 == 1
						    ? 2000 + (int64_t)(i % 900)
						    : (int64_t)(i * 31 % 1500)),
			     0);
	check_sum_i64(c, NULL, true, 60000);
	sl_col_unref(c);
}

/* String keys in a table big enough for the prefetching loops (more than SL_KDICT_SMALL / 4
 * keys): sl_keydict_put_rows (dict_find_str, then the misses inserted) gives the ids of one row
 * at a time; then sl_keydict_find_gather (the probe side of a join) looks up a mix of known
 * and absent keys, the empty string among them, in a scattered order, without inserting: ids
 * or UINT32_MAX, as sl_keydict_get says. Tuple keys take its row-at-a-time path. Every ISA. */
Test(col, keydict_find_gather_matches_get_for_big_string_tables)
{
	const char *isa[] = {"scalar", "avx2", "avx512"};
	size_t n = 120000, nq = 50000;
	uint64_t *h = malloc(n * 8);
	uint32_t *ids = malloc(n * 4), *sel = malloc(nq * 4);
	cr_assert(h && ids && sel);
	sl_col *c = sl_col_new(mem, &sl_type_str, n), *q = sl_col_new(mem, &sl_type_str, nq);
	char w[32];
	uint64_t r = 5;
	for (size_t i = 0; i < n; i++) {
		r = r * 6364136223846793005u + 1442695040888963407u;
		int len = i % 1000 ? snprintf(w, sizeof(w), "w%u", (unsigned)(r >> 40) % 90000) : 0;
		cr_assert_eq(sl_col_push_str(c, w, (size_t)len), 0);
	}
	for (size_t i = 0; i < nq; i++) { /* known, absent ("x..."), and the empty string */
		r = r * 6364136223846793005u + 1442695040888963407u;
		int len = i % 777 == 0 ? 0
				       : snprintf(w, sizeof(w), "%c%u", i % 2 ? 'w' : 'x',
						  (unsigned)(r >> 40) % 90000);
		cr_assert_eq(sl_col_push_str(q, w, (size_t)len), 0);
		sel[i] = (uint32_t)((i * 7919) % nq); /* scattered, each row once */
	}
	sl_keydict a;
	dict_row_at_a_time(&a, c);
	cr_assert_gt(a.mask + 1, (size_t)1 << 17);
	for (int t = 0; t < 3; t++) {
		int err;
		const sl_kernels *k = sl_kernels_select(isa[t], &err);
		if (!k)
			continue;
		sl_keydict b;
		dict_in_blocks(&b, k, c, 700, 2, h, ids);
		cr_assert_eq(b.n, a.n, "%s", isa[t]);
		assert_skey(&b);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ids[i], sl_keydict_get(&a, c, i, sl_col_hash_row(c, i)),
				     "%s row %zu", isa[t], i);
		for (size_t i = 0; i < nq; i++)
			h[i] = sl_col_hash_row(q, sel[i]);
		memset(ids, 0xee, nq * 4);
		sl_keydict_find_gather(&b, k, q, sel, nq, h, ids);
		size_t found = 0;
		for (size_t i = 0; i < nq; i++) {
			int64_t want = sl_keydict_get(&a, q, sel[i], h[i]);
			cr_assert_eq(ids[i], want < 0 ? UINT32_MAX : (uint32_t)want,
				     "%s find row %u", isa[t], sel[i]);
			found += want >= 0;
		}
		cr_assert(found > nq / 4 && found < nq * 3 / 4, "%s: %zu found", isa[t], found);
		cr_assert_eq(b.n, a.n, "%s: find inserted nothing", isa[t]);
		sl_keydict_fini(&b);
	}
	/* tuple keys: row at a time */
	const sl_type *pt = sl_type_pair(types, &sl_type_str, &sl_type_i64);
	sl_col *tc = sl_col_new(mem, pt, 8);
	for (int i = 0; i < 6; i++)
		cr_assert(!sl_col_push_str(tc->kid[0], "k", 1) && !sl_col_push_i64(tc->kid[1], i) &&
			  !sl_col_commit(tc));
	sl_keydict d;
	cr_assert_eq(sl_keydict_init(&d, mem, pt, 4), 0);
	for (size_t i = 0; i < 6; i += 2) /* rows 0, 2, 4 known */
		cr_assert_geq(sl_keydict_put(&d, tc, i, sl_col_hash_row(tc, i)), 0);
	uint32_t tsel[6] = {5, 4, 3, 2, 1, 0}, tids[6];
	for (size_t i = 0; i < 6; i++)
		h[i] = sl_col_hash_row(tc, tsel[i]);
	sl_keydict_find_gather(&d, sl_kernels_select(NULL, NULL), tc, tsel, 6, h, tids);
	uint32_t twant[6] = {UINT32_MAX, 2, UINT32_MAX, 1, UINT32_MAX, 0};
	cr_assert(!memcmp(tids, twant, sizeof(twant)));
	sl_keydict_fini(&d);
	sl_col_unref(tc);
	sl_keydict_fini(&a);
	sl_col_unref(c);
	sl_col_unref(q);
	free(h);
	free(ids);
	free(sel);
}

/* sl_col_gather_from against one row at a time: rows of (String, (Long, Seq[Long])) from three
 * sources (one never used, NULL), zero rows for UINT32_MAX; the Seq takes the row-at-a-time
 * path. Then which = NULL: every row from the first source. */
Test(col, gather_from_several_sources_matches_push_row)
{
	const sl_type *lt = sl_type_list(types, &sl_type_i64, SL_LIST_SEQ);
	const sl_type *t = sl_type_pair(types, &sl_type_str, sl_type_pair(types, &sl_type_i64, lt));
	sl_col *src[2];
	for (int q = 0; q < 2; q++) {
		src[q] = sl_col_new(mem, t, 4);
		for (int i = 0; i < 50; i++) {
			char w[16];
			int n = snprintf(w, sizeof(w), "s%d-%d", q, i);
			sl_col *inner = src[q]->kid[1];
			cr_assert(!sl_col_push_str(src[q]->kid[0], w, (size_t)n) &&
				  !sl_col_push_i64(inner->kid[0], q * 1000 + i));
			for (int e = 0; e < i % 4; e++)
				cr_assert(!sl_col_push_i64(inner->kid[1]->kid[0], e));
			cr_assert(!sl_col_commit(inner->kid[1]) && !sl_col_commit(inner) &&
				  !sl_col_commit(src[q]));
		}
	}
	const sl_col *srcs[3] = {src[0], NULL, src[1]};
	enum { N = 300 };
	uint32_t which[N], rows[N];
	for (size_t i = 0; i < N; i++) {
		which[i] = i % 3 == 1 ? 0 : (uint32_t)(i % 3);
		rows[i] = i % 7 == 0 ? UINT32_MAX : (uint32_t)((i * 13) % 50);
	}
	sl_col *got = sl_col_new(mem, t, 1), *want = sl_col_new(mem, t, 1);
	cr_assert(!sl_col_share_bufs(got->kid[0], src[0]->kid[0]) &&
		  !sl_col_share_bufs(got->kid[0], src[1]->kid[0]));
	cr_assert(!sl_col_push_i64(got->kid[1]->kid[0], 7) && !sl_col_commit(got->kid[1]->kid[1]) &&
		  !sl_col_commit(got->kid[1]) && !sl_col_push_str(got->kid[0], "first", 5) &&
		  !sl_col_commit(got));
	cr_assert(!sl_col_push_row(want, got, 0));
	cr_assert_eq(sl_col_gather_from(got, srcs, 3, which, rows, N), 0);
	for (size_t i = 0; i < N; i++)
		cr_assert(!(rows[i] == UINT32_MAX
				? sl_col_push_zero(want)
				: sl_col_push_row(want, srcs[which[i]], rows[i])));
	cr_assert_eq(got->len, N + 1);
	cr_assert_eq(got->kid[1]->len, N + 1);
	for (size_t i = 0; i < N + 1; i++)
		cr_assert(sl_col_row_eq(got, i, want, i), "row %zu", i);
	/* which NULL */
	sl_col *g2 = sl_col_new(mem, t, 1);
	cr_assert(!sl_col_share_bufs(g2->kid[0], src[0]->kid[0]));
	cr_assert_eq(sl_col_gather_from(g2, srcs, 1, NULL, rows, N), 0);
	for (size_t i = 0; i < N; i++)
		cr_assert(rows[i] == UINT32_MAX ? g2->kid[0]->v.s[i].len == 0
						: sl_col_row_eq(g2, i, src[0], rows[i]),
			  "row %zu", i);
	sl_col_unref(g2);
	sl_col_unref(got);
	sl_col_unref(want);
	sl_col_unref(src[0]);
	sl_col_unref(src[1]);
}

Test(col, allocation_failures_are_reported_not_crashed)
{
	for (long k = 0; k < 40; k++) {
		sl_mem_fail_after(mem, k);
		sl_col *c = sl_col_new(mem, sl_type_pair(types, &sl_type_str, &sl_type_i64), 4);
		int ok = c != NULL;
		for (int i = 0; ok && i < 100; i++)
			ok = !sl_col_push_str(c->kid[0], "key", 3) &&
			     !sl_col_push_i64(c->kid[1], i) && !sl_col_commit(c);
		sl_mem_fail_after(mem, -1);
		sl_col_unref(c);
	}
}

Test(col, columns_on_a_numa_node_keep_it_for_every_allocation)
{
	const sl_type *t = sl_type_pair(types, &sl_type_str, &sl_type_i64);
	sl_col *c = sl_col_new_on(mem, 0, t, 4);
	cr_assert_not_null(c);
	cr_assert_eq(c->node, 0);
	cr_assert_eq(c->kid[0]->node, 0);
	for (int i = 0; i < 100000; i++) /* grows through the recycled and the big sizes */
		cr_assert_eq(sl_col_push_str(c->kid[0], "abcdefgh", 8) ||
				 sl_col_push_i64(c->kid[1], i) || sl_col_commit(c),
			     0);
	cr_assert_eq(c->len, 100000);
	sl_col *any = sl_col_new(mem, t, 1);
	cr_assert_eq(any->node, -1);
	sl_col_unref(any);
	sl_col_unref(c);
}

/* A (String, Option[Long]) rdd of nparts partitions, partition 1 NULL (none of its rows):
 * 1500 rows each, keys "k<i * mul % span>", every fifth value None. */
static sl_rdd *join_side(const sl_type *t, size_t nparts, int mul, int span)
{
	sl_rdd *r = sl_rdd_new(mem, t, 1000, nparts);
	cr_assert_not_null(r);
	for (size_t q = 0; q < nparts; q++) {
		if (q == 1)
			continue;
		sl_col *c = sl_col_new(mem, t, 8);
		for (int i = 0; i < 1500; i++) {
			char w[16];
			int n = snprintf(w, sizeof(w), "k%d", i * mul % span);
			cr_assert(!sl_col_push_str(c->kid[0], w, (size_t)n));
			if (i % 5)
				cr_assert(!sl_col_push_i64(c->kid[1]->kid[0], i) &&
					  !sl_col_commit(c->kid[1]));
			else
				cr_assert(!sl_col_push_none(c->kid[1]));
			cr_assert(!sl_col_commit(c));
		}
		r->part[q] = c;
	}
	return r;
}

/* Every join mode with allocation k failing, for each k until the join succeeds: a failure
 * is -ENOMEM (the operator layer names the operator in its message), never a crash, a partial
 * result or a leak; the success has the rows of the run without failures. Option values, a
 * NULL partition on each side. */
Test(col, joins_survive_allocation_failures)
{
	cr_assert_eq(sl_workers_new(&env.workers, 1, 0, mem), 0);
	const sl_type *vt = sl_type_opt(types, &sl_type_i64);
	const sl_type *pt = sl_type_pair(types, &sl_type_str, vt);
	sl_rdd *a = join_side(pt, 2, 3, 700), *b = join_side(pt, 3, 4, 1000);
	size_t base = sl_mem_in_use(mem);
	for (int mode = SL_JOIN_INNER; mode <= SL_JOIN_COGROUP; mode++) {
		const sl_type *l = vt, *r = vt;
		if (mode == SL_JOIN_COGROUP)
			l = r = sl_type_list(types, vt, SL_LIST_BUFFER);
		if (mode == SL_JOIN_RIGHT || mode == SL_JOIN_FULL)
			l = sl_type_opt(types, l);
		if (mode == SL_JOIN_LEFT || mode == SL_JOIN_FULL)
			r = sl_type_opt(types, r);
		const sl_type *ot = sl_type_pair(types, &sl_type_str, sl_type_pair(types, l, r));
		sl_rdd *out = NULL;
		sluice_error e = {0};
		cr_assert_eq(sl_shuffle_join(&env, a, b, mode, 3, ot, &out, &e), 0);
		size_t want = sl_rdd_rows(out);
		cr_assert_gt(want, 0);
		sl_rdd_unref(out);
		int failed = 0;
		for (long k = 0;; k++) {
			sl_mem_fail_after(mem, k);
			out = NULL;
			memset(&e, 0, sizeof(e));
			int rc = sl_shuffle_join(&env, a, b, mode, 3, ot, &out, &e);
			sl_mem_fail_after(mem, -1);
			if (!rc) {
				cr_assert_eq(sl_rdd_rows(out), want, "mode %d, allocation %ld",
					     mode, k);
				sl_rdd_unref(out);
				break;
			}
			cr_assert_eq(rc, -ENOMEM, "mode %d, allocation %ld", mode, k);
			cr_assert_null(out);
			cr_assert_eq(sl_mem_in_use(mem), base, "mode %d, allocation %ld: leak",
				     mode, k);
			failed++;
		}
		cr_assert_gt(failed, 10, "mode %d", mode);
	}
	sl_rdd_unref(a);
	sl_rdd_unref(b);
	sl_workers_free(env.workers); /* before teardown's leak check */
	env.workers = NULL;
}

/* reduce and count fused after filter(x OP c): every allocation failing in turn gives
 * -ENOMEM, no result and no leak; then the full result (3 partitions, one of them NULL). */
Test(col, fused_filter_reductions_survive_allocation_failures)
{
	cr_assert_eq(sl_workers_new(&env.workers, 2, 0, mem), 0);
	env.kern = sl_kernels_select(NULL, NULL);
	sl_rdd *in = sl_rdd_new(mem, &sl_type_i64, 1000, 3);
	cr_assert_not_null(in);
	int64_t want = 0, kept = 0;
	for (size_t p = 0; p < 3; p += 2) {
		in->part[p] = sl_col_new(mem, &sl_type_i64, 0);
		for (int64_t i = 0; i < 3000; i++) {
			int64_t v = (i * 7919) % 1000 - 300;
			cr_assert_eq(sl_col_push_i64(in->part[p], v), 0);
			if (v > 2)
				want += v, kept++;
		}
	}
	sl_cmp_shape where = {
	    .n = 1, .c = {{.field = -1, .op = SL_OP_GT, .kind = SL_I64, .rfield = -1, .ci = 2}}};
	sl_lambda sum = {.reducer = SL_RED_SUM};
	size_t base = sl_mem_in_use(mem);
	int failed = 0;
	for (long k = 0;; k++) {
		sl_rdd *out = NULL;
		sluice_error e = {0};
		sl_mem_fail_after(mem, k);
		int rc = sl_reduce_all(&env, in, &where, &sum, &out, &e);
		sl_mem_fail_after(mem, -1);
		if (!rc) {
			cr_assert_eq(out->part[0]->len, 1);
			cr_assert_eq(out->part[0]->v.i64[0], want);
			sl_rdd_unref(out);
			break;
		}
		cr_assert_eq(rc, -ENOMEM, "allocation %ld", k);
		cr_assert_null(out);
		cr_assert_eq(sl_mem_in_use(mem), base, "allocation %ld: leak", k);
		failed++;
	}
	cr_assert_gt(failed, 3);
	/* the count (of a constant comparison: the count kernel, no selection) */
	for (long k = 0;; k++) {
		sl_mem_fail_after(mem, k);
		int64_t n = sl_filter_count(&env, in, &where);
		sl_mem_fail_after(mem, -1);
		if (n >= 0) {
			cr_assert_eq(n, kept);
			break;
		}
		cr_assert_eq(n, -ENOMEM, "allocation %ld", k);
		cr_assert_eq(sl_mem_in_use(mem), base, "allocation %ld: leak", k);
	}
	sl_rdd_unref(in);
	env.kern = NULL;
	sl_workers_free(env.workers); /* before teardown's leak check */
	env.workers = NULL;
}
