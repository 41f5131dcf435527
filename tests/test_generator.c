/* SPDX-License-Identifier: Apache-2.0 */
/* test_generator.c - generator(kind, rate, keys, seed). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "io.h"
#include "testutil.h"

static sl_env env;
static sluice_error err;

static void setup(void)
{
	sl_test_env_init(&env);
	cr_assert_eq(sl_workers_new(&env.workers, 4, 0, env.mem), 0);
	memset(&err, 0, sizeof err);
}

static void teardown(void)
{
	sl_test_env_fini(&env);
}

TestSuite(generator, .init = setup, .fini = teardown);

static sl_source *gen(const char *kind, int64_t rate, int64_t keys, int64_t wpl, uint64_t seed)
{
	sl_source *s = sl_generator_source_new(&env, kind, rate, keys, wpl, seed, &err);
	cr_assert(s, "generator failed: %s", err.msg);
	cr_expect_eq(s->bounded, 0);
	return s;
}

static sl_rdd *batch(sl_source *s, int64_t t)
{
	sl_rdd *r = NULL;
	int rc = s->ops->next(s, t, &r, &err);
	cr_assert_eq(rc, 0, "next: %d %s", rc, err.msg);
	cr_assert(r);
	cr_expect_eq(r->time, t);
	return r;
}

/* All rows of r, "\n"-separated. Caller frees. */
static char *text(const sl_rdd *r)
{
	sl_sbuf b = {0};
	sl_sbuf_put(&b, "", 0);
	for (size_t p = 0; p < r->nparts; p++)
		for (size_t i = 0; r->part[p] && i < r->part[p]->len; i++) {
			sl_fmt_row(&b, r->part[p], i);
			sl_sbuf_put(&b, "\n", 1);
		}
	return b.p;
}

Test(generator, counts_and_partitions)
{
	sl_source *s = gen("numbers", 1000, 10, 0, 1);
	cr_assert_eq(s->ops->start(s, 0, &err), 0);
	for (int k = 1; k <= 3; k++) {
		sl_rdd *r = batch(s, 1000 * k);
		cr_expect_eq(sl_rdd_rows(r), 1000);
		cr_assert_eq(r->nparts, 5);
		for (size_t p = 0; p < 5; p++)
			cr_expect_eq(r->part[p]->len, 200);
		sl_rdd_unref(r);
	}
	s->ops->free(s);

	/* 1.5 records per batch: 1, 2, 1, 2, ... */
	env.batch_ms = 500;
	env.block_ms = 500;
	s = gen("numbers", 3, 10, 0, 1);
	cr_assert_eq(s->ops->start(s, 10000, &err), 0);
	int64_t total = 0;
	for (int k = 1; k <= 10; k++) {
		sl_rdd *r = batch(s, 10000 + 500 * k);
		cr_expect_eq(r->nparts, 1);
		cr_expect_eq(sl_rdd_rows(r), (size_t)(k % 2 ? 1 : 2), "batch %d", k);
		total += (int64_t)sl_rdd_rows(r);
		sl_rdd_unref(r);
	}
	cr_expect_eq(total, 15);
	s->ops->free(s);

	/* 0.7 per batch, exact in the long run; uneven partitions */
	env.batch_ms = 100;
	env.block_ms = 25;
	s = gen("words", 7, 0, 0, 1);
	cr_assert_eq(s->ops->start(s, 0, &err), 0);
	total = 0;
	for (int k = 1; k <= 1000; k++) {
		sl_rdd *r = batch(s, 100 * k);
		cr_expect_eq(r->nparts, 4);
		size_t n = sl_rdd_rows(r);
		cr_expect(n <= 1);
		total += (int64_t)n;
		sl_rdd_unref(r);
	}
	cr_expect_eq(total, 700);
	s->ops->free(s);
}

