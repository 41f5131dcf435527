/* SPDX-License-Identifier: Apache-2.0 */
/* dstream.c - the DStream graph and per-batch operators (see dstream.h). */
#define _GNU_SOURCE
#include "dstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "kernels.h"
#include "shuffle.h"
#include "state.h"
#include "window.h"

#define TN(t) sl_type_name((t), (char[96]){0}, 96)

static const char *kind_name[] = {
    [SL_DS_SOURCE] = "source",
    [SL_DS_MAP] = "map",
    [SL_DS_FLATMAP] = "flatMap",
    [SL_DS_FILTER] = "filter",
    [SL_DS_MAPVALUES] = "mapValues",
    [SL_DS_FLATMAPVALUES] = "flatMapValues",
    [SL_DS_UNION] = "union",
    [SL_DS_TRANSFORM] = "transform",
    [SL_DS_COUNT] = "count",
    [SL_DS_REDUCE] = "reduce",
    [SL_DS_COUNTBYVALUE] = "countByValue",
    [SL_DS_REDUCEBYKEY] = "reduceByKey",
    [SL_DS_GROUPBYKEY] = "groupByKey",
    [SL_DS_JOIN] = "join",
    [SL_DS_COGROUP] = "cogroup",
    [SL_DS_REPARTITION] = "repartition",
    [SL_DS_WINDOW] = "window",
    [SL_DS_KWINDOW] = "reduceByKeyAndWindow",
    [SL_DS_STATE] = "updateStateByKey",
    [SL_DS_MAPSTATE] = "mapWithState",
    [SL_DS_SNAPSHOT] = "stateSnapshots",
};

int sl_graph_init(sl_graph *g, sl_env *env)
{
	memset(g, 0, sizeof(*g));
	g->env = env;
	return 0;
}

void sl_graph_fini(sl_graph *g)
{
	for (int i = 0; i < g->nds; i++) {
		sl_dstream *d = g->ds[i];
		sl_rdd_unref(d->memo);
		if (d->kind == SL_DS_WINDOW || d->kind == SL_DS_KWINDOW)
			sl_window_free(d);
		if (d->kind == SL_DS_STATE || d->kind == SL_DS_MAPSTATE)
			sl_state_free(d);
		if (d->has_fn)
			sl_lambda_fini(&d->fn);
		if (d->src)
			d->src->ops->free(d->src);
		free(d);
	}
	free(g->ds);
	for (int i = 0; i < g->nout; i++) {
		free(g->out[i].prefix);
		free(g->out[i].suffix);
	}
	free(g->out);
	memset(g, 0, sizeof(*g));
}

static sl_dstream *add(sl_graph *g, int kind, const sl_type *t, sluice_error *err)
{
	if (g->nds == g->capds) {
		int n = g->capds ? g->capds * 2 : 16;
		sl_dstream **p = realloc(g->ds, (size_t)n * sizeof(*p));
		if (!p)
			goto oom;
		g->ds = p;
		g->capds = n;
	}
	sl_dstream *d = calloc(1, sizeof(*d));
	if (!d)
		goto oom;
	d->g = g;
	d->id = g->nds;
	d->kind = kind;
	d->type = t;
	d->slide = g->env->batch_ms;
	d->opname = kind_name[kind];
	d->memo_time = INT64_MIN;
	g->ds[g->nds++] = d;
	return d;
oom:
	sl_error_set(err, -ENOMEM, "out of memory building the graph");
	return NULL;
}

sl_dstream *sl_ds_source(sl_graph *g, sl_source *src, sluice_error *err)
{
	sl_dstream *d = add(g, SL_DS_SOURCE, src->type, err);
	if (!d) {
		src->ops->free(src);
		return NULL;
	}
	d->src = src;
	d->opname = src->ops->name;
	return d;
}

static int need_pair(sl_dstream *p, const char *op, sluice_error *err)
{
	if (sl_type_is_pair(p->type))
		return 0;
	sl_error_set(err, -EINVAL, "%s needs a stream of pairs (K, V), but this stream has type %s",
		     op, TN(p->type));
	return -EINVAL;
}

