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

#include "args.h"
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

#define OP_MAXP 6

/*
 * An operator: its parameters by Spark's names, in Spark's order, for sl_args_bind (named
 * arguments bind to these), and its usage as docs/pipeline-language.md writes it. A
 * parameter of kind SL_ARG_EXPR is checked where it is used (a function compiled by the
 * operator, a stream evaluated here).
 */
struct opdef {
	const char *name;
	int k;
	int kind, sub;
	const char *usage;
	sl_param ps[OP_MAXP]; /* the unused ones have no name */
};

/* One operator a line (two or three for the long ones). */
/* clang-format off */
#define P_FN(n, need)  {n, SL_ARG_FN, SL_PARAM_##need}
#define P_DUR(n, need) {n, SL_ARG_DURATION, SL_PARAM_##need}
#define P_INT(n, need) {n, SL_ARG_INT, SL_PARAM_##need}
#define P_STR(n, need) {n, SL_ARG_STR, SL_PARAM_##need}
#define P_ANY(n, need) {n, SL_ARG_EXPR, SL_PARAM_##need}
#define P_NPARTS       P_INT("numPartitions", OPTIONAL)
#define P_WINDOW       P_DUR("windowDuration", REQUIRED)

static const struct opdef ops[] = {
    {"map", K_FN, SL_DS_MAP, 0, "map(mapFunc)", {P_ANY("mapFunc", REQUIRED)}},
    {"flatMap", K_FN, SL_DS_FLATMAP, 0, "flatMap(flatMapFunc)", {P_ANY("flatMapFunc", REQUIRED)}},
    {"filter", K_FN, SL_DS_FILTER, 0, "filter(filterFunc)", {P_ANY("filterFunc", REQUIRED)}},
    {"mapValues", K_FN, SL_DS_MAPVALUES, 0, "mapValues(mapValuesFunc)",
     {P_ANY("mapValuesFunc", REQUIRED)}},
    {"flatMapValues", K_FN, SL_DS_FLATMAPVALUES, 0, "flatMapValues(flatMapValuesFunc)",
     {P_ANY("flatMapValuesFunc", REQUIRED)}},
    {"reduce", K_FN, SL_DS_REDUCE, 0, "reduce(reduceFunc)", {P_ANY("reduceFunc", REQUIRED)}},
    {"reduceByKey", K_FN_N, SL_DS_REDUCEBYKEY, 0, "reduceByKey(reduceFunc[, numPartitions])",
     {P_ANY("reduceFunc", REQUIRED), P_NPARTS}},
    {"count", K_NONE, SL_DS_COUNT, 0, "count()", {{0}}},
    {"countByValue", K_N, SL_DS_COUNTBYVALUE, 0, "countByValue([numPartitions])", {P_NPARTS}},
    {"groupByKey", K_N, SL_DS_GROUPBYKEY, 0, "groupByKey([numPartitions])", {P_NPARTS}},
    {"repartition", K_NREQ, SL_DS_REPARTITION, 0, "repartition(numPartitions)",
     {P_INT("numPartitions", REQUIRED)}},
    {"union", K_STREAM, SL_DS_UNION, 0, "union(that)", {P_ANY("that", REQUIRED)}},
    {"join", K_STREAM_N, SL_DS_JOIN, SL_JOIN_INNER, "join(other[, numPartitions])",
     {P_ANY("other", REQUIRED), P_NPARTS}},
    {"leftOuterJoin", K_STREAM_N, SL_DS_JOIN, SL_JOIN_LEFT, "leftOuterJoin(other[, numPartitions])",
     {P_ANY("other", REQUIRED), P_NPARTS}},
    {"rightOuterJoin", K_STREAM_N, SL_DS_JOIN, SL_JOIN_RIGHT,
     "rightOuterJoin(other[, numPartitions])", {P_ANY("other", REQUIRED), P_NPARTS}},
    {"fullOuterJoin", K_STREAM_N, SL_DS_JOIN, SL_JOIN_FULL, "fullOuterJoin(other[, numPartitions])",
     {P_ANY("other", REQUIRED), P_NPARTS}},
    {"cogroup", K_STREAM_N, SL_DS_COGROUP, 0, "cogroup(other[, numPartitions])",
     {P_ANY("other", REQUIRED), P_NPARTS}},
    {"print", K_PRINT, 0, 0, "print([num])", {P_INT("num", OPTIONAL)}},
    {"saveAsTextFiles", K_SAVE, 0, 0, "saveAsTextFiles(prefix[, suffix])",
     {P_STR("prefix", REQUIRED), P_STR("suffix", OPTIONAL)}},
    {"persist", K_SAME, 0, 0, "persist()", {{0}}},
    {"cache", K_SAME, 0, 0, "cache()", {{0}}},
    {"transform", K_CALLBACK, 0, 0, NULL, {{0}}},
    {"foreachRDD", K_CALLBACK, 0, 0, NULL, {{0}}},
    {"foreachBatch", K_CALLBACK, 0, 0, NULL, {{0}}},
    {"window", K_WIN, 0, 0, "window(windowDuration[, slideDuration])",
     {P_WINDOW, P_DUR("slideDuration", OPTIONAL)}},
    {"countByWindow", K_WIN, 0, 0, "countByWindow(windowDuration, slideDuration)",
     {P_WINDOW, P_DUR("slideDuration", REQUIRED)}},
    /* Spark's overloads with and without invReduceFunc are one list each: a positional
     * argument passes over a SKIPPABLE parameter of another kind (core/args.h).
     * reduceByKeyAndWindow's usage keeps the f and invF of its docs' section. */
    {"reduceByWindow", K_WIN, 0, 0,
     "reduceByWindow(reduceFunc[, invReduceFunc], windowDuration, slideDuration)",
     {P_FN("reduceFunc", REQUIRED), P_FN("invReduceFunc", SKIPPABLE), P_WINDOW,
      P_DUR("slideDuration", REQUIRED)}},
    {"reduceByKeyAndWindow", K_WIN, 0, 0,
     "reduceByKeyAndWindow(f, windowDuration[, slideDuration][, numPartitions]) or "
     "reduceByKeyAndWindow(f, invF, windowDuration, slideDuration[, numPartitions][, filterFunc]); "
     "f is reduceFunc, invF invReduceFunc",
     {P_FN("reduceFunc", REQUIRED), P_FN("invReduceFunc", SKIPPABLE), P_WINDOW,
      P_DUR("slideDuration", SKIPPABLE), P_INT("numPartitions", SKIPPABLE),
      P_FN("filterFunc", OPTIONAL)}},
    {"countByValueAndWindow", K_WIN, 0, 0,
     "countByValueAndWindow(windowDuration, slideDuration[, numPartitions])",
     {P_WINDOW, P_DUR("slideDuration", REQUIRED), P_NPARTS}},
    {"groupByKeyAndWindow", K_WIN, 0, 0,
     "groupByKeyAndWindow(windowDuration[, slideDuration][, numPartitions])",
     {P_WINDOW, P_DUR("slideDuration", SKIPPABLE), P_NPARTS}},
    {"updateStateByKey", K_WIN, 0, 0,
     "updateStateByKey(updateFunc[, numPartitions][, initialRDD = Seq((k, s), ...)])",
     {P_FN("updateFunc", REQUIRED), P_INT("numPartitions", SKIPPABLE),
      P_ANY("initialRDD", OPTIONAL)}},
    {"mapWithState", K_WIN, 0, 0,
     "mapWithState(StateSpec.function((key, value, state) => ...)[.initialState(Seq(...))]"
     "[.timeout(duration)])",
     {P_ANY("spec", REQUIRED)}},
    {"stateSnapshots", K_WIN, 0, 0, "stateSnapshots()", {{0}}},
    {"checkpoint", K_WIN, 0, 0, "checkpoint(interval)", {P_DUR("interval", REQUIRED)}},
    {NULL, 0, 0, 0, NULL, {{0}}},
};
/* clang-format on */

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
	if (a->kind != SL_AST_INT || a->ival < lo || a->ival > 1 << 20)
		return at(b->err, a, -EINVAL, "%s must be an integer from %lld to %d", what,
			  (long long)lo, 1 << 20);
	*v = a->ival;
	return 0;
}

