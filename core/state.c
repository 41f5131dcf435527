/* SPDX-License-Identifier: Apache-2.0 */
/* state.c - updateStateByKey and mapWithState over dense per-key state (see state.h). */
#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keydict.h"
#include "pool.h"
#include "shuffle.h"
#include "window.h"

#define TN(t) sl_type_name((t), (char[96]){0}, 96)

struct spart {
	sl_keydict dict; /* key -> state id */
	int dict_ok;
	sl_col *vals;     /* state values of ids [0, vals->len); never mutated once made */
	uint8_t *present; /* per id */
	int64_t *upd;     /* per id: last update time */
	size_t cap;
	sl_col *mapped; /* this batch's mapped records (mapWithState) */
	sl_col *out;    /* this batch's (key, state) rows */
	int failed;
	sluice_error err;
};

struct st {
	sl_state_spec spec;
	int mws;   /* mapWithState (else updateStateByKey) */
	int arity; /* parameters of the user's function */
	sl_lambda f;
	int has_f;
	const sl_type *kt, *vt, *stt, *opt_s, *opt_v, *seq_v, *grp_t, *pair_t, *ret_t;
	int flat_ret; /* mapWithState 4-argument form: keep Some values only */
	int nout;
	struct spart *part;
	int started, has_prev;
	sl_col *init; /* (K, S) rows of the initial state, loaded at the first batch */
	int64_t ckpt; /* full-scan (checkpoint) interval */
	sl_rdd *snap;
	int64_t snap_time;
	sl_dstream *d;
	/* the task's batch */
	sl_rdd *grouped, *initg;
	int64_t t;
	int full_scan;
	/* synthetic syntax nodes (mapWithState), freed with the operator */
	sl_ast **nodes;
	int nnodes, capnodes;
};

static struct st *st_of(sl_dstream *d)
{
	return (struct st *)d->priv;
}

/* ------------------------------------------------------------ syntax rewriting */

struct rw {
	struct st *s;
	sluice_error *err;
	const char *state_name;
	struct {
		const char *name;
		sl_ast *e;
	} let[32];
	int nlet;
};

/* The symbolic state after some statements: expressions over the function's parameters. */
struct sym {
	sl_ast *present, *value, *updated, *removed, *bad;
};

static sl_ast *mk(struct rw *rw, int kind, int op, int nkid, const sl_ast *at)
{
	struct st *s = rw->s;
	if (s->nnodes == s->capnodes) {
		int n = s->capnodes ? s->capnodes * 2 : 64;
		sl_ast **v = realloc(s->nodes, (size_t)n * sizeof(*v));
		if (!v)
			return NULL;
		s->nodes = v;
		s->capnodes = n;
	}
	sl_ast *a = calloc(1, sizeof(*a) + (size_t)(nkid ? nkid : 1) * sizeof(sl_ast *));
	if (!a) {
		sl_error_set(rw->err, -ENOMEM, "out of memory");
		return NULL;
	}
	a->kind = kind;
	a->op = op;
	a->nkid = nkid;
	a->kid = (sl_ast **)(a + 1);
	if (at) {
		a->line = at->line;
		a->col = at->col;
	}
	s->nodes[s->nnodes++] = a;
	return a;
}

static sl_ast *ident(struct rw *rw, const char *name, const sl_ast *at)
{
	sl_ast *a = mk(rw, SL_AST_IDENT, 0, 0, at);
	if (a)
		a->name = name;
	return a;
}

static sl_ast *boolean(struct rw *rw, int v)
{
	sl_ast *a = mk(rw, SL_AST_BOOL, 0, 0, NULL);
	if (a)
		a->ival = v;
	return a;
}

static sl_ast *field(struct rw *rw, sl_ast *obj, const char *name, const sl_ast *at)
{
	sl_ast *a = obj ? mk(rw, SL_AST_FIELD, 0, 1, at) : NULL;
	if (a) {
		a->kid[0] = obj;
		a->name = name;
	}
	return a;
}

static sl_ast *mkif(struct rw *rw, sl_ast *c, sl_ast *x, sl_ast *y)
{
	if (x == y)
		return x;
	sl_ast *a = c && x && y ? mk(rw, SL_AST_IF, 0, 3, c) : NULL;
	if (a)
		a->kid[0] = c, a->kid[1] = x, a->kid[2] = y;
	return a;
}

static int is_false(const sl_ast *a)
{
	return a && a->kind == SL_AST_BOOL && !a->ival;
}

static sl_ast * or (struct rw * rw, sl_ast *x, sl_ast *y)
{
	if (is_false(x))
		return y;
	if (is_false(y))
		return x;
	sl_ast *a = x && y ? mk(rw, SL_AST_BINARY, SL_OP_OR, 2, NULL) : NULL;
	if (a)
		a->kid[0] = x, a->kid[1] = y;
	return a;
}

/* state.getOption as an expression: if (present) Some(value) else None */
static sl_ast *opt_of(struct rw *rw, const struct sym *st, const sl_ast *at)
{
	sl_ast *some = mk(rw, SL_AST_CALL, 0, 2, at);
	if (!some)
		return NULL;
	some->kid[0] = ident(rw, "Some", at);
	some->kid[1] = st->value;
	return some->kid[0] ? mkif(rw, st->present, some, ident(rw, "None", at)) : NULL;
}

static void *rw_fail(struct rw *rw, const sl_ast *at, const char *msg)
{
	if (rw->err && !rw->err->code) {
		sl_error_set(rw->err, -EINVAL, "%s", msg);
		rw->err->line = at->nline ? at->nline : at->line;
		rw->err->col = at->nline ? at->ncol : at->col;
	}
	return NULL;
}

static int is_state(const struct rw *rw, const sl_ast *a)
{
	return a->kind == SL_AST_IDENT && !strcmp(a->name, rw->state_name);
}