sl_dstream *sl_ds_unary_fn(sl_dstream *p, int kind, const sl_ast *fn, int nparts, sluice_error *err)
{
	sl_graph *g = p->g;
	const char *op = kind_name[kind];
	const sl_type *pt[2] = {p->type, p->type};
	int np = 1;
	if (kind == SL_DS_MAPVALUES || kind == SL_DS_FLATMAPVALUES || kind == SL_DS_REDUCEBYKEY) {
		if (need_pair(p, op, err))
			return NULL;
		pt[0] = pt[1] = p->type->kid[1];
	}
	if (kind == SL_DS_REDUCEBYKEY || kind == SL_DS_REDUCE)
		np = 2;
	sl_lambda l;
	int rc = sl_lambda_compile(&l, g->env->types, fn, np, pt, err);
	if (rc)
		return NULL;
	const sl_type *t = l.type;
	const char *bad = NULL;
	switch (kind) {
	case SL_DS_FILTER:
		if (t->kind != SL_BOOL)
			bad = "filter's function must return Boolean";
		t = p->type;
		break;
	case SL_DS_FLATMAP:
		if (t->kind != SL_LIST)
			bad =
			    "flatMap's function must return a collection (Seq, List, Array, split)";
		else
			t = t->kid[0];
		break;
	case SL_DS_MAPVALUES: t = sl_type_pair(g->env->types, p->type->kid[0], t); break;
	case SL_DS_FLATMAPVALUES:
		if (t->kind != SL_LIST)
			bad = "flatMapValues's function must return a collection";
		else
			t = sl_type_pair(g->env->types, p->type->kid[0], t->kid[0]);
		break;
	case SL_DS_REDUCEBYKEY:
	case SL_DS_REDUCE:
		if (!sl_type_eq(t, pt[0]))
			bad = "the reduce function must return the type of its arguments";
		if (kind == SL_DS_REDUCEBYKEY)
			t = p->type;
		break;
	default: break;
	}
	if (bad) {
		sl_error_set(err, -EINVAL, "%s, found %s", bad, TN(l.type));
		sl_error_at(err, fn->line, fn->col);
		sl_lambda_fini(&l);
		return NULL;
	}
	sl_dstream *d = t ? add(g, kind, t, err) : NULL;
	if (!d) {
		sl_lambda_fini(&l);
		return NULL;
	}
	d->parent[0] = p;
	d->nparent = 1;
	d->slide = p->slide; /* per-batch operators run at their parent's times */
	d->fn = l;
	d->has_fn = 1;
	if (kind == SL_DS_FILTER)
		d->has_cmp = sl_lambda_cmp_const(&d->fn, &d->cmp);
	/* reduce(_ + _ / max / min) of the Longs or Doubles a filter(x OP c) keeps: each
	 * partition reduces over the filter's selection (the *_sel kernels), so the kept rows
	 * are never gathered (the filter still runs for its other consumers) */
	if (kind == SL_DS_REDUCE && d->fn.reducer && sl_type_is_num(t) && p->kind == SL_DS_FILTER &&
	    p->has_cmp && g->env->kern)
		d->fuse_src = p->parent[0];
	int64_t c;
	sl_lambda key;
	if (kind == SL_DS_REDUCEBYKEY && d->fn.reducer == SL_RED_SUM && t->kid[1]->kind == SL_I64 &&
	    p->kind == SL_DS_MAP && p->has_fn && sl_lambda_pair_key(&p->fn, &key, &c)) {
		if (sl_lambda_pair_const(&p->fn, &c)) {
			d->fuse_src = p->parent[0]; /* x => (x, c): count the map's input */
			d->fuse_scale = c;
		} else {
			/* x => (f(x), c): count a hidden map x => f(x) of the map's input (kept at
			 * start only if nothing else reads the map; out of memory: no fusion) */
			sl_dstream *h = add(g, SL_DS_MAP, key.type, NULL);
			if (h) {
				/* before d in ds[], which stays in topological order */
				g->ds[d->id] = h;
				g->ds[h->id] = d;
				h->id = d->id;
				d->id = g->nds - 1;
				h->parent[0] = p->parent[0];
				h->nparent = 1;
				h->slide = p->slide;
				h->fn = key;
				h->has_fn = 1;
				d->fuse_src = h;
				d->fuse_scale = c;
				d->fuse_map = 1;
			}
		}
	}
	d->nparts = nparts;
	return d;
}

