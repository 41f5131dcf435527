/* SPDX-License-Identifier: Apache-2.0 */
/* window.c - window operators over panes of per-batch partial aggregates (see window.h). */
#define _GNU_SOURCE
#include "window.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keydict.h"
#include "pool.h"
#include "shuffle.h"

#define TN(t) sl_type_name((t), (char[96]){0}, 96)

/* A partial aggregate of one output partition: values of window key ids, ids ascending. */
struct agg {
	uint32_t *id;
	sl_col *v; /* n rows of the value type; NULL when n == 0 */
	size_t n;
};

/* Built-in combiners that run as typed loops instead of lambda evaluations. */
enum comb { C_LAMBDA, C_SUM, C_MIN, C_MAX, C_SUB, C_CONCAT };

struct pane {
	int64_t time;
	struct agg a;   /* this batch's values */
	struct agg acc; /* front stack (naive form): a merged with every newer front pane */
};

struct wpart {
	sl_keydict dict;
	int dict_ok;
	struct pane *q; /* retained panes in time order: q[0..nq) */
	size_t nq, capq;
	size_t nfront;   /* q[0..nfront) is the front stack (naive form) */
	struct agg back; /* merge of q[nfront..nq) (naive form) */
	struct agg prev; /* the previous window's result (inverse form) */
	int has_prev;    /* inverse form: a previous result exists */
	struct agg out;  /* the result at the current valid time (the task's output) */
	int failed;      /* the task failed: err holds why */
	sluice_error err;
};

struct win {
	/* window(): retained parent rdds in time order */
	sl_rdd **r;
	int nr, capr;
	/* keyed forms */
	sl_win_spec spec;
	sl_lambda f, inv, filt;
	int has_f, has_inv, has_filt;
	size_t keys_hint;         /* the per-batch shuffle's (shuffle.h) */
	int comb, icomb;          /* C_* for f and inv */
	const sl_type *kt, *vt;   /* key and value type of the panes */
	const sl_type *pair_type; /* (K, V) */
	int nout;
	struct wpart *part;
	int64_t last_valid; /* last time a result was computed (inverse form) */
	sl_dstream *d;
	int64_t t;  /* time of the task running */
	sl_rdd *in; /* per-batch reduced rdd being absorbed */
};

static void agg_free(sl_mem *m, struct agg *a)
{
	if (a->id)
		sl_dealloc(m, a->id, (a->n ? a->n : 1) * 4);
	sl_col_unref(a->v);
	memset(a, 0, sizeof(*a));
}

static int agg_copy(sl_mem *m, const struct agg *a, struct agg *out)
{
	memset(out, 0, sizeof(*out));
	if (!a->n)
		return 0;
	out->id = sl_alloc(m, -1, a->n * 4);
	if (!out->id)
		return -ENOMEM;
	memcpy(out->id, a->id, a->n * 4);
	out->v = sl_col_ref(a->v);
	out->n = a->n;
	return 0;
}

/* ---------------------------------------------------------------- window(W, S) */

static struct win *win_of(sl_dstream *d)
{
	return (struct win *)d->priv;
}

static int check_durations(sl_dstream *p, const char *op, int64_t W, int64_t S, sluice_error *err)
{
	if (W <= 0 || W % p->slide) {
		sl_error_set(err, -EINVAL,
			     "%s: the window duration (%lld ms) must be a positive multiple of the "
			     "slide duration of the parent stream (%lld ms)",
			     op, (long long)W, (long long)p->slide);
		return -EINVAL;
	}
	if (S <= 0 || S % p->slide) {
		sl_error_set(err, -EINVAL,
			     "%s: the slide duration (%lld ms) must be a positive multiple of the "
			     "slide duration of the parent stream (%lld ms)",
			     op, (long long)S, (long long)p->slide);
		return -EINVAL;
	}
	return 0;
}

