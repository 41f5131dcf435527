/* SPDX-License-Identifier: Apache-2.0 */
/*
 * generator.c - generator(kind, rate, keys, seed): synthetic load (contract in io.h).
 *
 * Vocabulary: word i (0 <= i < keys) is a run of L consonant+vowel syllables (70 of
 * them: 14 consonants x 5 vowels). Words are numbered by length: the 70^2 two-syllable
 * words first, then the 70^3 three-syllable ones, and so on; within a length L, index
 * j maps to the base-70 digits of (j * MIX) mod 70^L, a bijection (MIX is prime to 70)
 * that spreads the first words over the whole alphabet. Different lengths give
 * different strings and equal lengths different digits, so all words are distinct.
 * For keys <= TABLE_MAX the words are spelled once into a table at creation.
 *
 * Batches: the count for time t is a function of t (see io.h), and partition p of batch
 * t draws from splitmix64 seeded by (seed, t, p), so any batch can be recomputed
 * exactly. Strings are built in two passes over the same draws: the first sums the
 * bytes, the second writes them into one sl_col_str_space block of the partition's
 * column and pushes views - no allocation per record.
 */
#include "io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fmt.h"

#define NSYL      70
#define MIX       0x9E3779B1ULL /* odd, not a multiple of 5 or 7 */
#define MAXSYL    10            /* 70^10 < 2^64; words of up to 10 syllables */
#define TABLE_MAX ((int64_t)1 << 20)
#define MAX_BATCH ((int64_t)1 << 40)

enum gkind { G_LINES, G_WORDS, G_KV, G_NUMBERS };
static const char *const kind_names[] = {"lines", "words", "kv", "numbers"};

typedef struct gen_src {
	sl_source base;
	int kind;
	int64_t rate, keys, wpl;
	uint64_t seed;
	int64_t zero;
	bool has_zero;
	/* word lengths: words [lo[L], lo[L] + size[L]) have L syllables */
	uint64_t lo[MAXSYL + 1], size[MAXSYL + 1];
	int maxsyl;
	char *table; /* keys words of stride 2*maxsyl bytes, or NULL */
} gen_src;

/* One batch being generated. */
typedef struct job {
	gen_src *g;
	int64_t time;
	size_t n, nparts;
	sl_col **part;
	int *rc;
} job;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)splitmix(s) * n) >> 64);
}

static int syllables(const gen_src *g, uint64_t i)
{
	int L = 2;
	while (L < g->maxsyl && i >= g->lo[L] + g->size[L])
		L++;
	return L;
}

/* Spell word i into out (2 * syllables(i) bytes); returns the length. */
static size_t spell(const gen_src *g, uint64_t i, char *out)
{
	static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
	int L = syllables(g, i);
	uint64_t code = (uint64_t)(((unsigned __int128)(i - g->lo[L]) * MIX) % g->size[L]);
	for (int k = L - 1; k >= 0; k--) {
		unsigned d = (unsigned)(code % NSYL);
		code /= NSYL;
		out[2 * k] = cons[d / 5];
		out[2 * k + 1] = vow[d % 5];
	}
	return (size_t)(2 * L);
}

static size_t word_len(const gen_src *g, uint64_t i)
{
	return (size_t)(2 * syllables(g, i));
}

static size_t put_word(const gen_src *g, uint64_t i, char *out)
{
	if (!g->table)
		return spell(g, i, out);
	size_t stride = (size_t)(2 * g->maxsyl), n = word_len(g, i);
	memcpy(out, g->table + i * stride, n);
	return n;
}

/* ---- one partition ---- */