sl_dstream *sl_ds_unary(sl_dstream *p, int kind, int nparts, sluice_error *err)
{
	sl_graph *g = p->g;
	const sl_type *t = p->type;
	switch (kind) {
	case SL_DS_COUNT: t = &sl_type_i64; break;
	case SL_DS_COUNTBYVALUE: t = sl_type_pair(g->env->types, p->type, &sl_type_i64); break;
	case SL_DS_GROUPBYKEY:
		if (need_pair(p, "groupByKey", err))
			return NULL;
		t = sl_type_pair(g->env->types, p->type->kid[0],
				 sl_type_list(g->env->types, p->type->kid[1], SL_LIST_BUFFER));
		break;
	case SL_DS_REPARTITION:
		if (nparts < 1) {
			sl_error_set(err, -EINVAL,
				     "repartition needs a number of partitions >= 1, found %d",
				     nparts);
			return NULL;
		}
		break;
	}
	sl_dstream *d = t ? add(g, kind, t, err) : NULL;
	if (!d)
		return NULL;
	d->parent[0] = p;
	d->nparent = 1;
	d->slide = p->slide; /* per-batch operators run at their parent's times */
	d->nparts = nparts;
	/* count() of what a filter(x OP c) keeps: counted in the filter's input with the
	 * filter kernels, no row gathered (the filter still runs for its other consumers) */
	if (kind == SL_DS_COUNT && p->kind == SL_DS_FILTER && p->has_cmp && g->env->kern)
		d->fuse_src = p->parent[0];
	return d;
}

sl_dstream *sl_ds_binary(sl_dstream *a, sl_dstream *b, int kind, int sub, int nparts,
			 sluice_error *err)
{
	sl_graph *g = a->g;
	const sl_type *t = NULL;
	if (a->g != b->g) {
		sl_error_set(err, -EINVAL, "%s of streams from different contexts",
			     kind_name[kind]);
		return NULL;
	}
	if (a->slide != b->slide) {
		sl_error_set(err, -EINVAL,
			     "%s needs streams with the same slide duration (%lld ms and %lld ms)",
			     kind_name[kind], (long long)a->slide, (long long)b->slide);
		return NULL;
	}
	if (kind == SL_DS_UNION) {
		if (!sl_type_eq(a->type, b->type)) {
			sl_error_set(err, -EINVAL,
				     "union of streams with different types: %s and %s",
				     TN(a->type), TN(b->type));
			return NULL;
		}
		t = a->type;
	} else {
		const char *op = kind == SL_DS_COGROUP ? "cogroup" : "join";
		if (need_pair(a, op, err) || need_pair(b, op, err))
			return NULL;
		if (!sl_type_eq(a->type->kid[0], b->type->kid[0])) {
			sl_error_set(err, -EINVAL, "%s needs equal key types, found %s and %s", op,
				     TN(a->type->kid[0]), TN(b->type->kid[0]));
			return NULL;
		}
		sl_types *ts = g->env->types;
		const sl_type *v = a->type->kid[1], *w = b->type->kid[1];
		if (kind == SL_DS_COGROUP) {
			v = sl_type_list(ts, v, SL_LIST_BUFFER);
			w = sl_type_list(ts, w, SL_LIST_BUFFER);
		} else {
			if (sub == SL_JOIN_RIGHT || sub == SL_JOIN_FULL)
				v = sl_type_opt(ts, v);
			if (sub == SL_JOIN_LEFT || sub == SL_JOIN_FULL)
				w = sl_type_opt(ts, w);
		}
		t = sl_type_pair(ts, a->type->kid[0], sl_type_pair(ts, v, w));
	}
	sl_dstream *d = t ? add(g, kind, t, err) : NULL;
	if (!d)
		return NULL;
	d->parent[0] = a;
	d->parent[1] = b;
	d->slide = a->slide;
	d->nparent = 2;
	d->sub = sub;
	d->nparts = nparts;
	if (kind == SL_DS_JOIN) {
		static const char *jn[] = {"join", "leftOuterJoin", "rightOuterJoin",
					   "fullOuterJoin"};
		d->opname = jn[sub];
	}
	return d;
}

