/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build.c - turn a parsed pipeline program into DStreams and outputs.
 *
 * A statement is `val name = <stream expression>` or an expression, usually a chain that
 * ends in an output operation. Sources are calls of a bare name (`queueStream(...)`,
 * optionally written `ssc.queueStream(...)`); operators are method calls on streams.
 * Every error names the position of the offending name or argument, and an unknown
 * name gets the nearest valid one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "context.h"
#include "parse.h"
#include "shuffle.h"
#include "state.h"
#include "window.h"

enum opk {
	K_FN,       /* one function argument */
	K_FN_N,     /* function [, numPartitions] */
	K_N,        /* [numPartitions] */
	K_NREQ,     /* numPartitions */
	K_NONE,     /* no arguments */
	K_STREAM,   /* other stream */
	K_STREAM_N, /* other stream [, numPartitions] */
	K_PRINT,
	K_SAVE,
	K_SAME,
	K_CALLBACK,
	K_WIN,   /* window and state operators: their own argument rules (window_op) */
	K_LATER, /* Spark has it; sluice does not yet */
};

struct opdef {
	const char *name;
	int k;
	int kind, sub;
};

static const struct opdef ops[] = {
    {"map", K_FN, SL_DS_MAP, 0},
    {"flatMap", K_FN, SL_DS_FLATMAP, 0},
    {"filter", K_FN, SL_DS_FILTER, 0},
    {"mapValues", K_FN, SL_DS_MAPVALUES, 0},
    {"flatMapValues", K_FN, SL_DS_FLATMAPVALUES, 0},
    {"reduce", K_FN, SL_DS_REDUCE, 0},
    {"reduceByKey", K_FN_N, SL_DS_REDUCEBYKEY, 0},
    {"count", K_NONE, SL_DS_COUNT, 0},
    {"countByValue", K_N, SL_DS_COUNTBYVALUE, 0},
    {"groupByKey", K_N, SL_DS_GROUPBYKEY, 0},
    {"repartition", K_NREQ, SL_DS_REPARTITION, 0},
    {"union", K_STREAM, SL_DS_UNION, 0},
    {"join", K_STREAM_N, SL_DS_JOIN, SL_JOIN_INNER},
    {"leftOuterJoin", K_STREAM_N, SL_DS_JOIN, SL_JOIN_LEFT},
    {"rightOuterJoin", K_STREAM_N, SL_DS_JOIN, SL_JOIN_RIGHT},
    {"fullOuterJoin", K_STREAM_N, SL_DS_JOIN, SL_JOIN_FULL},
    {"cogroup", K_STREAM_N, SL_DS_COGROUP, 0},
    {"print", K_PRINT, 0, 0},
    {"saveAsTextFiles", K_SAVE, 0, 0},
    {"persist", K_SAME, 0, 0},
    {"cache", K_SAME, 0, 0},
    {"transform", K_CALLBACK, 0, 0},
    {"foreachRDD", K_CALLBACK, 0, 0},
    {"foreachBatch", K_CALLBACK, 0, 0},
    {"window", K_WIN, 0, 0},
    {"countByWindow", K_WIN, 0, 0},
    {"reduceByWindow", K_WIN, 0, 0},
    {"reduceByKeyAndWindow", K_WIN, 0, 0},
    {"countByValueAndWindow", K_WIN, 0, 0},
    {"groupByKeyAndWindow", K_WIN, 0, 0},
    {"updateStateByKey", K_WIN, 0, 0},
    {"mapWithState", K_WIN, 0, 0},
    {"stateSnapshots", K_WIN, 0, 0},
    {"checkpoint", K_WIN, 0, 0},
    {NULL, 0, 0, 0},
};

/* Sources Spark has that sluice does not (yet): a clear error instead of "unknown". */
static const char *later_sources[] = {"kafkaStream", "fileStream", "rawSocketStream", NULL};

struct bctx {
	sluice_context *ctx;
	sluice_error *err;
	sl_dstream *self; /* sl_build_apply: the stream named SL_API_SELF, or NULL */
};

/* The name sl_build_apply binds its stream to: no program can write it. */
#define SL_API_SELF "__api_self"

struct val {
	int kind; /* 0 nothing (output op), 1 stream */
	sl_dstream *s;
};