/* e with the state reads resolved against st and vals substituted. */
static sl_ast *subst(struct rw *rw, const sl_ast *a, const struct sym *st)
{
	if (!a)
		return NULL;
	const sl_ast *fld = NULL;
	if (a->kind == SL_AST_FIELD && is_state(rw, a->kid[0]))
		fld = a;
	else if (a->kind == SL_AST_CALL && a->kid[0]->kind == SL_AST_FIELD &&
		 is_state(rw, a->kid[0]->kid[0]))
		fld = a->kid[0];
	if (fld) {
		const char *m = fld->name;
		if (!strcmp(m, "update") || !strcmp(m, "remove"))
			return rw_fail(rw, fld,
				       "state.update and state.remove are statements: write them "
				       "on their own, before the function's result");
		if (a->kind == SL_AST_CALL && a->nkid > 1)
			return rw_fail(rw, fld, "this state method takes no arguments");
		if (!strcmp(m, "exists"))
			return st->present;
		if (!strcmp(m, "isTimingOut"))
			return ident(rw, "__timing", fld);
		if (!strcmp(m, "getOption"))
			return opt_of(rw, st, fld);
		if (!strcmp(m, "get"))
			return field(rw, opt_of(rw, st, fld), "get", fld);
		return rw_fail(rw, fld,
			       "unknown State method; State has exists, get, getOption, update(s), "
			       "remove() and isTimingOut");
	}
	if (a->kind == SL_AST_IDENT) {
		if (is_state(rw, a))
			return rw_fail(rw, a,
				       "use the state through state.exists, state.get, "
				       "state.getOption, state.isTimingOut");
		for (int i = rw->nlet - 1; i >= 0; i--)
			if (!strcmp(rw->let[i].name, a->name))
				return rw->let[i].e;
		return (sl_ast *)a;
	}
	if (a->kind == SL_AST_BLOCK || a->kind == SL_AST_VAL)
		return rw_fail(rw, a, "a nested block is only allowed as a statement here");
	if (!a->nkid)
		return (sl_ast *)a;
	sl_ast *c = mk(rw, a->kind, a->op, a->nkid, a);
	if (!c)
		return NULL;
	sl_ast **kid = c->kid;
	*c = *a;
	c->kid = kid;
	for (int i = 0; i < a->nkid; i++)
		if (a->kid[i] && !(c->kid[i] = subst(rw, a->kid[i], st)))
			return NULL;
	return c;
}

static int statement(struct rw *rw, const sl_ast *a, struct sym *st);

static int statements(struct rw *rw, sl_ast *const *v, int n, struct sym *st)
{
	int save = rw->nlet, rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = statement(rw, v[i], st);
	rw->nlet = save;
	return rc;
}

static int statement(struct rw *rw, const sl_ast *a, struct sym *st)
{
	sluice_error *err = rw->err;
	if (a->kind == SL_AST_VAL) {
		if (rw->nlet == 32) {
			rw_fail(rw, a, "too many vals (at most 32)");
			return -EINVAL;
		}
		sl_ast *e = subst(rw, a->kid[0], st);
		if (!e)
			return err && err->code ? err->code : -ENOMEM;
		rw->let[rw->nlet].name = a->name;
		rw->let[rw->nlet++].e = e;
		return 0;
	}
	if (a->kind == SL_AST_BLOCK)
		return statements(rw, a->kid, a->nkid, st);
	if (a->kind == SL_AST_IF) {
		sl_ast *c = subst(rw, a->kid[0], st);
		if (!c)
			return err && err->code ? err->code : -ENOMEM;
		struct sym x = *st, y = *st;
		int rc = statement(rw, a->kid[1], &x);
		if (!rc && a->nkid > 2 && a->kid[2])
			rc = statement(rw, a->kid[2], &y);
		if (rc)
			return rc;
		st->present = mkif(rw, c, x.present, y.present);
		st->value = mkif(rw, c, x.value, y.value);
		st->updated = mkif(rw, c, x.updated, y.updated);
		st->removed = mkif(rw, c, x.removed, y.removed);
		st->bad = mkif(rw, c, x.bad, y.bad);
		return st->present && st->value && st->updated && st->removed && st->bad ? 0
											 : -ENOMEM;
	}
	const sl_ast *fld = a->kind == SL_AST_CALL ? a->kid[0] : NULL;
	if (fld && fld->kind == SL_AST_FIELD && is_state(rw, fld->kid[0])) {
		sl_ast *timing = ident(rw, "__timing", fld);
		if (!strcmp(fld->name, "update")) {
			if (a->nkid != 2) {
				rw_fail(rw, fld, "state.update takes one argument");
				return -EINVAL;
			}
			sl_ast *v = subst(rw, a->kid[1], st);
			if (!v)
				return err && err->code ? err->code : -ENOMEM;
			/* Spark: update after remove() or while timing out throws */
			st->bad = or (rw, st->bad, or (rw, st->removed, timing));
			st->value = v;
			st->present = boolean(rw, 1);
			st->updated = boolean(rw, 1);
			return st->bad && st->present && st->updated ? 0 : -ENOMEM;
		}
		if (!strcmp(fld->name, "remove")) {
			if (a->nkid != 1) {
				rw_fail(rw, fld, "state.remove takes no arguments");
				return -EINVAL;
			}
			st->bad = or (rw, st->bad, or (rw, st->removed, timing));
			st->present = boolean(rw, 0);
			st->removed = boolean(rw, 1);
			return st->bad && st->present && st->removed ? 0 : -ENOMEM;
		}
	}
	rw_fail(rw, a,
		"this statement has no effect: a statement before the result must be "
		"state.update(...), state.remove(), an if of those, or a val");
	return -EINVAL;
}

/* A function that never maps anything returns the bare `None`: type it Option[Long]. */
static sl_ast *typed_none(struct rw *rw, const sl_ast *at)
{
	sl_ast *zero = mk(rw, SL_AST_INT, 0, 0, at);
	sl_ast *some = mk(rw, SL_AST_CALL, 0, 2, at);
	if (!zero || !some)
		return NULL;
	some->kid[0] = ident(rw, "Some", at);
	some->kid[1] = zero;
	return mkif(rw, boolean(rw, 0), some, ident(rw, "None", at));
}

/*
 * The mapWithState function as one pure lambda of (time, key, value, __st, __timing)
 * returning (exists, Option[state], updated, removed, bad, result). The statements before
 * the result update a symbolic state; every read of the state sees the state as the
 * statements before it left it (an if merges both branches' states with the condition).
 */