sl_dstream *sl_ds_transform(sl_dstream *p, const sl_type *out_type, sl_transform_fn fn, void *arg,
			    sluice_error *err)
{
	sl_dstream *d = add(p->g, SL_DS_TRANSFORM, out_type, err);
	if (!d)
		return NULL;
	d->parent[0] = p;
	d->nparent = 1;
	d->slide = p->slide; /* per-batch operators run at their parent's times */
	d->tfn = fn;
	d->targ = arg;
	return d;
}

int sl_graph_add_output(sl_graph *g, const sl_output *o, sluice_error *err)
{
	if (g->nout == g->capout) {
		int n = g->capout ? g->capout * 2 : 8;
		sl_output *p = realloc(g->out, (size_t)n * sizeof(*p));
		if (!p) {
			sl_error_set(err, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
		g->out = p;
		g->capout = n;
	}
	g->out[g->nout] = *o;
	g->out[g->nout].prefix = o->prefix ? strdup(o->prefix) : NULL;
	g->out[g->nout].suffix = o->suffix ? strdup(o->suffix) : NULL;
	g->nout++;
	return 0;
}

int sl_graph_advance(sl_graph *g, int64_t t, sluice_error *err)
{
	for (int i = 0; i < g->nds; i++) {
		sl_dstream *d = g->ds[i];
		int rc = 0;
		if (!d->used)
			continue;
		if (d->kind == SL_DS_WINDOW || d->kind == SL_DS_KWINDOW) {
			rc = sl_window_absorb(d, t, err);
			if (!rc && d->kind == SL_DS_KWINDOW) {
				/* the inverse form builds on its previous result: compute every
				 * valid time, read or not (Spark's getOrCompute(t - S)) */
				sl_rdd *r = NULL;
				rc = sl_ds_compute(d, t, &r, err);
				sl_rdd_unref(r);
			}
		} else if (d->kind == SL_DS_STATE || d->kind == SL_DS_MAPSTATE) {
			sl_rdd *r = NULL;
			rc = sl_ds_compute(d, t, &r, err);
			sl_rdd_unref(r);
		}
		if (rc) {
			if (err && !err->line && d->line) {
				err->line = d->line;
				err->col = d->col;
			}
			return rc;
		}
	}
	return 0;
}

static int fusing(const sl_dstream *d)
{
	return d->fuse_map && d->fuse_src && d->used;
}

int sl_graph_unfuse_shared(sl_graph *g)
{
	size_t n = (size_t)(g->nds ? g->nds : 1);
	/* per stream: its readers, the fused reduceByKeys among them, and the hidden map they
	 * share (the first one's: it comes before all of them in ds[]) */
	int *readers = calloc(n, sizeof(int)), *fusers = calloc(n, sizeof(int));
	sl_dstream **shared = calloc(n, sizeof(*shared));
	if (!readers || !fusers || !shared) {
		free(readers), free(fusers), free(shared);
		return -ENOMEM;
	}
	for (int i = 0; i < g->nds; i++) {
		sl_dstream *d = g->ds[i];
		for (int k = 0; d->used && k < d->nparent; k++)
			readers[d->parent[k]->id]++;
		if (fusing(d))
			fusers[d->parent[0]->id]++;
	}
	for (int o = 0; o < g->nout; o++)
		readers[g->out[o].s->id]++;
	for (int i = 0; i < g->nds; i++) {
		sl_dstream *d = g->ds[i], *p = d->parent[0];
		if (!fusing(d))
			continue;
		if (readers[p->id] > fusers[p->id]) {
			d->fuse_src = NULL; /* the map runs anyway: count its pairs */
			continue;
		}
		/* every reader of the map counts f(x): one hidden map computes it once a batch
		 * for all of them (the others' stay unused) */
		if (shared[p->id])
			d->fuse_src = shared[p->id];
		shared[p->id] = d->fuse_src;
		/* the hidden map reports skipped records as the user's map */
		d->fuse_src->line = p->line;
		d->fuse_src->col = p->col;
		d->fuse_src->used = 1;
	}
	free(readers), free(fusers), free(shared);
	return 0;
}

void sl_graph_clear_memo(sl_graph *g)
{
	for (int i = 0; i < g->nds; i++) {
		sl_rdd_unref(g->ds[i]->memo);
		g->ds[i]->memo = NULL;
		g->ds[i]->memo_state = 0;
	}
}

/* ------------------------------------------------------- per-partition operators */

struct pjob {
	sl_dstream *d;
	sl_rdd *in, *out;
	atomic_uint_fast64_t skipped; /* relaxed counters, read after the join */
	atomic_int failed;
	char why[200];
	atomic_flag why_set;
};

static sl_col *drop_bad(sl_col *c, const sl_xeval *ev, size_t n)
{
	uint32_t *idx = sl_alloc(c->mem, -1, (n ? n : 1) * 4);
	if (!idx)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!ev->bad[i])
			idx[k++] = (uint32_t)i;
	sl_col *r = sl_col_gather(c, idx, k);
	sl_dealloc(c->mem, idx, (n ? n : 1) * 4);
	return r;
}

/* Elements of list rows that are not bad, flattened. */
static sl_col *flatten(sl_col *lst, const sl_xeval *ev, size_t n, uint32_t **rowof)
{
	sl_mem *m = lst->mem;
	sl_col *el = lst->kid[0];
	size_t total = lst->v.off[n];
	uint32_t *idx = sl_alloc(m, -1, (total ? total : 1) * 4);
	if (!idx)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ev->bad && ev->bad[i])
			continue;
		for (uint32_t j = lst->v.off[i]; j < lst->v.off[i + 1]; j++)
			idx[k++] = rowof ? (uint32_t)i : j;
	}
	sl_col *r;
	if (rowof) {
		/* caller wants, per element, the row it came from; and the elements */
		*rowof = idx;
		size_t k2 = 0;
		uint32_t *eidx = sl_alloc(m, -1, (total ? total : 1) * 4);
		if (!eidx)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			if (ev->bad && ev->bad[i])
				continue;
			for (uint32_t j = lst->v.off[i]; j < lst->v.off[i + 1]; j++)
				eidx[k2++] = j;
		}
		r = sl_col_gather(el, eidx, k2);
		sl_dealloc(m, eidx, (total ? total : 1) * 4);
		return r;
	}
	if (k == el->len)
		r = sl_col_ref(el);
	else
		r = sl_col_gather(el, idx, k);
	sl_dealloc(m, idx, (total ? total : 1) * 4);
	return r;
}