Test(generator, no_start_assumes_first_batch)
{
	sl_source *s = gen("numbers", 2500, 10, 0, 1);
	sl_rdd *r = batch(s, 123456);
	cr_expect_eq(sl_rdd_rows(r), 2500);
	sl_rdd_unref(r);
	r = batch(s, 124456);
	cr_expect_eq(sl_rdd_rows(r), 2500);
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(generator, deterministic)
{
	const char *kinds[] = {"lines", "words", "kv", "numbers"};
	for (int k = 0; k < 4; k++) {
		sl_source *a = gen(kinds[k], 5000, 0, 0, 7), *b = gen(kinds[k], 5000, 0, 0, 7);
		sl_source *c = gen(kinds[k], 5000, 0, 0, 8);
		a->ops->start(a, 0, &err);
		b->ops->start(b, 0, &err);
		c->ops->start(c, 0, &err);
		sl_rdd *r1 = batch(a, 1000), *r2 = batch(a, 2000);
		sl_rdd *q2 = batch(b, 2000), *q1 = batch(b, 1000); /* other order */
		sl_rdd *o1 = batch(c, 1000);
		char *t1 = text(r1), *t2 = text(r2), *u1 = text(q1), *u2 = text(q2), *v1 = text(o1);
		cr_expect_str_eq(t1, u1, "%s: same batch, same rows", kinds[k]);
		cr_expect_str_eq(t2, u2, "%s", kinds[k]);
		cr_expect_str_neq(t1, t2, "%s: batches differ", kinds[k]);
		cr_expect_str_neq(t1, v1, "%s: seeds differ", kinds[k]);
		/* sequential generation gives the same as parallel */
		sl_workers *w = env.workers;
		env.workers = NULL;
		sl_rdd *z1 = batch(a, 1000);
		char *w1 = text(z1);
		cr_expect_str_eq(t1, w1, "%s: parallel == sequential", kinds[k]);
		env.workers = w;
		free(t1), free(t2), free(u1), free(u2), free(v1), free(w1);
		sl_rdd_unref(r1), sl_rdd_unref(r2), sl_rdd_unref(q1), sl_rdd_unref(q2),
		    sl_rdd_unref(o1);
		sl_rdd_unref(z1);
		a->ops->free(a), b->ops->free(b), c->ops->free(c);
	}
}

static int is_word(const char *p, size_t n)
{
	if (n < 4 || n % 2)
		return 0;
	for (size_t i = 0; i < n; i += 2)
		if (!strchr("bdfgklmnprstvz", p[i]) || !p[i] || !strchr("aeiou", p[i + 1]) ||
		    !p[i + 1])
			return 0;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	const sl_str *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Number of distinct words among all rows of a "words" batch. */
static size_t distinct_words(const sl_rdd *r, size_t *maxlen)
{
	size_t n = sl_rdd_rows(r), k = 0;
	sl_str *all = malloc(n * sizeof *all);
	*maxlen = 0;
	for (size_t p = 0; p < r->nparts; p++)
		for (size_t i = 0; i < r->part[p]->len; i++) {
			sl_str s = r->part[p]->v.s[i];
			cr_assert(is_word(s.p, s.len), "'%.*s' is not a pronounceable word",
				  (int)s.len, s.p);
			if (s.len > *maxlen)
				*maxlen = s.len;
			all[k++] = s;
		}
	qsort(all, k, sizeof *all, cmp_str);
	size_t d = 0;
	for (size_t i = 0; i < k; i++)
		d += i == 0 || cmp_str(&all[i], &all[i - 1]) != 0;
	free(all);
	return d;
}

Test(generator, vocabulary)
{
	struct {
		int64_t keys, rate;
		size_t maxlen;
	} cases[] = {
	    {1, 100, 4},
	    {300, 20000, 4},
	    {4900, 200000, 4},
	    {6000, 300000, 6},
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		sl_source *s = gen("words", cases[c].rate, cases[c].keys, 0, 3);
		sl_rdd *r = batch(s, 1000);
		size_t maxlen;
		cr_expect_eq(distinct_words(r, &maxlen), (size_t)cases[c].keys, "keys %ld",
			     (long)cases[c].keys);
		cr_expect_eq(maxlen, cases[c].maxlen);
		sl_rdd_unref(r);
		s->ops->free(s);
	}
	/* a vocabulary too big for the table: words spelled on the fly */
	sl_source *s = gen("words", 50000, 30000000, 0, 3);
	sl_rdd *r = batch(s, 1000);
	size_t maxlen;
	size_t d = distinct_words(r, &maxlen);
	cr_expect(d > 49000);
	cr_expect_eq(maxlen, 10);
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(generator, kinds_and_types)
{
	char name[64];
	sl_source *s = gen("lines", 100, 50, 0, 1);
	cr_expect_str_eq(sl_type_name(s->type, name, sizeof name), "String");
	sl_rdd *r = batch(s, 1000);
	cr_assert_eq(sl_rdd_rows(r), 100);
	for (size_t p = 0; p < r->nparts; p++)
		for (size_t i = 0; i < r->part[p]->len; i++) {
			sl_str l = r->part[p]->v.s[i];
			int words = 1;
			size_t start = 0;
			for (size_t k = 0; k <= l.len; k++) {
				if (k < l.len && l.p[k] != ' ')
					continue;
				cr_assert(is_word(l.p + start, k - start), "line '%.*s'",
					  (int)l.len, l.p);
				if (k < l.len)
					words++;
				start = k + 1;
			}
			cr_expect_eq(words, 8);
		}
	sl_rdd_unref(r);
	s->ops->free(s);

	s = gen("lines", 10, 50, 3, 1);
	r = batch(s, 1000);
	char *t = text(r);
	cr_expect_eq(strlen(t), 10 * (3 * 4 + 2 + 1), "%s", t);
	free(t);
	sl_rdd_unref(r);
	s->ops->free(s);

	s = gen("kv", 1000, 20, 0, 1);
	cr_expect_str_eq(sl_type_name(s->type, name, sizeof name), "(String, Long)");
	r = batch(s, 1000);
	int seen[101] = {0};
	for (size_t p = 0; p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		cr_assert(sl_type_eq(c->type, s->type));
		for (size_t i = 0; i < c->len; i++) {
			cr_assert(is_word(c->kid[0]->v.s[i].p, c->kid[0]->v.s[i].len));
			int64_t v = c->kid[1]->v.i64[i];
			cr_assert(v >= 1 && v <= 100, "value %ld", (long)v);
			seen[v]++;
		}
	}
	cr_expect(seen[1] > 0 && seen[100] > 0);
	sl_rdd_unref(r);
	s->ops->free(s);

	s = gen("numbers", 5000, 7, 0, 1);
	cr_expect_str_eq(sl_type_name(s->type, name, sizeof name), "Long");
	r = batch(s, 1000);
	int hit[7] = {0};
	for (size_t p = 0; p < r->nparts; p++)
		for (size_t i = 0; i < r->part[p]->len; i++) {
			int64_t v = r->part[p]->v.i64[i];
			cr_assert(v >= 0 && v < 7);
			hit[v]++;
		}
	for (int k = 0; k < 7; k++)
		cr_expect(hit[k] > 500 && hit[k] < 950, "value %d drawn %d times of 5000", k,
			  hit[k]);
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(generator, string_bytes_in_column_buffers)
{
	sl_source *s = gen("lines", 20000, 0, 0, 1);
	sl_rdd *r = batch(s, 1000);
	for (size_t p = 0; p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		cr_expect_eq(c->nbufs, 1, "one byte block per partition");
		for (size_t i = 0; i < c->len; i++)
			cr_assert(c->v.s[i].p >= c->bufs[0]->data &&
				  c->v.s[i].p + c->v.s[i].len <=
				      c->bufs[0]->data + c->bufs[0]->len);
	}
	sl_rdd_unref(r);
	s->ops->free(s);
}

static void gen_err(const char *kind, int64_t rate, int64_t keys, int64_t wpl, const char *msg)
{
	memset(&err, 0, sizeof err);
	sl_source *s = sl_generator_source_new(&env, kind, rate, keys, wpl, 1, &err);
	cr_expect_null(s);
	if (s)
		s->ops->free(s);
	cr_expect_eq(err.code, -EINVAL);
	cr_expect_str_eq(err.msg, msg);
}

Test(generator, errors)
{
	gen_err("tweets", 10, 0, 0,
		"generator: unknown kind 'tweets' (valid kinds: lines, words, kv, numbers)");
	gen_err(NULL, 10, 0, 0,
		"generator: unknown kind '' (valid kinds: lines, words, kv, numbers)");
	gen_err("words", 0, 0, 0, "generator: rate must be > 0 records per second, got 0");
	gen_err("words", -5, 0, 0, "generator: rate must be > 0 records per second, got -5");
	gen_err("kv", 10, -1, 0, "generator: keys must be >= 1, got -1");
	gen_err("lines", 10, 0, -2, "generator: words per line must be in 1..1000000, got -2");
	gen_err("words", 10, INT64_MAX, 0,
		"generator: keys must be at most 2865690931884057900 for kind 'words', got "
		"9223372036854775807");
	/* numbers take any range */
	sl_source *s = gen("numbers", 10, INT64_MAX, 0, 1);
	sl_rdd *r = batch(s, 1000);
	cr_expect_eq(sl_rdd_rows(r), 10);
	sl_rdd_unref(r);
	s->ops->free(s);
	/* absurd rates: refused when the batch interval is known (2^40 records a batch at
	 * most), else they fail the batch, not the process */
	gen_err("numbers", INT64_MAX, 10, 0,
		"generator: rate 9223372036854775807 records per second makes more than "
		"1099511627776 records per batch of 1000 ms");
	gen_err("numbers", 1099511627777, 10, 0,
		"generator: rate 1099511627777 records per second makes more than "
		"1099511627776 records per batch of 1000 ms");
	s = gen("numbers", 1099511627776, 10, 0, 1); /* exactly 2^40 a batch */
	s->ops->free(s);
	env.batch_ms = 0;
	s = gen("numbers", INT64_MAX, 10, 0, 1);
	env.batch_ms = 1000;
	r = NULL;
	cr_expect_eq(s->ops->next(s, 1000, &r, &err), -E2BIG);
	cr_expect_null(r);
	s->ops->free(s);
}

Test(generator, out_of_memory)
{
	const char *kinds[] = {"lines", "kv", "numbers"};
	for (int k = 0; k < 3; k++) {
		sl_source *s = gen(kinds[k], 100000, 0, 0, 1);
		int failed = 0;
		for (long n = 0; n < 200; n += 3) {
			sl_mem_fail_after(env.mem, n);
			sl_rdd *r = (sl_rdd *)0x1;
			int rc = s->ops->next(s, 1000, &r, &err);
			sl_mem_fail_after(env.mem, -1);
			if (rc) {
				cr_expect_eq(rc, -ENOMEM);
				cr_expect_null(r);
				failed++;
			} else {
				cr_expect_eq(sl_rdd_rows(r), 100000);
				sl_rdd_unref(r);
				break;
			}
		}
		cr_expect(failed > 0);
		s->ops->free(s);
	}
}
