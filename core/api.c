/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.c - the stream-building, transform and batch-reading parts of sluice.h.
 *
 * Public handles are the internal objects under opaque names: a sluice_stream is an
 * sl_dstream, a sluice_batch an sl_rdd, a sluice_column an sl_col. Functions given as
 * text are parsed with the pipeline parser and compiled exactly as in a pipeline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "fmt.h"
#include "parse.h"

#define DS(s) ((sl_dstream *)(s))
#define ST(d) ((sluice_stream *)(d))

static int check_init(sluice_context *ctx, sluice_error *err)
{
	if (!ctx)
		return sl_error_set(err, -EINVAL, "NULL context");
	if (ctx->state == 0)
		return 0;
	sl_error_set(err, -EINVAL,
		     "streams and outputs can only be added before the context starts");
	return -EINVAL;
}

static sluice_stream *add_source(sluice_context *ctx, const char *name, const sl_arg *args,
				 int nargs, sluice_error *err)
{
	if (check_init(ctx, err))
		return NULL;
	for (const sl_source_def *d = sl_source_defs; d->name; d++)
		if (!strcmp(d->name, name)) {
			sl_source *s = d->make(&ctx->env, args, nargs, err);
			return s ? ST(sl_ds_source(&ctx->g, s, err)) : NULL;
		}
	sl_error_set(err, -EINVAL, "unknown source %s", name);
	return NULL;
}

sluice_stream *sluice_queue_stream(sluice_context *ctx, const char *path, sluice_error *err)
{
	sl_arg a = {.kind = SL_ARG_STR, .s = path};
	return add_source(ctx, "queueStream", &a, 1, err);
}

sluice_stream *sluice_text_file(sluice_context *ctx, const char *path, sluice_error *err)
{
	sl_arg a = {.kind = SL_ARG_STR, .s = path};
	return add_source(ctx, "textFile", &a, 1, err);
}

sluice_stream *sluice_generator(sluice_context *ctx, const char *kind, int64_t rate, int64_t keys,
				sluice_error *err)
{
	sl_arg a[3] = {{.kind = SL_ARG_STR, .s = kind},
		       {.kind = SL_ARG_INT, .i = rate},
		       {.kind = SL_ARG_INT, .i = keys}};
	return add_source(ctx, "generator", a, 3, err);
}

/* The context of stream s, if streams may still be added to it (and t, when not NULL, is a
 * stream of the same context), else NULL with err. */
static sluice_context *adding(sluice_stream *s, sluice_stream *t, sluice_error *err)
{
	if (!s || (t && DS(t)->g != DS(s)->g)) {
		sl_error_set(err, -EINVAL,
			     s ? "the two streams belong to different contexts" : "NULL stream");
		return NULL;
	}
	sluice_context *ctx = (sluice_context *)((char *)DS(s)->g - offsetof(sluice_context, g));
	return check_init(ctx, err) ? NULL : ctx;
}

/* numPartitions of the C API: 0 is the default (one per worker), else as in the pipeline
 * language. */
static int nparts_ok(int nparts, sluice_error *err)
{
	if (nparts >= 0 && nparts <= 1 << 20)
		return 1;
	sl_error_set(err, -EINVAL,
		     "numPartitions must be 0 (the default) or from 1 to 1048576, got %d", nparts);
	return 0;
}

static sluice_stream *with_fn(sluice_stream *s, int kind, const char *fn, int nparts,
			      sluice_error *err)
{
	if (!s || !fn) {
		sl_error_set(err, -EINVAL, "NULL stream or function");
		return NULL;
	}
	if (!adding(s, NULL, err) || !nparts_ok(nparts, err))
		return NULL;
	sl_program *p = sl_parse(fn, strlen(fn), err);
	if (!p)
		return NULL;
	sl_dstream *d = NULL;
	if (p->nstmt != 1 || p->stmt[0].name) {
		sl_error_set(err, -EINVAL, "expected one function, like x => x + 1 or _ + _");
	} else {
		d = sl_ds_unary_fn(DS(s), kind, p->stmt[0].expr, nparts, err);
		if (!d && err && err->line)
			sl_error_context(err, fn, strlen(fn), err->line, err->col);
	}
	sl_program_free(p);
	return ST(d);
}