/* filter(x OP c), filter(x._j OP x._k) through the ISA's filter kernels: the selection comes
 * straight from the column, no Boolean column in between. */
static sl_col *filter_kernel(sl_dstream *d, sl_col *c, size_t n)
{
	sl_mem *m = d->g->env->mem;
	uint32_t *idx = sl_alloc(m, -1, n * 4);
	if (!idx)
		return NULL;
	size_t kept = sl_cmp_select(d->g->env->kern, &d->cmp, c, n, idx);
	sl_col *out = kept == n ? sl_col_ref(c) : sl_col_gather(c, idx, kept);
	sl_dealloc(m, idx, n * 4);
	return out;
}

static void part_task(void *arg, size_t i, int worker)
{
	(void)worker;
	struct pjob *j = arg;
	sl_dstream *d = j->d;
	sl_mem *m = d->g->env->mem;
	sl_col *c = j->in->part[i];
	size_t n = c ? c->len : 0;
	sl_col *res = NULL, *out = NULL;
	if (!n) {
		out = sl_col_new(m, d->type, 0);
		goto done;
	}
	if (d->has_cmp && d->g->env->kern) {
		out = filter_kernel(d, c, n);
		goto done;
	}
	sl_xeval ev;
	sl_xeval_init(&ev, m);
	sl_col *arg0 = c;
	if (d->kind == SL_DS_MAPVALUES || d->kind == SL_DS_FLATMAPVALUES)
		arg0 = c->kid[1];
	res = sl_lambda_eval(&d->fn, &arg0, n, &ev);
	if (!res)
		goto fini;
	switch (d->kind) {
	case SL_DS_MAP: out = ev.nbad ? drop_bad(res, &ev, n) : sl_col_ref(res); break;
	case SL_DS_MAPVALUES: {
		sl_col *kids[2] = {c->kid[0], res};
		sl_col *t = sl_col_tuple_of(m, d->type, kids);
		out = t && ev.nbad ? drop_bad(t, &ev, n) : sl_col_ref(t);
		sl_col_unref(t);
		break;
	}
	case SL_DS_FILTER: {
		uint32_t *idx = sl_alloc(m, -1, n * 4);
		if (!idx)
			break;
		size_t k = 0;
		for (size_t r = 0; r < n; r++)
			if (res->v.b[r] && !(ev.bad && ev.bad[r]))
				idx[k++] = (uint32_t)r;
		out = k == n ? sl_col_ref(c) : sl_col_gather(c, idx, k);
		sl_dealloc(m, idx, n * 4);
		break;
	}
	case SL_DS_FLATMAP: out = flatten(res, &ev, n, NULL); break;
	case SL_DS_FLATMAPVALUES: {
		uint32_t *rowof = NULL;
		sl_col *vals = flatten(res, &ev, n, &rowof);
		if (vals) {
			sl_col *keys = sl_col_gather(c->kid[0], rowof, vals->len);
			if (keys) {
				sl_col *kids[2] = {keys, vals};
				out = sl_col_tuple_of(m, d->type, kids);
			}
			sl_col_unref(keys);
		}
		if (rowof)
			sl_dealloc(m, rowof, (res->v.off[n] ? res->v.off[n] : 1) * 4);
		sl_col_unref(vals);
		break;
	}
	}
	if (ev.nbad) {
		/* relaxed: a statistic summed after sl_workers_run returns */
		atomic_fetch_add_explicit(&j->skipped, ev.nbad, memory_order_relaxed);
		if (!atomic_flag_test_and_set(&j->why_set))
			snprintf(j->why, sizeof(j->why), "%s", ev.why);
	}
fini:
	sl_xeval_fini(&ev);
done:
	sl_col_unref(res);
	if (!out)
		atomic_store_explicit(&j->failed, -ENOMEM, memory_order_relaxed);
	j->out->part[i] = out;
}