sl_dstream *sl_ds_window(sl_dstream *p, int64_t W, int64_t S, sluice_error *err)
{
	if (!S)
		S = p->slide;
	if (check_durations(p, "window", W, S, err))
		return NULL;
	struct win *w = calloc(1, sizeof(*w));
	if (!w) {
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	sl_dstream *d = sl_ds_unary(p, SL_DS_WINDOW, 0, err);
	if (!d) {
		free(w);
		return NULL;
	}
	w->spec.W = W;
	w->spec.S = S;
	w->d = d;
	d->priv = w;
	d->slide = S;
	d->window = W;
	return d;
}

static int plain_absorb(sl_dstream *d, struct win *w, int64_t t, sluice_error *err)
{
	sl_rdd *r = NULL;
	int rc = sl_ds_compute(d->parent[0], t, &r, err);
	if (rc)
		return rc;
	/* keep (t - W, t]: every later window starts after t - W */
	int k = 0;
	while (k < w->nr && w->r[k]->time <= t - w->spec.W)
		sl_rdd_unref(w->r[k++]);
	if (k) {
		memmove(w->r, w->r + k, (size_t)(w->nr - k) * sizeof(*w->r));
		w->nr -= k;
	}
	if (!r)
		return 0;
	if (w->nr == w->capr) {
		int n = w->capr ? w->capr * 2 : 8;
		sl_rdd **v = realloc(w->r, (size_t)n * sizeof(*v));
		if (!v) {
			sl_rdd_unref(r);
			return sl_error_set(err, -ENOMEM, "out of memory in window");
		}
		w->r = v;
		w->capr = n;
	}
	w->r[w->nr++] = r;
	return 0;
}

static int plain_compute(sl_dstream *d, struct win *w, int64_t t, sl_rdd **out)
{
	size_t np = 0;
	for (int i = 0; i < w->nr; i++)
		if (w->r[i]->time > t - w->spec.W && w->r[i]->time <= t)
			np += w->r[i]->nparts;
	sl_rdd *r = sl_rdd_new(d->g->env->mem, d->type, t, np);
	if (!r)
		return -ENOMEM;
	size_t k = 0;
	for (int i = 0; i < w->nr; i++)
		if (w->r[i]->time > t - w->spec.W && w->r[i]->time <= t)
			for (size_t p = 0; p < w->r[i]->nparts; p++)
				r->part[k++] = sl_col_ref(w->r[i]->part[p]);
	*out = r;
	return 0;
}

/* ---------------------------------------------------------------- merging panes */

static int is_num(const sl_type *t)
{
	return t->kind == SL_I64 || t->kind == SL_F64;
}

/* res[k] = a[k] op b[k] for the typed combiners, by the ISA's pane kernels (wrapping Long
 * add/sub, Java's Math.min/max on Doubles with the canonical NaN); a, b, res numeric columns of
 * n rows. */
static void comb_num(const sl_kernels *kern, int op, const sl_col *a, const sl_col *b, sl_col *res,
		     size_t n)
{
	memcpy(res->v.i64, a->v.i64, n * 8);
	if (a->type->kind == SL_I64)
		(op == C_SUM   ? kern->pane_add_i64
		 : op == C_SUB ? kern->pane_sub_i64
		 : op == C_MIN ? kern->pane_min_i64
			       : kern->pane_max_i64)(res->v.i64, b->v.i64, n);
	else
		(op == C_SUM   ? kern->pane_add_f64
		 : op == C_SUB ? kern->pane_sub_f64
		 : op == C_MIN ? kern->pane_min_f64
			       : kern->pane_max_f64)(res->v.f64, b->v.f64, n);
	res->len = n;
}

/* Concatenate the collections of rows of a and b pairwise (CompactBuffer ++). */
static sl_col *comb_concat(sl_mem *m, const sl_col *a, const sl_col *b, size_t n)
{
	sl_col *res = sl_col_new(m, a->type, n);
	if (!res || sl_col_share_bufs(res, a) || sl_col_share_bufs(res, b))
		goto oom;
	for (size_t k = 0; k < n; k++) {
		for (uint32_t j = a->v.off[k]; j < a->v.off[k + 1]; j++)
			if (sl_col_push_row_shared(res->kid[0], a->kid[0], j))
				goto oom;
		for (uint32_t j = b->v.off[k]; j < b->v.off[k + 1]; j++)
			if (sl_col_push_row_shared(res->kid[0], b->kid[0], j))
				goto oom;
		if (sl_col_commit(res))
			goto oom;
	}
	return res;
oom:
	sl_col_unref(res);
	return NULL;
}

/*
 * out = a merged with b (a older). A key in both gets a op b: f when !inv, invF when inv.
 * inv: a key only in b (a value left the window that no previous result holds) is Spark's
 * "Neither previous window has value for key, nor new values found" error.
 */
static int has_id(const struct agg *a, uint32_t id)
{
	size_t lo = 0, hi = a ? a->n : 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (a->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return a && lo < a->n && a->id[lo] == id;
}

/* *res = fa[k] f fb[k] (invF when inv) for k < np: the typed combiners, or the lambda. */
static int comb_pairs(struct win *w, sl_mem *m, const sl_col *fa, const sl_col *fb, size_t np,
		      int inv, sl_col **res, sluice_error *err)
{
	int op = inv ? w->icomb : w->comb;
	*res = NULL;
	if (op == C_CONCAT) {
		*res = comb_concat(m, fa, fb, np);
	} else if (op != C_LAMBDA) {
		if ((*res = sl_col_new(m, fa->type, np)))
			comb_num(w->d->g->env->kern, op, fa, fb, *res, np);
	} else {
		sl_col *args[2] = {(sl_col *)fa, (sl_col *)fb};
		sl_xeval ev;
		sl_xeval_init(&ev, m);
		*res = sl_lambda_eval(inv ? &w->inv : &w->f, args, np, &ev);
		if (*res && ev.nbad) {
			sl_error_set(err, -EINVAL, "%s function failed: %s",
				     inv ? "inverse reduce" : "reduce", ev.why);
			sl_xeval_fini(&ev);
			sl_col_unref(*res);
			*res = NULL;
			return -EINVAL;
		}
		sl_xeval_fini(&ev);
	}
	return *res ? 0 : -ENOMEM;
}

static int agg_merge(struct win *w, sl_mem *m, const struct agg *a, const struct agg *b, int inv,
		     const struct agg *chk, struct agg *out, sluice_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!b->n)
		return agg_copy(m, a, out);
	if (!a->n && !inv)
		return agg_copy(m, b, out);
	if (a->n == b->n && !memcmp(a->id, b->id, a->n * 4)) {
		/* the same keys (a few keys, all in every batch): combine the value columns
		 * row by row, no merge plan, no gathers */
		int rc = comb_pairs(w, m, a->v, b->v, a->n, inv, &out->v, err);
		if (!rc && !(out->id = sl_alloc(m, -1, a->n * 4)))
			rc = -ENOMEM;
		if (rc) {
			sl_col_unref(out->v);
			memset(out, 0, sizeof(*out));
			if (rc == -ENOMEM && err && !err->code)
				sl_error_set(err, -ENOMEM, "out of memory merging window panes");
			return rc;
		}
		memcpy(out->id, a->id, a->n * 4);
		out->n = a->n;
		return 0;
	}
	size_t n = a->n + b->n;
	uint32_t *id = sl_alloc(m, -1, n * 4), *ia = sl_alloc(m, -1, n * 4),
		 *ib = sl_alloc(m, -1, n * 4), *idx = sl_alloc(m, -1, n * 4);
	sl_col *fa = NULL, *fb = NULL, *res = NULL, *src = NULL;
	int rc = -ENOMEM;
	if (!id || !ia || !ib || !idx)
		goto out;
	/* plan: idx[k] = row in concat(a.v, b.v, res) */
	size_t i = 0, j = 0, k = 0, np = 0;
	while (i < a->n || j < b->n) {
		if (j == b->n || (i < a->n && a->id[i] < b->id[j])) {
			id[k] = a->id[i];
			idx[k++] = (uint32_t)i++;
		} else if (i == a->n || b->id[j] < a->id[i]) {
			if (inv && has_id(chk, b->id[j])) {
				j++; /* no previous value, but new ones: the result is theirs */
				continue;
			}
			if (inv) {
				rc = sl_error_set(
				    err, -EINVAL,
				    "Neither previous window has value for key, nor new "
				    "values found. Are you sure your key class hashes "
				    "consistently?");
				goto out;
			}
			id[k] = b->id[j];
			idx[k++] = (uint32_t)(a->n + j++);
		} else {
			ia[np] = (uint32_t)i++;
			ib[np] = (uint32_t)j++;
			id[k] = a->id[ia[np]];
			idx[k++] = (uint32_t)(a->n + b->n + np);
			np++;
		}
	}
	n = k;
	if (np) {
		fa = sl_col_gather(a->v, ia, np);
		fb = fa ? sl_col_gather(b->v, ib, np) : NULL;
		if (!fb)
			goto out;
		if ((rc = comb_pairs(w, m, fa, fb, np, inv, &res, err)))
			goto out;
		rc = -ENOMEM;
	}
	{
		sl_col *parts[3] = {a->v, b->v, res};
		sl_col *cols[3];
		size_t nc = 0;
		/* concat needs the row numbering of idx: a, then b, then res */
		sl_col *empty = NULL;
		for (int q = 0; q < 3; q++) {
			if (parts[q]) {
				cols[nc++] = parts[q];
			} else {
				if (!empty && !(empty = sl_col_new(m, w->vt, 0)))
					goto out;
				cols[nc++] = empty;
			}
		}
		src = sl_col_concat(m, w->vt, cols, nc);
		sl_col_unref(empty);
		if (!src)
			goto out;
	}
	out->v = sl_col_gather(src, idx, n);
	if (!out->v)
		goto out;
	out->id = id;
	out->n = n;
	id = NULL;
	rc = 0;
out:
	if (id)
		sl_dealloc(m, id, (a->n + b->n) * 4);
	if (ia)
		sl_dealloc(m, ia, (a->n + b->n) * 4);
	if (ib)
		sl_dealloc(m, ib, (a->n + b->n) * 4);
	if (idx)
		sl_dealloc(m, idx, (a->n + b->n) * 4);
	if (out->id && out->n != a->n + b->n) {
		/* shrink the id array to its row count so agg_free's size is exact */
		uint32_t *s = sl_alloc(m, -1, (out->n ? out->n : 1) * 4);
		if (!s) {
			sl_dealloc(m, out->id, (a->n + b->n) * 4);
			sl_col_unref(out->v);
			memset(out, 0, sizeof(*out));
			rc = -ENOMEM;
		} else {
			memcpy(s, out->id, out->n * 4);
			sl_dealloc(m, out->id, (a->n + b->n) * 4);
			out->id = s;
		}
	}
	sl_col_unref(fa);
	sl_col_unref(fb);
	sl_col_unref(res);
	sl_col_unref(src);
	if (rc == -ENOMEM && err && !err->code)
		sl_error_set(err, -ENOMEM, "out of memory merging window panes");
	return rc;
}

/* a = a merged with b (a older), replacing a. */
static int agg_merge_into(struct win *w, sl_mem *m, struct agg *a, const struct agg *b, int inv,
			  sluice_error *err)
{
	struct agg r;
	int rc = agg_merge(w, m, a, b, inv, NULL, &r, err);
	if (rc)
		return rc;
	agg_free(m, a);
	*a = r;
	return 0;
}

/* ---------------------------------------------------------------- keyed windows */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/*
 * Sort v[0..n) (id << 32 | row) by id, stable: LSD radix over the id's 16-bit digits (one pass
 * when every id < 65536, two otherwise); qsort for small n.
 */
static int radix_sort(sl_mem *m, uint64_t *v, size_t n, uint64_t max_id)
{
	if (n < 256) {
		qsort(v, n, 8, cmp_u64);
		return 0;
	}
	uint64_t *tmp = sl_alloc(m, -1, n * 8);
	uint32_t *cnt = sl_alloc(m, -1, 65536 * 4);
	if (!tmp || !cnt) {
		if (tmp)
			sl_dealloc(m, tmp, n * 8);
		if (cnt)
			sl_dealloc(m, cnt, 65536 * 4);
		return -ENOMEM;
	}
	int passes = max_id <= 65536 ? 1 : 2;
	uint64_t *src = v, *dst = tmp;
	for (int p = 0; p < passes; p++) {
		int sh = 32 + 16 * p;
		memset(cnt, 0, 65536 * 4);
		for (size_t i = 0; i < n; i++)
			cnt[(src[i] >> sh) & 0xffff]++;
		uint32_t sum = 0;
		for (size_t d = 0; d < 65536; d++) {
			uint32_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[(src[i] >> sh) & 0xffff]++] = src[i];
		uint64_t *x = src;
		src = dst;
		dst = x;
	}
	if (src != v)
		memcpy(v, src, n * 8);
	sl_dealloc(m, tmp, n * 8);
	sl_dealloc(m, cnt, 65536 * 4);
	return 0;
}

/* The pane of one per-batch partition: keys interned, sorted by id. */
static int make_pane(struct win *w, struct wpart *wp, sl_mem *m, const sl_col *pc, struct agg *a)
{
	memset(a, 0, sizeof(*a));
	size_t n = pc ? pc->len : 0;
	if (!n)
		return 0;
	const sl_col *keys = pc->kid[0], *vals = pc->kid[1];
	uint64_t *h = sl_alloc(m, -1, n * 8), *ord = sl_alloc(m, -1, n * 8);
	uint32_t *perm = sl_alloc(m, -1, n * 4);
	int rc = -ENOMEM;
	if (!h || !ord || !perm)
		goto out;
	/* the ids through the kernels, a column at a time (perm holds them for a moment) */
	if (sl_keydict_put_rows(&wp->dict, w->d->g->env->kern, keys, 0, n, h, perm))
		goto out;
	int sorted = 1;
	int64_t last = -1;
	for (size_t i = 0; i < n; i++) {
		int64_t id = perm[i];
		sorted &= id > last;
		last = id;
		ord[i] = (uint64_t)id << 32 | i;
	}
	if (!sorted && radix_sort(m, ord, n, (uint64_t)wp->dict.n))
		goto out;
	if (!(a->id = sl_alloc(m, -1, n * 4)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		a->id[i] = (uint32_t)(ord[i] >> 32);
		perm[i] = (uint32_t)ord[i];
	}
	a->n = n;
	a->v = sorted ? sl_col_ref((sl_col *)vals) : sl_col_gather(vals, perm, n);
	rc = a->v ? 0 : -ENOMEM;
out:
	if (h)
		sl_dealloc(m, h, n * 8);
	if (ord)
		sl_dealloc(m, ord, n * 8);
	if (perm)
		sl_dealloc(m, perm, n * 4);
	if (rc)
		agg_free(m, a);
	return rc;
}

static int push_pane(sl_mem *m, struct wpart *wp, int64_t t, struct agg *a)
{
	if (wp->nq == wp->capq) {
		size_t n = wp->capq ? wp->capq * 2 : 8;
		struct pane *q = realloc(wp->q, n * sizeof(*q));
		if (!q) {
			agg_free(m, a);
			return -ENOMEM;
		}
		wp->q = q;
		wp->capq = n;
	}
	wp->q[wp->nq++] = (struct pane){.time = t, .a = *a};
	memset(a, 0, sizeof(*a));
	return 0;
}

/* Drop the oldest pane (naive form keeps its two stacks: flip when the front is empty). */
static int pop_pane(struct win *w, sl_mem *m, struct wpart *wp, sluice_error *err)
{
	int naive = !w->has_inv;
	if (naive && !wp->nfront) {
		/* flip: the back becomes the front, with suffix merges newest to oldest */
		for (size_t i = wp->nq; i-- > 0;) {
			int rc = i + 1 < wp->nq ? agg_merge(w, m, &wp->q[i].a, &wp->q[i + 1].acc, 0,
							    NULL, &wp->q[i].acc, err)
						: agg_copy(m, &wp->q[i].a, &wp->q[i].acc);
			if (rc)
				return rc;
		}
		wp->nfront = wp->nq;
		agg_free(m, &wp->back);
	}
	agg_free(m, &wp->q[0].a);
	agg_free(m, &wp->q[0].acc);
	if (wp->nq > 1)
		memmove(wp->q, wp->q + 1, (wp->nq - 1) * sizeof(*wp->q));
	wp->nq--;
	if (naive)
		wp->nfront--;
	return 0;
}

/* Renumber the dictionary to the ids some retained aggregate still holds. */
static int compact_dict(struct win *w, sl_mem *m, struct wpart *wp)
{
	size_t nd = wp->dict.n;
	uint32_t *map = sl_alloc(m, -1, (nd ? nd : 1) * 4);
	if (!map)
		return -ENOMEM;
	memset(map, 0xff, nd * 4);
	struct agg *all[5];
	size_t live = 0;
#define EACH_AGG(body)                                                                             \
	do {                                                                                       \
		for (size_t q_ = 0; q_ < wp->nq; q_++) {                                           \
			all[0] = &wp->q[q_].a;                                                     \
			all[1] = &wp->q[q_].acc;                                                   \
			for (int k_ = 0; k_ < 2; k_++) {                                           \
				struct agg *A = all[k_];                                           \
				body;                                                              \
			}                                                                          \
		}                                                                                  \
		all[2] = &wp->back;                                                                \
		all[3] = &wp->prev;                                                                \
		all[4] = &wp->out; /* the result being returned, still to be output */             \
		for (int k_ = 2; k_ < 5; k_++) {                                                   \
			struct agg *A = all[k_];                                                   \
			body;                                                                      \
		}                                                                                  \
	} while (0)
	EACH_AGG(for (size_t i = 0; i < A->n; i++) map[A->id[i]] = 0);
	for (size_t i = 0; i < nd; i++)
		if (!map[i])
			map[i] = (uint32_t)live++;
	/* new dictionary with the live keys in their old order */
	sl_keydict nd2;
	int rc = sl_keydict_init(&nd2, m, wp->dict.keys->type, live);
	for (size_t i = 0; !rc && i < nd; i++)
		if (map[i] != UINT32_MAX &&
		    sl_keydict_put(&nd2, wp->dict.keys, i, wp->dict.hash[i]) < 0)
			rc = -ENOMEM;
	if (rc) {
		sl_keydict_fini(&nd2); /* a failed init left it empty: fini is harmless then */
		sl_dealloc(m, map, (nd ? nd : 1) * 4);
		return rc;
	}
	EACH_AGG(for (size_t i = 0; i < A->n; i++) A->id[i] = map[A->id[i]]);
#undef EACH_AGG
	sl_keydict_fini(&wp->dict);
	wp->dict = nd2;
	sl_dealloc(m, map, (nd ? nd : 1) * 4);
	(void)w;
	return 0;
}

/* The output rows of a partition: (key, value) pairs, or values (CONST mode). */
static sl_col *agg_output(struct win *w, sl_mem *m, struct wpart *wp, const struct agg *a)
{
	if (w->spec.mode == SL_WIN_CONST)
		return a->n ? sl_col_ref(a->v) : sl_col_new(m, w->vt, 0);
	if (!a->n)
		return sl_col_new(m, w->pair_type, 0);
	sl_col *k = sl_col_gather(wp->dict.keys, a->id, a->n);
	sl_col *kids[2] = {k, a->v};
	sl_col *r = k ? sl_col_tuple_of(m, w->pair_type, kids) : NULL;
	sl_col_unref(k);
	return r;
}

/* filterFunc (or drop_zero) on a result, in place. */
static int agg_filter(struct win *w, sl_mem *m, struct wpart *wp, struct agg *a, sluice_error *err)
{
	if (!a->n || (!w->has_filt && !w->spec.drop_zero))
		return 0;
	uint8_t *keep = NULL;
	sl_col *b = NULL;
	if (w->has_filt) {
		sl_col *pairs = agg_output(w, m, wp, a);
		if (!pairs)
			return -ENOMEM;
		sl_xeval ev;
		sl_xeval_init(&ev, m);
		b = sl_lambda_eval(&w->filt, &pairs, a->n, &ev);
		sl_col_unref(pairs);
		if (b && ev.nbad) {
			sl_error_set(err, -EINVAL, "filter function failed: %s", ev.why);
			sl_xeval_fini(&ev);
			sl_col_unref(b);
			return -EINVAL;
		}
		sl_xeval_fini(&ev);
		if (!b)
			return -ENOMEM;
		keep = b->v.b;
	}
	size_t n0 = a->n;
	uint32_t *sel = sl_alloc(m, -1, n0 * 4);
	if (!sel) {
		sl_col_unref(b);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++) {
		int ok = keep ? keep[i]
			      : (w->vt->kind == SL_I64 ? a->v->v.i64[i] != 0 : a->v->v.f64[i] != 0);
		if (ok)
			sel[k++] = (uint32_t)i;
	}
	sl_col_unref(b);
	int rc = 0;
	if (k < a->n) {
		struct agg r = {0};
		r.n = k;
		r.id = sl_alloc(m, -1, (k ? k : 1) * 4);
		r.v = r.id && k ? sl_col_gather(a->v, sel, k) : NULL;
		if (!r.id || (k && !r.v)) {
			agg_free(m, &r);
			rc = -ENOMEM;
		} else {
			for (size_t i = 0; i < k; i++)
				r.id[i] = a->id[sel[i]];
			agg_free(m, a);
			*a = r;
		}
	}
	sl_dealloc(m, sel, n0 * 4);
	return rc;
}

/* Absorb one partition of this batch's reduced rdd. */
static int part_absorb(struct win *w, sl_mem *m, struct wpart *wp, int64_t t, const sl_col *pc,
		       sluice_error *err)
{
	struct agg a;
	int rc = make_pane(w, wp, m, pc, &a);
	if (rc)
		return rc;
	if (!w->has_inv && (rc = agg_merge_into(w, m, &wp->back, &a, 0, err))) {
		agg_free(m, &a);
		return rc;
	}
	if ((rc = push_pane(m, wp, t, &a)))
		return rc;
	/* retention: the naive form needs (t - W, t]; the inverse form also the panes that
	 * leave at the next valid time, (t' - S - W, t' - W] with t' > t */
	int64_t keep = w->has_inv ? t - w->spec.W - w->spec.S : t - w->spec.W;
	while (wp->nq && wp->q[0].time <= keep)
		if ((rc = pop_pane(w, m, wp, err)))
			return rc;
	return 0;
}

/* The result of one partition at valid time t. */
static int part_compute(struct win *w, sl_mem *m, struct wpart *wp, int64_t t, sluice_error *err)
{
	int rc;
	int64_t W = w->spec.W, S = w->spec.S;
	agg_free(m, &wp->out);
	if (!w->has_inv) {
		while (wp->nq && wp->q[0].time <= t - W)
			if ((rc = pop_pane(w, m, wp, err)))
				return rc;
		const struct agg *front = wp->nfront ? &wp->q[0].acc : &(struct agg){0};
		rc = agg_merge(w, m, front, &wp->back, 0, NULL, &wp->out, err);
	} else {
		/* Spark's ReducedWindowedDStream: prev, invF the panes in (t-S-W, t-W], then f
		 * the panes in (t-S, t] (with S > W both include batches outside either window,
		 * as Spark's do) */
		struct agg old = {0}, nw = {0}, cur = {0};
		rc = 0;
		for (size_t i = 0; !rc && i < wp->nq; i++) {
			int64_t pt = wp->q[i].time;
			if (pt > t - S - W && pt <= t - W)
				rc = agg_merge_into(w, m, &old, &wp->q[i].a, 0, err);
			if (!rc && pt > t - S && pt <= t)
				rc = agg_merge_into(w, m, &nw, &wp->q[i].a, 0, err);
		}
		if (!rc)
			rc = agg_merge(w, m, &wp->prev, &old, 1, &nw, &cur, err);
		if (!rc)
			rc = agg_merge_into(w, m, &cur, &nw, 0, err);
		if (!rc)
			rc = agg_filter(w, m, wp, &cur, err);
		agg_free(m, &old);
		agg_free(m, &nw);
		if (!rc) {
			agg_free(m, &wp->prev);
			wp->prev = cur;
			w->last_valid = t;
			rc = agg_copy(m, &cur, &wp->out);
		} else {
			agg_free(m, &cur);
		}
	}
	if (rc)
		return rc;
	/* forget keys nothing holds any more once they are half the dictionary */
	size_t live_max = wp->prev.n + wp->back.n;
	for (size_t i = 0; i < wp->nq; i++)
		live_max += wp->q[i].a.n;
	if (wp->dict.n > 4096 && wp->dict.n > 2 * live_max)
		rc = compact_dict(w, m, wp);
	return rc;
}

struct ktask {
	struct win *w;
	int absorb;
	int64_t t;
};

static void keyed_task(void *arg, size_t i, int worker)
{
	(void)worker;
	struct ktask *k = arg;
	struct win *w = k->w;
	struct wpart *wp = &w->part[i];
	sl_mem *m = w->d->g->env->mem;
	memset(&wp->err, 0, sizeof(wp->err));
	int rc;
	if (k->absorb)
		rc = part_absorb(w, m, wp, k->t, w->in && i < w->in->nparts ? w->in->part[i] : NULL,
				 &wp->err);
	else
		rc = part_compute(w, m, wp, k->t, &wp->err);
	if (rc) {
		wp->failed = 1;
		if (!wp->err.code)
			sl_error_set(&wp->err, rc, "out of memory in %s", w->spec.opname);
	}
}

static int run_keyed(struct win *w, int absorb, int64_t t, sluice_error *err)
{
	struct ktask k = {w, absorb, t};
	for (int i = 0; i < w->nout; i++)
		w->part[i].failed = 0;
	sl_workers_run(w->d->g->env->workers, (size_t)w->nout, keyed_task, &k);
	for (int i = 0; i < w->nout; i++)
		if (w->part[i].failed) {
			if (err)
				*err = w->part[i].err;
			return w->part[i].err.code ? w->part[i].err.code : -EINVAL;
		}
	return 0;
}

/* This batch reduced per key: the rdd of panes, one partition per output partition. */
static int reduce_batch(struct win *w, sl_rdd *in, sl_rdd **out, sluice_error *err)
{
	sl_env *env = w->d->g->env;
	sl_dstream *d = w->d;
	switch (w->spec.mode) {
	case SL_WIN_PAIRS:
		return sl_shuffle_keyed(env, in, SL_KEYED_REDUCE, &w->f, w->nout, w->pair_type,
					&w->keys_hint, out, err);
	case SL_WIN_VALUE:
		return sl_shuffle_keyed(env, in, SL_KEYED_COUNT_VALUE, NULL, w->nout, w->pair_type,
					&w->keys_hint, out, err);
	case SL_WIN_GROUP:
		return sl_shuffle_keyed(env, in, SL_KEYED_GROUP, NULL, w->nout, w->pair_type, NULL,
					out, err);
	default: break;
	}
	/* CONST: one key (0) with the batch's count or reduce, if the batch has rows */
	sl_mem *m = env->mem;
	sl_rdd *r = sl_rdd_new(m, w->pair_type, in->time, 1);
	if (!r)
		return -ENOMEM;
	size_t rows = sl_rdd_rows(in);
	sl_col *v = NULL;
	if (!rows) {
		*out = r;
		return 0;
	}
	if (!w->has_f) {
		v = sl_col_new(m, &sl_type_i64, 1);
		if (v && sl_col_push_i64(v, (int64_t)rows)) {
			sl_col_unref(v);
			v = NULL;
		}
	} else {
		sl_rdd *red = NULL;
		int rc = sl_reduce_all(env, in, NULL, &w->f, &red, err);
		if (rc) {
			sl_rdd_unref(r);
			return rc;
		}
		v = sl_col_ref(red->part[0]);
		sl_rdd_unref(red);
	}
	sl_col *k = sl_col_new(m, &sl_type_i64, 1);
	if (!v || !k || sl_col_push_i64(k, 0)) {
		sl_col_unref(k);
		sl_col_unref(v);
		sl_rdd_unref(r);
		return -ENOMEM;
	}
	sl_col *kids[2] = {k, v};
	r->part[0] = sl_col_tuple_of(m, w->pair_type, kids);
	sl_col_unref(k);
	sl_col_unref(v);
	if (!r->part[0]) {
		sl_rdd_unref(r);
		return -ENOMEM;
	}
	(void)d;
	*out = r;
	return 0;
}

/* `_ - _` or `(a, b) => a - b`: the inverse of a sum, run as a typed loop. */
static int is_sub(const sl_ast *a)
{
	if (a->kind == SL_AST_LAMBDA) {
		const sl_ast *b = a->kid[0];
		return a->nparam == 2 && b->kind == SL_AST_BINARY && b->op == SL_OP_SUB &&
		       b->kid[0]->kind == SL_AST_IDENT && b->kid[1]->kind == SL_AST_IDENT &&
		       !strcmp(b->kid[0]->name, a->params[0]) &&
		       !strcmp(b->kid[1]->name, a->params[1]) && strcmp(a->params[0], a->params[1]);
	}
	return a->kind == SL_AST_BINARY && a->op == SL_OP_SUB &&
	       a->kid[0]->kind == SL_AST_UNDERSCORE && a->kid[1]->kind == SL_AST_UNDERSCORE;
}

sl_dstream *sl_ds_keyed_window(sl_dstream *p, const sl_win_spec *spec, sluice_error *err)
{
	sl_types *ts = p->g->env->types;
	sl_win_spec s = *spec;
	if (!s.S)
		s.S = p->slide;
	if (check_durations(p, s.opname, s.W, s.S, err))
		return NULL;
	const sl_type *kt = &sl_type_i64, *vt = NULL, *out;
	if (s.mode == SL_WIN_PAIRS || s.mode == SL_WIN_GROUP) {
		if (!sl_type_is_pair(p->type)) {
			sl_error_set(
			    err, -EINVAL,
			    "%s needs a stream of pairs (K, V), but this stream has type %s",
			    s.opname, TN(p->type));
			return NULL;
		}
		kt = p->type->kid[0];
		vt = p->type->kid[1];
	} else if (s.mode == SL_WIN_VALUE) {
		kt = p->type;
	}
	if (s.mode == SL_WIN_CONST)
		vt = s.f ? p->type : &sl_type_i64;
	if (s.mode == SL_WIN_VALUE)
		vt = &sl_type_i64;
	if (s.mode == SL_WIN_GROUP)
		vt = sl_type_list(ts, vt, SL_LIST_BUFFER);
	struct win *w = calloc(1, sizeof(*w));
	if (!w || !vt) {
		free(w);
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	w->spec = s;
	w->kt = kt;
	w->vt = vt;
	w->pair_type = sl_type_pair(ts, kt, vt);
	out = s.mode == SL_WIN_CONST ? vt : w->pair_type;
	const sl_type *pt[2] = {vt, vt};
	if (s.f) {
		if (sl_lambda_compile(&w->f, ts, s.f, 2, pt, err))
			goto fail;
		w->has_f = 1;
		if (!sl_type_eq(w->f.type, vt)) {
			sl_error_set(
			    err, -EINVAL,
			    "the reduce function must return the type of its arguments (%s), "
			    "found %s",
			    TN(vt), TN(w->f.type));
			err->line = s.f->line, err->col = s.f->col;
			goto fail;
		}
		w->comb = w->f.reducer == SL_RED_SUM   ? C_SUM
			  : w->f.reducer == SL_RED_MIN ? C_MIN
			  : w->f.reducer == SL_RED_MAX ? C_MAX
						       : C_LAMBDA;
	} else {
		w->comb = s.mode == SL_WIN_GROUP ? C_CONCAT : C_SUM;
	}
	if (s.inv) {
		if (sl_lambda_compile(&w->inv, ts, s.inv, 2, pt, err))
			goto fail;
		w->has_inv = 1;
		if (!sl_type_eq(w->inv.type, vt)) {
			sl_error_set(err, -EINVAL,
				     "the inverse reduce function must return the type of its "
				     "arguments (%s), found %s",
				     TN(vt), TN(w->inv.type));
			err->line = s.inv->line, err->col = s.inv->col;
			goto fail;
		}
		w->icomb = is_num(vt) && is_sub(s.inv) ? C_SUB : C_LAMBDA;
	} else if (s.drop_zero || (s.mode == SL_WIN_CONST && !s.f)) {
		/* countByValueAndWindow, countByWindow: Spark's (_ + _, _ - _) */
		w->has_inv = 1;
		w->icomb = C_SUB;
	}
	if (s.filter) {
		const sl_type *ft = w->pair_type;
		if (sl_lambda_compile(&w->filt, ts, s.filter, 1, &ft, err))
			goto fail;
		w->has_filt = 1;
		if (w->filt.type->kind != SL_BOOL) {
			sl_error_set(err, -EINVAL, "filterFunc must return Boolean, found %s",
				     TN(w->filt.type));
			err->line = s.filter->line, err->col = s.filter->col;
			goto fail;
		}
	}
	sl_dstream *d = sl_ds_unary(p, SL_DS_KWINDOW, s.nparts, err);
	if (!d)
		goto fail;
	d->type = out;
	d->slide = s.S;
	d->window = s.W;
	d->opname = s.opname;
	d->priv = w;
	w->d = d;
	return d;
fail:
	if (w->has_f)
		sl_lambda_fini(&w->f);
	if (w->has_inv && s.inv)
		sl_lambda_fini(&w->inv);
	if (w->has_filt)
		sl_lambda_fini(&w->filt);
	free(w);
	return NULL;
}

static int keyed_start(struct win *w, sluice_error *err)
{
	sl_dstream *d = w->d;
	int nw = sl_workers_count(d->g->env->workers);
	w->nout = w->spec.mode == SL_WIN_CONST ? 1 : d->nparts > 0 ? d->nparts : nw > 0 ? nw : 1;
	w->part = calloc((size_t)w->nout, sizeof(*w->part));
	if (!w->part)
		return sl_error_set(err, -ENOMEM, "out of memory in %s", w->spec.opname);
	for (int i = 0; i < w->nout; i++) {
		if (sl_keydict_init(&w->part[i].dict, d->g->env->mem, w->kt, 64))
			return sl_error_set(err, -ENOMEM, "out of memory in %s", w->spec.opname);
		w->part[i].dict_ok = 1;
	}
	return 0;
}

int sl_window_absorb(sl_dstream *d, int64_t t, sluice_error *err)
{
	struct win *w = win_of(d);
	if (d->kind == SL_DS_WINDOW)
		return plain_absorb(d, w, t, err);
	if (!w->part) {
		int rc = keyed_start(w, err);
		if (rc)
			return rc;
	}
	sl_rdd *in = NULL, *red = NULL;
	int rc = sl_ds_compute(d->parent[0], t, &in, err);
	if (rc || !in)
		return rc; /* no RDD at t: no pane */
	rc = reduce_batch(w, in, &red, err);
	sl_rdd_unref(in);
	if (rc)
		return rc;
	w->in = red;
	rc = run_keyed(w, 1, t, err);
	w->in = NULL;
	sl_rdd_unref(red);
	return rc;
}

int sl_window_compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err)
{
	struct win *w = win_of(d);
	if (d->kind == SL_DS_WINDOW)
		return plain_compute(d, w, t, out);
	sl_mem *m = d->g->env->mem;
	if (!w->part) {
		int rc = keyed_start(w, err);
		if (rc)
			return rc;
	}
	int rc = run_keyed(w, 0, t, err);
	if (rc)
		return rc;
	/* Spark's countByWindow/reduceByWindow with an inverse are keyed windows over one
	 * key mapped to the value: before any data the window is empty, not 0 */
	sl_rdd *r = sl_rdd_new(m, d->type, t, (size_t)w->nout);
	if (!r)
		return -ENOMEM;
	for (int i = 0; i < w->nout; i++) {
		struct wpart *wp = &w->part[i];
		if (!(r->part[i] = agg_output(w, m, wp, &wp->out))) {
			sl_rdd_unref(r);
			return -ENOMEM;
		}
		agg_free(m, &wp->out);
	}
	*out = r;
	return 0;
}

void sl_window_free(sl_dstream *d)
{
	struct win *w = win_of(d);
	if (!w)
		return;
	sl_mem *m = d->g->env->mem;
	for (int i = 0; i < w->nr; i++)
		sl_rdd_unref(w->r[i]);
	free(w->r);
	for (int i = 0; w->part && i < w->nout; i++) {
		struct wpart *wp = &w->part[i];
		for (size_t q = 0; q < wp->nq; q++) {
			agg_free(m, &wp->q[q].a);
			agg_free(m, &wp->q[q].acc);
		}
		free(wp->q);
		agg_free(m, &wp->back);
		agg_free(m, &wp->prev);
		agg_free(m, &wp->out);
		if (wp->dict_ok)
			sl_keydict_fini(&wp->dict);
	}
	free(w->part);
	if (w->has_f)
		sl_lambda_fini(&w->f);
	if (w->has_inv && w->spec.inv)
		sl_lambda_fini(&w->inv);
	if (w->has_filt)
		sl_lambda_fini(&w->filt);
	free(w);
	d->priv = NULL;
}

int sl_window_visit(sl_dstream *d, sl_state_visit_fn fn, void *arg)
{
	struct win *w = win_of(d);
	int rc = 0;
	if (!w)
		return 0;
	for (int i = 0; !rc && i < w->nr; i++)
		for (size_t p = 0; !rc && p < w->r[i]->nparts; p++)
			if (w->r[i]->part[p])
				rc = fn(arg, "rdd", (int)p, w->r[i]->time, NULL, w->r[i]->part[p],
					NULL, w->r[i]->part[p]->len);
	for (int i = 0; !rc && w->part && i < w->nout; i++) {
		struct wpart *wp = &w->part[i];
		for (size_t q = 0; !rc && q <= wp->nq; q++) {
			const struct agg *a = q < wp->nq ? &wp->q[q].a : &wp->prev;
			if (q == wp->nq && !w->has_inv)
				break;
			sl_col *k = sl_col_gather(wp->dict.keys, a->id, a->n);
			if (!k)
				return -ENOMEM;
			rc = fn(arg, q < wp->nq ? "pane" : "window", i,
				q < wp->nq ? wp->q[q].time : w->last_valid, k, a->v, NULL, a->n);
			sl_col_unref(k);
		}
	}
	return rc;
}
