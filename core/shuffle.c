/* SPDX-License-Identifier: Apache-2.0 */
/* shuffle.c - keyed per-batch operators (design in shuffle.h). */
#define _GNU_SOURCE
#include "shuffle.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "keydict.h"

#include "parse.h"

/* Phase 1 output for one input partition: rows ordered by destination partition. */
struct bucketed {
	const sl_col *key; /* the key column of this input partition */
	const sl_col *val; /* value column */
	uint64_t *hash;    /* per row */
	uint32_t *order;   /* rows sorted by destination */
	uint32_t *start;   /* nout + 1 offsets into order */
	size_t n;
};

struct side {
	const sl_rdd *rdd;
	struct bucketed *b;
};

/* Map-side combine result of one input partition (fast reducers and counts). */
struct partial {
	sl_keydict d;    /* distinct keys of the partition, first-seen order */
	sl_col *acc;     /* one accumulator per key id */
	uint32_t *order; /* key ids sorted by destination partition */
	uint32_t *start; /* nout + 1 offsets into order */
	int init;
};

struct job {
	sl_env *env;
	int mode, nout;
	const sl_lambda *fn;
	const sl_type *out_type;
	struct side side[2];
	int nsides;
	struct partial *pa;
	sl_rdd *out;
	atomic_int failed; /* first failure wins; relaxed is enough, read after the join */
	sluice_error err;
	size_t keys_hint; /* combine: expected distinct keys per input partition (0: none) */
};

/* Rows per block of the keyed paths: hashes, ids and gathered values stay in L1. */
#define CHUNK 1024

/* The context's kernel table (environments built by hand in tests may have none). */
static const sl_kernels *kern_of(const sl_env *env)
{
	return env->kern ? env->kern : &sl_kernels_scalar;
}

static void set_fail(struct job *j, int code, const char *msg)
{
	int zero = 0;
	/* relaxed: only decides which task writes err; sl_workers_run's join orders it */
	if (atomic_compare_exchange_strong_explicit(&j->failed, &zero, code, memory_order_relaxed,
						    memory_order_relaxed))
		sl_error_set(&j->err, code, "%s", msg);
}

static void bucket_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct job *j = arg;
	int s = (int)(t % (size_t)j->nsides);
	size_t i = t / (size_t)j->nsides;
	const sl_rdd *r = j->side[s].rdd;
	struct bucketed *b = &j->side[s].b[i];
	const sl_col *c = r->part[i];
	size_t n = c ? c->len : 0;
	sl_mem *m = j->env->mem;
	b->n = n;
	b->start = sl_calloc(m, -1, ((size_t)j->nout + 1) * sizeof(uint32_t));
	b->hash = sl_alloc(m, -1, (n ? n : 1) * sizeof(uint64_t));
	b->order = sl_alloc(m, -1, (n ? n : 1) * sizeof(uint32_t));
	if (!b->start || !b->hash || !b->order) {
		set_fail(j, -ENOMEM, "out of memory partitioning keys");
		return;
	}
	if (!n)
		return;
	b->key = c->kid[0];
	b->val = c->kid[1];
	const sl_kernels *k = kern_of(j->env);
	if (b->key->type->kind == SL_I64)
		k->hash_i64(b->key->v.i64, n, b->hash);
	else if (b->key->type->kind == SL_STR)
		k->hash_str((const sl_kstr *)b->key->v.s, n, b->hash);
	else
		sl_col_hash(b->key, b->hash);
	/* stable counting sort: arrival order kept inside each destination */
	k->partition(b->hash, n, (uint32_t)j->nout, b->start, b->order);
}

static void bucket_free(sl_mem *m, struct bucketed *b, size_t nparts, int nout)
{
	for (size_t i = 0; b && i < nparts; i++) {
		size_t n = b[i].n ? b[i].n : 1;
		if (b[i].start)
			sl_dealloc(m, b[i].start, ((size_t)nout + 1) * sizeof(uint32_t));
		if (b[i].hash)
			sl_dealloc(m, b[i].hash, n * sizeof(uint64_t));
		if (b[i].order)
			sl_dealloc(m, b[i].order, n * sizeof(uint32_t));
	}
	if (b)
		sl_dealloc(m, b, (nparts ? nparts : 1) * sizeof(*b));
}

/* Growable uint32 array. */
struct u32v {
	uint32_t *p;
	size_t n, cap;
};

/* Room for `extra` more entries. */
static int u32_room(sl_mem *m, struct u32v *v, size_t extra)
{
	if (v->n + extra <= v->cap)
		return 0;
	size_t nc = v->cap ? v->cap * 2 : 256;
	while (nc < v->n + extra)
		nc *= 2;
	uint32_t *p = sl_realloc(m, -1, v->p, v->cap * 4, nc * 4);
	if (!p)
		return -ENOMEM;
	v->p = p;
	v->cap = nc;
	return 0;
}

static void u32_free(sl_mem *m, struct u32v *v)
{
	if (v->p)
		sl_dealloc(m, v->p, v->cap * 4);
	v->p = NULL;
	v->n = v->cap = 0;
}

/* Counting sort of rows by group id: returns offsets goff[ngroups + 1] and perm[n]
 * (row positions in arrival order within each group). */
static int group_rows(sl_mem *m, const uint32_t *gid, size_t n, size_t ngroups, uint32_t **goff,
		      uint32_t **perm)
{
	*goff = sl_calloc(m, -1, (ngroups + 1) * 4);
	*perm = sl_alloc(m, -1, (n ? n : 1) * 4);
	uint32_t *pos = sl_alloc(m, -1, (ngroups ? ngroups : 1) * 4);
	if (!*goff || !*perm || !pos) {
		if (pos)
			sl_dealloc(m, pos, (ngroups ? ngroups : 1) * 4);
		return -ENOMEM;
	}
	for (size_t k = 0; k < n; k++)
		(*goff)[gid[k] + 1]++;
	for (size_t g = 0; g < ngroups; g++)
		(*goff)[g + 1] += (*goff)[g];
	memcpy(pos, *goff, ngroups * 4);
	for (size_t k = 0; k < n; k++)
		(*perm)[pos[gid[k]]++] = (uint32_t)k;
	sl_dealloc(m, pos, (ngroups ? ngroups : 1) * 4);
	return 0;
}