sluice_stream *sluice_stream_map(sluice_stream *s, const char *fn, sluice_error *err)
{
	return with_fn(s, SL_DS_MAP, fn, 0, err);
}
sluice_stream *sluice_stream_flat_map(sluice_stream *s, const char *fn, sluice_error *err)
{
	return with_fn(s, SL_DS_FLATMAP, fn, 0, err);
}
sluice_stream *sluice_stream_filter(sluice_stream *s, const char *fn, sluice_error *err)
{
	return with_fn(s, SL_DS_FILTER, fn, 0, err);
}
sluice_stream *sluice_stream_map_values(sluice_stream *s, const char *fn, sluice_error *err)
{
	return with_fn(s, SL_DS_MAPVALUES, fn, 0, err);
}
sluice_stream *sluice_stream_flat_map_values(sluice_stream *s, const char *fn, sluice_error *err)
{
	return with_fn(s, SL_DS_FLATMAPVALUES, fn, 0, err);
}
sluice_stream *sluice_stream_reduce(sluice_stream *s, const char *fn, sluice_error *err)
{
	return with_fn(s, SL_DS_REDUCE, fn, 0, err);
}
sluice_stream *sluice_stream_reduce_by_key(sluice_stream *s, const char *fn, int nparts,
					   sluice_error *err)
{
	return with_fn(s, SL_DS_REDUCEBYKEY, fn, nparts, err);
}

static sluice_stream *plain(sluice_stream *s, int kind, int nparts, sluice_error *err)
{
	if (!adding(s, NULL, err) || !nparts_ok(nparts, err))
		return NULL;
	return ST(sl_ds_unary(DS(s), kind, nparts, err));
}

sluice_stream *sluice_stream_count(sluice_stream *s, sluice_error *err)
{
	return plain(s, SL_DS_COUNT, 0, err);
}
sluice_stream *sluice_stream_count_by_value(sluice_stream *s, int nparts, sluice_error *err)
{
	return plain(s, SL_DS_COUNTBYVALUE, nparts, err);
}
sluice_stream *sluice_stream_group_by_key(sluice_stream *s, int nparts, sluice_error *err)
{
	return plain(s, SL_DS_GROUPBYKEY, nparts, err);
}
sluice_stream *sluice_stream_repartition(sluice_stream *s, int nparts, sluice_error *err)
{
	return plain(s, SL_DS_REPARTITION, nparts, err);
}

sluice_stream *sluice_stream_union(sluice_stream *a, sluice_stream *b, sluice_error *err)
{
	if (!b) {
		sl_error_set(err, -EINVAL, "NULL stream");
		return NULL;
	}
	if (!adding(a, b, err))
		return NULL;
	return ST(sl_ds_binary(DS(a), DS(b), SL_DS_UNION, 0, 0, err));
}

sluice_stream *sluice_stream_join(sluice_stream *a, sluice_stream *b, int how, int nparts,
				  sluice_error *err)
{
	if (!a || !b || how < SLUICE_JOIN_INNER || how > SLUICE_JOIN_FULL_OUTER) {
		sl_error_set(err, -EINVAL, "NULL stream or unknown join kind");
		return NULL;
	}
	if (!adding(a, b, err) || !nparts_ok(nparts, err))
		return NULL;
	return ST(sl_ds_binary(DS(a), DS(b), SL_DS_JOIN, how, nparts, err));
}

sluice_stream *sluice_stream_cogroup(sluice_stream *a, sluice_stream *b, int nparts,
				     sluice_error *err)
{
	if (!b) {
		sl_error_set(err, -EINVAL, "NULL stream");
		return NULL;
	}
	if (!adding(a, b, err) || !nparts_ok(nparts, err))
		return NULL;
	return ST(sl_ds_binary(DS(a), DS(b), SL_DS_COGROUP, 0, nparts, err));
}

/* ------------------------------------------------------------------ transform */

#define MAX_LEAVES 64

struct sluice_out {
	sl_col *col;
	sl_col *leaf[MAX_LEAVES];
	int nleaf, at;
	sl_col *tup[MAX_LEAVES]; /* tuple levels in post-order, committed at end */
	int ntup;
	int bad;
};