static int gen_strings(const gen_src *g, sl_col *c, uint64_t st, size_t m)
{
	bool lines = g->kind == G_LINES;
	size_t per = lines ? (size_t)g->wpl : 1;
	sl_col *sc = g->kind == G_KV ? c->kid[0] : c;
	uint64_t s = st;
	size_t bytes = 0;
	for (size_t r = 0; r < m; r++) {
		for (size_t w = 0; w < per; w++)
			bytes += word_len(g, below(&s, (uint64_t)g->keys));
		if (lines)
			bytes += per - 1;
		if (g->kind == G_KV)
			(void)below(&s, 100);
	}
	char *p = bytes ? sl_col_str_space(sc, bytes) : NULL;
	if (bytes && !p)
		return -ENOMEM;
	s = st;
	for (size_t r = 0; r < m; r++) {
		char *start = p;
		for (size_t w = 0; w < per; w++) {
			if (w)
				*p++ = ' ';
			p += put_word(g, below(&s, (uint64_t)g->keys), p);
		}
		if (sl_col_push_view(sc, start, (size_t)(p - start)))
			return -ENOMEM;
		if (g->kind == G_KV) {
			if (sl_col_push_i64(c->kid[1], 1 + (int64_t)below(&s, 100)) ||
			    sl_col_commit(c))
				return -ENOMEM;
		}
	}
	return 0;
}

static void gen_task(void *arg, size_t task, int worker)
{
	(void)worker;
	job *j = arg;
	gen_src *g = j->g;
	size_t from = (size_t)((unsigned __int128)task * j->n / j->nparts);
	size_t to = (size_t)((unsigned __int128)(task + 1) * j->n / j->nparts);
	size_t m = to - from;
	uint64_t st = g->seed;
	st ^= splitmix(&st) ^ (uint64_t)j->time * 0xd1b54a32d192ed03ULL;
	st ^= splitmix(&st) ^ ((uint64_t)task + 1) * 0x8cb92ba72f3d8dd7ULL;
	(void)splitmix(&st);
	sl_col *c = sl_col_new(g->base.env->mem, g->base.type, m);
	j->part[task] = c;
	if (!c) {
		j->rc[task] = -ENOMEM;
		return;
	}
	if (g->kind == G_NUMBERS) {
		/* sl_col_new reserved m rows: write them in place */
		int64_t *v = c->v.i64;
		for (size_t r = 0; r < m; r++)
			v[r] = (int64_t)below(&st, (uint64_t)g->keys);
		c->len = m;
		return;
	}
	j->rc[task] = gen_strings(g, c, st, m);
}

/* ---- source ops ---- */

static int g_start(sl_source *s, int64_t zero_time, sluice_error *err)
{
	(void)err;
	gen_src *g = (gen_src *)s;
	g->zero = zero_time;
	g->has_zero = true;
	return 0;
}

/* floor(rate * ms / 1000) for ms >= 0 (0 for ms < 0). */
static __int128 upto(int64_t rate, int64_t ms)
{
	return ms <= 0 ? 0 : (__int128)rate * ms / 1000;
}

static int g_next(sl_source *s, int64_t time, sl_rdd **out, sluice_error *err)
{
	gen_src *g = (gen_src *)s;
	sl_env *env = s->env;
	int64_t B = env->batch_ms > 0 ? env->batch_ms : 1000;
	*out = NULL;
	if (!g->has_zero) {
		g->zero = time - B;
		g->has_zero = true;
	}
	__int128 cnt = upto(g->rate, time - g->zero) - upto(g->rate, time - B - g->zero);
	if (cnt > MAX_BATCH)
		return sl_error_set(err, -E2BIG,
				    "generator: %" PRId64 " records per second make more "
				    "than %" PRId64 " records per batch",
				    g->rate, MAX_BATCH);
	size_t n = (size_t)cnt;
	int64_t per = env->block_ms > 0 ? B / env->block_ms : 1;
	size_t np = per > 1 ? (size_t)per : 1;
	sl_rdd *r = sl_rdd_new(env->mem, s->type, time, np);
	int *rc = calloc(np, sizeof *rc);
	if (!r || !rc) {
		sl_rdd_unref(r);
		free(rc);
		return sl_error_set(err, -ENOMEM, "generator: out of memory");
	}
	job j = {.g = g, .time = time, .n = n, .nparts = np, .part = r->part, .rc = rc};
	if (env->workers && np > 1)
		sl_workers_run(env->workers, np, gen_task, &j);
	else
		for (size_t i = 0; i < np; i++)
			gen_task(&j, i, 0);
	int bad = 0;
	for (size_t i = 0; i < np; i++)
		bad |= rc[i];
	free(rc);
	if (bad) {
		sl_rdd_unref(r);
		return sl_error_set(err, -ENOMEM, "generator: out of memory");
	}
	*out = r;
	return 0;
}