static int at(sluice_error *err, const sl_ast *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int at(sluice_error *err, const sl_ast *a, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	va_start(ap, fmt);
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (a) {
		err->line = a->nline ? a->nline : a->line;
		err->col = a->nline ? a->ncol : a->col;
	}
	return code;
}

static int eval(struct bctx *b, const sl_ast *a, struct val *out);

static const char **all_names(sluice_context *ctx)
{
	size_t n = 0;
	for (const struct opdef *o = ops; o->name; o++)
		n++;
	for (const sl_source_def *d = sl_source_defs; d->name; d++)
		n++;
	n += (size_t)ctx->nnames + 4;
	const char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (const struct opdef *o = ops; o->name; o++)
		v[k++] = o->name;
	for (const sl_source_def *d = sl_source_defs; d->name; d++)
		v[k++] = d->name;
	for (const char **s = later_sources; *s; s++)
		v[k++] = *s;
	for (int i = 0; i < ctx->nnames; i++)
		v[k++] = ctx->names[i].name;
	return v;
}

static int unknown(struct bctx *b, const sl_ast *where, const char *what, const char *name)
{
	const char **cand = all_names(b->ctx);
	const char *near = cand ? sl_nearest_name(name, cand) : NULL;
	int rc;
	if (near)
		rc = at(b->err, where, -EINVAL, "unknown %s '%s'; did you mean '%s'?", what, name,
			near);
	else
		rc = at(b->err, where, -EINVAL, "unknown %s '%s'", what, name);
	free(cand);
	return rc;
}

/* A constant argument of a source call. */
static int const_arg(struct bctx *b, const sl_ast *a, sl_arg *out)
{
	memset(out, 0, sizeof(*out));
	if (a->kind == SL_AST_NAMED) {
		out->name = a->name;
		out->line = a->line;
		out->col = a->col;
		a = a->kid[0];
	} else {
		out->line = a->line;
		out->col = a->col;
	}
	int neg = 0;
	if (a->kind == SL_AST_UNARY && a->op == SL_OP_NEG)
		neg = 1, a = a->kid[0];
	switch (a->kind) {
	case SL_AST_STRING:
		if (neg)
			break;
		if (memchr(a->str, 0, a->slen))
			return at(b->err, a, -EINVAL,
				  "a NUL byte in a string argument is not allowed");
		out->kind = SL_ARG_STR;
		out->s = a->str;
		return 0;
	case SL_AST_INT:
		out->kind = SL_ARG_INT;
		out->i = neg ? -a->ival : a->ival;
		return 0;
	case SL_AST_DURATION:
		out->kind = SL_ARG_DURATION;
		out->i = neg ? -a->ival : a->ival; /* the source's range check names it */
		return 0;
	case SL_AST_FLOAT:
		out->kind = SL_ARG_FLOAT;
		out->f = neg ? -a->fval : a->fval;
		return 0;
	case SL_AST_BOOL:
		if (neg)
			break;
		out->kind = SL_ARG_BOOL;
		out->i = a->ival;
		return 0;
	default: break;
	}
	return at(b->err, a, -EINVAL, "expected a constant (string, number or duration) here");
}

/* The named streams (val s = ...) are looked up through a hash index, so a program of many
 * vals builds in linear time. */
static size_t name_slot(const char *name, size_t mask)
{
	return (size_t)XXH3_64bits(name, strlen(name)) & mask;
}

/* The index of name in ctx->names, or -1. */
static int name_find(const sluice_context *ctx, const char *name)
{
	if (!ctx->name_ixcap)
		return -1;
	size_t mask = ctx->name_ixcap - 1;
	for (size_t j = name_slot(name, mask); ctx->name_ix[j]; j = (j + 1) & mask)
		if (!strcmp(ctx->names[ctx->name_ix[j] - 1].name, name))
			return ctx->name_ix[j] - 1;
	return -1;
}

/* Index ctx->names[i] (the last one added), growing the index to keep it under half full.
 * 0 or -ENOMEM (the index then lacks the name: the caller drops it). */
static int name_index(sluice_context *ctx, int i)
{
	if (2 * ((size_t)i + 1) >= ctx->name_ixcap) {
		size_t cap = ctx->name_ixcap ? ctx->name_ixcap * 2 : 16;
		int *ix = calloc(cap, sizeof(*ix));
		if (!ix)
			return -ENOMEM;
		free(ctx->name_ix);
		ctx->name_ix = ix;
		ctx->name_ixcap = cap;
		for (int k = 0; k < i; k++) {
			size_t j = name_slot(ctx->names[k].name, cap - 1);
			while (ix[j])
				j = (j + 1) & (cap - 1);
			ix[j] = k + 1;
		}
	}
	size_t mask = ctx->name_ixcap - 1, j = name_slot(ctx->names[i].name, mask);
	while (ctx->name_ix[j])
		j = (j + 1) & mask;
	ctx->name_ix[j] = i + 1;
	return 0;
}

static int source_call(struct bctx *b, const sl_ast *call, const sl_ast *name_node,
		       const char *name, struct val *out)
{
	const sl_source_def *def = NULL;
	for (const sl_source_def *d = sl_source_defs; d->name; d++)
		if (!strcmp(d->name, name))
			def = d;
	if (!def) {
		for (const char **s = later_sources; *s; s++)
			if (!strcmp(*s, name))
				return at(b->err, name_node, -ENOTSUP,
					  "source '%s' is not implemented yet (available: "
					  "queueStream, textFile, generator)",
					  name);
		for (const struct opdef *o = ops; o->name; o++)
			if (!strcmp(o->name, name))
				return at(
				    b->err, name_node, -EINVAL,
				    "'%s' is an operator: call it on a stream, like s.%s(...)",
				    name, name);
		return unknown(b, name_node, "source", name);
	}
	int nargs = call ? call->nkid - 1 : 0;
	sl_arg args[16];
	if (nargs > 16)
		return at(b->err, call, -EINVAL, "%s: too many arguments", name);
	for (int i = 0; i < nargs; i++)
		if (const_arg(b, call->kid[i + 1], &args[i]))
			return b->err ? b->err->code : -EINVAL;
	sluice_error e = {0};
	sl_source *src = def->make(&b->ctx->env, args, nargs, &e);
	if (!src) {
		if (b->err) {
			*b->err = e;
			if (!e.line) {
				b->err->line =
				    name_node->nline ? name_node->nline : name_node->line;
				b->err->col = name_node->nline ? name_node->ncol : name_node->col;
			}
		}
		return e.code ? e.code : -EINVAL;
	}
	sl_dstream *d = sl_ds_source(&b->ctx->g, src, b->err);
	if (!d)
		return -ENOMEM;
	d->line = name_node->nline ? name_node->nline : name_node->line;
	d->col = name_node->nline ? name_node->ncol : name_node->col;
	out->kind = 1;
	out->s = d;
	return 0;
}

static int int_arg(struct bctx *b, const sl_ast *a, const char *what, int64_t lo, int64_t *v)
{
	if (a->kind == SL_AST_NAMED)
		a = a->kid[0];
	if (a->kind != SL_AST_INT || a->ival < lo || a->ival > 1 << 20)
		return at(b->err, a, -EINVAL, "%s must be an integer from %lld to %d", what,
			  (long long)lo, 1 << 20);
	*v = a->ival;
	return 0;
}

static int str_arg(struct bctx *b, const sl_ast *a, const char *what, const char **v)
{
	if (a->kind == SL_AST_NAMED)
		a = a->kid[0];
	if (a->kind != SL_AST_STRING || memchr(a->str, 0, a->slen))
		return at(b->err, a, -EINVAL, "%s must be a string", what);
	*v = a->str;
	return 0;
}

static int stream_arg(struct bctx *b, const sl_ast *a, sl_dstream **s)
{
	struct val v = {0};
	int rc = eval(b, a, &v);
	if (rc)
		return rc;
	if (v.kind != 1)
		return at(b->err, a, -EINVAL, "expected a stream here, found an output operation");
	*s = v.s;
	return 0;
}

/* A duration argument: 2s, 500ms, Seconds(2), Milliseconds(500), Minutes(1),
 * Durations.seconds(2). 1 and *ms set; 0 if a is not written as a duration. */
static int dur_arg(const sl_ast *a, int64_t *ms)
{
	static const struct {
		const char *name;
		int64_t unit;
	} units[] = {
	    {"Milliseconds", 1}, {"Seconds", 1000},  {"Minutes", 60000}, {"milliseconds", 1},
	    {"seconds", 1000},   {"minutes", 60000}, {NULL, 0}};
	if (a->kind == SL_AST_NAMED)
		a = a->kid[0];
	if (a->kind == SL_AST_UNARY && a->op == SL_OP_NEG && dur_arg(a->kid[0], ms)) {
		*ms = -*ms; /* -2s: a negative duration, for the callers to refuse by name */
		return 1;
	}
	if (a->kind == SL_AST_DURATION) {
		*ms = a->ival;
		return 1;
	}
	if (a->kind != SL_AST_CALL || a->nkid != 2)
		return 0;
	const sl_ast *f = a->kid[0], *v = a->kid[1];
	const char *name = f->kind == SL_AST_IDENT ? f->name
			   : f->kind == SL_AST_FIELD && f->kid[0]->kind == SL_AST_IDENT &&
				   !strcmp(f->kid[0]->name, "Durations")
			       ? f->name
			       : NULL;
	int neg = v->kind == SL_AST_UNARY && v->op == SL_OP_NEG;
	if (neg)
		v = v->kid[0]; /* Seconds(-2): negative, for the callers to refuse */
	for (int i = 0; name && units[i].name; i++)
		if (!strcmp(name, units[i].name) && v->kind == SL_AST_INT) {
			/* out of range (past 10^12 ms, as a duration literal): INT64_MAX, which
			 * every caller refuses as too long, instead of an overflowed product */
			*ms = v->ival > (int64_t)1000000000000 / units[i].unit
				  ? INT64_MAX
				  : v->ival * units[i].unit;
			if (neg)
				*ms = -*ms;
			return 1;
		}
	return 0;
}

static int is_fn_arg(const sl_ast *a)
{
	return a->kind == SL_AST_LAMBDA || sl_ast_placeholders(a) > 0;
}

/*
 * The window and state operators, Spark's overloads:
 *   window(W[, S])                    countByWindow(W, S)
 *   reduceByWindow(f, W, S)           reduceByWindow(f, invF, W, S)
 *   reduceByKeyAndWindow(f, W[, S][, numPartitions])
 *   reduceByKeyAndWindow(f, invF, W, S[, numPartitions][, filterFunc])
 *   countByValueAndWindow(W, S[, numPartitions])   groupByKeyAndWindow(W[, S][, numPartitions])
 *   updateStateByKey(f[, numPartitions][, initialRDD])
 *   mapWithState(StateSpec.function(f)[.initialState(s)][.timeout(d)][.numPartitions(n)]
 *                [.timeoutEveryBatch()])
 *   stateSnapshots()                  checkpoint(interval)
 */
static int window_op(struct bctx *b, const char *name, sl_dstream *p, const sl_ast *const *args,
		     int nargs, const sl_ast *field, sl_dstream **out)
{
	sluice_error *err = b->err;
	const sl_ast *fn[3] = {NULL, NULL, NULL};
	int nfn = 0, ndur = 0, nint = 0;
	int64_t dur[2] = {0, 0}, nparts = 0;
	const sl_ast *initial = NULL, *spec = NULL;
	sl_dstream *d = NULL;
	int is_state = !strcmp(name, "updateStateByKey") || !strcmp(name, "mapWithState");
	for (int i = 0; i < nargs; i++) {
		const sl_ast *a = args[i], *v = a->kind == SL_AST_NAMED ? a->kid[0] : a;
		int64_t ms;
		const char *an = a->kind == SL_AST_NAMED ? a->name : NULL;
		if (an && (!strcmp(an, "initialRDD") || !strcmp(an, "initialState"))) {
			initial = v;
		} else if (an && !strcmp(an, "numPartitions")) {
			if (int_arg(b, v, "numPartitions", 1, &nparts))
				return -EINVAL;
		} else if (an && !strcmp(an, "filterFunc")) {
			fn[2] = v;
		} else if (dur_arg(a, &ms)) {
			if (ndur == 2)
				return at(err, a, -EINVAL, "%s: too many durations", name);
			if (ms <= 0)
				return at(err, a, -EINVAL, "%s: a duration must be positive", name);
			if (ms > (int64_t)1000000000000)
				return at(err, a, -EINVAL,
					  "%s: duration out of range (at most 10^12 ms)", name);
			dur[ndur++] = ms;
		} else if (v->kind == SL_AST_INT) {
			if (ndur == 0 && !is_state && strcmp(name, "checkpoint"))
				return at(err, a, -EINVAL,
					  "%s: a duration needs a unit here (2s, 500ms) or "
					  "Seconds(2)",
					  name);
			if (int_arg(b, v, "numPartitions", 1, &nparts))
				return -EINVAL;
			nint++;
		} else if (!strcmp(name, "mapWithState") && !spec) {
			spec = v;
		} else if (is_fn_arg(v)) {
			if (ndur && !fn[2] && nfn >= 1)
				fn[2] = v; /* filterFunc after the durations */
			else if (nfn < 2 && !ndur)
				fn[nfn++] = v;
			else
				return at(err, a, -EINVAL, "%s: unexpected function argument",
					  name);
		} else if (is_state && !initial) {
			initial = v;
		} else {
			return at(
			    err, a, -EINVAL,
			    "%s: expected a function, a duration (2s, Seconds(2)) or a number "
			    "of partitions here",
			    name);
		}
	}
	(void)nint;
	sl_win_spec ws = {.W = dur[0], .S = dur[1], .nparts = (int)nparts, .opname = name};
	const char *usage = NULL;
	int keyed = !strcmp(name, "countByWindow") || !strcmp(name, "reduceByWindow") ||
		    !strcmp(name, "reduceByKeyAndWindow") ||
		    !strcmp(name, "countByValueAndWindow") || !strcmp(name, "groupByKeyAndWindow");
	if (!strcmp(name, "window")) {
		if (nfn || ndur < 1 || nparts)
			usage = "window(windowDuration[, slideDuration])";
		else
			d = sl_ds_window(p, dur[0], dur[1], err);
	} else if (!strcmp(name, "countByWindow")) {
		if (nfn || ndur != 2 || nparts)
			usage = "countByWindow(windowDuration, slideDuration)";
		ws.mode = SL_WIN_CONST;
	} else if (!strcmp(name, "reduceByWindow")) {
		if (nfn < 1 || ndur != 2 || nparts || fn[2])
			usage = "reduceByWindow(f[, invF], windowDuration, slideDuration)";
		ws.mode = SL_WIN_CONST;
		ws.f = fn[0];
		ws.inv = fn[1];
	} else if (!strcmp(name, "reduceByKeyAndWindow")) {
		if (nfn < 1 || ndur < 1 || (nfn == 2 && ndur != 2) || (fn[2] && nfn != 2))
			usage = "reduceByKeyAndWindow(f, windowDuration[, slideDuration][, "
				"numPartitions]) or reduceByKeyAndWindow(f, invF, windowDuration, "
				"slideDuration[, numPartitions][, filterFunc])";
		ws.mode = SL_WIN_PAIRS;
		ws.f = fn[0];
		ws.inv = fn[1];
		ws.filter = fn[2];
	} else if (!strcmp(name, "countByValueAndWindow")) {
		if (nfn || ndur != 2)
			usage = "countByValueAndWindow(windowDuration, slideDuration[, "
				"numPartitions])";
		ws.mode = SL_WIN_VALUE;
		ws.drop_zero = 1;
	} else if (!strcmp(name, "groupByKeyAndWindow")) {
		if (nfn || ndur < 1)
			usage = "groupByKeyAndWindow(windowDuration[, slideDuration][, "
				"numPartitions])";
		ws.mode = SL_WIN_GROUP;
	} else if (!strcmp(name, "updateStateByKey")) {
		if (nfn != 1 || ndur || fn[2])
			usage = "updateStateByKey(f[, numPartitions][, initialRDD = Seq((k, s), "
				"...)])";
		else {
			sl_state_spec ss = {.f = fn[0], .initial = initial, .nparts = (int)nparts};
			d = sl_ds_update_state(p, &ss, err);
		}
	} else if (!strcmp(name, "mapWithState")) {
		sl_state_spec ss = {.nparts = (int)nparts};
		/* StateSpec.function(f).initialState(s).timeout(d).numPartitions(n) */
		const sl_ast *c = spec;
		while (c && c->kind == SL_AST_CALL && c->kid[0]->kind == SL_AST_FIELD) {
			const sl_ast *m = c->kid[0];
			const char *mn = m->name;
			int64_t ms = 0;
			if (!strcmp(mn, "function") && c->nkid == 2) {
				ss.f = c->kid[1];
				if (m->kid[0]->kind != SL_AST_IDENT ||
				    strcmp(m->kid[0]->name, "StateSpec"))
					return at(err, m, -EINVAL,
						  "expected StateSpec.function(f)");
				break;
			} else if (!strcmp(mn, "initialState") && c->nkid == 2) {
				ss.initial = c->kid[1];
			} else if (!strcmp(mn, "timeout")) {
				if (c->nkid != 2 || !dur_arg(c->kid[1], &ms) || ms <= 0 ||
				    ms > (int64_t)1000000000000)
					return at(err, c->nkid == 2 ? c->kid[1] : m, -EINVAL,
						  "timeout takes one positive duration (2s, "
						  "Seconds(2)) of at most 10^12 ms");
				ss.timeout = ms;
			} else if (!strcmp(mn, "numPartitions") && c->nkid == 2) {
				if (int_arg(b, c->kid[1], "numPartitions", 1, &nparts))
					return -EINVAL;
				ss.nparts = (int)nparts;
			} else if (!strcmp(mn, "timeoutEveryBatch")) {
				if (c->nkid != 1)
					return at(err, m, -EINVAL,
						  "timeoutEveryBatch takes no argument");
				ss.every_batch = 1;
			} else {
				return at(err, m, -EINVAL,
					  "unknown StateSpec setting '%s' (function, initialState, "
					  "timeout(duration), numPartitions, timeoutEveryBatch)",
					  mn);
			}
			c = m->kid[0];
		}
		if (!ss.f || nfn || ndur)
			usage = "mapWithState(StateSpec.function((key, value, state) => "
				"...)[.initialState(Seq(...))][.timeout(duration)])";
		else
			d = sl_ds_map_with_state(p, &ss, err);
	} else if (!strcmp(name, "stateSnapshots")) {
		if (nargs)
			usage = "stateSnapshots()";
		else
			d = sl_ds_state_snapshots(p, err);
	} else if (!strcmp(name, "checkpoint")) {
		if (ndur != 1 || nfn || nargs != 1)
			usage = "checkpoint(interval)";
		else if (sl_ds_set_checkpoint(p, dur[0], err))
			return at(err, field, -EINVAL, "%s", err ? strdupa(err->msg) : "");
		else
			d = p;
	}
	if (usage)
		return at(err, field, -EINVAL, "%s: expected %s", name, usage);
	if (keyed)
		d = sl_ds_keyed_window(p, &ws, err);
	if (!d) {
		if (err && !err->line) {
			err->line = field->nline ? field->nline : field->line;
			err->col = field->nline ? field->ncol : field->col;
		}
		return err && err->code ? err->code : -EINVAL;
	}
	if (d != p) {
		d->line = field->nline ? field->nline : field->line;
		d->col = field->nline ? field->ncol : field->col;
	}
	*out = d;
	return 0;
}

static int method(struct bctx *b, const sl_ast *call, const sl_ast *field, struct val *out)
{
	const char *name = field->name;
	const sl_ast *obj = field->kid[0];
	/* ssc.queueStream(...) / streamingContext.textFile(...) */
	if (obj->kind == SL_AST_IDENT && (!strcmp(obj->name, "ssc") || !strcmp(obj->name, "sc") ||
					  !strcmp(obj->name, "streamingContext"))) {
		if (name_find(b->ctx, obj->name) < 0)
			return source_call(b, call, field, name, out);
	}
	const struct opdef *op = NULL;
	for (const struct opdef *o = ops; o->name; o++)
		if (!strcmp(o->name, name))
			op = o;
	if (!op) {
		for (const sl_source_def *d = sl_source_defs; d->name; d++)
			if (!strcmp(d->name, name))
				return at(b->err, field, -EINVAL,
					  "'%s' is a source: write %s(...) on its own", name, name);
		return unknown(b, field, "operator", name);
	}
	struct val self = {0};
	int rc = eval(b, obj, &self);
	if (rc)
		return rc;
	if (self.kind != 1)
		return at(b->err, field, -EINVAL,
			  "%s needs a stream on its left, found an output operation", name);
	const sl_ast *const *args = call ? (const sl_ast *const *)call->kid + 1 : NULL;
	int nargs = call ? call->nkid - 1 : 0;
	int maxa = 0, mina = 0;
	switch (op->k) {
	case K_FN: mina = maxa = 1; break;
	case K_FN_N: mina = 1, maxa = 2; break;
	case K_N: maxa = 1; break;
	case K_NREQ: mina = maxa = 1; break;
	case K_NONE:
	case K_SAME: break;
	case K_STREAM: mina = maxa = 1; break;
	case K_STREAM_N: mina = 1, maxa = 2; break;
	case K_PRINT: maxa = 1; break;
	case K_SAVE: mina = 1, maxa = 2; break;
	case K_CALLBACK:
		return at(b->err, field, -EINVAL,
			  "%s needs C code: use sluice_stream_%s() in the library API", name,
			  strcmp(name, "transform") ? "foreach_batch" : "transform");
	case K_LATER: return at(b->err, field, -ENOTSUP, "%s is not implemented yet", name);
	case K_WIN: {
		sl_dstream *w = NULL;
		if ((rc = window_op(b, name, self.s, args, nargs, field, &w)))
			return rc;
		out->kind = 1;
		out->s = w;
		return 0;
	}
	}
	if (nargs < mina || nargs > maxa) {
		if (mina == maxa)
			return at(b->err, field, -EINVAL, "%s takes %d argument(s), found %d", name,
				  mina, nargs);
		return at(b->err, field, -EINVAL, "%s takes %d to %d arguments, found %d", name,
			  mina, maxa, nargs);
	}
	int64_t n = 0;
	sl_dstream *d = NULL, *other = NULL;
	sluice_error *err = b->err;
	switch (op->k) {
	case K_FN:
	case K_FN_N:
		if (nargs == 2 && int_arg(b, args[1], "numPartitions", 1, &n))
			return -EINVAL;
		if (args[0]->kind == SL_AST_NAMED)
			return at(err, args[0], -EINVAL,
				  "%s takes a function, not a named argument", name);
		d = sl_ds_unary_fn(self.s, op->kind, args[0], (int)n, err);
		if (!d && err && !err->line) {
			err->line = field->nline ? field->nline : field->line;
			err->col = field->nline ? field->ncol : field->col;
		}
		break;
	case K_N:
	case K_NREQ:
	case K_NONE:
		if (nargs == 1 && int_arg(b, args[0], "numPartitions", 1, &n))
			return -EINVAL;
		d = sl_ds_unary(self.s, op->kind, (int)n, err);
		break;
	case K_STREAM:
	case K_STREAM_N:
		if ((rc = stream_arg(b, args[0], &other)))
			return rc;
		if (nargs == 2 && int_arg(b, args[1], "numPartitions", 1, &n))
			return -EINVAL;
		d = sl_ds_binary(self.s, other, op->kind, op->sub, (int)n, err);
		break;
	case K_SAME:
		out->kind = 1;
		out->s = self.s;
		return 0;
	case K_PRINT: {
		n = 10;
		if (nargs == 1 && int_arg(b, args[0], "print's num", 0, &n))
			return -EINVAL;
		sl_output o = {.kind = SL_OUT_PRINT, .s = self.s, .num = n};
		out->kind = 0;
		return sl_graph_add_output(&b->ctx->g, &o, err);
	}
	case K_SAVE: {
		const char *prefix = NULL, *suffix = "";
		if (str_arg(b, args[0], "prefix", &prefix) ||
		    (nargs == 2 && str_arg(b, args[1], "suffix", &suffix)))
			return -EINVAL;
		sl_output o = {.kind = SL_OUT_SAVE_TEXT,
			       .s = self.s,
			       .prefix = (char *)prefix,
			       .suffix = (char *)suffix};
		out->kind = 0;
		return sl_graph_add_output(&b->ctx->g, &o, err);
	}
	}
	if (!d) {
		if (err && !err->line) {
			err->line = field->nline ? field->nline : field->line;
			err->col = field->nline ? field->ncol : field->col;
		}
		return err && err->code ? err->code : -EINVAL;
	}
	d->line = field->nline ? field->nline : field->line;
	d->col = field->nline ? field->ncol : field->col;
	out->kind = 1;
	out->s = d;
	return 0;
}

static int eval(struct bctx *b, const sl_ast *a, struct val *out)
{
	switch (a->kind) {
	case SL_AST_IDENT: {
		int i = name_find(b->ctx, a->name);
		if (i >= 0 || (b->self && !strcmp(a->name, SL_API_SELF))) {
			out->kind = 1;
			out->s = i >= 0 ? b->ctx->names[i].s : b->self;
			return 0;
		}
		for (const sl_source_def *d = sl_source_defs; d->name; d++)
			if (!strcmp(d->name, a->name))
				return at(b->err, a, -EINVAL, "%s needs arguments: %s", a->name,
					  d->usage);
		return unknown(b, a, "name", a->name);
	}
	case SL_AST_CALL: {
		const sl_ast *f = a->kid[0];
		if (f->kind == SL_AST_IDENT)
			return source_call(b, a, f, f->name, out);
		return method(b, a, f, out);
	}
	case SL_AST_FIELD: return method(b, NULL, a, out);
	default:
		return at(
		    b->err, a, -EINVAL,
		    "expected a stream (a source such as queueStream(...) or a named stream)");
	}
}

int sl_build(sluice_context *ctx, const char *text, size_t len, sluice_error *err)
{
	sl_program *p = sl_parse(text, len, err);
	if (!p)
		return err && err->code ? err->code : -EINVAL;
	struct bctx b = {ctx, err, NULL};
	int rc = 0;
	for (int i = 0; i < p->nstmt && !rc; i++) {
		sl_stmt *st = &p->stmt[i];
		struct val v = {0};
		rc = eval(&b, st->expr, &v);
		if (rc || !st->name)
			continue;
		if (v.kind != 1) {
			rc = at(err, st->expr, -EINVAL,
				"val %s: the right side is an output operation, not a stream",
				st->name);
			break;
		}
		if (name_find(ctx, st->name) >= 0) {
			rc = at(err, st->expr, -EINVAL, "val %s is already defined", st->name);
			break;
		}
		if (ctx->nnames == ctx->capnames) {
			int n = ctx->capnames ? ctx->capnames * 2 : 8;
			struct sl_name *nv = realloc(ctx->names, (size_t)n * sizeof(*nv));
			if (!nv) {
				rc = at(err, NULL, -ENOMEM, "out of memory");
				break;
			}
			ctx->names = nv;
			ctx->capnames = n;
		}
		ctx->names[ctx->nnames].name = strdup(st->name);
		if (!ctx->names[ctx->nnames].name || name_index(ctx, ctx->nnames)) {
			free(ctx->names[ctx->nnames].name);
			rc = at(err, NULL, -ENOMEM, "out of memory");
			break;
		}
		ctx->names[ctx->nnames++].s = v.s;
	}
	if (rc && err && err->line)
		sl_error_context(err, text, len, err->line, err->col);
	sl_program_free(p);
	return rc;
}

int sluice_context_pipeline(sluice_context *ctx, const char *text, size_t len, sluice_error *err)
{
	if (ctx->state != 0) {
		sl_error_set(err, -EINVAL,
			     "streams and outputs can only be added before the context starts");
		return -EINVAL;
	}
	if (err)
		memset(err, 0, sizeof(*err));
	return sl_build(ctx, text, len, err);
}

/*
 * Apply one operator call written in the pipeline language (`reduceByKeyAndWindow(_ + _, 5s,
 * 1s)`) to stream s: the call is parsed as `<s>.call` with s bound to a name no program can
 * write. Output operations are refused (the API has its own).
 */
sl_dstream *sl_build_apply(sluice_context *ctx, sl_dstream *s, const char *call, sluice_error *err)
{
	static const char self[] = SL_API_SELF;
	if (err)
		memset(err, 0, sizeof(*err));
	size_t n = strlen(call) + sizeof(self) + 1;
	char *text = malloc(n);
	if (!text) {
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(text, n, "%s.%s", self, call);
	sl_program *p = sl_parse(text, strlen(text), err);
	sl_dstream *d = NULL;
	if (p && (p->nstmt != 1 || p->stmt[0].name)) {
		sl_error_set(err, -EINVAL, "expected one operator call, like window(2s, 1s)");
	} else if (p) {
		struct bctx b = {ctx, err, s};
		struct val v = {0};
		int rc = eval(&b, p->stmt[0].expr, &v);
		if (!rc && v.kind != 1)
			rc = at(err, p->stmt[0].expr, -EINVAL,
				"an output operation: use sluice_stream_print and friends");
		if (!rc)
			d = v.s;
		else if (err && err->line)
			sl_error_context(err, text, strlen(text), err->line, err->col);
	}
	sl_program_free(p);
	free(text);
	return d;
}

sluice_stream *sluice_context_stream(sluice_context *ctx, const char *name)
{
	int i = name ? name_find(ctx, name) : -1;
	return i >= 0 ? (sluice_stream *)ctx->names[i].s : NULL;
}