int sl_reduce_groups(sl_mem *m, const sl_lambda *fn, sl_col *vals, const uint32_t *goff,
		     size_t ngroups, sl_col **out, sluice_error *err)
{
	sl_col *cur = sl_col_ref(vals);
	size_t cap = ngroups + 1;
	uint32_t *off = sl_alloc(m, -1, cap * 4), *noff = sl_alloc(m, -1, cap * 4);
	uint32_t *ia = NULL, *ib = NULL;
	size_t iacap = 0;
	int rc = -ENOMEM;
	if (!off || !noff)
		goto out;
	memcpy(off, goff, cap * 4);
	for (;;) {
		size_t npairs = 0;
		for (size_t g = 0; g < ngroups; g++)
			npairs += (off[g + 1] - off[g]) / 2;
		if (!npairs)
			break;
		if (npairs > iacap) {
			if (ia)
				sl_dealloc(m, ia, iacap * 4), sl_dealloc(m, ib, iacap * 4);
			iacap = npairs;
			ia = sl_alloc(m, -1, iacap * 4);
			ib = sl_alloc(m, -1, iacap * 4);
			if (!ia || !ib)
				goto out;
		}
		size_t k = 0;
		for (size_t g = 0; g < ngroups; g++)
			for (uint32_t r = off[g]; r + 1 < off[g + 1]; r += 2)
				ia[k] = r, ib[k++] = r + 1;
		sl_col *a = sl_col_gather(cur, ia, npairs),
		       *b = a ? sl_col_gather(cur, ib, npairs) : NULL;
		sl_col *args[2] = {a, b};
		sl_xeval ev;
		sl_xeval_init(&ev, m);
		sl_col *res = b ? sl_lambda_eval(fn, args, npairs, &ev) : NULL;
		sl_col_unref(a);
		sl_col_unref(b);
		if (res && ev.nbad) {
			sl_error_set(err, -EINVAL, "reduce function failed: %s", ev.why);
			sl_xeval_fini(&ev);
			sl_col_unref(res);
			rc = -EINVAL;
			goto out;
		}
		sl_xeval_fini(&ev);
		if (!res)
			goto out;
		/* next round: each group keeps its pair results, then its odd element */
		sl_col *next = sl_col_new(m, cur->type, npairs + ngroups);
		if (!next || sl_col_share_bufs(next, res) || sl_col_share_bufs(next, cur)) {
			sl_col_unref(next);
			sl_col_unref(res);
			goto out;
		}
		k = 0;
		noff[0] = 0;
		for (size_t g = 0; g < ngroups; g++) {
			uint32_t m_ = off[g + 1] - off[g];
			for (uint32_t p = 0; p < m_ / 2; p++)
				if (sl_col_push_row_shared(next, res, k++))
					goto oom_next;
			if (m_ % 2 && sl_col_push_row_shared(next, cur, off[g + 1] - 1))
				goto oom_next;
			noff[g + 1] = (uint32_t)next->len;
		}
		sl_col_unref(res);
		sl_col_unref(cur);
		cur = next;
		memcpy(off, noff, cap * 4);
		continue;
	oom_next:
		sl_col_unref(next);
		sl_col_unref(res);
		goto out;
	}
	*out = cur;
	cur = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM)
		sl_error_set(err, -ENOMEM, "out of memory in reduce");
	sl_col_unref(cur);
	if (off)
		sl_dealloc(m, off, cap * 4);
	if (noff)
		sl_dealloc(m, noff, cap * 4);
	if (ia)
		sl_dealloc(m, ia, iacap * 4);
	if (ib)
		sl_dealloc(m, ib, iacap * 4);
	return rc;
}