static int run_parts(sl_dstream *d, sl_rdd *in, sl_rdd **out, sluice_error *err)
{
	sl_env *env = d->g->env;
	struct pjob j = {.d = d, .in = in};
	atomic_flag_clear(&j.why_set);
	j.out = sl_rdd_new(env->mem, d->type, in->time, in->nparts);
	if (!j.out)
		return -ENOMEM;
	sl_workers_run(env->workers, in->nparts, part_task, &j);
	uint64_t sk = atomic_load_explicit(&j.skipped, memory_order_relaxed);
	if (sk) {
		d->skipped += sk;
		char at[32] = ""; /* streams made with the C API have no position */
		if (d->line > 0)
			snprintf(at, sizeof(at), " at %d:%d", d->line, d->col);
		sl_log(env, SL_LOG_WARN, "%s%s skipped %llu record(s) in batch %lld ms: %s",
		       d->opname, at, (unsigned long long)sk, (long long)in->time, j.why);
	}
	if (atomic_load_explicit(&j.failed, memory_order_relaxed)) {
		sl_rdd_unref(j.out);
		sl_error_set(err, -ENOMEM, "out of memory in %s", d->opname);
		return -ENOMEM;
	}
	*out = j.out;
	return 0;
}

static int nout_of(sl_dstream *d)
{
	if (d->nparts > 0)
		return d->nparts;
	int w = sl_workers_count(d->g->env->workers);
	return w > 0 ? w : 1;
}