static int str_arg(struct bctx *b, const sl_ast *a, const char *what, const char **v)
{
	if (a->kind != SL_AST_STRING)
		return at(b->err, a, -EINVAL, "%s must be a string", what);
	if (memchr(a->str, 0, a->slen)) /* as a source's argument (const_arg) */
		return at(b->err, a, -EINVAL, "a NUL byte in a string argument is not allowed");
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

/* Argument a of an operator call as sl_args_bind sees it: its name, position and kind (and,
 * for a duration, its milliseconds in i). */
static void op_arg(const sl_ast *a, sl_arg *x)
{
	memset(x, 0, sizeof(*x));
	x->line = a->line;
	x->col = a->col;
	if (a->kind == SL_AST_NAMED) {
		x->name = a->name;
		a = a->kid[0];
	}
	int64_t ms;
	const sl_ast *mag = a->kind == SL_AST_UNARY && a->op == SL_OP_NEG ? a->kid[0] : a;
	if (dur_arg(a, &ms)) {
		x->kind = SL_ARG_DURATION;
		x->i = ms;
	} else if (mag->kind == SL_AST_INT) {
		x->kind = SL_ARG_INT; /* -1 too: int_arg refuses it by its range */
	} else if (a->kind == SL_AST_STRING) {
		x->kind = SL_ARG_STR;
	} else if (is_fn_arg(a)) {
		x->kind = SL_ARG_FN;
	} else {
		x->kind = SL_ARG_EXPR;
	}
}

/* sl_param_check for operators: unlike a source's, a bare number is not a duration. */
static const char *op_check(const sl_arg *a, const sl_param *p)
{
	if (p->kind == SL_ARG_EXPR || a->kind == p->kind)
		return NULL;
	switch (p->kind) {
	case SL_ARG_FN: return "must be a function (x => ..., _ + _)";
	case SL_ARG_DURATION:
		if (a->kind == SL_ARG_INT)
			return "must be a duration: a duration needs a unit here (2s, 500ms) or "
			       "Seconds(2)";
		return "must be a duration (2s, 500ms, Seconds(2))";
	case SL_ARG_INT: return "must be an integer";
	case SL_ARG_STR: return "must be a string";
	default: return "has the wrong kind";
	}
}

/* An operator call, its arguments bound to the operator's parameters. */
struct opcall {
	const struct opdef *op;
	const sl_ast *field;      /* the operator's name: where errors about the call point */
	const sl_ast *v[OP_MAXP]; /* per parameter, the value given (inside `name = `) or NULL */
	int64_t ms[OP_MAXP];      /* per duration parameter given, its milliseconds */
};

/* The value given for c's parameter pname, or NULL; for a duration, *ms too (ms may be NULL). */
static const sl_ast *param(const struct opcall *c, const char *pname, int64_t *ms)
{
	for (int i = 0; i < OP_MAXP && c->op->ps[i].name; i++)
		if (!strcmp(c->op->ps[i].name, pname)) {
			if (ms && c->v[i])
				*ms = c->ms[i];
			return c->v[i];
		}
	return NULL;
}

/*
 * Bind args[0..nargs) of a call of op to its parameters, by position then by Spark's names
 * (core/args.h), and check the durations' ranges. 0, or -EINVAL with b->err naming the
 * parameter and pointing at the argument (at the operator for a missing one).
 */
static int bind_call(struct bctx *b, const struct opdef *op, const sl_ast *field,
		     const sl_ast *const *args, int nargs, struct opcall *c)
{
	sl_arg av[16];
	const sl_arg *bound[OP_MAXP];
	int np = 0;
	while (np < OP_MAXP && op->ps[np].name)
		np++;
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->field = field;
	if (nargs > 16)
		return at(b->err, field, -EINVAL, "%s: too many arguments (usage: %s)", op->name,
			  op->usage);
	for (int i = 0; i < nargs; i++)
		op_arg(args[i], &av[i]);
	if (sl_args_bind(op->name, op->ps, np, av, nargs, op_check, op->usage, bound, b->err)) {
		if (b->err && !b->err->line) {
			b->err->line = field->nline ? field->nline : field->line;
			b->err->col = field->nline ? field->ncol : field->col;
		}
		return -EINVAL;
	}
	for (int i = 0; i < np; i++) {
		if (!bound[i])
			continue;
		const sl_ast *a = args[bound[i] - av];
		c->v[i] = a->kind == SL_AST_NAMED ? a->kid[0] : a;
		if (op->ps[i].kind != SL_ARG_DURATION)
			continue;
		c->ms[i] = bound[i]->i;
		if (c->ms[i] <= 0)
			return at(b->err, c->v[i], -EINVAL, "%s: a duration must be positive",
				  op->name);
		if (c->ms[i] > (int64_t)1000000000000)
			return at(b->err, c->v[i], -EINVAL,
				  "%s: duration out of range (at most 10^12 ms)", op->name);
	}
	return 0;
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
 * bind_call has matched the arguments to the parameters (ops[]); what is left is the rules
 * across parameters.
 */
static int window_op(struct bctx *b, sl_dstream *p, const struct opcall *c, sl_dstream **out)
{
	sluice_error *err = b->err;
	const char *name = c->op->name;
	const sl_ast *field = c->field;
	int64_t W = 0, S = 0, nparts = 0;
	param(c, "windowDuration", &W);
	param(c, "slideDuration", &S);
	const sl_ast *np = param(c, "numPartitions", NULL);
	if (np && int_arg(b, np, "numPartitions", 1, &nparts))
		return -EINVAL;
	const sl_ast *inv = param(c, "invReduceFunc", NULL);
	const sl_ast *filter = param(c, "filterFunc", NULL);
	sl_win_spec ws = {.W = W,
			  .S = S,
			  .nparts = (int)nparts,
			  .opname = name,
			  .f = param(c, "reduceFunc", NULL),
			  .inv = inv,
			  .filter = filter};
	sl_dstream *d = NULL;
	int keyed = 1;
	if (!strcmp(name, "window")) {
		keyed = 0;
		d = sl_ds_window(p, W, S, err);
	} else if (!strcmp(name, "countByWindow") || !strcmp(name, "reduceByWindow")) {
		ws.mode = SL_WIN_CONST;
	} else if (!strcmp(name, "reduceByKeyAndWindow")) {
		/* the incremental form needs its slide here (Spark's defaults to the parent's);
		 * filterFunc belongs to the incremental form */
		if ((inv && !S) || (filter && !inv))
			return at(err, field, -EINVAL, "%s: expected %s", name, c->op->usage);
		ws.mode = SL_WIN_PAIRS;
	} else if (!strcmp(name, "countByValueAndWindow")) {
		ws.mode = SL_WIN_VALUE;
		ws.drop_zero = 1;
	} else if (!strcmp(name, "groupByKeyAndWindow")) {
		ws.mode = SL_WIN_GROUP;
	} else if (!strcmp(name, "updateStateByKey")) {
		keyed = 0;
		sl_state_spec ss = {.f = param(c, "updateFunc", NULL),
				    .initial = param(c, "initialRDD", NULL),
				    .nparts = (int)nparts};
		d = sl_ds_update_state(p, &ss, err);
	} else if (!strcmp(name, "mapWithState")) {
		keyed = 0;
		sl_state_spec ss = {0};
		/* StateSpec.function(f).initialState(s).timeout(d).numPartitions(n) */
		const sl_ast *s = param(c, "spec", NULL);
		while (s && s->kind == SL_AST_CALL && s->kid[0]->kind == SL_AST_FIELD) {
			const sl_ast *m = s->kid[0];
			const char *mn = m->name;
			int64_t ms = 0;
			if (!strcmp(mn, "function") && s->nkid == 2) {
				ss.f = s->kid[1];
				if (m->kid[0]->kind != SL_AST_IDENT ||
				    strcmp(m->kid[0]->name, "StateSpec"))
					return at(err, m, -EINVAL,
						  "expected StateSpec.function(f)");
				break;
			} else if (!strcmp(mn, "initialState") && s->nkid == 2) {
				ss.initial = s->kid[1];
			} else if (!strcmp(mn, "timeout")) {
				if (s->nkid != 2 || !dur_arg(s->kid[1], &ms) || ms <= 0 ||
				    ms > (int64_t)1000000000000)
					return at(err, s->nkid == 2 ? s->kid[1] : m, -EINVAL,
						  "timeout takes one positive duration (2s, "
						  "Seconds(2)) of at most 10^12 ms");
				ss.timeout = ms;
			} else if (!strcmp(mn, "numPartitions") && s->nkid == 2) {
				if (int_arg(b, s->kid[1], "numPartitions", 1, &nparts))
					return -EINVAL;
				ss.nparts = (int)nparts;
			} else if (!strcmp(mn, "timeoutEveryBatch")) {
				if (s->nkid != 1)
					return at(err, m, -EINVAL,
						  "timeoutEveryBatch takes no argument");
				ss.every_batch = 1;
			} else {
				return at(err, m, -EINVAL,
					  "unknown StateSpec setting '%s' (function, initialState, "
					  "timeout(duration), numPartitions, timeoutEveryBatch)",
					  mn);
			}
			s = m->kid[0];
		}
		if (!ss.f)
			return at(err, field, -EINVAL, "%s: expected %s", name, c->op->usage);
		d = sl_ds_map_with_state(p, &ss, err);
	} else if (!strcmp(name, "stateSnapshots")) {
		keyed = 0;
		d = sl_ds_state_snapshots(p, err);
	} else if (!strcmp(name, "checkpoint")) {
		keyed = 0;
		int64_t interval = 0;
		param(c, "interval", &interval);
		if (sl_ds_set_checkpoint(p, interval, err))
			return at(err, field, -EINVAL, "%s", err ? strdupa(err->msg) : "");
		d = p;
	}
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

/*
 * Spark's driver lines on the streaming context (ssc.checkpoint(dir), ssc.start(), ...),
 * pasted along with a program: say what sluice does instead, at the method's name.
 * 1 if name is none of them.
 */
static int context_call(struct bctx *b, const sl_ast *field, const char *ssc, const char *name)
{
	if (!strcmp(name, "checkpoint"))
		return at(
		    b->err, field, -ENOTSUP,
		    "%s.checkpoint(directory): checkpointing to a directory is not supported: "
		    "no checkpoint files are written, so a run cannot be recovered from one "
		    "(stateful operators work without it); remove this line",
		    ssc);
	if (!strcmp(name, "start") || !strcmp(name, "awaitTermination"))
		return at(b->err, field, -EINVAL,
			  "%s.%s() is not needed: the pipeline starts once the whole text is "
			  "built and runs until --batches N, the end of its input or a stop "
			  "signal; remove %s.start() and %s.awaitTermination()",
			  ssc, name, ssc, ssc);
	if (!strcmp(name, "awaitTerminationOrTimeout"))
		return at(b->err, field, -EINVAL,
			  "%s.awaitTerminationOrTimeout(timeout): bound the run with --batches N "
			  "instead (the pipeline starts once the whole text is built); remove "
			  "this line",
			  ssc);
	if (!strcmp(name, "stop"))
		return at(b->err, field, -EINVAL,
			  "%s.stop(): the run stops after --batches N, at the end of its input or "
			  "on a stop signal; remove this line",
			  ssc);
	if (!strcmp(name, "remember"))
		return at(b->err, field, -EINVAL,
			  "%s.remember(duration): each stream keeps what its windows and state "
			  "need, and nothing more; remove this line",
			  ssc);
	if (!strcmp(name, "setLogLevel"))
		return at(b->err, field, -EINVAL,
			  "%s.setLogLevel(level): the CLI's -q and -v choose what is logged "
			  "(sluice_config.log from C); remove this line",
			  ssc);
	return 1;
}

static int method(struct bctx *b, const sl_ast *call, const sl_ast *field, struct val *out)
{
	const char *name = field->name;
	const sl_ast *obj = field->kid[0];
	/* ssc.sparkContext.setLogLevel(...): the context's context */
	int spark_ctx = obj->kind == SL_AST_FIELD && !strcmp(obj->name, "sparkContext");
	if (spark_ctx)
		obj = obj->kid[0];
	/* ssc.queueStream(...) / streamingContext.textFile(...) */
	if (obj->kind == SL_AST_IDENT && (!strcmp(obj->name, "ssc") || !strcmp(obj->name, "sc") ||
					  !strcmp(obj->name, "streamingContext"))) {
		if (name_find(b->ctx, obj->name) < 0) {
			char who[48];
			snprintf(who, sizeof(who), "%s%s", obj->name,
				 spark_ctx ? ".sparkContext" : "");
			int rc = context_call(b, field, who, name);
			return rc != 1 ? rc : source_call(b, call, field, name, out);
		}
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
	if (op->k == K_CALLBACK)
		return at(b->err, field, -EINVAL,
			  "%s needs C code: use sluice_stream_%s() in the library API", name,
			  strcmp(name, "transform") ? "foreach_batch" : "transform");
	if (op->k == K_LATER)
		return at(b->err, field, -ENOTSUP, "%s is not implemented yet", name);
	if (op->k != K_WIN) {
		/* a wrong count first, in its own words ("map takes 1 argument(s), found 0") */
		int mina = 0, maxa = 0;
		for (; maxa < OP_MAXP && op->ps[maxa].name; maxa++)
			mina += op->ps[maxa].need == SL_PARAM_REQUIRED;
		if (nargs < mina || nargs > maxa) {
			if (mina == maxa)
				return at(b->err, field, -EINVAL,
					  "%s takes %d argument(s), found %d", name, mina, nargs);
			return at(b->err, field, -EINVAL, "%s takes %d to %d arguments, found %d",
				  name, mina, maxa, nargs);
		}
	}
	struct opcall c;
	if ((rc = bind_call(b, op, field, args, nargs, &c)))
		return rc;
	if (op->k == K_WIN) {
		sl_dstream *w = NULL;
		if ((rc = window_op(b, self.s, &c, &w)))
			return rc;
		out->kind = 1;
		out->s = w;
		return 0;
	}
	int64_t n = 0;
	const sl_ast *np = param(&c, "numPartitions", NULL);
	sl_dstream *d = NULL, *other = NULL;
	sluice_error *err = b->err;
	switch (op->k) {
	case K_FN:
	case K_FN_N:
		if (np && int_arg(b, np, "numPartitions", 1, &n))
			return -EINVAL;
		d = sl_ds_unary_fn(self.s, op->kind, c.v[0], (int)n, err); /* v[0]: the function */
		if (!d && err && !err->line) {
			err->line = field->nline ? field->nline : field->line;
			err->col = field->nline ? field->ncol : field->col;
		}
		break;
	case K_N:
	case K_NREQ:
	case K_NONE:
		if (np && int_arg(b, np, "numPartitions", 1, &n))
			return -EINVAL;
		d = sl_ds_unary(self.s, op->kind, (int)n, err);
		break;
	case K_STREAM:
	case K_STREAM_N:
		if ((rc = stream_arg(b, c.v[0], &other))) /* v[0]: that / other */
			return rc;
		if (np && int_arg(b, np, "numPartitions", 1, &n))
			return -EINVAL;
		d = sl_ds_binary(self.s, other, op->kind, op->sub, (int)n, err);
		break;
	case K_SAME:
		out->kind = 1;
		out->s = self.s;
		return 0;
	case K_PRINT: {
		const sl_ast *num = param(&c, "num", NULL);
		n = 10;
		if (num && int_arg(b, num, "print's num", 0, &n))
			return -EINVAL;
		sl_output o = {.kind = SL_OUT_PRINT, .s = self.s, .num = n};
		out->kind = 0;
		return sl_graph_add_output(&b->ctx->g, &o, err);
	}
	case K_SAVE: {
		const sl_ast *pa = param(&c, "prefix", NULL), *sa = param(&c, "suffix", NULL);
		const char *prefix = NULL, *suffix = "";
		if (str_arg(b, pa, "prefix", &prefix) || (sa && str_arg(b, sa, "suffix", &suffix)))
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
		/* sl_build_apply's stream first: a pipeline's val of that name cannot stand in */
		int self = b->self && !strcmp(a->name, SL_API_SELF);
		int i = self ? -1 : name_find(b->ctx, a->name);
		if (i >= 0 || self) {
			out->kind = 1;
			out->s = self ? b->self : b->ctx->names[i].s;
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
	if (!ctx || (!text && len))
		return sl_error_set(err, -EINVAL, "NULL context or text");
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
	}
	if (!d && err && err->line) {
		/* the position in the caller's call, not in our "__api_self." + call */
		int col = err->col, skip = (int)sizeof(self); /* strlen + the '.' */
		if (err->line == 1)
			col = col > skip ? col - skip : 1;
		sl_error_context(err, call, strlen(call), err->line, col);
	}
	sl_program_free(p);
	free(text);
	return d;
}

sluice_stream *sluice_context_stream(sluice_context *ctx, const char *name)
{
	int i = ctx && name ? name_find(ctx, name) : -1;
	return i >= 0 ? (sluice_stream *)ctx->names[i].s : NULL;
}