/* Phase 2 of groupByKey and of reduceByKey with a general function, for output partition p. */
static void keyed_task(void *arg, size_t p, int worker)
{
	(void)worker;
	struct job *j = arg;
	sl_mem *m = j->env->mem;
	const sl_rdd *in = j->side[0].rdd;
	struct bucketed *bk = j->side[0].b;
	const sl_type *kt = j->out_type->kid[0];
	const sl_kernels *k = kern_of(j->env);
	size_t total = 0;
	for (size_t i = 0; i < in->nparts; i++)
		if (bk[i].n)
			total += bk[i].start[p + 1] - bk[i].start[p];
	sl_keydict d;
	if (sl_keydict_init(&d, m, kt, total / 4 + 16)) {
		set_fail(j, -ENOMEM, "out of memory");
		return;
	}
	struct u32v gid = {0};
	sl_col *vals = NULL, *outv = NULL;
	const sl_type *vt = in->type->kid[1];
	/* built-in numeric reducers and counts never get here: they combine (merge_task) */
	vals = sl_col_new(m, vt, total ? total : 1);
	if (!vals)
		goto oom;
	for (size_t i = 0; i < in->nparts; i++) {
		struct bucketed *b = &bk[i];
		if (!b->n)
			continue;
		if (sl_col_share_bufs(vals, b->val))
			goto oom;
		/* a block at a time: gather the rows' hashes, intern their keys (kernels) */
		for (uint32_t q = b->start[p]; q < b->start[p + 1]; q += CHUNK) {
			size_t cnt = b->start[p + 1] - q < CHUNK ? b->start[p + 1] - q : CHUNK;
			const uint32_t *sel = b->order + q;
			uint64_t h[CHUNK];
			uint32_t ids[CHUNK];
			k->gather_i64((const int64_t *)b->hash, sel, cnt, (int64_t *)h);
			if (sl_keydict_put_gather(&d, k, b->key, sel, cnt, h, ids))
				goto oom;
			if (u32_room(m, &gid, cnt) ||
			    sl_col_gather_from(vals, &b->val, 1, NULL, sel, cnt))
				goto oom;
			memcpy(gid.p + gid.n, ids, cnt * 4);
			gid.n += cnt;
		}
	}
	uint32_t *goff, *perm;
	if (group_rows(m, gid.p, gid.n, d.n, &goff, &perm))
		goto oom;
	sl_col *sorted = sl_col_gather(vals, perm, gid.n);
	sl_dealloc(m, perm, (gid.n ? gid.n : 1) * 4);
	if (!sorted) {
		sl_dealloc(m, goff, (d.n + 1) * 4);
		goto oom;
	}
	if (j->mode == SL_KEYED_GROUP) {
		outv = sl_col_new(m, j->out_type->kid[1], 0);
		if (outv) {
			sl_col_unref(outv->kid[0]);
			outv->kid[0] = sl_col_ref(sorted);
			if (sl_col_reserve(outv, d.n)) {
				sl_col_unref(outv);
				outv = NULL;
			} else {
				memcpy(outv->v.off, goff, (d.n + 1) * 4);
				outv->len = d.n;
			}
		}
	} else {
		sluice_error e = {0};
		int rc = sl_reduce_groups(m, j->fn, sorted, goff, d.n, &outv, &e);
		if (rc && rc != -ENOMEM) {
			set_fail(j, rc, e.msg);
			sl_col_unref(sorted);
			sl_dealloc(m, goff, (d.n + 1) * 4);
			goto done;
		}
	}
	sl_col_unref(sorted);
	sl_dealloc(m, goff, (d.n + 1) * 4);
	if (!outv)
		goto oom;
	{
		sl_col *kids[2] = {d.keys, outv};
		j->out->part[p] = sl_col_tuple_of(m, j->out_type, kids);
		if (!j->out->part[p])
			goto oom;
	}
	goto done;
oom:
	set_fail(j, -ENOMEM, "out of memory in keyed operator");
done:
	sl_col_unref(vals);
	sl_col_unref(outv);
	u32_free(m, &gid);
	sl_keydict_fini(&d);
}

static int run_phase1(struct job *j)
{
	size_t tasks = 0;
	for (int s = 0; s < j->nsides; s++) {
		j->side[s].b = sl_calloc(j->env->mem, -1,
					 (j->side[s].rdd->nparts ? j->side[s].rdd->nparts : 1) *
					     sizeof(struct bucketed));
		if (!j->side[s].b)
			return -ENOMEM;
		if (j->side[s].rdd->nparts > tasks)
			tasks = j->side[s].rdd->nparts;
	}
	/* task t = (partition t / nsides of side t % nsides); pad the shorter side */
	if (j->nsides == 2 && j->side[0].rdd->nparts != j->side[1].rdd->nparts) {
		for (int s = 0; s < 2; s++)
			for (size_t i = 0; i < j->side[s].rdd->nparts; i++)
				bucket_task(j, i * 2 + (size_t)s, 0);
	} else {
		sl_workers_run(j->env->workers, tasks * (size_t)j->nsides, bucket_task, j);
	}
	return atomic_load_explicit(&j->failed, memory_order_relaxed);
}

static void job_fini(struct job *j)
{
	for (int s = 0; s < j->nsides; s++)
		bucket_free(j->env->mem, j->side[s].b, j->side[s].rdd->nparts, j->nout);
}