static int compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err)
{
	sl_env *env = d->g->env;
	sl_rdd *in[2] = {NULL, NULL};
	int rc = 0;
	*out = NULL;
	if (d->kind == SL_DS_SOURCE) {
		rc = d->src->ops->next(d->src, t, out, err);
		if (rc == SL_SOURCE_END) {
			d->source_ended = 1;
			rc = 0;
		}
		return rc;
	}
	switch (d->kind) {
	case SL_DS_WINDOW:
	case SL_DS_KWINDOW: rc = sl_window_compute(d, t, out, err); goto out;
	case SL_DS_STATE:
	case SL_DS_MAPSTATE:
	case SL_DS_SNAPSHOT: rc = sl_state_compute(d, t, out, err); goto out;
	default: break;
	}
	for (int k = 0; k < d->nparent; k++) {
		rc = sl_ds_compute(k || !d->fuse_src ? d->parent[k] : d->fuse_src, t, &in[k], err);
		if (rc)
			goto out;
	}
	if (d->kind == SL_DS_UNION) {
		if (!in[0] || !in[1]) {
			sl_error_set(
			    err, -EINVAL,
			    "Could not generate RDD from a parent for unifying at time %lld ms",
			    (long long)t);
			rc = -EINVAL;
			goto out;
		}
		sl_rdd *r = sl_rdd_new(env->mem, d->type, t, in[0]->nparts + in[1]->nparts);
		if (!r) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < in[0]->nparts; i++)
			r->part[i] = sl_col_ref(in[0]->part[i]);
		for (size_t i = 0; i < in[1]->nparts; i++)
			r->part[in[0]->nparts + i] = sl_col_ref(in[1]->part[i]);
		*out = r;
		goto out;
	}
	if (d->kind == SL_DS_TRANSFORM) {
		if (!in[0] && d->sub)
			goto out; /* mapPartitions: no RDD propagates like map's */
		if (!in[0]) {
			sl_error_set(err, -EINVAL,
				     "Couldn't generate RDD from parent at time %lld ms",
				     (long long)t);
			rc = -EINVAL;
			goto out;
		}
		rc = d->tfn(d->targ, t, in[0], out, err);
		if (!rc && !*out) {
			sl_error_set(err, -EINVAL,
				     "Transform function must not return null (time %lld ms)",
				     (long long)t);
			rc = -EINVAL;
		} else if (!rc && !sl_type_eq((*out)->type, d->type)) {
			sl_error_set(err, -EINVAL,
				     "transform returned a batch of type %s, declared %s",
				     TN((*out)->type), TN(d->type));
			sl_rdd_unref(*out);
			*out = NULL;
			rc = -EINVAL;
		}
		goto out;
	}
	if (!in[0] || (d->nparent == 2 && !in[1])) {
		/* Spark builds count, joins and cogroup on transform/transformWith, which
		 * fail without a parent RDD; the other per-batch operators propagate it */
		if (d->kind == SL_DS_COUNT || d->kind == SL_DS_JOIN || d->kind == SL_DS_COGROUP) {
			sl_error_set(err, -EINVAL,
				     "Couldn't generate RDD from parent at time %lld ms",
				     (long long)t);
			rc = -EINVAL;
		}
		goto out;
	}
	switch (d->kind) {
	case SL_DS_MAP:
	case SL_DS_FLATMAP:
	case SL_DS_FILTER:
	case SL_DS_MAPVALUES:
	case SL_DS_FLATMAPVALUES: rc = run_parts(d, in[0], out, err); break;
	case SL_DS_COUNT: {
		int64_t rows = d->fuse_src ? sl_filter_count(env, in[0], &d->parent[0]->cmp)
					   : (int64_t)sl_rdd_rows(in[0]);
		if (rows < 0) {
			rc = sl_error_set(err, (int)rows, "out of memory in count");
			break;
		}
		sl_rdd *r = sl_rdd_new(env->mem, d->type, t, 1);
		if (!r || !(r->part[0] = sl_col_new(env->mem, d->type, 1)) ||
		    sl_col_push_i64(r->part[0], rows)) {
			sl_rdd_unref(r);
			rc = -ENOMEM;
			break;
		}
		*out = r;
		break;
	}
	case SL_DS_REDUCE:
		rc = sl_reduce_all(env, in[0], d->fuse_src ? &d->parent[0]->cmp : NULL, &d->fn, out,
				   err);
		break;
	case SL_DS_REDUCEBYKEY:
		if (d->fuse_src) {
			rc = sl_shuffle_keyed(env, in[0], SL_KEYED_COUNT_VALUE, NULL, nout_of(d),
					      d->type, &d->keys_hint, out, err);
			if (!rc && d->fuse_scale != 1) /* our own fresh columns: scale in place */
				for (size_t p = 0; p < (*out)->nparts; p++) {
					sl_col *v = (*out)->part[p]->kid[1];
					for (size_t i = 0; i < v->len; i++)
						v->v.i64[i] = (int64_t)((uint64_t)v->v.i64[i] *
									(uint64_t)d->fuse_scale);
				}
			break;
		}
		rc = sl_shuffle_keyed(env, in[0], SL_KEYED_REDUCE, &d->fn, nout_of(d), d->type,
				      &d->keys_hint, out, err);
		break;
	case SL_DS_GROUPBYKEY:
		rc = sl_shuffle_keyed(env, in[0], SL_KEYED_GROUP, NULL, nout_of(d), d->type, NULL,
				      out, err);
		break;
	case SL_DS_COUNTBYVALUE:
		rc = sl_shuffle_keyed(env, in[0], SL_KEYED_COUNT_VALUE, NULL, nout_of(d), d->type,
				      &d->keys_hint, out, err);
		break;
	case SL_DS_JOIN:
		rc = sl_shuffle_join(env, in[0], in[1], d->sub, nout_of(d), d->type, out, err);
		break;
	case SL_DS_COGROUP:
		rc = sl_shuffle_join(env, in[0], in[1], SL_JOIN_COGROUP, nout_of(d), d->type, out,
				     err);
		break;
	case SL_DS_REPARTITION: {
		/* n contiguous, as-even-as-possible slices of the concatenated batch */
		sl_col *all = sl_col_concat(env->mem, d->type, in[0]->part, in[0]->nparts);
		sl_rdd *r = all ? sl_rdd_new(env->mem, d->type, t, (size_t)d->nparts) : NULL;
		if (!r) {
			sl_col_unref(all);
			rc = -ENOMEM;
			break;
		}
		size_t n = all->len, np = (size_t)d->nparts;
		for (size_t p = 0; p < np; p++) {
			size_t b = n * p / np, e = n * (p + 1) / np;
			if (!(r->part[p] = sl_col_slice(all, b, e - b))) {
				rc = -ENOMEM;
				break;
			}
		}
		sl_col_unref(all);
		if (rc)
			sl_rdd_unref(r);
		else
			*out = r;
		break;
	}
	}
	if (rc == -ENOMEM && err && !err->code)
		sl_error_set(err, -ENOMEM, "out of memory in %s", d->opname);
out:
	sl_rdd_unref(in[0]);
	sl_rdd_unref(in[1]);
	if (!rc && *out)
		d->records += sl_rdd_rows(*out);
	return rc;
}

int sl_ds_compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err)
{
	if (d->memo_time == t && d->memo_state) {
		if (d->memo_state < 0) {
			sl_error_set(err, -EINVAL, "%s failed earlier in this batch", d->opname);
			return -EINVAL;
		}
		*out = sl_rdd_ref(d->memo);
		return 0;
	}
	int64_t valid = t - d->g->zero_time;
	if (valid <= 0 || valid % d->slide) {
		*out = NULL;
		return 0;
	}
	sl_rdd *r = NULL;
	int rc = compute(d, t, &r, err);
	sl_rdd_unref(d->memo);
	d->memo = r;
	d->memo_time = t;
	d->memo_state = rc ? -1 : 1;
	if (rc && err && !err->line && d->line) {
		err->line = d->line;
		err->col = d->col;
	}
	*out = rc ? NULL : sl_rdd_ref(r);
	return rc;
}