static sl_ast *mws_rewrite(struct st *s, const sl_ast *fn, sluice_error *err)
{
	struct rw rw = {.s = s, .err = err};
	if (fn->kind != SL_AST_LAMBDA || (fn->nparam != 3 && fn->nparam != 4)) {
		sl_error_set(err, -EINVAL,
			     "mapWithState needs a function (key, value, state) => result or "
			     "(time, key, value, state) => Option[result]");
		sl_error_at(err, fn->line, fn->col);
		return NULL;
	}
	int four = fn->nparam == 4;
	rw.state_name = fn->params[fn->nparam - 1];
	struct sym st;
	st.present = field(&rw, ident(&rw, "__st", fn), "isDefined", fn);
	st.value = field(&rw, ident(&rw, "__st", fn), "get", fn);
	st.updated = boolean(&rw, 0);
	st.removed = boolean(&rw, 0);
	st.bad = boolean(&rw, 0);
	if (!st.present || !st.value || !st.updated || !st.removed || !st.bad)
		return NULL;
	const sl_ast *body = fn->kid[0], *ret = body;
	if (body->kind == SL_AST_BLOCK) {
		ret = body->kid[body->nkid - 1];
		if (ret->kind == SL_AST_VAL ||
		    (ret->kind == SL_AST_CALL && ret->kid[0]->kind == SL_AST_FIELD &&
		     is_state(&rw, ret->kid[0]->kid[0])))
			return rw_fail(
			    &rw, ret,
			    "the last statement of a mapWithState function is its result "
			    "(an expression)");
		/* one scope: the vals stay visible to the result */
		for (int i = 0; i < body->nkid - 1; i++)
			if (statement(&rw, body->kid[i], &st))
				return NULL;
	}
	sl_ast *r = ret->kind == SL_AST_IDENT && !strcmp(ret->name, "None") ? typed_none(&rw, ret)
									    : subst(&rw, ret, &st);
	sl_ast *tup = r ? mk(&rw, SL_AST_TUPLE, 0, 6, fn) : NULL;
	sl_ast *lam = tup ? mk(&rw, SL_AST_LAMBDA, 0, 1, fn) : NULL;
	const char **params = lam ? calloc(5, sizeof(*params)) : NULL;
	if (!params)
		return NULL;
	tup->kid[0] = st.present;
	tup->kid[1] = opt_of(&rw, &st, fn);
	tup->kid[2] = st.updated;
	tup->kid[3] = st.removed;
	tup->kid[4] = st.bad;
	tup->kid[5] = r;
	params[0] = four ? fn->params[0] : "__time";
	params[1] = fn->params[four];
	params[2] = fn->params[four + 1];
	params[3] = "__st";
	params[4] = "__timing";
	lam->params = params; /* freed with the operator (sl_state_free) */
	lam->nparam = 5;
	lam->kid[0] = tup;
	s->arity = fn->nparam;
	return tup->kid[1] ? lam : NULL;
}

/* ------------------------------------------------------------ building */

/* An Option column over child (reference taken) with valid[i] (NULL: all Some). */
static sl_col *opt_col(sl_mem *m, const sl_type *t, sl_col *child, const uint8_t *valid, size_t n)
{
	sl_col *o = sl_col_new(m, t, 0);
	if (!o)
		return NULL;
	sl_col_unref(o->kid[0]);
	o->kid[0] = sl_col_ref(child);
	if (sl_col_reserve(o, n)) {
		sl_col_unref(o);
		return NULL;
	}
	if (valid)
		memcpy(o->valid, valid, n);
	else
		memset(o->valid, 1, n);
	o->len = n;
	return o;
}

static sl_col *const_i64(sl_mem *m, int64_t v, size_t n)
{
	sl_col *c = sl_col_new(m, &sl_type_i64, n);
	if (c) {
		for (size_t i = 0; i < n; i++)
			c->v.i64[i] = v;
		c->len = n;
	}
	return c;
}

static sl_col *const_bool(sl_mem *m, int v, size_t n)
{
	sl_col *c = sl_col_new(m, &sl_type_bool, n);
	if (c) {
		memset(c->v.b, v, n);
		c->len = n;
	}
	return c;
}

/* `sc.makeRDD(Seq(...))`, `sc.parallelize(Seq(...))` or `Seq(...)`: the pairs, as a column. */
static int load_initial(struct st *s, sl_types *ts, sl_mem *m, const sl_ast *a, sluice_error *err)
{
	if (a->kind == SL_AST_NAMED)
		a = a->kid[0];
	if (a->kind == SL_AST_CALL && a->kid[0]->kind == SL_AST_FIELD && a->nkid == 2 &&
	    (!strcmp(a->kid[0]->name, "makeRDD") || !strcmp(a->kid[0]->name, "parallelize")))
		a = a->kid[1];
	sl_lambda l;
	if (sl_lambda_compile(&l, ts, a, 0, NULL, err))
		return -EINVAL;
	if (l.type->kind != SL_LIST || !sl_type_is_pair(l.type->kid[0]) ||
	    !sl_type_eq(l.type->kid[0]->kid[0], s->kt)) {
		sl_error_set(err, -EINVAL,
			     "the initial state must be a Seq of (key, state) pairs with key type "
			     "%s, found %s",
			     TN(s->kt), TN(l.type));
		sl_error_at(err, a->line, a->col);
		sl_lambda_fini(&l);
		return -EINVAL;
	}
	sl_xeval ev;
	sl_xeval_init(&ev, m);
	sl_col *c = sl_lambda_eval(&l, NULL, 1, &ev);
	int rc = 0;
	if (!c || ev.nbad) {
		rc = sl_error_set(err, c ? -EINVAL : -ENOMEM, "the initial state failed: %s",
				  ev.why);
	} else {
		s->init = sl_col_ref(c->kid[0]);
		s->stt = l.type->kid[0]->kid[1];
	}
	sl_col_unref(c);
	sl_xeval_fini(&ev);
	sl_lambda_fini(&l);
	return rc;
}

/* The default d of the first `state.getOrElse(d)` in a, or NULL. */
static const sl_ast *find_default(const sl_ast *a, const char *state)
{
	if (!a)
		return NULL;
	/* state.getOrElse(d) (an Option), or state.getOption.getOrElse(d) (a State) */
	if (a->kind == SL_AST_CALL && a->nkid == 2 && a->kid[0]->kind == SL_AST_FIELD &&
	    !strcmp(a->kid[0]->name, "getOrElse") && !sl_ast_placeholders(a->kid[1])) {
		const sl_ast *o = a->kid[0]->kid[0];
		if (o->kind == SL_AST_FIELD && !strcmp(o->name, "getOption"))
			o = o->kid[0];
		if (o->kind == SL_AST_IDENT && !strcmp(o->name, state))
			return a->kid[1];
	}
	if (a->kind == SL_AST_LAMBDA)
		return NULL;
	for (int i = 0; i < a->nkid; i++) {
		const sl_ast *r = find_default(a->kid[i], state);
		if (r)
			return r;
	}
	return NULL;
}

static int arity_of(const sl_ast *f)
{
	return f->kind == SL_AST_LAMBDA ? f->nparam : sl_ast_placeholders(f);
}

static sl_dstream *finish(struct st *s, sl_dstream *p, int kind, const sl_type *out,
			  sluice_error *err)
{
	sl_dstream *d = sl_ds_unary(p, kind, s->spec.nparts, err);
	if (!d)
		return NULL;
	d->type = out;
	d->priv = s;
	s->d = d;
	/* default full-scan interval: mapWithState 10 x slide (spark-semantics.md §6) */
	s->ckpt = 10 * p->slide;
	return d;
}

static void st_destroy(struct st *s)
{
	if (!s)
		return;
	if (s->has_f)
		sl_lambda_fini(&s->f);
	sl_col_unref(s->init);
	for (int i = 0; i < s->nnodes; i++) {
		if (s->nodes[i]->kind == SL_AST_LAMBDA)
			free((void *)s->nodes[i]->params);
		free(s->nodes[i]);
	}
	free(s->nodes);
	free(s);
}