static void g_free(sl_source *s)
{
	gen_src *g = (gen_src *)s;
	if (!g)
		return;
	free(g->table);
	free(g);
}

static const sl_source_ops gen_ops = {
    .name = "generator",
    .start = g_start,
    .next = g_next,
    .stop = NULL,
    .free = g_free,
};

/* Contract: see io.h. */
sl_source *sl_generator_source_new(sl_env *env, const char *kind, int64_t rate, int64_t keys,
				   int64_t words_per_line, uint64_t seed, sluice_error *err)
{
	int k = -1;
	for (int i = 0; kind && i < 4; i++)
		if (strcmp(kind, kind_names[i]) == 0)
			k = i;
	if (!env) {
		sl_error_set(err, -EINVAL, "generator: missing environment");
		return NULL;
	}
	if (k < 0) {
		sl_error_set(
		    err, -EINVAL,
		    "generator: unknown kind '%s' (valid kinds: lines, words, kv, numbers)",
		    kind ? kind : "");
		return NULL;
	}
	if (rate <= 0) {
		sl_error_set(err, -EINVAL,
			     "generator: rate must be > 0 records per second, got %" PRId64, rate);
		return NULL;
	}
	if (keys < 0) {
		sl_error_set(err, -EINVAL, "generator: keys must be >= 1, got %" PRId64, keys);
		return NULL;
	}
	if (words_per_line < 0 || words_per_line > 1000000) {
		sl_error_set(err, -EINVAL,
			     "generator: words per line must be in 1..1000000, got %" PRId64,
			     words_per_line);
		return NULL;
	}
	/* known now: a batch of more than MAX_BATCH records would fail every batch */
	if (env->batch_ms > 0 && ((__int128)rate * env->batch_ms + 999) / 1000 > MAX_BATCH) {
		sl_error_set(err, -EINVAL,
			     "generator: rate %" PRId64
			     " records per second makes more than %" PRId64
			     " records per batch of %" PRId64 " ms",
			     rate, MAX_BATCH, env->batch_ms);
		return NULL;
	}
	gen_src *g = calloc(1, sizeof *g);
	if (!g) {
		sl_error_set(err, -ENOMEM, "generator: out of memory");
		return NULL;
	}
	g->base.ops = &gen_ops;
	g->base.env = env;
	g->base.bounded = 0;
	g->kind = k;
	g->rate = rate;
	g->keys = keys ? keys : 1000;
	g->wpl = words_per_line ? words_per_line : 8;
	g->seed = seed;
	uint64_t lo = 0, size = NSYL * NSYL;
	for (int L = 2; L <= MAXSYL; L++) {
		g->lo[L] = lo;
		g->size[L] = size;
		g->maxsyl = L;
		if ((uint64_t)g->keys <= lo + size)
			break;
		lo += size;
		size *= NSYL;
	}
	if (k != G_NUMBERS && (uint64_t)g->keys > g->lo[g->maxsyl] + g->size[g->maxsyl]) {
		sl_error_set(err, -EINVAL,
			     "generator: keys must be at most %" PRIu64
			     " for kind '%s', got %" PRId64,
			     g->lo[MAXSYL] + g->size[MAXSYL], kind, keys);
		g_free(&g->base);
		return NULL;
	}
	switch (k) {
	case G_NUMBERS: g->base.type = &sl_type_i64; break;
	case G_KV:
		g->base.type =
		    env->types ? sl_type_pair(env->types, &sl_type_str, &sl_type_i64) : NULL;
		break;
	default: g->base.type = &sl_type_str; break;
	}
	if (k != G_NUMBERS && g->keys <= TABLE_MAX) {
		size_t stride = (size_t)(2 * g->maxsyl);
		g->table = malloc((size_t)g->keys * stride);
		if (g->table)
			for (int64_t i = 0; i < g->keys; i++)
				spell(g, (uint64_t)i, g->table + (size_t)i * stride);
	}
	if (!g->base.type || (k != G_NUMBERS && g->keys <= TABLE_MAX && !g->table)) {
		g_free(&g->base);
		sl_error_set(err, -ENOMEM, "generator: out of memory");
		return NULL;
	}
	return &g->base;
}