static int finish(struct job *j, sl_rdd **out, sluice_error *err)
{
	int rc = atomic_load_explicit(&j->failed, memory_order_relaxed);
	job_fini(j);
	if (rc) {
		if (err)
			*err = j->err;
		sl_rdd_unref(j->out);
		*out = NULL;
		return rc;
	}
	for (int p = 0; p < j->nout; p++)
		if (!j->out->part[p] &&
		    !(j->out->part[p] = sl_col_new(j->env->mem, j->out_type, 0))) {
			sl_rdd_unref(j->out);
			*out = NULL;
			sl_error_set(err, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
	*out = j->out;
	return 0;
}

/* The accumulator of a key before its first value: the identity of the reducer, so that
 * folding the first value gives that value (f64 sums start at -0.0: -0.0 + x is x for
 * every x, -0.0 included). Counts are Long sums. */
static int acc_extend(sl_col *acc, int red, size_t n)
{
	if (n <= acc->len)
		return 0;
	if (sl_col_reserve(acc, n - acc->len))
		return -ENOMEM;
	if (acc->type->kind == SL_I64) {
		int64_t id0 = red == SL_RED_MIN ? INT64_MAX : red == SL_RED_MAX ? INT64_MIN : 0;
		for (size_t i = acc->len; i < n; i++)
			acc->v.i64[i] = id0;
	} else {
		double id0 = red == SL_RED_MIN ? INFINITY : red == SL_RED_MAX ? -INFINITY : -0.0;
		for (size_t i = acc->len; i < n; i++)
			acc->v.f64[i] = id0;
	}
	acc->len = n;
	return 0;
}

/* acc[ids[i]] op= v[i] (v NULL: count) with the grouped kernels. Java's Math.min/max for
 * Doubles (NaN wins, -0.0 < 0.0), wrapping Long sums. */
static void acc_fold(const sl_kernels *k, sl_col *acc, int red, const uint32_t *ids, const void *v,
		     size_t n)
{
	if (acc->type->kind == SL_I64) {
		if (!v)
			k->grouped_count(ids, n, acc->v.i64);
		else if (red == SL_RED_MIN)
			k->grouped_min_i64(ids, v, n, acc->v.i64);
		else if (red == SL_RED_MAX)
			k->grouped_max_i64(ids, v, n, acc->v.i64);
		else
			k->grouped_sum_i64(ids, v, n, acc->v.i64);
	} else {
		if (red == SL_RED_MIN)
			k->grouped_min_f64(ids, v, n, acc->v.f64);
		else if (red == SL_RED_MAX)
			k->grouped_max_f64(ids, v, n, acc->v.f64);
		else
			k->grouped_sum_f64(ids, v, n, acc->v.f64);
	}
}

/* Phase 1 of the combining path: aggregate one input partition by key, a block at a time:
 * hash the block's keys (one kernel call), probe them into dense ids (one call), fold the
 * values into the dense accumulators (one call); Long sums and counts by Long keys go
 * through sl_keydict_sum_i64 / sl_keydict_count_i64 in one call for the whole partition
 * (for keys in a small range, the direct map's lookup and add in one kernel pass; others
 * hash, probe and add in one pass, through this worker's sum table up to 4 K keys). */
static void combine_task(void *arg, size_t i, int worker)
{
	struct job *j = arg;
	sl_mem *m = j->env->mem;
	const sl_kernels *k = kern_of(j->env);
	const sl_rdd *in = j->side[0].rdd;
	struct partial *pa = &j->pa[i];
	const sl_col *c = in->part[i];
	int cv = j->mode == SL_KEYED_COUNT_VALUE;
	int red = cv ? SL_RED_SUM : j->fn->reducer;
	const sl_col *keys = c && c->len ? (cv ? c : c->kid[0]) : NULL;
	const sl_col *vals = c && c->len && !cv ? c->kid[1] : NULL;
	const sl_type *kt = j->out_type->kid[0], *vt = j->out_type->kid[1];
	size_t rows = keys ? keys->len : 0;
	size_t expect = j->keys_hint < rows ? j->keys_hint : rows;
	if (sl_keydict_init(&pa->d, m, kt, expect > 1024 ? expect : 1024))
		goto oom;
	pa->init = 1;
	pa->acc = sl_col_new(m, vt, 1024);
	pa->start = sl_alloc(m, -1, ((size_t)j->nout + 1) * 4);
	if (!pa->acc || !pa->start)
		goto oom;
	size_t n = rows;
	uint64_t h[CHUNK];
	uint32_t ids[CHUNK];
	int fused = keys && keys->type->kind == SL_I64 && vt->kind == SL_I64 &&
		    (cv || (red == SL_RED_SUM && vals->type->kind == SL_I64));
	/* Long sums and counts by Long key: one call for the whole partition (keydict.c works
	 * through it in blocks, or in one kernel pass through a sum table, which pays off only
	 * over many rows per key) */
	if (fused) {
		/* this worker's sum table, lent for these calls only (the merge may run pa->d on
		 * another worker) */
		pa->d.sums = sl_workers_scratch(j->env->workers, worker, sizeof(sl_ksums));
		int rc = cv ? sl_keydict_count_i64(&pa->d, k, keys, 0, n, pa->acc)
			    : sl_keydict_sum_i64(&pa->d, k, keys, 0, n, vals->v.i64, pa->acc);
		pa->d.sums = NULL;
		if (rc)
			goto oom;
	} else {
		for (size_t r = 0; r < n; r += CHUNK) {
			size_t b = n - r < CHUNK ? n - r : CHUNK;
			if (sl_keydict_put_rows(&pa->d, k, keys, r, b, h, ids) ||
			    acc_extend(pa->acc, red, pa->d.n))
				goto oom;
			const void *v = !vals ? NULL
					: vals->type->kind == SL_I64
					    ? (const void *)(vals->v.i64 + r)
					    : (const void *)(vals->v.f64 + r);
			acc_fold(k, pa->acc, red, ids, v, b);
		}
	}
	/* bucket the distinct keys by destination, keeping first-seen order */
	size_t nk = pa->d.n;
	pa->order = sl_alloc(m, -1, (nk ? nk : 1) * 4);
	if (!pa->order)
		goto oom;
	k->partition(pa->d.hash, nk, (uint32_t)j->nout, pa->start, pa->order);
	return;
oom:
	set_fail(j, -ENOMEM, "out of memory combining keys");
}

/* Phase 2 of the combining path: merge the partials' keys that hash to partition p, in
 * input-partition order, a block at a time (gather keys and hashes, probe, fold). */
static void merge_task(void *arg, size_t p, int worker)
{
	(void)worker;
	struct job *j = arg;
	sl_mem *m = j->env->mem;
	const sl_kernels *k = kern_of(j->env);
	const sl_rdd *in = j->side[0].rdd;
	int red = j->mode == SL_KEYED_COUNT_VALUE ? SL_RED_SUM : j->fn->reducer;
	size_t total = 0;
	for (size_t i = 0; i < in->nparts; i++)
		total += j->pa[i].start[p + 1] - j->pa[i].start[p];
	sl_keydict d;
	if (sl_keydict_init(&d, m, j->out_type->kid[0], total))
		goto oom_nodict;
	sl_col *acc = sl_col_new(m, j->out_type->kid[1], total ? total : 1);
	if (!acc)
		goto oom;
	uint64_t h[CHUNK];
	uint32_t ids[CHUNK];
	union {
		int64_t i64[CHUNK];
		double f64[CHUNK];
	} v;
	for (size_t i = 0; i < in->nparts; i++) {
		struct partial *pa = &j->pa[i];
		for (uint32_t q = pa->start[p]; q < pa->start[p + 1]; q += CHUNK) {
			size_t b = pa->start[p + 1] - q < CHUNK ? pa->start[p + 1] - q : CHUNK;
			const uint32_t *sel = pa->order + q;
			k->gather_i64((const int64_t *)pa->d.hash, sel, b, (int64_t *)h);
			if (sl_keydict_put_gather(&d, k, pa->d.keys, sel, b, h, ids) ||
			    acc_extend(acc, red, d.n))
				goto oom_acc;
			if (acc->type->kind == SL_I64)
				k->gather_i64(pa->acc->v.i64, sel, b, v.i64);
			else
				k->gather_f64(pa->acc->v.f64, sel, b, v.f64);
			acc_fold(k, acc, red, ids, &v, b);
		}
	}
	sl_col *kids[2] = {d.keys, acc};
	j->out->part[p] = sl_col_tuple_of(m, j->out_type, kids);
	sl_col_unref(acc);
	sl_keydict_fini(&d);
	if (!j->out->part[p])
		set_fail(j, -ENOMEM, "out of memory merging keys");
	return;
oom_acc:
	sl_col_unref(acc);
oom:
	sl_keydict_fini(&d);
oom_nodict:
	set_fail(j, -ENOMEM, "out of memory merging keys");
}

static void partials_free(struct job *j, size_t n)
{
	sl_mem *m = j->env->mem;
	for (size_t i = 0; j->pa && i < n; i++) {
		struct partial *pa = &j->pa[i];
		if (pa->order)
			sl_dealloc(m, pa->order, (pa->d.n ? pa->d.n : 1) * 4);
		if (pa->start)
			sl_dealloc(m, pa->start, ((size_t)j->nout + 1) * 4);
		sl_col_unref(pa->acc);
		if (pa->init)
			sl_keydict_fini(&pa->d);
	}
	if (j->pa)
		sl_dealloc(m, j->pa, (n ? n : 1) * sizeof(*j->pa));
}

int sl_shuffle_keyed(sl_env *env, const sl_rdd *in, int mode, const sl_lambda *fn, int nout,
		     const sl_type *out_type, size_t *keys_hint, sl_rdd **out, sluice_error *err)
{
	struct job j = {.env = env,
			.mode = mode,
			.nout = nout,
			.fn = fn,
			.out_type = out_type,
			.nsides = 1,
			.keys_hint = keys_hint ? *keys_hint : 0};
	j.side[0].rdd = in;
	j.out = sl_rdd_new(env->mem, out_type, in->time, (size_t)nout);
	if (!j.out)
		return -ENOMEM;
	int numeric = sl_type_is_num(out_type->kid[1]);
	if (numeric && (mode == SL_KEYED_COUNT_VALUE || (mode == SL_KEYED_REDUCE && fn->reducer))) {
		/* map-side combine: aggregate each partition, then merge the distinct keys */
		j.pa = sl_calloc(env->mem, -1, (in->nparts ? in->nparts : 1) * sizeof(*j.pa));
		if (!j.pa) {
			sl_rdd_unref(j.out);
			return -ENOMEM;
		}
		sl_workers_run(env->workers, in->nparts, combine_task, &j);
		/* an empty batch (an idle stream) keeps the last hint */
		size_t most = 0;
		for (size_t i = 0; i < in->nparts; i++)
			if (j.pa[i].init && j.pa[i].d.n > most)
				most = j.pa[i].d.n;
		if (keys_hint && most)
			*keys_hint = most;
		if (!atomic_load_explicit(&j.failed, memory_order_relaxed))
			sl_workers_run(env->workers, (size_t)nout, merge_task, &j);
		partials_free(&j, in->nparts);
		j.nsides = 0; /* nothing bucketed */
		return finish(&j, out, err);
	}
	if (!run_phase1(&j))
		sl_workers_run(env->workers, (size_t)nout, keyed_task, &j);
	return finish(&j, out, err);
}

/* Whether side s (0 left, 1 right) of a join's output is an Option (the other side is kept
 * when s has no match). */
static int join_wraps(int mode, int s)
{
	return mode == SL_JOIN_FULL || mode == (s ? SL_JOIN_LEFT : SL_JOIN_RIGHT);
}

/* The output of a (non-cogroup) join, built a column at a time: first, per output row, where
 * its key, left and right value come from (partition and row; UINT32_MAX: None), in Spark's
 * order (left rows in order, each with its right matches; then unmatched right rows); then
 * each column gathered from those (sl_col_gather_from; buffers already shared). gid/src/row:
 * per side, the rows' key ids, partitions and rows; goff/perm: the right rows by id. */
static int join_rows(struct job *j, sl_mem *m, sl_col *o, const struct u32v *gid,
		     const struct u32v *src, const struct u32v *row, const uint32_t *goff,
		     const uint32_t *perm, size_t nids)
{
	int keep_left = join_wraps(j->mode, 1), keep_right = join_wraps(j->mode, 0);
	uint8_t *matched = NULL;
	if (keep_right && !(matched = sl_calloc(m, -1, nids ? nids : 1)))
		return -ENOMEM;
	size_t n = 0;
	for (size_t k = 0; k < gid[0].n; k++) {
		uint32_t id = gid[0].p[k];
		if (id == UINT32_MAX) {
			n += (size_t)keep_left;
			continue;
		}
		n += goff[id + 1] - goff[id];
		if (matched)
			matched[id] = 1;
	}
	for (size_t id = 0; keep_right && id < nids; id++)
		n += matched[id] ? 0 : goff[id + 1] - goff[id];
	/* where[0..2]: partition of the key (right partitions numbered after the left ones),
	 * of the left value, of the right value; at[0..2]: their rows */
	uint32_t *buf = sl_alloc(m, -1, (n ? n : 1) * 6 * 4), *where[3], *at[3];
	/* the right rows in id order, partition and row side by side: one random read per
	 * match instead of three dependent ones (perm, then its partition and row) */
	size_t nr1 = gid[1].n;
	uint32_t *rq = sl_alloc(m, -1, (nr1 ? nr1 : 1) * 8);
	int rc = -ENOMEM;
	if (!buf || !rq)
		goto out;
	for (size_t q = 0; q < nr1; q++)
		rq[2 * q] = src[1].p[perm[q]], rq[2 * q + 1] = row[1].p[perm[q]];
	for (int c = 0; c < 3; c++)
		where[c] = buf + (size_t)(2 * c) * n, at[c] = buf + (size_t)(2 * c + 1) * n;
	uint32_t nl = (uint32_t)j->side[0].rdd->nparts;
	size_t w = 0;
#define PUT(kp, kr, lp, lr, rp, rr)                                                                \
	(where[0][w] = (kp), at[0][w] = (kr), where[1][w] = (lp), at[1][w] = (lr),                 \
	 where[2][w] = (rp), at[2][w] = (rr), w++)
	for (size_t k = 0; k < gid[0].n; k++) {
		uint32_t id = gid[0].p[k], lp = src[0].p[k], lr = row[0].p[k];
		if (id == UINT32_MAX) {
			if (keep_left)
				PUT(lp, lr, lp, lr, 0, UINT32_MAX);
			continue;
		}
		for (uint32_t q = goff[id]; q < goff[id + 1]; q++)
			PUT(lp, lr, lp, lr, rq[2 * (size_t)q], rq[2 * (size_t)q + 1]);
	}
	for (size_t id = 0; keep_right && id < nids; id++) {
		if (matched[id])
			continue;
		for (uint32_t q = goff[id]; q < goff[id + 1]; q++) {
			uint32_t rp = rq[2 * (size_t)q], rr = rq[2 * (size_t)q + 1];
			PUT(nl + rp, rr, 0, UINT32_MAX, rp, rr);
		}
	}
#undef PUT
	assert(w == n);
	/* each column from its sources: the keys of the left partitions, then of the right ones
	 * (numbered after them, as where[0] has it); the values of one side */
	size_t nr = j->side[1].rdd->nparts;
	const sl_col **cols = sl_alloc(m, -1, (nl + nr + 1) * sizeof(*cols));
	if (!cols)
		goto out;
	int bad = 0;
	for (int c = 0; c < 3 && !bad; c++) {
		size_t ns = 0;
		for (int s = 0; s < 2; s++) {
			if (c && s != c - 1)
				continue;
			const sl_rdd *r = j->side[s].rdd;
			for (size_t q = 0; q < r->nparts; q++) {
				const sl_col *pc = r->part[q];
				cols[ns++] = pc && pc->len ? pc->kid[c ? 1 : 0] : NULL;
			}
		}
		sl_col *dst = c == 0 ? o->kid[0] : o->kid[1]->kid[c - 1];
		if (c && join_wraps(j->mode, c - 1)) {
			/* Option: the value (a zero row for None) and its flag */
			bad = sl_col_reserve(dst, n) ||
			      sl_col_gather_from(dst->kid[0], cols, ns, where[c], at[c], n);
			for (size_t i = 0; !bad && i < n; i++)
				dst->valid[dst->len + i] = at[c][i] != UINT32_MAX;
			if (!bad)
				dst->len += n;
		} else {
			bad = sl_col_gather_from(dst, cols, ns, where[c], at[c], n) != 0;
		}
	}
	sl_dealloc(m, cols, (nl + nr + 1) * sizeof(*cols));
	if (!bad && !sl_col_reserve(o->kid[1], n) && !sl_col_reserve(o, n)) {
		o->kid[1]->len += n, o->len += n;
		rc = 0;
	}
out:
	if (buf)
		sl_dealloc(m, buf, (n ? n : 1) * 6 * 4);
	if (rq)
		sl_dealloc(m, rq, (nr1 ? nr1 : 1) * 8);
	if (matched)
		sl_dealloc(m, matched, nids ? nids : 1);
	return rc;
}

static void join_task(void *arg, size_t p, int worker)
{
	(void)worker;
	struct job *j = arg;
	sl_mem *m = j->env->mem;
	const sl_type *kt = j->out_type->kid[0];
	sl_keydict d;
	struct u32v gid[2] = {{0}}, src[2] = {{0}}, row[2] = {{0}};
	uint32_t *goff[2] = {0}, *perm[2] = {0};
	size_t nids = 0;
	sl_col *o = NULL;
	const sl_kernels *kern = kern_of(j->env);
	uint64_t h[CHUNK];
	uint32_t ids[CHUNK];
	if (sl_keydict_init(&d, m, kt, 64)) {
		set_fail(j, -ENOMEM, "out of memory");
		return;
	}
	/* ids: cogroup interns both sides; joins intern the right side and probe with left */
	int order[2] = {1, 0};
	if (j->mode == SL_JOIN_COGROUP)
		order[0] = 0, order[1] = 1;
	for (int oi = 0; oi < 2; oi++) {
		int s = order[oi];
		const sl_rdd *r = j->side[s].rdd;
		for (size_t i = 0; i < r->nparts; i++) {
			struct bucketed *b = &j->side[s].b[i];
			if (!b->n)
				continue;
			/* a block at a time (kernels): gather the rows' hashes, then intern
			 * their keys, or look them up (UINT32_MAX: a left key with no right
			 * match) */
			for (uint32_t q = b->start[p]; q < b->start[p + 1]; q += CHUNK) {
				size_t cnt =
				    b->start[p + 1] - q < CHUNK ? b->start[p + 1] - q : CHUNK;
				const uint32_t *sel = b->order + q;
				kern->gather_i64((const int64_t *)b->hash, sel, cnt, (int64_t *)h);
				if (j->mode != SL_JOIN_COGROUP && s == 0)
					sl_keydict_find_gather(&d, kern, b->key, sel, cnt, h, ids);
				else if (sl_keydict_put_gather(&d, kern, b->key, sel, cnt, h, ids))
					goto oom;
				if (u32_room(m, &gid[s], cnt) || u32_room(m, &src[s], cnt) ||
				    u32_room(m, &row[s], cnt))
					goto oom;
				memcpy(gid[s].p + gid[s].n, ids, cnt * 4);
				memcpy(row[s].p + row[s].n, sel, cnt * 4);
				for (size_t t = 0; t < cnt; t++)
					src[s].p[src[s].n + t] = (uint32_t)i;
				gid[s].n += cnt, src[s].n += cnt, row[s].n += cnt;
			}
		}
	}
	nids = d.n;
	/* group right (and for cogroup left) rows by id */
	for (int s = 0; s < 2; s++) {
		if (s == 0 && j->mode != SL_JOIN_COGROUP)
			continue;
		if (group_rows(m, gid[s].p, gid[s].n, nids, &goff[s], &perm[s]))
			goto oom;
	}
	o = sl_col_new(m, j->out_type, gid[0].n + 16);
	if (!o)
		goto oom;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < j->side[s].rdd->nparts; i++) {
			const sl_col *c = j->side[s].rdd->part[i];
			if (c && c->len &&
			    (sl_col_share_bufs(o->kid[0], c->kid[0]) ||
			     sl_col_share_bufs(j->mode == SL_JOIN_COGROUP || join_wraps(j->mode, s)
						   ? o->kid[1]->kid[s]->kid[0]
						   : o->kid[1]->kid[s],
					       c->kid[1])))
				goto oom;
		}
#define PART(s, k) (j->side[s].rdd->part[src[s].p[k]])
	if (j->mode == SL_JOIN_COGROUP) {
		for (size_t id = 0; id < nids; id++) {
			if (sl_col_push_row_shared(o->kid[0], d.keys, id))
				goto oom;
			for (int s = 0; s < 2; s++) {
				sl_col *lst = o->kid[1]->kid[s];
				for (uint32_t q = goff[s][id]; q < goff[s][id + 1]; q++) {
					uint32_t k = perm[s][q];
					if (sl_col_push_row_shared(lst->kid[0], PART(s, k)->kid[1],
								   row[s].p[k]))
						goto oom;
				}
				if (sl_col_commit(lst))
					goto oom;
			}
			if (sl_col_commit(o->kid[1]) || sl_col_commit(o))
				goto oom;
		}
		/* the keys came from the dictionary's own copies */
		if (sl_col_share_bufs(o->kid[0], d.keys))
			goto oom;
	} else if (join_rows(j, m, o, gid, src, row, goff[1], perm[1], nids)) {
		goto oom;
	}
#undef PART
	j->out->part[p] = o;
	o = NULL;
	goto done;
oom:
	set_fail(j, -ENOMEM, "out of memory in join");
done:
	sl_col_unref(o);
	for (int s = 0; s < 2; s++) {
		if (goff[s])
			sl_dealloc(m, goff[s], (nids + 1) * 4);
		if (perm[s])
			sl_dealloc(m, perm[s], (gid[s].n ? gid[s].n : 1) * 4);
		u32_free(m, &gid[s]);
		u32_free(m, &src[s]);
		u32_free(m, &row[s]);
	}
	sl_keydict_fini(&d);
}

int sl_shuffle_join(sl_env *env, const sl_rdd *a, const sl_rdd *b, int mode, int nout,
		    const sl_type *out_type, sl_rdd **out, sluice_error *err)
{
	struct job j = {.env = env, .mode = mode, .nout = nout, .out_type = out_type, .nsides = 2};
	j.side[0].rdd = a;
	j.side[1].rdd = b;
	j.out = sl_rdd_new(env->mem, out_type, a->time, (size_t)nout);
	if (!j.out)
		return -ENOMEM;
	if (!run_phase1(&j))
		sl_workers_run(env->workers, (size_t)nout, join_task, &j);
	return finish(&j, out, err);
}

/*
 * The partitions' part of a kernel reduction (reduce(_ + _ / max / min) over Longs or
 * Doubles) or of a fused filter-count, one task per partition: with a fused filter(x OP c)
 * (where), the filter kernel's selection, then the *_sel reduction over it (a count with a
 * constant needs no selection: the count kernel).
 */
struct red_job {
	sl_env *env;
	const sl_rdd *in;
	const sl_cmp_shape *where; /* NULL: every row */
	int red;                   /* SL_RED_*, or 0: count the rows `where` keeps */
	int64_t *vi;               /* [nparts] partials (Long, or the count) */
	double *vf;                /* [nparts] partials (Double) */
	size_t *rows;              /* [nparts] rows each partial covers */
	atomic_int failed;
};

static void red_task(void *arg, size_t p, int worker)
{
	(void)worker;
	struct red_job *j = arg;
	const sl_kernels *k = j->env->kern;
	const sl_col *c = j->in->part[p];
	size_t n = c ? c->len : 0, len = n;
	j->rows[p] = 0;
	j->vi[p] = 0;
	j->vf[p] = 0;
	if (!n)
		return;
	if (!j->red && !sl_cmp_count_needs_sel(j->where)) {
		j->rows[p] = sl_cmp_count(k, j->where, c, n, NULL);
		return;
	}
	uint32_t *sel = NULL;
	if (j->where) {
		sel = sl_alloc(j->env->mem, -1, len * 4);
		if (!sel) {
			/* relaxed: read after sl_workers_run returns */
			atomic_store_explicit(&j->failed, 1, memory_order_relaxed);
			return;
		}
		n = j->red ? sl_cmp_select(k, j->where, c, len, sel)
			   : sl_cmp_count(k, j->where, c, len, sel);
	}
	j->rows[p] = n;
	int red = j->red;
	if (n && c->type->kind == SL_F64)
		j->vf[p] = red == SL_RED_SUM
			       ? (sel ? k->sum_f64_sel(c->v.f64, sel, n) : k->sum_f64(c->v.f64, n))
			   : red == SL_RED_MAX
			       ? (sel ? k->max_f64_sel(c->v.f64, sel, n) : k->max_f64(c->v.f64, n))
			   : red == SL_RED_MIN
			       ? (sel ? k->min_f64_sel(c->v.f64, sel, n) : k->min_f64(c->v.f64, n))
			       : 0;
	else if (n && red)
		j->vi[p] = red == SL_RED_SUM
			       ? (sel ? k->sum_i64_sel(c->v.i64, sel, n) : k->sum_i64(c->v.i64, n))
			   : red == SL_RED_MAX
			       ? (sel ? k->max_i64_sel(c->v.i64, sel, n) : k->max_i64(c->v.i64, n))
			       : (sel ? k->min_i64_sel(c->v.i64, sel, n) : k->min_i64(c->v.i64, n));
	if (sel)
		sl_dealloc(j->env->mem, sel, len * 4);
}

/* Free red_run's arrays (any of them may be NULL). */
static void red_free(struct red_job *j)
{
	size_t np = j->in->nparts ? j->in->nparts : 1;
	if (j->vi)
		sl_dealloc(j->env->mem, j->vi, np * sizeof(*j->vi));
	if (j->vf)
		sl_dealloc(j->env->mem, j->vf, np * sizeof(*j->vf));
	if (j->rows)
		sl_dealloc(j->env->mem, j->rows, np * sizeof(*j->rows));
}

/* Run red_task over in's partitions. 0 or -ENOMEM (everything freed). */
static int red_run(struct red_job *j)
{
	size_t np = j->in->nparts ? j->in->nparts : 1;
	sl_mem *m = j->env->mem;
	j->vi = sl_alloc(m, -1, np * sizeof(*j->vi));
	j->vf = sl_alloc(m, -1, np * sizeof(*j->vf));
	j->rows = sl_alloc(m, -1, np * sizeof(*j->rows));
	atomic_init(&j->failed, 0);
	if (!j->vi || !j->vf || !j->rows) {
		red_free(j);
		return -ENOMEM;
	}
	if (j->env->workers)
		sl_workers_run(j->env->workers, j->in->nparts, red_task, j);
	else /* an env without a pool (tests) */
		for (size_t p = 0; p < j->in->nparts; p++)
			red_task(j, p, 0);
	if (atomic_load_explicit(&j->failed, memory_order_relaxed)) {
		red_free(j);
		return -ENOMEM;
	}
	return 0;
}

int64_t sl_filter_count(sl_env *env, const sl_rdd *in, const sl_cmp_shape *where)
{
	struct red_job j = {.env = env, .in = in, .where = where};
	if (red_run(&j))
		return -ENOMEM;
	int64_t n = 0;
	for (size_t p = 0; p < in->nparts; p++)
		n += (int64_t)j.rows[p];
	red_free(&j);
	return n;
}

/* reduce(_ + _ / max / min) over Longs or Doubles (of the rows `where` keeps): the partials
 * of red_task combined in partition order. r is the (empty) result. */
static int reduce_kernel(sl_env *env, const sl_rdd *in, const sl_cmp_shape *where, int red,
			 sl_rdd *r, sl_rdd **out)
{
	const sl_kernels *k = env->kern;
	struct red_job j = {.env = env, .in = in, .where = where, .red = red};
	if (red_run(&j)) {
		sl_rdd_unref(r);
		return -ENOMEM;
	}
	int f = in->type->kind == SL_F64, any = 0;
	int64_t ai = 0;
	double af = 0;
	for (size_t p = 0; p < in->nparts; p++) {
		if (!j.rows[p])
			continue;
		int64_t vi = j.vi[p];
		double vf = j.vf[p];
		if (!any) {
			ai = vi, af = vf, any = 1;
		} else if (red == SL_RED_SUM) {
			ai = (int64_t)((uint64_t)ai + (uint64_t)vi);
			af += vf;
		} else {
			/* combine partials with the same kernel, so NaN and -0.0 follow its rules
			 */
			int64_t pi[2] = {ai, vi};
			double pf[2] = {af, vf};
			if (f)
				af = red == SL_RED_MAX ? k->max_f64(pf, 2) : k->min_f64(pf, 2);
			else
				ai = red == SL_RED_MAX ? k->max_i64(pi, 2) : k->min_i64(pi, 2);
		}
	}
	red_free(&j);
	r->part[0] = sl_col_new(env->mem, in->type, 1);
	if (!r->part[0] ||
	    (any && (f ? sl_col_push_f64(r->part[0], af) : sl_col_push_i64(r->part[0], ai)))) {
		sl_rdd_unref(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

int sl_reduce_all(sl_env *env, const sl_rdd *in, const sl_cmp_shape *where, const sl_lambda *fn,
		  sl_rdd **out, sluice_error *err)
{
	sl_mem *m = env->mem;
	sl_rdd *r = sl_rdd_new(m, in->type, in->time, 1);
	if (!r)
		return -ENOMEM;
	if (fn->reducer && env->kern && sl_type_is_num(in->type))
		return reduce_kernel(env, in, where, fn->reducer, r, out);
	if (where) { /* dstream.c fuses a filter only with a built-in numeric reducer */
		sl_rdd_unref(r);
		return sl_error_set(err, -EINVAL,
				    "reduce: a fused filter needs a built-in reducer");
	}
	sl_col *all = sl_col_concat(m, in->type, in->part, in->nparts);
	if (!all) {
		sl_rdd_unref(r);
		return -ENOMEM;
	}
	if (!all->len) {
		r->part[0] = all;
		*out = r;
		return 0;
	}
	uint32_t goff[2] = {0, (uint32_t)all->len};
	sl_col *res = NULL;
	int rc = sl_reduce_groups(m, fn, all, goff, 1, &res, err);
	sl_col_unref(all);
	if (rc) {
		sl_rdd_unref(r);
		return rc;
	}
	r->part[0] = res;
	*out = r;
	return 0;
}