struct sl_tf {
	sluice_transform_fn fn;
	sluice_partition_fn pfn; /* mapPartitions */
	void *arg;
	const sl_type *type;
	sl_env *env;
};

static int leaves(sluice_out *o, sl_col *c)
{
	if (c->type->kind == SL_TUPLE) {
		for (int k = 0; k < c->type->n; k++)
			if (leaves(o, c->kid[k]))
				return -EINVAL;
		if (o->ntup == MAX_LEAVES)
			return -EINVAL;
		o->tup[o->ntup++] = c;
		return 0;
	}
	if (c->type->kind == SL_LIST || c->type->kind == SL_OPT || o->nleaf == MAX_LEAVES)
		return -EINVAL;
	o->leaf[o->nleaf++] = c;
	return 0;
}

/* A fresh output builder for one output column of type t. */
static int out_init(sluice_out *o, sl_env *env, const sl_type *t)
{
	memset(o, 0, sizeof(*o));
	o->col = sl_col_new(env->mem, t, 64);
	if (!o->col || leaves(o, o->col)) {
		sl_col_unref(o->col);
		o->col = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* After the callback: the finished column, or NULL with err set (callback code rc). */
static sl_col *out_finish(sluice_out *o, int rc, const char *what, sluice_error *err)
{
	if (o->bad || (!rc && o->at)) {
		sl_error_set(
		    err, -EINVAL,
		    "%s callback built a malformed record (wrong types, or a record not ended)",
		    what);
	} else if (rc) {
		sl_error_set(err, rc < 0 ? rc : -EINVAL, "%s callback failed with %d", what, rc);
	} else {
		return o->col;
	}
	sl_col_unref(o->col);
	return NULL;
}

static int tf_call(void *arg, int64_t time, sl_rdd *in, sl_rdd **out, sluice_error *err)
{
	struct sl_tf *tf = arg;
	sluice_out o;
	if (out_init(&o, tf->env, tf->type))
		return sl_error_set(err, -ENOMEM, "out of memory in transform");
	int rc = tf->fn(tf->arg, time, (const sluice_batch *)in, &o);
	sl_col *c = out_finish(&o, rc, "transform", err);
	if (!c)
		return err && err->code ? err->code : -EINVAL;
	sl_rdd *r = sl_rdd_new(tf->env->mem, tf->type, time, 1);
	if (!r) {
		sl_col_unref(c);
		return -ENOMEM;
	}
	r->part[0] = c;
	*out = r;
	return 0;
}

struct mp_job {
	struct sl_tf *tf;
	sl_rdd *in, *out;
	atomic_int failed; /* relaxed: read after sl_workers_run's join */
	sluice_error err;
};

static void mp_task(void *arg, size_t p, int worker)
{
	(void)worker;
	struct mp_job *j = arg;
	sluice_out o;
	sluice_error e = {0};
	sl_col *c = NULL;
	if (out_init(&o, j->tf->env, j->tf->type)) {
		sl_error_set(&e, -ENOMEM, "out of memory in mapPartitions");
	} else {
		int rc = j->tf->pfn(j->tf->arg, j->in->time, p,
				    (const sluice_column *)j->in->part[p], &o);
		c = out_finish(&o, rc, "mapPartitions", &e);
	}
	j->out->part[p] = c;
	int zero = 0;
	if (!c && atomic_compare_exchange_strong_explicit(
		      &j->failed, &zero, 1, memory_order_relaxed, memory_order_relaxed))
		j->err = e;
}

static int mp_call(void *arg, int64_t time, sl_rdd *in, sl_rdd **out, sluice_error *err)
{
	struct mp_job j = {.tf = arg, .in = in};
	j.out = sl_rdd_new(j.tf->env->mem, j.tf->type, time, in->nparts);
	if (!j.out)
		return sl_error_set(err, -ENOMEM, "out of memory in mapPartitions");
	sl_workers_run(j.tf->env->workers, in->nparts, mp_task, &j);
	if (atomic_load_explicit(&j.failed, memory_order_relaxed)) {
		if (err)
			*err = j.err;
		sl_rdd_unref(j.out);
		return j.err.code ? j.err.code : -EINVAL;
	}
	*out = j.out;
	return 0;
}

/* Register a transform-like stream whose C code is tf (kept by the context). */
static sluice_stream *add_tf(sluice_stream *s, const char *out_type, struct sl_tf *proto,
			     sl_transform_fn call, int per_partition, sluice_error *err)
{
	if (!s || !out_type || (!proto->fn && !proto->pfn)) {
		sl_error_set(err, -EINVAL, "NULL stream, type or function");
		return NULL;
	}
	sluice_context *ctx = adding(s, NULL, err);
	if (!ctx)
		return NULL;
	const sl_type *t = sl_type_parse(ctx->env.types, out_type);
	if (!t) {
		sl_error_set(err, -EINVAL,
			     "cannot parse the type \"%s\" (e.g. Long, String, (String, Long))",
			     out_type);
		return NULL;
	}
	sluice_out probe;
	if (out_init(&probe, &ctx->env, t)) {
		sl_error_set(err, -EINVAL,
			     "output type %s: only scalars and tuples of them are supported",
			     out_type);
		return NULL;
	}
	sl_col_unref(probe.col);
	struct sl_tf *tf = calloc(1, sizeof(*tf));
	struct sl_tf **v = realloc(ctx->tfs, (size_t)(ctx->ntfs + 1) * sizeof(*v));
	if (v)
		ctx->tfs = v;
	if (!tf || !v) {
		free(tf);
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	ctx->tfs[ctx->ntfs++] = tf;
	*tf = *proto;
	tf->type = t;
	tf->env = &ctx->env;
	sl_dstream *d = sl_ds_transform(DS(s), t, call, tf, err);
	if (d && per_partition) {
		d->sub = 1; /* per-batch operator: no RDD in, no RDD out */
		d->opname = "mapPartitions";
	}
	return ST(d);
}

sluice_stream *sluice_stream_transform(sluice_stream *s, const char *out_type,
				       sluice_transform_fn fn, void *arg, sluice_error *err)
{
	struct sl_tf proto = {.fn = fn, .arg = arg};
	return add_tf(s, out_type, &proto, tf_call, 0, err);
}

sluice_stream *sluice_stream_map_partitions(sluice_stream *s, const char *out_type,
					    sluice_partition_fn fn, void *arg, sluice_error *err)
{
	struct sl_tf proto = {.pfn = fn, .arg = arg};
	return add_tf(s, out_type, &proto, mp_call, 1, err);
}

static sl_col *next_leaf(sluice_out *o, int kind)
{
	if (o->at >= o->nleaf || o->leaf[o->at]->type->kind != kind) {
		o->bad = 1;
		return NULL;
	}
	return o->leaf[o->at++];
}

int sluice_out_i64(sluice_out *o, int64_t v)
{
	sl_col *c = next_leaf(o, SL_I64);
	return c ? sl_col_push_i64(c, v) : -EINVAL;
}

int sluice_out_f64(sluice_out *o, double v)
{
	sl_col *c = next_leaf(o, SL_F64);
	return c ? sl_col_push_f64(c, v) : -EINVAL;
}

int sluice_out_bool(sluice_out *o, int v)
{
	sl_col *c = next_leaf(o, SL_BOOL);
	return c ? sl_col_push_bool(c, v != 0) : -EINVAL;
}

int sluice_out_str(sluice_out *o, const char *p, size_t n)
{
	sl_col *c = next_leaf(o, SL_STR);
	return c ? sl_col_push_str(c, p, n) : -EINVAL;
}

int sluice_out_end(sluice_out *o)
{
	if (o->at != o->nleaf) {
		o->bad = 1;
		return -EINVAL;
	}
	for (int i = 0; i < o->ntup; i++)
		if (sl_col_commit(o->tup[i]))
			return -ENOMEM;
	o->at = 0;
	return 0;
}

static const sl_col *locate(const sl_rdd *r, size_t *i)
{
	for (size_t p = 0; p < r->nparts; p++) {
		size_t n = r->part[p] ? r->part[p]->len : 0;
		if (*i < n)
			return r->part[p];
		*i -= n;
	}
	return NULL;
}

int sluice_out_record(sluice_out *o, const sluice_batch *in, size_t i)
{
	const sl_rdd *r = (const sl_rdd *)in;
	const sl_col *c = locate(r, &i);
	if (!c || o->at || !sl_type_eq(c->type, o->col->type)) {
		o->bad = o->at != 0;
		return -EINVAL;
	}
	/* strings are copied: the output may outlive the input batch */
	return sl_col_push_row_copy(o->col, c, i);
}

/* -------------------------------------------------------------------- outputs */

static int add_out(sluice_stream *s, sl_output *o, sluice_error *err)
{
	if (!s) {
		sl_error_set(err, -EINVAL, "NULL stream");
		return -EINVAL;
	}
	sluice_context *ctx = adding(s, NULL, err);
	if (!ctx)
		return -EINVAL;
	o->s = DS(s);
	return sl_graph_add_output(&ctx->g, o, err);
}

int sluice_stream_print(sluice_stream *s, long num, sluice_error *err)
{
	if (num < 0) {
		sl_error_set(err, -EINVAL, "print(num) needs num >= 0, found %ld", num);
		return -EINVAL;
	}
	sl_output o = {.kind = SL_OUT_PRINT, .num = num};
	return add_out(s, &o, err);
}

int sluice_stream_save_as_text_files(sluice_stream *s, const char *prefix, const char *suffix,
				     sluice_error *err)
{
	sl_output o = {.kind = SL_OUT_SAVE_TEXT,
		       .prefix = (char *)(prefix ? prefix : ""),
		       .suffix = (char *)(suffix ? suffix : "")};
	return add_out(s, &o, err);
}

struct fe {
	sluice_foreach_fn fn;
	void *arg;
};

static int foreach_call(void *arg, int64_t time, const sl_rdd *r, sluice_error *err)
{
	struct fe *f = arg;
	int rc = f->fn(f->arg, time, (const sluice_batch *)r);
	if (rc)
		sl_error_set(err, rc < 0 ? rc : -EINVAL, "foreachBatch callback returned %d", rc);
	return rc;
}

int sluice_stream_foreach_batch(sluice_stream *s, sluice_foreach_fn fn, void *arg,
				sluice_error *err)
{
	if (!fn)
		return sl_error_set(err, -EINVAL, "NULL callback");
	/* refused before anything is allocated (a started context, a NULL stream) */
	sluice_context *ctx = adding(s, NULL, err);
	if (!ctx)
		return -EINVAL;
	struct fe *f = malloc(sizeof(*f));
	/* kept with the transforms so the context frees it */
	struct sl_tf **v = f ? realloc(ctx->tfs, (size_t)(ctx->ntfs + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(f);
		return sl_error_set(err, -ENOMEM, "out of memory");
	}
	*f = (struct fe){fn, arg};
	ctx->tfs = v;
	ctx->tfs[ctx->ntfs++] = (struct sl_tf *)f;
	sl_output o = {.kind = SL_OUT_FOREACH, .fn = foreach_call, .arg = f};
	return add_out(s, &o, err);
}

/* ------------------------------------------------------------- reading batches */

size_t sluice_batch_count(const sluice_batch *b)
{
	return sl_rdd_rows((const sl_rdd *)b);
}

size_t sluice_batch_partitions(const sluice_batch *b)
{
	return ((const sl_rdd *)b)->nparts;
}

const sluice_column *sluice_batch_partition(const sluice_batch *b, size_t p)
{
	const sl_rdd *r = (const sl_rdd *)b;
	return p < r->nparts ? (const sluice_column *)r->part[p] : NULL;
}

size_t sluice_batch_format(const sluice_batch *b, size_t i, char *buf, size_t n)
{
	const sl_col *c = locate((const sl_rdd *)b, &i);
	sl_sbuf s = {0};
	if (!c || sl_fmt_row(&s, c, i)) {
		if (n)
			buf[0] = 0;
		sl_sbuf_fini(&s);
		return 0;
	}
	size_t len = s.len;
	if (n) {
		size_t k = len < n - 1 ? len : n - 1;
		memcpy(buf, s.p, k);
		buf[k] = 0;
	}
	sl_sbuf_fini(&s);
	return len;
}

#define COL(c) ((const sl_col *)(c))

int sluice_column_kind(const sluice_column *c)
{
	if (!c)
		return -EINVAL;
	static const int map[] = {
	    [SL_I64] = SLUICE_I64,   [SL_F64] = SLUICE_F64,     [SL_BOOL] = SLUICE_BOOL,
	    [SL_STR] = SLUICE_STR,   [SL_TUPLE] = SLUICE_TUPLE, [SL_LIST] = SLUICE_SEQ,
	    [SL_OPT] = SLUICE_OPTION};
	return map[COL(c)->type->kind];
}

size_t sluice_column_length(const sluice_column *c)
{
	return c ? COL(c)->len : 0;
}

const int64_t *sluice_column_i64(const sluice_column *c)
{
	return c && COL(c)->type->kind == SL_I64 ? COL(c)->v.i64 : NULL;
}

const double *sluice_column_f64(const sluice_column *c)
{
	return c && COL(c)->type->kind == SL_F64 ? COL(c)->v.f64 : NULL;
}

const uint8_t *sluice_column_bool(const sluice_column *c)
{
	return c && COL(c)->type->kind == SL_BOOL ? COL(c)->v.b : NULL;
}

const char *sluice_column_str(const sluice_column *c, size_t i, size_t *len)
{
	if (!c || COL(c)->type->kind != SL_STR || i >= COL(c)->len)
		return NULL;
	if (len)
		*len = COL(c)->v.s[i].len;
	return COL(c)->v.s[i].p;
}

/* The public view is the column's own representation (no copy). */
_Static_assert(sizeof(sluice_str) == sizeof(sl_str) &&
		   offsetof(sluice_str, p) == offsetof(sl_str, p) &&
		   offsetof(sluice_str, len) == offsetof(sl_str, len),
	       "sluice_str is sl_str");

const sluice_str *sluice_column_strs(const sluice_column *c)
{
	if (!c || COL(c)->type->kind != SL_STR || !COL(c)->len)
		return NULL;
	return (const sluice_str *)(const void *)COL(c)->v.s;
}

const uint32_t *sluice_column_offsets(const sluice_column *c)
{
	return c && COL(c)->type->kind == SL_LIST ? COL(c)->v.off : NULL;
}

const uint8_t *sluice_column_valid(const sluice_column *c)
{
	return c && COL(c)->type->kind == SL_OPT ? COL(c)->valid : NULL;
}

const sluice_column *sluice_column_child(const sluice_column *c, int k)
{
	if (!c || k < 0 || k >= COL(c)->type->n)
		return NULL;
	return (const sluice_column *)COL(c)->kid[k];
}

/* ---------------------------------------------------------------- windows and state */

sluice_stream *sluice_stream_apply(sluice_stream *s, const char *call, sluice_error *err)
{
	if (!s || !call) {
		sl_error_set(err, -EINVAL, "NULL stream or call");
		return NULL;
	}
	sluice_context *ctx = adding(s, NULL, err);
	if (!ctx)
		return NULL;
	return ST(sl_build_apply(ctx, DS(s), call, err));
}

/* Format a call and apply it; functions are pasted as written. */
static sluice_stream *applyf(sluice_stream *s, sluice_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sluice_stream *applyf(sluice_stream *s, sluice_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *call = NULL;
	int n = vasprintf(&call, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	sluice_stream *r = sluice_stream_apply(s, call, err);
	free(call);
	return r;
}

/* ", 1000ms" for a slide given, "" for 0 (the parent's slide). */
static const char *slide_arg(char *buf, size_t n, int64_t ms)
{
	if (ms)
		snprintf(buf, n, ", %lldms", (long long)ms);
	else
		buf[0] = 0;
	return buf;
}

/* ", numPartitions = n" for n > 0. */
static const char *nparts_arg(char *buf, size_t n, int nparts)
{
	if (nparts > 0)
		snprintf(buf, n, ", numPartitions = %d", nparts);
	else
		buf[0] = 0;
	return buf;
}

sluice_stream *sluice_stream_window(sluice_stream *s, int64_t window_ms, int64_t slide_ms,
				    sluice_error *err)
{
	if (slide_ms)
		return applyf(s, err, "window(%lldms, %lldms)", (long long)window_ms,
			      (long long)slide_ms);
	return applyf(s, err, "window(%lldms)", (long long)window_ms);
}

sluice_stream *sluice_stream_count_by_window(sluice_stream *s, int64_t window_ms, int64_t slide_ms,
					     sluice_error *err)
{
	return applyf(s, err, "countByWindow(%lldms, %lldms)", (long long)window_ms,
		      (long long)slide_ms);
}

sluice_stream *sluice_stream_reduce_by_window(sluice_stream *s, const char *fn, const char *inv_fn,
					      int64_t window_ms, int64_t slide_ms,
					      sluice_error *err)
{
	if (!fn)
		return sluice_stream_apply(NULL, NULL, err);
	return applyf(s, err, "reduceByWindow(%s%s%s, %lldms, %lldms)", fn, inv_fn ? ", " : "",
		      inv_fn ? inv_fn : "", (long long)window_ms, (long long)slide_ms);
}

sluice_stream *sluice_stream_reduce_by_key_and_window(sluice_stream *s, const char *fn,
						      const char *inv_fn, int64_t window_ms,
						      int64_t slide_ms, int nparts,
						      const char *filter_fn, sluice_error *err)
{
	if (!fn || !s)
		return sluice_stream_apply(NULL, NULL, err);
	char np[40], sl[40];
	nparts_arg(np, sizeof(np), nparts);
	if (!inv_fn) {
		if (filter_fn) {
			/* Spark's filterFunc belongs to the form with an inverse function */
			sl_error_set(err, -EINVAL,
				     "reduceByKeyAndWindow: filter_fn needs inv_fn (Spark's "
				     "filterFunc belongs to the incremental form)");
			return NULL;
		}
		return applyf(s, err, "reduceByKeyAndWindow(%s, %lldms%s%s)", fn,
			      (long long)window_ms, slide_arg(sl, sizeof(sl), slide_ms), np);
	}
	/* slide 0: the parent's, as Spark's default slideDuration = self.slideDuration */
	return applyf(s, err, "reduceByKeyAndWindow(%s, %s, %lldms, %lldms%s%s%s)", fn, inv_fn,
		      (long long)window_ms, (long long)(slide_ms ? slide_ms : DS(s)->slide), np,
		      filter_fn ? ", filterFunc = " : "", filter_fn ? filter_fn : "");
}

sluice_stream *sluice_stream_count_by_value_and_window(sluice_stream *s, int64_t window_ms,
						       int64_t slide_ms, int nparts,
						       sluice_error *err)
{
	char np[40];
	return applyf(s, err, "countByValueAndWindow(%lldms, %lldms%s)", (long long)window_ms,
		      (long long)slide_ms, nparts_arg(np, sizeof(np), nparts));
}

sluice_stream *sluice_stream_group_by_key_and_window(sluice_stream *s, int64_t window_ms,
						     int64_t slide_ms, int nparts,
						     sluice_error *err)
{
	char np[40], sl[40];
	return applyf(s, err, "groupByKeyAndWindow(%lldms%s%s)", (long long)window_ms,
		      slide_arg(sl, sizeof(sl), slide_ms), nparts_arg(np, sizeof(np), nparts));
}

sluice_stream *sluice_stream_update_state_by_key(sluice_stream *s, const char *fn,
						 const char *initial, int nparts, sluice_error *err)
{
	if (!fn)
		return sluice_stream_apply(NULL, NULL, err);
	char np[40];
	nparts_arg(np, sizeof(np), nparts);
	return applyf(s, err, "updateStateByKey(%s%s%s%s)", fn, np,
		      initial ? ", initialRDD = " : "", initial ? initial : "");
}

sluice_stream *sluice_stream_map_with_state(sluice_stream *s, const char *spec, sluice_error *err)
{
	if (!spec)
		return sluice_stream_apply(NULL, NULL, err);
	return applyf(s, err, "mapWithState(%s)", spec);
}

sluice_stream *sluice_stream_state_snapshots(sluice_stream *s, sluice_error *err)
{
	return sluice_stream_apply(s, "stateSnapshots()", err);
}

int sluice_stream_checkpoint(sluice_stream *s, int64_t interval_ms, sluice_error *err)
{
	char call[64];
	snprintf(call, sizeof(call), "checkpoint(%lldms)", (long long)interval_ms);
	sluice_stream *r = sluice_stream_apply(s, call, err);
	return r ? 0 : (err && err->code ? err->code : -EINVAL);
}