sl_dstream *sl_ds_update_state(sl_dstream *p, const sl_state_spec *spec, sluice_error *err)
{
	sl_env *env = p->g->env;
	sl_types *ts = env->types;
	if (!sl_type_is_pair(p->type)) {
		sl_error_set(err, -EINVAL,
			     "updateStateByKey needs a stream of pairs (K, V), but this stream has "
			     "type %s",
			     TN(p->type));
		return NULL;
	}
	struct st *s = calloc(1, sizeof(*s));
	if (!s) {
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	s->spec = *spec;
	s->kt = p->type->kid[0];
	s->vt = p->type->kid[1];
	s->seq_v = sl_type_list(ts, s->vt, SL_LIST_SEQ);
	s->grp_t = sl_type_pair(ts, s->kt, sl_type_list(ts, s->vt, SL_LIST_BUFFER));
	if (spec->initial && load_initial(s, ts, env->mem, spec->initial, err))
		goto fail;
	s->arity = arity_of(spec->f);
	if (s->arity != 2 && s->arity != 4) {
		sl_error_set(err, -EINVAL,
			     "updateStateByKey needs a function (values, state) => Option[state] "
			     "or (time, key, values, state) => Option[state], found %d "
			     "parameter(s)",
			     s->arity);
		sl_error_at(err, spec->f->line, spec->f->col);
		goto fail;
	}
	/* The state type: the initial state's, else found by compiling with a guess (the
	 * value type, or the type of a constant default in `state.getOrElse(d)`) and again
	 * with what the function returns. */
	const sl_type *guess = s->stt ? s->stt : s->vt;
	if (!s->stt && spec->f->kind == SL_AST_LAMBDA) {
		const sl_ast *dflt =
		    find_default(spec->f->kid[0], spec->f->params[spec->f->nparam - 1]);
		sl_lambda dl;
		sluice_error e = {0};
		if (dflt && !sl_lambda_compile(&dl, ts, dflt, 0, NULL, &e)) {
			guess = dl.type;
			sl_lambda_fini(&dl);
		}
	}
	for (int round = 0; round < 3; round++) {
		s->stt = guess;
		s->opt_s = sl_type_opt(ts, guess);
		const sl_type *pt2[2] = {s->seq_v, s->opt_s};
		const sl_type *pt4[4] = {&sl_type_i64, s->kt, s->seq_v, s->opt_s};
		sluice_error e = {0};
		if (sl_lambda_compile(&s->f, ts, spec->f, s->arity, s->arity == 2 ? pt2 : pt4,
				      &e)) {
			if (err)
				*err = e;
			goto fail;
		}
		const sl_type *rt = s->f.type;
		if (rt->kind != SL_OPT) {
			sl_error_set(
			    err, -EINVAL,
			    "updateStateByKey's function must return an Option (Some(state) "
			    "to keep the key, None to remove it), found %s",
			    TN(rt));
			sl_error_at(err, spec->f->line, spec->f->col);
			sl_lambda_fini(&s->f);
			goto fail;
		}
		if (sl_type_eq(rt->kid[0], guess)) {
			s->has_f = 1;
			break;
		}
		sl_lambda_fini(&s->f);
		if (s->init || round == 2) {
			sl_error_set(err, -EINVAL,
				     "updateStateByKey's function returns Option[%s] but the state "
				     "has type %s",
				     TN(rt->kid[0]), TN(guess));
			sl_error_at(err, spec->f->line, spec->f->col);
			goto fail;
		}
		guess = rt->kid[0];
	}
	s->pair_t = sl_type_pair(ts, s->kt, s->stt);
	sl_dstream *d = finish(s, p, SL_DS_STATE, s->pair_t, err);
	if (d)
		return d;
fail:
	st_destroy(s);
	return NULL;
}

sl_dstream *sl_ds_map_with_state(sl_dstream *p, const sl_state_spec *spec, sluice_error *err)
{
	sl_env *env = p->g->env;
	sl_types *ts = env->types;
	if (!sl_type_is_pair(p->type)) {
		sl_error_set(err, -EINVAL,
			     "mapWithState needs a stream of pairs (K, V), but this stream has "
			     "type %s",
			     TN(p->type));
		return NULL;
	}
	struct st *s = calloc(1, sizeof(*s));
	if (!s) {
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	s->mws = 1;
	s->spec = *spec;
	s->kt = p->type->kid[0];
	s->vt = p->type->kid[1];
	s->opt_v = sl_type_opt(ts, s->vt);
	s->grp_t = sl_type_pair(ts, s->kt, sl_type_list(ts, s->vt, SL_LIST_BUFFER));
	if (spec->initial && load_initial(s, ts, env->mem, spec->initial, err))
		goto fail;
	sl_ast *lam = mws_rewrite(s, spec->f, err);
	if (!lam) {
		if (err && !err->code)
			sl_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	const sl_type *guess = s->stt ? s->stt : s->vt;
	if (!s->stt && spec->f->kind == SL_AST_LAMBDA) {
		const sl_ast *dflt =
		    find_default(spec->f->kid[0], spec->f->params[spec->f->nparam - 1]);
		sl_lambda dl;
		sluice_error e = {0};
		if (dflt && !sl_lambda_compile(&dl, ts, dflt, 0, NULL, &e)) {
			guess = dl.type;
			sl_lambda_fini(&dl);
		}
	}
	for (int round = 0; round < 3; round++) {
		s->stt = guess;
		s->opt_s = sl_type_opt(ts, guess);
		const sl_type *pt[5] = {&sl_type_i64, s->kt, s->opt_v, s->opt_s, &sl_type_bool};
		sluice_error e = {0};
		if (sl_lambda_compile(&s->f, ts, lam, 5, pt, &e)) {
			if (err)
				*err = e;
			goto fail;
		}
		const sl_type *got = s->f.type->kid[1]->kid[0];
		if (sl_type_eq(got, guess)) {
			s->has_f = 1;
			break;
		}
		sl_lambda_fini(&s->f);
		if (s->init || round == 2) {
			sl_error_set(err, -EINVAL, "state.update gets %s but the state has type %s",
				     TN(got), TN(guess));
			sl_error_at(err, spec->f->line, spec->f->col);
			goto fail;
		}
		guess = got;
	}
	s->ret_t = s->f.type->kid[5];
	if (s->arity == 4) {
		if (s->ret_t->kind != SL_OPT) {
			sl_error_set(
			    err, -EINVAL,
			    "a mapWithState function (time, key, value, state) must return an "
			    "Option, found %s",
			    TN(s->ret_t));
			sl_error_at(err, spec->f->line, spec->f->col);
			goto fail;
		}
		s->flat_ret = 1;
	}
	s->pair_t = sl_type_pair(ts, s->kt, s->stt);
	sl_dstream *d =
	    finish(s, p, SL_DS_MAPSTATE, s->flat_ret ? s->ret_t->kid[0] : s->ret_t, err);
	if (d)
		return d;
fail:
	st_destroy(s);
	return NULL;
}

sl_dstream *sl_ds_state_snapshots(sl_dstream *m, sluice_error *err)
{
	if (m->kind != SL_DS_MAPSTATE) {
		sl_error_set(err, -EINVAL,
			     "stateSnapshots is only defined on a mapWithState stream");
		return NULL;
	}
	sl_dstream *d = sl_ds_unary(m, SL_DS_SNAPSHOT, 0, err);
	if (d)
		d->type = st_of(m)->pair_t;
	return d;
}

int sl_ds_set_checkpoint(sl_dstream *d, int64_t interval, sluice_error *err)
{
	if (interval <= 0 || interval % d->slide) {
		sl_error_set(err, -EINVAL,
			     "checkpoint interval (%lld ms) must be a positive multiple of the "
			     "stream's slide duration (%lld ms)",
			     (long long)interval, (long long)d->slide);
		return -EINVAL;
	}
	if (d->kind == SL_DS_MAPSTATE || d->kind == SL_DS_STATE)
		st_of(d)->ckpt = interval;
	return 0;
}

/* ------------------------------------------------------------ running */

static int grow_ids(sl_mem *m, struct spart *sp, size_t n)
{
	if (n <= sp->cap)
		return 0;
	size_t c = sp->cap ? sp->cap : 64;
	while (c < n)
		c *= 2;
	uint8_t *p = sl_realloc(m, -1, sp->present, sp->cap, c);
	if (!p)
		return -ENOMEM;
	sp->present = p;
	int64_t *u = sl_realloc(m, -1, sp->upd, sp->cap * 8, c * 8);
	if (!u)
		return -ENOMEM;
	sp->upd = u;
	memset(sp->present + sp->cap, 0, c - sp->cap);
	memset(sp->upd + sp->cap, 0, (c - sp->cap) * 8);
	sp->cap = c;
	return 0;
}

/* Ids of the keys of a (K, ...) column, new keys added with no state (a column at a time
 * through the kernels). */
static int intern(const struct st *s, sl_mem *m, struct spart *sp, const sl_col *keys,
		  uint32_t *ids)
{
	size_t n = keys->len;
	uint64_t *h = sl_alloc(m, -1, (n ? n : 1) * 8);
	if (!h)
		return -ENOMEM;
	int rc = sl_keydict_put_rows(&sp->dict, s->d->g->env->kern, keys, 0, n, h, ids) ||
			 grow_ids(m, sp, sp->dict.n)
		     ? -ENOMEM
		     : 0;
	sl_dealloc(m, h, (n ? n : 1) * 8);
	return rc;
}

/* vals extended with zero rows up to the dictionary's size (a new column). */
static sl_col *base_vals(struct st *s, sl_mem *m, struct spart *sp)
{
	size_t have = sp->vals ? sp->vals->len : 0, want = sp->dict.n;
	sl_col *z = sl_col_new(m, s->stt, want - have);
	for (size_t i = have; z && i < want; i++)
		if (sl_col_push_zero(z)) {
			sl_col_unref(z);
			z = NULL;
		}
	if (!z)
		return NULL;
	if (!have)
		return z;
	sl_col *parts[2] = {sp->vals, z};
	sl_col *r = sl_col_concat(m, s->stt, parts, 2);
	sl_col_unref(z);
	return r;
}

/* Keep the ids in live[0..n) (ascending): new dictionary, vals, present, upd. */
static int rebuild(struct st *s, sl_mem *m, struct spart *sp, const uint32_t *live, size_t n,
		   sl_col *vals_of_live)
{
	sl_keydict nd;
	if (sl_keydict_init(&nd, m, s->kt, n ? n : 16))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (sl_keydict_put(&nd, sp->dict.keys, live[i], sp->dict.hash[live[i]]) < 0) {
			sl_keydict_fini(&nd);
			return -ENOMEM;
		}
	for (size_t i = 0; i < n; i++) {
		sp->upd[i] = sp->upd[live[i]];
		sp->present[i] = 1;
	}
	if (sp->present)
		memset(sp->present + n, 0, sp->cap - n);
	sl_keydict_fini(&sp->dict);
	sp->dict = nd;
	sl_col_unref(sp->vals);
	sp->vals = sl_col_ref(vals_of_live);
	return 0;
}

/* The (key, state) rows of the ids in live[0..n), values from vals rows vrow[]. */
static sl_col *pairs_of(struct st *s, sl_mem *m, struct spart *sp, const uint32_t *live, size_t n,
			sl_col *vals)
{
	sl_col *k = sl_col_gather(sp->dict.keys, live, n);
	sl_col *kids[2] = {k, vals};
	sl_col *r = k ? sl_col_tuple_of(m, s->pair_t, kids) : NULL;
	sl_col_unref(k);
	return r;
}

static int check_bad(const sl_xeval *ev, sluice_error *err, const char *what)
{
	if (!ev->nbad)
		return 0;
	return sl_error_set(err, -EINVAL, "%s function failed: %s", what, ev->why);
}

/* updateStateByKey on one partition. gp: this batch's (K, Buffer[V]) rows or NULL. */
static int usk_part(struct st *s, sl_mem *m, struct spart *sp, const sl_col *gp, int64_t t,
		    sluice_error *err)
{
	size_t ng = gp ? gp->len : 0;
	uint32_t *gid = sl_alloc(m, -1, (ng ? ng : 1) * 4);
	uint32_t *rows = NULL, *vidx = NULL, *surv = NULL, *datarow = NULL;
	sl_col *base = NULL, *emp = NULL, *lists = NULL, *vcol = NULL, *stc = NULL, *stv = NULL,
	       *keys = NULL, *tcol = NULL, *res = NULL, *nv = NULL;
	int rc = -ENOMEM;
	size_t nid = 0;
	if (!gid || (gp && intern(s, m, sp, gp->kid[0], gid)))
		goto out;
	nid = sp->dict.n;
	rows = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	vidx = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	surv = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	datarow = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	if (!rows || !vidx || !surv || !datarow || !(base = base_vals(s, m, sp)))
		goto out;
	for (size_t i = 0; i < nid; i++)
		datarow[i] = UINT32_MAX;
	for (size_t i = 0; i < ng; i++)
		datarow[gid[i]] = (uint32_t)i;
	/* every key with a state or with data, in id order (first-seen order) */
	size_t n = 0;
	for (size_t i = 0; i < nid; i++)
		if (sp->present[i] || datarow[i] != UINT32_MAX) {
			rows[n] = (uint32_t)i;
			vidx[n++] = datarow[i] != UINT32_MAX ? datarow[i] : (uint32_t)ng;
		}
	/* values: the batch's buffer of the key, or an empty Seq */
	emp = sl_col_new(m, s->seq_v, 1);
	if (!emp || sl_col_commit(emp))
		goto out;
	if (gp) {
		sl_col *parts[2] = {gp->kid[1], emp};
		lists = sl_col_concat(m, s->seq_v, parts, 2);
	} else {
		lists = sl_col_ref(emp);
	}
	if (!lists || !(vcol = sl_col_gather(lists, vidx, n)))
		goto out;
	uint8_t *valid = sl_alloc(m, -1, n ? n : 1);
	if (!valid)
		goto out;
	for (size_t i = 0; i < n; i++)
		valid[i] = sp->present[rows[i]];
	stv = sl_col_gather(base, rows, n);
	stc = stv ? opt_col(m, s->opt_s, stv, valid, n) : NULL;
	sl_dealloc(m, valid, n ? n : 1);
	if (!stc)
		goto out;
	sl_xeval ev;
	sl_xeval_init(&ev, m);
	if (s->arity == 2) {
		sl_col *args[2] = {vcol, stc};
		res = sl_lambda_eval(&s->f, args, n, &ev);
	} else {
		keys = sl_col_gather(sp->dict.keys, rows, n);
		tcol = const_i64(m, t, n);
		sl_col *args[4] = {tcol, keys, vcol, stc};
		res = keys && tcol ? sl_lambda_eval(&s->f, args, n, &ev) : NULL;
	}
	if (res && check_bad(&ev, err, "updateStateByKey")) {
		sl_xeval_fini(&ev);
		rc = -EINVAL;
		goto out;
	}
	sl_xeval_fini(&ev);
	if (!res)
		goto out;
	/* survivors: Some(state) */
	size_t ns = 0;
	for (size_t i = 0; i < n; i++)
		if (res->valid[i])
			vidx[ns] = (uint32_t)i, surv[ns++] = rows[i];
	if (!(nv = sl_col_gather(res->kid[0], vidx, ns)))
		goto out;
	if ((rc = rebuild(s, m, sp, surv, ns, nv)))
		goto out;
	for (size_t i = 0; i < ns; i++)
		surv[i] = (uint32_t)i;
	sl_col_unref(sp->out);
	sp->out = pairs_of(s, m, sp, surv, ns, nv);
	rc = sp->out ? 0 : -ENOMEM;
out:
	if (gid)
		sl_dealloc(m, gid, (ng ? ng : 1) * 4);
	sl_col_unref(base);
	sl_col_unref(emp);
	sl_col_unref(lists);
	sl_col_unref(vcol);
	sl_col_unref(stc);
	sl_col_unref(stv);
	sl_col_unref(keys);
	sl_col_unref(tcol);
	sl_col_unref(res);
	sl_col_unref(nv);
	uint32_t *arrs[4] = {rows, vidx, surv, datarow};
	for (int i = 0; i < 4; i++)
		if (arrs[i])
			sl_dealloc(m, arrs[i], (nid ? nid : 1) * 4);
	return rc;
}

/* Growing list of columns (mapped results, state values of rounds). */
struct cols {
	sl_col **v;
	size_t n, cap, rows;
};

static int cols_add(struct cols *c, sl_col *x)
{
	if (c->n == c->cap) {
		size_t n = c->cap ? c->cap * 2 : 8;
		sl_col **v = realloc(c->v, n * sizeof(*v));
		if (!v) {
			sl_col_unref(x);
			return -ENOMEM;
		}
		c->v = v;
		c->cap = n;
	}
	c->v[c->n++] = x;
	c->rows += x->len;
	return 0;
}

static void cols_fini(struct cols *c)
{
	for (size_t i = 0; i < c->n; i++)
		sl_col_unref(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/*
 * One evaluation of the mapping function over rows for ids[0..n): value (Option[V]) and
 * timing given; the state of each id comes from src row loc[id]. Applies the result to
 * present/upd/loc (new rows numbered from srcs->rows) and collects the mapped values.
 */
static int mws_eval(struct st *s, sl_mem *m, struct spart *sp, struct cols *srcs, uint32_t *loc,
		    const uint32_t *ids, size_t n, sl_col *value, int timing, int64_t t,
		    struct cols *mapped, sluice_error *err)
{
	sl_col *src =
	    srcs->n == 1 ? sl_col_ref(srcs->v[0]) : sl_col_concat(m, s->stt, srcs->v, srcs->n);
	uint32_t *idx = sl_alloc(m, -1, (n ? n : 1) * 4);
	uint8_t *valid = sl_alloc(m, -1, n ? n : 1);
	sl_col *stv = NULL, *stc = NULL, *keys = NULL, *tcol = NULL, *tim = NULL, *res = NULL;
	int rc = -ENOMEM;
	if (!src || !idx || !valid)
		goto out;
	for (size_t i = 0; i < n; i++) {
		idx[i] = loc[ids[i]];
		valid[i] = sp->present[ids[i]];
	}
	if (!(stv = sl_col_gather(src, idx, n)) || !(stc = opt_col(m, s->opt_s, stv, valid, n)) ||
	    !(keys = sl_col_gather(sp->dict.keys, ids, n)) || !(tcol = const_i64(m, t, n)) ||
	    !(tim = const_bool(m, timing, n)))
		goto out;
	sl_col *args[5] = {tcol, keys, value, stc, tim};
	sl_xeval ev;
	sl_xeval_init(&ev, m);
	res = sl_lambda_eval(&s->f, args, n, &ev);
	if (res && check_bad(&ev, err, "mapWithState")) {
		sl_xeval_fini(&ev);
		rc = -EINVAL;
		goto out;
	}
	sl_xeval_fini(&ev);
	if (!res)
		goto out;
	const uint8_t *pres = res->kid[0]->v.b, *upd = res->kid[2]->v.b, *rem = res->kid[3]->v.b,
		      *bad = res->kid[4]->v.b;
	for (size_t i = 0; i < n; i++)
		if (bad[i]) {
			rc = sl_error_set(err, -EINVAL,
					  "mapWithState: state.update or state.remove after "
					  "state.remove() or while the state is timing out");
			goto out;
		}
	size_t base = srcs->rows;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (rem[i] || timing) {
			sp->present[id] = 0;
			continue;
		}
		sp->present[id] = pres[i];
		if (upd[i] || (pres[i] && s->spec.timeout))
			sp->upd[id] = t;
		loc[id] = (uint32_t)(base + i);
	}
	sl_col *sv = sl_col_ref(res->kid[1]->kid[0]);
	if ((rc = cols_add(srcs, sv)))
		goto out;
	sl_col *ret = res->kid[5];
	if (s->flat_ret) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (ret->valid[i])
				idx[k++] = (uint32_t)i;
		sl_col *r = sl_col_gather(ret->kid[0], idx, k);
		rc = r ? cols_add(mapped, r) : -ENOMEM;
	} else {
		rc = cols_add(mapped, sl_col_ref(ret));
	}
out:
	if (idx)
		sl_dealloc(m, idx, (n ? n : 1) * 4);
	if (valid)
		sl_dealloc(m, valid, n ? n : 1);
	sl_col_unref(src);
	sl_col_unref(stv);
	sl_col_unref(stc);
	sl_col_unref(keys);
	sl_col_unref(tcol);
	sl_col_unref(tim);
	sl_col_unref(res);
	return rc;
}

/* mapWithState on one partition: the batch's records in rounds, then the timeouts. */
static int mws_part(struct st *s, sl_mem *m, struct spart *sp, const sl_col *gp, int64_t t,
		    int full_scan, sluice_error *err)
{
	size_t ng = gp ? gp->len : 0;
	uint32_t *gid = sl_alloc(m, -1, (ng ? ng : 1) * 4), *loc = NULL, *ids = NULL, *eidx = NULL;
	struct cols srcs = {0}, mapped = {0};
	sl_col *base = NULL;
	size_t nid = 0;
	int rc = -ENOMEM;
	if (!gid || (gp && intern(s, m, sp, gp->kid[0], gid)))
		goto out;
	nid = sp->dict.n;
	loc = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	ids = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	eidx = sl_alloc(m, -1, (nid ? nid : 1) * 4);
	if (!loc || !ids || !eidx || !(base = base_vals(s, m, sp)) ||
	    cols_add(&srcs, sl_col_ref(base)))
		goto out;
	for (size_t i = 0; i < nid; i++)
		loc[i] = (uint32_t)i;
	/* round r: the r-th record of every key that has one */
	const sl_col *lists = gp ? gp->kid[1] : NULL;
	for (uint32_t r = 0;; r++) {
		size_t n = 0;
		for (size_t i = 0; i < ng; i++)
			if (lists->v.off[i] + r < lists->v.off[i + 1]) {
				ids[n] = gid[i];
				eidx[n++] = lists->v.off[i] + r;
			}
		if (!n)
			break;
		sl_col *v = sl_col_gather(lists->kid[0], eidx, n);
		sl_col *ov = v ? opt_col(m, s->opt_v, v, NULL, n) : NULL;
		sl_col_unref(v);
		if (!ov)
			goto out;
		rc = mws_eval(s, m, sp, &srcs, loc, ids, n, ov, 0, t, &mapped, err);
		sl_col_unref(ov);
		if (rc)
			goto out;
		rc = -ENOMEM;
	}
	/* timeouts: idle for more than the timeout (last update < t - timeout) */
	if (s->spec.timeout && full_scan) {
		size_t n = 0;
		for (size_t i = 0; i < nid; i++)
			if (sp->present[i] && sp->upd[i] < t - s->spec.timeout)
				ids[n++] = (uint32_t)i;
		if (n) {
			sl_col *v = sl_col_new(m, s->vt, n);
			for (size_t i = 0; v && i < n; i++)
				if (sl_col_push_zero(v)) {
					sl_col_unref(v);
					v = NULL;
				}
			uint8_t *none = v ? sl_calloc(m, -1, n) : NULL;
			sl_col *ov = none ? opt_col(m, s->opt_v, v, none, n) : NULL;
			if (none)
				sl_dealloc(m, none, n);
			sl_col_unref(v);
			if (!ov)
				goto out;
			rc = mws_eval(s, m, sp, &srcs, loc, ids, n, ov, 1, t, &mapped, err);
			sl_col_unref(ov);
			if (rc)
				goto out;
			rc = -ENOMEM;
		}
	}
	/* the surviving states, compacted: ids renumbered in order */
	size_t live = 0;
	for (size_t i = 0; i < nid; i++)
		if (sp->present[i]) {
			ids[live] = (uint32_t)i;
			eidx[live++] = loc[i];
		}
	sl_col *src =
	    srcs.n == 1 ? sl_col_ref(srcs.v[0]) : sl_col_concat(m, s->stt, srcs.v, srcs.n);
	sl_col *nv = src ? sl_col_gather(src, eidx, live) : NULL;
	sl_col_unref(src);
	if (!nv)
		goto out;
	rc = rebuild(s, m, sp, ids, live, nv);
	sl_col_unref(nv);
	if (rc)
		goto out;
	for (size_t i = 0; i < live; i++)
		ids[i] = (uint32_t)i;
	sl_col_unref(sp->out);
	sp->out = pairs_of(s, m, sp, ids, live, sp->vals);
	const sl_type *mt = s->d->type;
	sl_col_unref(sp->mapped);
	sp->mapped = mapped.n ? sl_col_concat(m, mt, mapped.v, mapped.n) : sl_col_new(m, mt, 0);
	rc = sp->out && sp->mapped ? 0 : -ENOMEM;
out:
	if (gid)
		sl_dealloc(m, gid, (ng ? ng : 1) * 4);
	uint32_t *arrs[3] = {loc, ids, eidx};
	for (int i = 0; i < 3; i++)
		if (arrs[i])
			sl_dealloc(m, arrs[i], (nid ? nid : 1) * 4);
	sl_col_unref(base);
	cols_fini(&srcs);
	cols_fini(&mapped);
	return rc;
}

static void state_task(void *arg, size_t i, int worker)
{
	(void)worker;
	struct st *s = arg;
	struct spart *sp = &s->part[i];
	sl_mem *m = s->d->g->env->mem;
	memset(&sp->err, 0, sizeof(sp->err));
	sp->failed = 0;
	int rc = 0;
	/* the initial state: loaded before the first batch, updated "at" that batch */
	if (s->initg && i < s->initg->nparts && s->initg->part[i]) {
		const sl_col *ip = s->initg->part[i];
		uint32_t *ids = sl_alloc(m, -1, (ip->len ? ip->len : 1) * 4);
		uint32_t *first = sl_alloc(m, -1, (ip->len ? ip->len : 1) * 4);
		if (!ids || !first || intern(s, m, sp, ip->kid[0], ids)) {
			rc = -ENOMEM;
		} else {
			/* each key's first initial value; the dictionary was empty */
			const sl_col *l = ip->kid[1];
			for (size_t k = 0; k < ip->len; k++) {
				first[k] = l->v.off[k];
				sp->present[ids[k]] = 1;
				sp->upd[ids[k]] = s->t;
			}
			sl_col *v = sl_col_gather(l->kid[0], first, ip->len);
			if (!v)
				rc = -ENOMEM;
			sl_col_unref(sp->vals);
			sp->vals = v;
		}
		if (ids)
			sl_dealloc(m, ids, (ip->len ? ip->len : 1) * 4);
		if (first)
			sl_dealloc(m, first, (ip->len ? ip->len : 1) * 4);
	}
	const sl_col *gp = s->grouped && i < s->grouped->nparts ? s->grouped->part[i] : NULL;
	if (!rc && s->grouped && !gp) {
		/* an empty partition of this batch */
	}
	if (!rc)
		rc = s->mws ? mws_part(s, m, sp, gp, s->t, s->full_scan, &sp->err)
			    : usk_part(s, m, sp, gp, s->t, &sp->err);
	if (rc) {
		sp->failed = 1;
		if (!sp->err.code)
			sl_error_set(&sp->err, rc, "out of memory in %s", s->d->opname);
	}
}

static int state_start(struct st *s, sluice_error *err)
{
	sl_dstream *d = s->d;
	sl_env *env = d->g->env;
	int nw = sl_workers_count(env->workers);
	s->nout = d->nparts > 0 ? d->nparts : nw > 0 ? nw : 1;
	s->part = calloc((size_t)s->nout, sizeof(*s->part));
	if (!s->part)
		return sl_error_set(err, -ENOMEM, "out of memory in %s", d->opname);
	for (int i = 0; i < s->nout; i++) {
		if (sl_keydict_init(&s->part[i].dict, env->mem, s->kt, 64))
			return sl_error_set(err, -ENOMEM, "out of memory in %s", d->opname);
		s->part[i].dict_ok = 1;
	}
	s->started = 1;
	return 0;
}

/* Group an rdd of (K, V) pairs by key into the operator's partitions. */
static int group(struct st *s, sl_rdd *in, sl_rdd **out, sluice_error *err)
{
	return sl_shuffle_keyed(s->d->g->env, in, SL_KEYED_GROUP, NULL, s->nout, s->grp_t, NULL,
				out, err);
}

static int state_batch(struct st *s, int64_t t, sl_rdd **out, sluice_error *err)
{
	sl_dstream *d = s->d;
	sl_env *env = d->g->env;
	sl_mem *m = env->mem;
	int rc = 0;
	*out = NULL;
	int first = !s->started;
	if (first && (rc = state_start(s, err)))
		return rc;
	sl_rdd *in = NULL;
	if ((rc = sl_ds_compute(d->parent[0], t, &in, err)))
		return rc;
	if (first && s->init) {
		sl_rdd *ir = sl_rdd_new(m, s->pair_t, t, 1);
		if (!ir) {
			sl_rdd_unref(in);
			return -ENOMEM;
		}
		ir->part[0] = sl_col_ref(s->init);
		sl_types *ts = env->types;
		const sl_type *gt =
		    sl_type_pair(ts, s->kt, sl_type_list(ts, s->stt, SL_LIST_BUFFER));
		rc = sl_shuffle_keyed(env, ir, SL_KEYED_GROUP, NULL, s->nout, gt, NULL, &s->initg,
				      err);
		sl_rdd_unref(ir);
		if (rc) {
			sl_rdd_unref(in);
			return rc;
		}
		s->has_prev = 1;
	}
	/* updateStateByKey: no previous state and no input: no RDD (§6.5) */
	if (!s->mws && !s->has_prev && !in) {
		sl_rdd_unref(s->initg);
		s->initg = NULL;
		return 0;
	}
	if (in && (rc = group(s, in, &s->grouped, err))) {
		sl_rdd_unref(in);
		return rc;
	}
	sl_rdd_unref(in);
	s->t = t;
	int64_t rel = t - d->g->zero_time;
	s->full_scan = s->spec.every_batch || (s->ckpt > 0 && rel % s->ckpt == 0);
	sl_workers_run(env->workers, (size_t)s->nout, state_task, s);
	sl_rdd_unref(s->grouped);
	sl_rdd_unref(s->initg);
	s->grouped = s->initg = NULL;
	for (int i = 0; i < s->nout; i++)
		if (s->part[i].failed) {
			if (err)
				*err = s->part[i].err;
			return s->part[i].err.code ? s->part[i].err.code : -EINVAL;
		}
	s->has_prev = 1;
	sl_rdd *st = sl_rdd_new(m, s->pair_t, t, (size_t)s->nout);
	sl_rdd *mp = s->mws ? sl_rdd_new(m, d->type, t, (size_t)s->nout) : NULL;
	if (!st || (s->mws && !mp)) {
		sl_rdd_unref(st);
		sl_rdd_unref(mp);
		return -ENOMEM;
	}
	for (int i = 0; i < s->nout; i++) {
		st->part[i] = s->part[i].out;
		s->part[i].out = NULL;
		if (mp) {
			mp->part[i] = s->part[i].mapped;
			s->part[i].mapped = NULL;
		}
	}
	sl_rdd_unref(s->snap);
	s->snap = st;
	s->snap_time = t;
	*out = s->mws ? mp : sl_rdd_ref(st);
	return 0;
}

int sl_state_compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err)
{
	*out = NULL;
	if (d->kind == SL_DS_SNAPSHOT) {
		sl_rdd *r = NULL;
		int rc = sl_ds_compute(d->parent[0], t, &r, err);
		sl_rdd_unref(r);
		struct st *s = st_of(d->parent[0]);
		if (!rc && s->snap && s->snap_time == t)
			*out = sl_rdd_ref(s->snap);
		return rc;
	}
	return state_batch(st_of(d), t, out, err);
}

void sl_state_free(sl_dstream *d)
{
	struct st *s = st_of(d);
	if (!s)
		return;
	sl_mem *m = d->g->env->mem;
	for (int i = 0; s->part && i < s->nout; i++) {
		struct spart *sp = &s->part[i];
		if (sp->dict_ok)
			sl_keydict_fini(&sp->dict);
		sl_col_unref(sp->vals);
		sl_col_unref(sp->out);
		sl_col_unref(sp->mapped);
		if (sp->present)
			sl_dealloc(m, sp->present, sp->cap);
		if (sp->upd)
			sl_dealloc(m, sp->upd, sp->cap * 8);
	}
	free(s->part);
	sl_rdd_unref(s->snap);
	sl_rdd_unref(s->grouped);
	sl_rdd_unref(s->initg);
	st_destroy(s);
	d->priv = NULL;
}

int sl_ds_visit_state(sl_dstream *d, sl_state_visit_fn fn, void *arg)
{
	if (d->kind == SL_DS_WINDOW || d->kind == SL_DS_KWINDOW)
		return sl_window_visit(d, fn, arg);
	if (d->kind != SL_DS_STATE && d->kind != SL_DS_MAPSTATE)
		return 0;
	struct st *s = st_of(d);
	for (int i = 0; s->part && i < s->nout; i++) {
		struct spart *sp = &s->part[i];
		size_t n = sp->vals ? sp->vals->len : 0;
		int rc = fn(arg, "state", i, s->snap_time, sp->dict.keys, sp->vals,
			    s->mws ? sp->upd : NULL, n);
		if (rc)
			return rc;
	}
	return 0;
}
