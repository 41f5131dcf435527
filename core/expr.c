/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expr.c - compile lambdas to typed trees; evaluate them a column at a time.
 *
 * Scala semantics that matter and are kept: Long arithmetic wraps (no UB: done in
 * uint64_t), integer / and % truncate toward zero, x / 0 on Longs is an error for that
 * record (ArithmeticException in Scala) while Doubles give Infinity/NaN; Long op Double
 * is Double; String + anything concatenates toString of the right side; == on Doubles
 * is IEEE (NaN != NaN) as in Scala's primitive ==.
 * Deliberate differences (docs/pipeline-language.md): String.length counts code points,
 * toLowerCase/toUpperCase change ASCII letters only, split() takes a literal separator
 * or one of the regexes \s+ \s , ; \t \W+.
 */
#define _GNU_SOURCE
#include "expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "json.h"
#include "kernels.h"
#include "parse.h"

enum xop {
	X_PARAM,
	X_CONST,
	X_TUPLE,
	X_FIELD,
	X_ARITH,
	X_CMP,
	X_AND,
	X_OR,
	X_NOT,
	X_NEG,
	X_TOF64,
	X_TOI64,
	X_IF,
	X_CONCAT,
	X_TOSTR,
	X_SPLIT,
	X_LOWER,
	X_UPPER,
	X_TRIM,
	X_STRLEN,
	X_PARSEI,
	X_PARSEF,
	X_CSVFIELD,
	X_JSONFIELD,
	X_CONTAINS,
	X_STARTS,
	X_ENDS,
	X_STREMPTY,
	X_MAXMIN,
	X_ABS,
	X_MKLIST,
	X_LSUM,
	X_LSIZE,
	X_LMAXMIN,
	X_GETORELSE,
	X_ISDEF,
	X_OPTGET,
	X_SOME,
	X_NONE, /* None of a type taken from the other branch of an if */
};

struct sl_expr {
	int op, sub;
	const sl_type *type;
	sl_expr **kid;
	int nkid;
	int param, field;
	int64_t i;
	double f;
	char *s;
	size_t slen;
	sl_expr *next_alloc;
};

struct cctx {
	sl_types *types;
	sluice_error *err;
	const char *const *names; /* NULL: placeholder mode */
	const sl_type *const *ptypes;
	int nparam, nunder;
	sl_expr *arena;
	int depth;
	/* `val name = e` of enclosing blocks, innermost last: a use of name is e's node
	 * (shared, so the tree becomes a DAG; evaluation recomputes it per use) */
	struct {
		const char *name;
		sl_expr *e;
	} let[32];
	int nlet;
};

static sl_expr *node(struct cctx *c, int op, const sl_type *t, int nkid)
{
	sl_expr *e = calloc(1, sizeof(*e) + (size_t)nkid * sizeof(sl_expr *));
	if (!e) {
		sl_error_set(c->err, -ENOMEM, "out of memory compiling expression");
		return NULL;
	}
	e->op = op;
	e->type = t;
	e->nkid = nkid;
	e->kid = (sl_expr **)(e + 1);
	e->next_alloc = c->arena;
	c->arena = e;
	return e;
}

static void *fail(struct cctx *c, const sl_ast *a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void *fail(struct cctx *c, const sl_ast *a, const char *fmt, ...)
{
	if (c->err && !c->err->code) {
		va_list ap;
		va_start(ap, fmt);
		c->err->code = -EINVAL;
		vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
		va_end(ap);
		c->err->line = a ? a->line : 0;
		c->err->col = a ? a->col : 0;
	}
	return NULL;
}

#define TN(t) sl_type_name((t), (char[96]){0}, 96)

static sl_expr *cx(struct cctx *c, const sl_ast *a);

/* The name None, not shadowed by a lambda parameter. */
static int is_none(const struct cctx *c, const sl_ast *a)
{
	if (a->kind != SL_AST_IDENT || strcmp(a->name, "None"))
		return 0;
	for (int i = 0; c->names && i < c->nparam; i++)
		if (!strcmp(c->names[i], "None"))
			return 0;
	return 1;
}

static sl_expr *to_f64(struct cctx *c, sl_expr *e)
{
	if (e->type->kind == SL_F64)
		return e;
	if (e->op == X_CONST) {
		e->f = (double)e->i;
		e->type = &sl_type_f64;
		return e;
	}
	sl_expr *x = node(c, X_TOF64, &sl_type_f64, 1);
	if (x)
		x->kid[0] = e;
	return x;
}

/* Long meets Double: both become Double (Scala's numeric widening). 0, or -1 with the
 * error recorded. */
static int promote(struct cctx *c, sl_expr **x, sl_expr **y)
{
	if ((*x)->type->kind == (*y)->type->kind)
		return 0;
	*x = to_f64(c, *x);
	*y = *x ? to_f64(c, *y) : NULL;
	return *y ? 0 : -1;
}

static const char *opname(int op)
{
	static const char *n[] = {
	    "", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "-", "!"};
	return op >= 0 && op < (int)(sizeof(n) / sizeof(n[0])) ? n[op] : "?";
}

static sl_expr *binary(struct cctx *c, const sl_ast *a)
{
	sl_expr *l = cx(c, a->kid[0]);
	sl_expr *r = l ? cx(c, a->kid[1]) : NULL;
	if (!r)
		return NULL;
	int op = a->op;
	const sl_type *lt = l->type, *rt = r->type;
	if (op == SL_OP_AND || op == SL_OP_OR) {
		if (lt->kind != SL_BOOL || rt->kind != SL_BOOL)
			return fail(c, a, "operator %s needs Boolean operands, found %s and %s",
				    opname(op), TN(lt), TN(rt));
		sl_expr *e = node(c, op == SL_OP_AND ? X_AND : X_OR, &sl_type_bool, 2);
		if (e)
			e->kid[0] = l, e->kid[1] = r;
		return e;
	}
	if (op == SL_OP_ADD && (lt->kind == SL_STR || rt->kind == SL_STR)) {
		if (lt->kind != SL_STR)
			return fail(
			    c, a, "value + is not defined for %s and String (write x.toString + s)",
			    TN(lt));
		sl_expr *e = node(c, X_CONCAT, &sl_type_str, 2);
		if (!e)
			return NULL;
		e->kid[0] = l;
		if (rt->kind != SL_STR) {
			sl_expr *t = node(c, X_TOSTR, &sl_type_str, 1);
			if (!t)
				return NULL;
			t->kid[0] = r;
			r = t;
		}
		e->kid[1] = r;
		return e;
	}
	if (op >= SL_OP_EQ && op <= SL_OP_GE) {
		int numeric = sl_type_is_num(lt) && sl_type_is_num(rt);
		if (!numeric && !sl_type_eq(lt, rt))
			return fail(c, a, "cannot compare %s with %s", TN(lt), TN(rt));
		if (!numeric && op > SL_OP_NE && lt->kind != SL_STR && lt->kind != SL_BOOL)
			return fail(c, a, "operator %s is not defined for %s", opname(op), TN(lt));
		if (numeric && promote(c, &l, &r))
			return NULL;
		sl_expr *e = node(c, X_CMP, &sl_type_bool, 2);
		if (e)
			e->sub = op, e->kid[0] = l, e->kid[1] = r;
		return e;
	}
	if (!sl_type_is_num(lt) || !sl_type_is_num(rt))
		return fail(c, a, "value %s is not defined for %s and %s", opname(op), TN(lt),
			    TN(rt));
	if (promote(c, &l, &r))
		return NULL;
	sl_expr *e = node(c, X_ARITH, l->type, 2);
	if (e)
		e->sub = op, e->kid[0] = l, e->kid[1] = r;
	return e;
}

static sl_expr *konst(struct cctx *c, const sl_ast *a)
{
	switch (a->kind) {
	case SL_AST_INT: {
		sl_expr *e = node(c, X_CONST, &sl_type_i64, 0);
		if (e)
			e->i = a->ival;
		return e;
	}
	case SL_AST_FLOAT: {
		sl_expr *e = node(c, X_CONST, &sl_type_f64, 0);
		if (e)
			e->f = a->fval;
		return e;
	}
	case SL_AST_BOOL: {
		sl_expr *e = node(c, X_CONST, &sl_type_bool, 0);
		if (e)
			e->i = a->ival;
		return e;
	}
	default: {
		sl_expr *e = node(c, X_CONST, &sl_type_str, 0);
		if (!e)
			return NULL;
		e->s = malloc(a->slen + 1);
		if (!e->s)
			return fail(c, a, "out of memory");
		memcpy(e->s, a->str, a->slen);
		e->s[a->slen] = 0;
		e->slen = a->slen;
		return e;
	}
	}
}

static sl_expr *unary_node(struct cctx *c, int op, const sl_type *t, sl_expr *k)
{
	sl_expr *e = node(c, op, t, 1);
	if (e)
		e->kid[0] = k;
	return e;
}

/* x.name or x.name(args): methods and fields on values. */
static sl_expr *member(struct cctx *c, const sl_ast *a, const sl_ast *obj, const char *name,
		       const sl_ast *const *args, int nargs, int called)
{
	/* math.max(a, b), math.min, math.abs */
	if (obj->kind == SL_AST_IDENT && !strcmp(obj->name, "math") && called) {
		int mx = !strcmp(name, "max"), mn = !strcmp(name, "min"), ab = !strcmp(name, "abs");
		if ((mx || mn) && nargs == 2) {
			sl_expr *x = cx(c, args[0]), *y = x ? cx(c, args[1]) : NULL;
			if (!y)
				return NULL;
			if (!sl_type_is_num(x->type) || !sl_type_is_num(y->type))
				return fail(c, a, "math.%s needs numbers, found %s and %s", name,
					    TN(x->type), TN(y->type));
			if (promote(c, &x, &y))
				return NULL;
			sl_expr *e = node(c, X_MAXMIN, x->type, 2);
			if (e)
				e->sub = mx, e->kid[0] = x, e->kid[1] = y;
			return e;
		}
		if (ab && nargs == 1) {
			sl_expr *x = cx(c, args[0]);
			if (!x)
				return NULL;
			if (!sl_type_is_num(x->type))
				return fail(c, a, "math.abs needs a number, found %s", TN(x->type));
			return unary_node(c, X_ABS, x->type, x);
		}
		return fail(c, a,
			    "unknown function math.%s with %d argument(s) (known: math.max, "
			    "math.min, math.abs)",
			    name, nargs);
	}
	sl_expr *o = cx(c, obj);
	if (!o)
		return NULL;
	const sl_type *t = o->type;
	int k = t->kind;
	/* Tuple fields _1 .. _22 */
	if (name[0] == '_' && name[1] >= '1' && name[1] <= '9' && !called) {
		int f = atoi(name + 1);
		if (k != SL_TUPLE || f < 1 || f > t->n)
			return fail(c, a, "value %s is not a member of %s", name, TN(t));
		sl_expr *e = node(c, X_FIELD, t->kid[f - 1], 1);
		if (e)
			e->field = f - 1, e->kid[0] = o;
		return e;
	}
	sl_expr *arg[2] = {0};
	for (int i = 0; i < nargs && i < 2; i++)
		if (!(arg[i] = cx(c, args[i])))
			return NULL;
#define M(n, na) (!strcmp(name, n) && nargs == (na))
	if (M("toString", 0))
		return unary_node(c, X_TOSTR, &sl_type_str, o);
	if (k == SL_STR) {
		if (M("split", 1)) {
			if (arg[0]->op != X_CONST || arg[0]->type->kind != SL_STR)
				return fail(c, args[0], "split needs a constant String separator");
			const char *s = arg[0]->s;
			size_t l = arg[0]->slen;
			/* Java's split takes a regex. A separator without regex metacharacters
			 * (or one escaped punctuation character) is a literal; a few common
			 * regexes run natively; anything else is refused here, not misread. */
			int re = 0; /* 0 literal, 1 \s+, 2 \s, 3 \W+, 4 " +" */
			const char *lit = s;
			size_t litn = l;
			if (!strcmp(s, "\\s+"))
				re = 1;
			else if (!strcmp(s, "\\s"))
				re = 2;
			else if (!strcmp(s, "\\W+"))
				re = 3;
			else if (!strcmp(s, " +"))
				re = 4;
			else if (l == 2 && s[0] == '\\' &&
				 !((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z') ||
				   (s[1] >= '0' && s[1] <= '9')))
				lit = s + 1, litn = 1;
			else if (l == 0)
				return fail(c, args[0], "split(\"\") is not supported");
			else if (memchr(s, 0, l) || strpbrk(s, ".$|()[]{}^?*+\\"))
				return fail(
				    c, args[0],
				    "split pattern \"%s\" is a regex sluice does not run; "
				    "use a literal separator or \\\\s+, \\\\s, \\\\W+, \" +\"",
				    s);
			sl_expr *e = node(c, X_SPLIT,
					  sl_type_list(c->types, &sl_type_str, SL_LIST_ARRAY), 1);
			if (!e || !e->type)
				return fail(c, a, "out of memory");
			e->kid[0] = o;
			e->sub = re;
			e->s = malloc(litn + 1);
			if (!e->s)
				return fail(c, a, "out of memory");
			memcpy(e->s, lit, litn);
			e->s[litn] = 0;
			e->slen = re ? 0 : litn;
			return e;
		}
		if (M("toLowerCase", 0))
			return unary_node(c, X_LOWER, &sl_type_str, o);
		if (M("toUpperCase", 0))
			return unary_node(c, X_UPPER, &sl_type_str, o);
		if (M("trim", 0))
			return unary_node(c, X_TRIM, &sl_type_str, o);
		if (M("length", 0) || M("size", 0))
			return unary_node(c, X_STRLEN, &sl_type_i64, o);
		if (M("isEmpty", 0))
			return unary_node(c, X_STREMPTY, &sl_type_bool, o);
		if (M("toInt", 0) || M("toLong", 0)) {
			sl_expr *e = unary_node(c, X_PARSEI, &sl_type_i64, o);
			if (e)
				e->sub = name[2] == 'I' ? 32 : 64;
			return e;
		}
		if (M("toDouble", 0))
			return unary_node(c, X_PARSEF, &sl_type_f64, o);
		if (M("csvField", 1) || M("jsonField", 1)) {
			int csv = name[0] == 'c';
			if (arg[0]->op != X_CONST || arg[0]->type->kind != (csv ? SL_I64 : SL_STR))
				return fail(
				    c, args[0],
				    csv ? "csvField needs a constant column number (a Long, "
					  "counting from 0)"
					: "jsonField needs a constant String key");
			if (csv && (arg[0]->i < 0 || arg[0]->i > 65535))
				return fail(c, args[0], "csvField column %lld is not in 0..65535",
					    (long long)arg[0]->i);
			sl_expr *e = unary_node(c, csv ? X_CSVFIELD : X_JSONFIELD, &sl_type_str, o);
			if (!e)
				return NULL;
			e->i = arg[0]->i;
			if (!csv) {
				if (!(e->s = malloc(arg[0]->slen + 1)))
					return fail(c, a, "out of memory");
				memcpy(e->s, arg[0]->s, arg[0]->slen + 1);
				e->slen = arg[0]->slen;
			}
			return e;
		}
		if (M("contains", 1) || M("startsWith", 1) || M("endsWith", 1)) {
			if (arg[0]->type->kind != SL_STR)
				return fail(c, args[0], "%s needs a String argument, found %s",
					    name, TN(arg[0]->type));
			sl_expr *e = node(c,
					  name[0] == 'c'   ? X_CONTAINS
					  : name[0] == 's' ? X_STARTS
							   : X_ENDS,
					  &sl_type_bool, 2);
			if (e)
				e->kid[0] = o, e->kid[1] = arg[0];
			return e;
		}
	}
	if (sl_type_is_num(t)) {
		if (M("toDouble", 0))
			return to_f64(c, o);
		if (M("toLong", 0) || M("toInt", 0)) {
			if (k == SL_I64)
				return o;
			sl_expr *e = unary_node(c, X_TOI64, &sl_type_i64, o);
			if (e)
				e->sub = name[2] == 'I' ? 32 : 64;
			return e;
		}
		if ((M("max", 1) || M("min", 1)) && sl_type_is_num(arg[0]->type)) {
			sl_expr *x = o, *y = arg[0];
			if (promote(c, &x, &y))
				return NULL;
			sl_expr *e = node(c, X_MAXMIN, x->type, 2);
			if (e)
				e->sub = name[1] == 'a', e->kid[0] = x, e->kid[1] = y;
			return e;
		}
		if (M("abs", 0))
			return unary_node(c, X_ABS, t, o);
	}
	if (k == SL_LIST) {
		const sl_type *et = t->kid[0];
		if (M("size", 0) || M("length", 0))
			return unary_node(c, X_LSIZE, &sl_type_i64, o);
		if (M("sum", 0) && sl_type_is_num(et))
			return unary_node(c, X_LSUM, et, o);
		if ((M("max", 0) || M("min", 0)) && (sl_type_is_num(et) || et->kind == SL_STR)) {
			sl_expr *e = unary_node(c, X_LMAXMIN, et, o);
			if (e)
				e->sub = name[1] == 'a';
			return e;
		}
	}
	if (k == SL_OPT) {
		if (M("isDefined", 0) || M("nonEmpty", 0))
			return unary_node(c, X_ISDEF, &sl_type_bool, o);
		if (M("isEmpty", 0)) {
			sl_expr *d = unary_node(c, X_ISDEF, &sl_type_bool, o);
			return d ? unary_node(c, X_NOT, &sl_type_bool, d) : NULL;
		}
		if (M("get", 0))
			return unary_node(c, X_OPTGET, t->kid[0], o);
		if (M("getOrElse", 1)) {
			sl_expr *d = arg[0];
			if (!sl_type_eq(d->type, t->kid[0])) {
				if (t->kid[0]->kind == SL_F64 && d->type->kind == SL_I64)
					d = to_f64(c, d);
				else
					return fail(
					    c, args[0],
					    "getOrElse default has type %s, the Option holds %s",
					    TN(d->type), TN(t->kid[0]));
			}
			sl_expr *e = node(c, X_GETORELSE, t->kid[0], 2);
			if (e)
				e->kid[0] = o, e->kid[1] = d;
			return e;
		}
	}
#undef M
	return fail(c, a, "value %s%s is not a member of %s", name, called ? "(...)" : "", TN(t));
}

static sl_expr *call(struct cctx *c, const sl_ast *a)
{
	const sl_ast *f = a->kid[0];
	const sl_ast *const *args = (const sl_ast *const *)a->kid + 1;
	int nargs = a->nkid - 1;
	for (int i = 0; i < nargs; i++)
		if (args[i]->kind == SL_AST_NAMED)
			return fail(c, args[i], "named arguments are not allowed here");
	if (f->kind == SL_AST_FIELD)
		return member(c, a, f->kid[0], f->name, args, nargs, 1);
	if (f->kind == SL_AST_IDENT) {
		const char *n = f->name;
		if (!strcmp(n, "Seq") || !strcmp(n, "List") || !strcmp(n, "Array")) {
			if (nargs < 1)
				return fail(
				    c, a,
				    "%s() needs at least one element (its type must be known)", n);
			sl_expr *e = node(c, X_MKLIST, NULL, nargs);
			if (!e)
				return NULL;
			const sl_type *et = NULL;
			int anyf = 0;
			for (int i = 0; i < nargs; i++) {
				if (!(e->kid[i] = cx(c, args[i])))
					return NULL;
				anyf |= e->kid[i]->type->kind == SL_F64;
			}
			for (int i = 0; i < nargs; i++) {
				if (anyf && e->kid[i]->type->kind == SL_I64)
					e->kid[i] = to_f64(c, e->kid[i]);
				if (!e->kid[i])
					return NULL;
				if (!et)
					et = e->kid[i]->type;
				else if (!sl_type_eq(et, e->kid[i]->type))
					return fail(c, args[i],
						    "%s elements must have one type: %s and %s", n,
						    TN(et), TN(e->kid[i]->type));
			}
			e->type =
			    sl_type_list(c->types, et, n[0] == 'A' ? SL_LIST_ARRAY : SL_LIST_SEQ);
			return e->type ? e : fail(c, a, "out of memory");
		}
		if (!strcmp(n, "Some") && nargs == 1) {
			sl_expr *x = cx(c, args[0]);
			if (!x)
				return NULL;
			const sl_type *t = sl_type_opt(c->types, x->type);
			return t ? unary_node(c, X_SOME, t, x) : fail(c, a, "out of memory");
		}
		if ((!strcmp(n, "max") || !strcmp(n, "min")) && nargs == 2) {
			sl_ast fake = {
			    .kind = SL_AST_IDENT, .name = "math", .line = f->line, .col = f->col};
			return member(c, a, &fake, n, args, nargs, 1);
		}
		return fail(c, f, "unknown function '%s' in expression", n);
	}
	return fail(c, a, "this expression cannot be called");
}

static sl_expr *cx(struct cctx *c, const sl_ast *a)
{
	if (++c->depth > 200) {
		c->depth--;
		return fail(c, a, "expression nested too deeply");
	}
	sl_expr *r = NULL;
	switch (a->kind) {
	case SL_AST_INT:
	case SL_AST_FLOAT:
	case SL_AST_STRING:
	case SL_AST_BOOL: r = konst(c, a); break;
	case SL_AST_DURATION: r = fail(c, a, "a duration is not a value inside a function"); break;
	case SL_AST_UNDERSCORE:
		if (c->names) {
			r = fail(c, a, "'_' cannot be used inside an explicit lambda");
			break;
		}
		if (c->nunder >= c->nparam) {
			r = fail(c, a,
				 "too many '_' placeholders: this function takes %d argument(s)",
				 c->nparam);
			break;
		}
		r = node(c, X_PARAM, c->ptypes[c->nunder], 0);
		if (r)
			r->param = c->nunder++;
		break;
	case SL_AST_IDENT:
		for (int i = c->nlet - 1; i >= 0; i--)
			if (!strcmp(c->let[i].name, a->name)) {
				r = c->let[i].e;
				goto out;
			}
		for (int i = 0; c->names && i < c->nparam; i++)
			if (!strcmp(c->names[i], a->name)) {
				r = node(c, X_PARAM, c->ptypes[i], 0);
				if (r)
					r->param = i;
				goto out;
			}
		if (!strcmp(a->name, "None"))
			r = fail(c, a,
				 "None needs a known type here; use Option values from joins");
		else
			r = fail(c, a, "unknown name '%s'", a->name);
		break;
	case SL_AST_TUPLE: {
		sl_expr *e = node(c, X_TUPLE, NULL, a->nkid);
		if (!e || a->nkid > SL_TUPLE_MAX) {
			r = e ? fail(c, a, "tuples have at most %d fields", SL_TUPLE_MAX) : NULL;
			break;
		}
		const sl_type *kt[SL_TUPLE_MAX];
		for (int i = 0; i < a->nkid; i++) {
			if (!(e->kid[i] = cx(c, a->kid[i])))
				goto out;
			kt[i] = e->kid[i]->type;
		}
		e->type = sl_type_tuple(c->types, a->nkid, kt);
		r = e->type ? e : fail(c, a, "out of memory");
		break;
	}
	case SL_AST_FIELD: r = member(c, a, a->kid[0], a->name, NULL, 0, 0); break;
	case SL_AST_CALL: r = call(c, a); break;
	case SL_AST_BINARY: r = binary(c, a); break;
	case SL_AST_UNARY: {
		sl_expr *k = cx(c, a->kid[0]);
		if (!k)
			break;
		if (a->op == SL_OP_NOT) {
			r = k->type->kind == SL_BOOL
				? unary_node(c, X_NOT, &sl_type_bool, k)
				: fail(c, a, "operator ! needs a Boolean, found %s", TN(k->type));
		} else if (k->op == X_CONST && sl_type_is_num(k->type)) {
			k->i = (int64_t)(0 - (uint64_t)k->i);
			k->f = -k->f;
			r = k;
		} else {
			r = sl_type_is_num(k->type)
				? unary_node(c, X_NEG, k->type, k)
				: fail(c, a, "unary - needs a number, found %s", TN(k->type));
		}
		break;
	}
	case SL_AST_IF: {
		if (a->nkid < 3 || !a->kid[2]) {
			r = fail(c, a, "an if without else has no value here");
			break;
		}
		/* `None` in one branch takes its type from the other: if (c) Some(x) else None */
		int nx = is_none(c, a->kid[1]), ny = is_none(c, a->kid[2]);
		sl_expr *cnd = cx(c, a->kid[0]);
		sl_expr *x = cnd && !nx ? cx(c, a->kid[1]) : NULL;
		sl_expr *y = cnd && (x || nx) && !ny ? cx(c, a->kid[2]) : NULL;
		if (nx && ny) {
			r = fail(c, a, "None needs a known type here: both branches are None");
			break;
		}
		if (nx || ny) {
			sl_expr *o = nx ? y : x;
			if (!o)
				break;
			if (o->type->kind != SL_OPT) {
				r = fail(
				    c, a->kid[nx ? 1 : 2],
				    "None in one branch of an if needs an Option in the other, "
				    "found %s",
				    TN(o->type));
				break;
			}
			sl_expr *none = node(c, X_NONE, o->type, 0);
			if (!none)
				break;
			if (nx)
				x = none;
			else
				y = none;
		}
		if (!y)
			break;
		if (cnd->type->kind != SL_BOOL) {
			r = fail(c, a->kid[0], "if condition must be Boolean, found %s",
				 TN(cnd->type));
			break;
		}
		if (sl_type_is_num(x->type) && sl_type_is_num(y->type) && promote(c, &x, &y))
			break;
		if (!sl_type_eq(x->type, y->type)) {
			r = fail(c, a, "if branches have different types: %s and %s", TN(x->type),
				 TN(y->type));
			break;
		}
		r = node(c, X_IF, x->type, 3);
		if (r)
			r->kid[0] = cnd, r->kid[1] = x, r->kid[2] = y;
		break;
	}
	case SL_AST_LAMBDA: r = fail(c, a, "a function is not a value here"); break;
	case SL_AST_BLOCK: {
		/* { val a = e1; val b = e2; value }: vals bind names, the last is the value */
		int save = c->nlet;
		for (int i = 0; i < a->nkid && !r; i++) {
			const sl_ast *st = a->kid[i];
			if (i == a->nkid - 1 && st->kind != SL_AST_VAL) {
				r = cx(c, st);
				break;
			}
			if (st->kind != SL_AST_VAL) {
				fail(c, st,
				     "a statement other than the last one of a block has no effect "
				     "here (state.update and state.remove are for mapWithState)");
				break;
			}
			if (i == a->nkid - 1) {
				fail(c, st, "a block must end with an expression, not a val");
				break;
			}
			if (c->nlet == (int)(sizeof(c->let) / sizeof(c->let[0]))) {
				fail(c, st,
				     "too many vals in scope (at most 32 in a block and the blocks "
				     "around it)");
				break;
			}
			sl_expr *v = cx(c, st->kid[0]);
			if (!v)
				break;
			c->let[c->nlet].name = st->name;
			c->let[c->nlet++].e = v;
		}
		c->nlet = save;
		break;
	}
	case SL_AST_VAL: r = fail(c, a, "a val is only allowed as a statement of a block"); break;
	case SL_AST_NAMED:
		r = fail(c, a, "named argument '%s' is not allowed here", a->name);
		break;
	}
out:
	c->depth--;
	return r;
}

int sl_ast_placeholders(const sl_ast *a)
{
	if (!a || a->kind == SL_AST_LAMBDA)
		return 0;
	if (a->kind == SL_AST_UNDERSCORE)
		return 1;
	int n = 0;
	for (int i = 0; i < a->nkid; i++)
		n += sl_ast_placeholders(a->kid[i]);
	return n;
}

static int detect_reducer(const sl_expr *e, const sl_type *t)
{
	if (!sl_type_is_num(t))
		return SL_RED_NONE;
	if (e->nkid != 2 || e->kid[0]->op != X_PARAM || e->kid[1]->op != X_PARAM ||
	    e->kid[0]->param != 0 || e->kid[1]->param != 1)
		return SL_RED_NONE;
	if (e->op == X_ARITH && e->sub == SL_OP_ADD)
		return SL_RED_SUM;
	if (e->op == X_MAXMIN)
		return e->sub ? SL_RED_MAX : SL_RED_MIN;
	return SL_RED_NONE;
}

/* Whether x is the parameter or one of its tuple fields: *field = k for x._k, -1 for x. */
static int param_field(const sl_expr *x, int *field)
{
	*field = -1;
	if (x->op == X_FIELD && x->kid[0]->op == X_PARAM) {
		*field = x->field;
		x = x->kid[0];
	}
	return x->op == X_PARAM && x->param == 0;
}

/* One comparison leaf of sl_lambda_cmp_const. */
static int cmp_leaf(const sl_expr *e, sl_cmp_leaf *out)
{
	if (e->op != X_CMP)
		return 0;
	int field, rfield = -1;
	if (!param_field(e->kid[0], &field))
		return 0;
	if (e->kid[1]->op != X_CONST &&
	    (!param_field(e->kid[1], &rfield) || rfield < 0 || field < 0))
		return 0;
	int kind = e->kid[0]->type->kind;
	if ((kind != SL_I64 && kind != SL_F64) || e->kid[1]->type->kind != kind)
		return 0;
	*out = (sl_cmp_leaf){.field = field,
			     .op = e->sub,
			     .kind = kind,
			     .rfield = rfield,
			     .ci = e->kid[1]->i,
			     .cf = e->kid[1]->f};
	return 1;
}

/* The leaves of a tree of && in s, left to right. 0 if one is not a comparison leaf or
 * there are too many. (Comparisons cannot fail or have effects, so evaluating every one
 * of them gives what && short-circuited gives.) */
static int cmp_and(const sl_expr *e, sl_cmp_shape *s)
{
	if (e->op == X_AND)
		return cmp_and(e->kid[0], s) && cmp_and(e->kid[1], s);
	return s->n < SL_CMP_MAX && cmp_leaf(e, &s->c[s->n++]);
}

int sl_lambda_cmp_const(const sl_lambda *l, sl_cmp_shape *out)
{
	const sl_expr *e = l->body;
	sl_cmp_shape s = {0};
	if (!e || l->nparam != 1 || !cmp_and(e, &s))
		return 0;
	int two = -1; /* the one two-field comparison goes first */
	for (int i = 0; i < s.n; i++)
		if (s.c[i].rfield >= 0) {
			if (two >= 0)
				return 0;
			two = i;
		}
	if (two > 0) {
		sl_cmp_leaf t = s.c[0];
		s.c[0] = s.c[two];
		s.c[two] = t;
	}
	*out = s;
	return 1;
}

static const sl_cmp cmp_ops[] = {
    [SL_OP_EQ] = SL_CMP_EQ, [SL_OP_NE] = SL_CMP_NE, [SL_OP_LT] = SL_CMP_LT,
    [SL_OP_LE] = SL_CMP_LE, [SL_OP_GT] = SL_CMP_GT, [SL_OP_GE] = SL_CMP_GE};

static const sl_col *leaf_col(const sl_cmp_leaf *l, const sl_col *c)
{
	return l->field < 0 ? c : c->kid[l->field];
}

/* Narrow the selection idx[0..n) to the rows where constant comparison l holds. */
static size_t leaf_select_sel(const struct sl_kernels *k, const sl_cmp_leaf *l, const sl_col *c,
			      uint32_t *idx, size_t n)
{
	const sl_col *v = leaf_col(l, c);
	return l->kind == SL_I64 ? k->filter_i64_sel(v->v.i64, idx, n, cmp_ops[l->op], l->ci, idx)
				 : k->filter_f64_sel(v->v.f64, idx, n, cmp_ops[l->op], l->cf, idx);
}

size_t sl_cmp_select(const struct sl_kernels *k, const sl_cmp_shape *s, const sl_col *c, size_t n,
		     uint32_t *idx)
{
	const sl_cmp_leaf *l = &s->c[0];
	const sl_col *v = leaf_col(l, c);
	const sl_col *w = l->rfield < 0 ? NULL : c->kid[l->rfield];
	sl_cmp op = cmp_ops[l->op];
	size_t kept = l->kind == SL_I64 ? (w ? k->filter_i64_col(v->v.i64, w->v.i64, n, op, idx)
					     : k->filter_i64(v->v.i64, n, op, l->ci, idx))
					: (w ? k->filter_f64_col(v->v.f64, w->v.f64, n, op, idx)
					     : k->filter_f64(v->v.f64, n, op, l->cf, idx));
	for (int i = 1; i < s->n && kept; i++)
		kept = leaf_select_sel(k, &s->c[i], c, idx, kept);
	return kept;
}

size_t sl_cmp_count(const struct sl_kernels *k, const sl_cmp_shape *s, const sl_col *c, size_t n,
		    uint32_t *idx)
{
	if (!sl_cmp_count_needs_sel(s)) {
		const sl_cmp_leaf *l = &s->c[0];
		const sl_col *v = leaf_col(l, c);
		return l->kind == SL_I64 ? k->count_i64(v->v.i64, n, cmp_ops[l->op], l->ci)
					 : k->count_f64(v->v.f64, n, cmp_ops[l->op], l->cf);
	}
	if (s->n == 1) /* one two-field comparison */
		return sl_cmp_select(k, s, c, n, idx);
	sl_cmp_shape most = *s; /* all but the last comparison select, the last counts */
	most.n--;
	size_t kept = sl_cmp_select(k, &most, c, n, idx);
	const sl_cmp_leaf *l = &s->c[s->n - 1];
	const sl_col *v = leaf_col(l, c);
	return !kept               ? 0
	       : l->kind == SL_I64 ? k->count_i64_sel(v->v.i64, idx, kept, cmp_ops[l->op], l->ci)
				   : k->count_f64_sel(v->v.f64, idx, kept, cmp_ops[l->op], l->cf);
}

int sl_lambda_pair_key(const sl_lambda *l, sl_lambda *key, int64_t *c)
{
	const sl_expr *e = l->body;
	if (!e || l->nparam != 1 || e->op != X_TUPLE || e->nkid != 2 || e->kid[1]->op != X_CONST ||
	    e->kid[1]->type->kind != SL_I64)
		return 0;
	*key = (sl_lambda){.body = e->kid[0], .nparam = 1, .type = e->kid[0]->type};
	key->ptype[0] = l->ptype[0];
	*c = e->kid[1]->i;
	return 1;
}

int sl_lambda_pair_const(const sl_lambda *l, int64_t *c)
{
	sl_lambda key;
	return sl_lambda_pair_key(l, &key, c) && key.body->op == X_PARAM && key.body->param == 0;
}

int sl_lambda_compile(sl_lambda *l, sl_types *types, const sl_ast *ast, int nparam,
		      const sl_type *const *ptypes, sluice_error *err)
{
	memset(l, 0, sizeof(*l));
	struct cctx c = {.types = types, .err = err, .ptypes = ptypes, .nparam = nparam};
	const sl_ast *body = ast;
	if (ast->kind == SL_AST_LAMBDA) {
		if (ast->nparam != nparam) {
			fail(&c, ast, "this function takes %d argument(s) but the lambda has %d",
			     nparam, ast->nparam);
			return -EINVAL;
		}
		c.names = ast->params;
		body = ast->kid[0];
	} else {
		int n = sl_ast_placeholders(ast);
		if (n != nparam) {
			fail(&c, ast,
			     "expected a function of %d argument(s), found %s with %d "
			     "placeholder(s)",
			     nparam, n ? "an expression" : "a value", n);
			return -EINVAL;
		}
	}
	sl_expr *e = cx(&c, body);
	l->arena = c.arena;
	if (!e) {
		sl_lambda_fini(l);
		return err && err->code ? err->code : -EINVAL;
	}
	l->body = e;
	l->nparam = nparam;
	for (int i = 0; i < nparam && i < 2; i++)
		l->ptype[i] = ptypes[i];
	l->type = e->type;
	if (nparam == 2 && sl_type_eq(ptypes[0], ptypes[1]) && sl_type_eq(e->type, ptypes[0]))
		l->reducer = detect_reducer(e, e->type);
	return 0;
}

void sl_lambda_fini(sl_lambda *l)
{
	for (sl_expr *e = l->arena, *n; e; e = n) {
		n = e->next_alloc;
		free(e->s);
		free(e);
	}
	l->arena = NULL;
	l->body = NULL;
}

/* ---------------------------------------------------------------- evaluation */

void sl_xeval_init(sl_xeval *ev, sl_mem *m)
{
	memset(ev, 0, sizeof(*ev));
	ev->mem = m;
	ev->kern = sl_kernels_select(NULL, NULL); /* pure; never NULL without a forced name */
}

void sl_xeval_fini(sl_xeval *ev)
{
	if (ev->bad)
		sl_dealloc(ev->mem, ev->bad, ev->n);
	ev->bad = NULL;
	ev->nbad = 0;
}

static void mark_bad(sl_xeval *ev, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void mark_bad(sl_xeval *ev, size_t i, const char *fmt, ...)
{
	if (!ev->bad) {
		ev->bad = sl_calloc(ev->mem, -1, ev->n ? ev->n : 1);
		if (!ev->bad)
			return;
	}
	if (ev->bad[i])
		return;
	ev->bad[i] = 1;
	if (!ev->nbad++) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ev->why, sizeof(ev->why), fmt, ap);
		va_end(ap);
	}
}

static sl_col *ev(const sl_expr *e, sl_col *const *args, size_t n, sl_xeval *x);

/* A constant as a column of n copies. */
static sl_col *const_col(const sl_expr *e, size_t n, sl_mem *m)
{
	sl_col *c = sl_col_new(m, e->type, n);
	if (!c)
		return NULL;
	if (e->type->kind == SL_STR) {
		char *p = sl_col_str_space(c, e->slen);
		if (!p) {
			sl_col_unref(c);
			return NULL;
		}
		memcpy(p, e->s, e->slen);
		for (size_t i = 0; i < n; i++)
			c->v.s[i] = (sl_str){p, e->slen};
	} else if (e->type->kind == SL_F64) {
		double *o = c->v.f64, v = e->f; /* locals: the loop vectorizes */
		for (size_t i = 0; i < n; i++)
			o[i] = v;
	} else if (e->type->kind == SL_BOOL) {
		memset(c->v.b, (int)e->i, n);
	} else {
		int64_t *o = c->v.i64, v = e->i;
		for (size_t i = 0; i < n; i++)
			o[i] = v;
	}
	c->len = n;
	return c;
}

static inline int64_t arith_i64(int op, int64_t a, int64_t b, size_t i, sl_xeval *x)
{
	switch (op) {
	case SL_OP_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
	case SL_OP_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
	case SL_OP_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
	case SL_OP_DIV:
		if (!b) {
			mark_bad(x, i, "integer division by zero");
			return 0;
		}
		return b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
	default:
		if (!b) {
			mark_bad(x, i, "integer remainder by zero");
			return 0;
		}
		return b == -1 ? 0 : a % b;
	}
}

static inline double arith_f64(int op, double a, double b)
{
	switch (op) {
	case SL_OP_ADD: return a + b;
	case SL_OP_SUB: return a - b;
	case SL_OP_MUL: return a * b;
	case SL_OP_DIV: return a / b;
	default: return fmod(a, b);
	}
}

/* The map kernel operator of + - * (the same for Long and Double), or -1. */
static inline int arith_kernel(int op)
{
	return op == SL_OP_ADD   ? SL_ARITH_ADD
	       : op == SL_OP_SUB ? SL_ARITH_SUB
	       : op == SL_OP_MUL ? SL_ARITH_MUL
				 : -1;
}

static sl_col *eval_arith(const sl_expr *e, sl_col *const *args, size_t n, sl_xeval *x)
{
	const sl_expr *le = e->kid[0], *re = e->kid[1];
	sl_col *out = sl_col_new(x->mem, e->type, n);
	if (!out)
		return NULL;
	out->len = n;
	int op = e->sub;
	if (e->type->kind == SL_I64) {
		int64_t *o = out->v.i64;
		if (re->op == X_CONST && le->op != X_CONST) {
			sl_col *l = ev(le, args, n, x);
			if (!l)
				goto oom;
			const int64_t *a = l->v.i64;
			int64_t b = re->i;
			/* + - * are the ISA's map kernel (wrapping, like the JVM) */
			if (arith_kernel(op) >= 0)
				x->kern->map_i64(arith_kernel(op), a, NULL, b, n, o);
			else
				for (size_t i = 0; i < n; i++)
					o[i] = arith_i64(op, a[i], b, i, x);
			sl_col_unref(l);
			return out;
		}
		sl_col *l = ev(le, args, n, x), *r = l ? ev(re, args, n, x) : NULL;
		if (!r) {
			sl_col_unref(l);
			goto oom;
		}
		const int64_t *a = l->v.i64, *b = r->v.i64;
		if (arith_kernel(op) >= 0)
			x->kern->map_i64(arith_kernel(op), a, b, 0, n, o);
		else
			for (size_t i = 0; i < n; i++)
				o[i] = arith_i64(op, a[i], b[i], i, x);
		sl_col_unref(l);
		sl_col_unref(r);
		return out;
	}
	sl_col *l = ev(le, args, n, x), *r = l ? ev(re, args, n, x) : NULL;
	if (!r) {
		sl_col_unref(l);
		goto oom;
	}
	const double *a = l->v.f64, *b = r->v.f64;
	double *o = out->v.f64;
	if (op == SL_OP_DIV)
		x->kern->map_f64(SL_ARITH_DIV, a, b, 0, n, o);
	else if (arith_kernel(op) >= 0)
		x->kern->map_f64(arith_kernel(op), a, b, 0, n, o);
	else
		for (size_t i = 0; i < n; i++)
			o[i] = arith_f64(op, a[i], b[i]);
	sl_col_unref(l);
	sl_col_unref(r);
	return out;
oom:
	sl_col_unref(out);
	return NULL;
}

static inline int cmp_ok(int op, int c)
{
	switch (op) {
	case SL_OP_EQ: return c == 0;
	case SL_OP_NE: return c != 0;
	case SL_OP_LT: return c < 0;
	case SL_OP_LE: return c <= 0;
	case SL_OP_GT: return c > 0;
	default: return c >= 0;
	}
}

static sl_col *eval_cmp(const sl_expr *e, sl_col *const *args, size_t n, sl_xeval *x)
{
	sl_col *out = sl_col_new(x->mem, &sl_type_bool, n);
	if (!out)
		return NULL;
	out->len = n;
	uint8_t *o = out->v.b;
	int op = e->sub;
	const sl_expr *le = e->kid[0], *re = e->kid[1];
	int kind = le->type->kind;
	if (kind == SL_I64 && re->op == X_CONST) {
		sl_col *l = ev(le, args, n, x);
		if (!l)
			goto oom;
		const int64_t *a = l->v.i64;
		int64_t b = re->i;
		switch (op) {
		case SL_OP_EQ:
			for (size_t i = 0; i < n; i++)
				o[i] = a[i] == b;
			break;
		case SL_OP_NE:
			for (size_t i = 0; i < n; i++)
				o[i] = a[i] != b;
			break;
		case SL_OP_LT:
			for (size_t i = 0; i < n; i++)
				o[i] = a[i] < b;
			break;
		case SL_OP_LE:
			for (size_t i = 0; i < n; i++)
				o[i] = a[i] <= b;
			break;
		case SL_OP_GT:
			for (size_t i = 0; i < n; i++)
				o[i] = a[i] > b;
			break;
		default:
			for (size_t i = 0; i < n; i++)
				o[i] = a[i] >= b;
			break;
		}
		sl_col_unref(l);
		return out;
	}
	sl_col *l = ev(le, args, n, x), *r = l ? ev(re, args, n, x) : NULL;
	if (!r) {
		sl_col_unref(l);
		goto oom;
	}
	if (kind == SL_F64) {
		const double *a = l->v.f64, *b = r->v.f64;
		for (size_t i = 0; i < n; i++) {
			switch (op) {
			case SL_OP_EQ: o[i] = a[i] == b[i]; break;
			case SL_OP_NE: o[i] = a[i] != b[i]; break;
			case SL_OP_LT: o[i] = a[i] < b[i]; break;
			case SL_OP_LE: o[i] = a[i] <= b[i]; break;
			case SL_OP_GT: o[i] = a[i] > b[i]; break;
			default: o[i] = a[i] >= b[i]; break;
			}
		}
	} else if (kind == SL_I64) {
		const int64_t *a = l->v.i64, *b = r->v.i64;
		for (size_t i = 0; i < n; i++)
			o[i] = cmp_ok(op, (a[i] > b[i]) - (a[i] < b[i]));
	} else if (op == SL_OP_EQ || op == SL_OP_NE) {
		for (size_t i = 0; i < n; i++)
			o[i] = sl_col_row_eq(l, i, r, i) == (op == SL_OP_EQ);
	} else {
		for (size_t i = 0; i < n; i++)
			o[i] = cmp_ok(op, sl_col_row_cmp(l, i, r, i));
	}
	sl_col_unref(l);
	sl_col_unref(r);
	return out;
oom:
	sl_col_unref(out);
	return NULL;
}

/* String result built row by row into the output's own buffer. */
static sl_col *eval_str_unary(const sl_expr *e, sl_col *s, size_t n, sl_xeval *x)
{
	sl_col *out = sl_col_new(x->mem, &sl_type_str, n);
	if (!out)
		return NULL;
	if (e->op == X_TRIM && sl_col_share_bufs(out, s))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		sl_str v = s->v.s[i];
		if (e->op == X_TRIM) {
			/* Java trim: strip chars <= ' ' at both ends; a view, no copy */
			size_t b = 0, l = v.len;
			while (b < l && (unsigned char)v.p[b] <= ' ')
				b++;
			while (l > b && (unsigned char)v.p[l - 1] <= ' ')
				l--;
			out->v.s[i] = (sl_str){v.p + b, l - b};
			continue;
		}
		char *d = sl_col_str_space(out, v.len);
		if (!d)
			goto oom;
		for (size_t j = 0; j < v.len; j++) {
			unsigned char ch = (unsigned char)v.p[j];
			if (e->op == X_LOWER)
				d[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			else
				d[j] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		}
		out->v.s[i] = (sl_str){d, v.len};
	}
	out->len = n;
	return out;
oom:
	sl_col_unref(out);
	return NULL;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/*
 * Java String.split(regex) with limit 0: pieces between matches; trailing empty pieces
 * removed; a leading empty piece kept only if the first match has positive width at 0
 * (always the case here); no match at all gives the whole string.
 */
static sl_col *eval_split(const sl_expr *e, sl_col *s, size_t n, sl_xeval *x)
{
	sl_col *out = sl_col_new(x->mem, e->type, n);
	if (!out)
		return NULL;
	sl_col *w = out->kid[0];
	if (sl_col_share_bufs(w, s) || sl_col_reserve(w, n * 2))
		goto oom;
	const char *sep = e->s;
	size_t sepn = e->slen;
	for (size_t i = 0; i < n; i++) {
		const char *p = s->v.s[i].p, *end = p + s->v.s[i].len;
		size_t first = w->len, keep = w->len;
		const char *piece = p;
		if (e->sub == 0 && sepn == 1) {
			/* the ISA's delimiter kernel: every separator offset, a block at a time */
			uint32_t offs[256];
			size_t len = (size_t)(end - p), at = 0;
			for (;;) {
				size_t k =
				    x->kern->split_offsets(p + at, len - at, sep[0], offs, 256);
				for (size_t j = 0; j < k; j++) {
					const char *m = p + at + offs[j];
					if (sl_col_push_view(w, piece, (size_t)(m - piece)))
						goto oom;
					if (m > piece)
						keep = w->len;
					piece = m + 1;
				}
				if (k < 256)
					break;
				at += offs[255] + 1;
			}
		} else {
			for (const char *q = p; q < end;) {
				size_t ml = 0;
				if (e->sub == 0) {
					if ((size_t)(end - q) >= sepn && !memcmp(q, sep, sepn))
						ml = sepn;
				} else if (e->sub == 3) {
					while (q + ml < end && !is_word((unsigned char)q[ml]))
						ml++;
				} else if (e->sub == 4) {
					while (q + ml < end && q[ml] == ' ')
						ml++;
				} else if (is_ws((unsigned char)*q)) {
					ml = 1;
					if (e->sub == 1)
						while (q + ml < end && is_ws((unsigned char)q[ml]))
							ml++;
				}
				if (!ml) {
					q++;
					continue;
				}
				if (sl_col_push_view(w, piece, (size_t)(q - piece)))
					goto oom;
				if (q > piece)
					keep = w->len;
				piece = q = q + ml;
			}
		}
		if (w->len == first) {
			/* no separator: the whole string (even when empty) */
			if (sl_col_push_view(w, p, (size_t)(end - p)))
				goto oom;
		} else {
			if (end > piece) {
				if (sl_col_push_view(w, piece, (size_t)(end - piece)))
					goto oom;
				keep = w->len;
			}
			w->len = keep; /* drop trailing empty pieces */
		}
		if (sl_col_commit(out))
			goto oom;
	}
	return out;
oom:
	sl_col_unref(out);
	return NULL;
}

static int parse_f64(const char *p, size_t l, double *out)
{
	char tmp[64];
	while (l && (unsigned char)*p <= ' ')
		p++, l--;
	while (l && (unsigned char)p[l - 1] <= ' ')
		l--;
	if (!l || l >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, l);
	tmp[l] = 0;
	if (!strcmp(tmp, "NaN") || !strcmp(tmp, "Infinity") || !strcmp(tmp, "+Infinity") ||
	    !strcmp(tmp, "-Infinity")) {
		*out = tmp[0] == 'N' ? NAN : tmp[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	for (size_t i = 0; i < l; i++)
		if (!strchr("0123456789+-.eEdDfF", tmp[i]))
			return -1;
	if (tmp[l - 1] == 'd' || tmp[l - 1] == 'D' || tmp[l - 1] == 'f' || tmp[l - 1] == 'F')
		tmp[--l] = 0;
	char *end;
	*out = strtod(tmp, &end);
	return end == tmp + l && l ? 0 : -1;
}

/* toInt / toLong: the ISA's parse kernel is Long.parseLong (sign, digits, range); toInt adds
 * Integer.parseInt's 32-bit range. 0 or -1 (malformed, out of range). */
static int parse_int(const sl_kernels *k, const char *p, size_t l, int bits, int64_t *out)
{
	int64_t v;
	if (k->parse_i64(p, l, &v) || (bits == 32 && (v < INT32_MIN || v > INT32_MAX)))
		return -1;
	*out = v;
	return 0;
}

/* toDouble: the ISA's parse kernel takes the plain decimal forms (correctly rounded, like
 * strtod; an overflow is +-Infinity as in Java); whatever it rejects (surrounding blanks,
 * NaN, Infinity, a d/f suffix) goes through Java's other rules in parse_f64. */
static int parse_double(const sl_kernels *k, const char *p, size_t l, double *out)
{
	int rc = k->parse_f64(p, l, out);
	if (!rc || rc == -ERANGE)
		return 0;
	return parse_f64(p, l, out);
}

static void show(char *buf, size_t n, sl_str s)
{
	snprintf(buf, n, "%.*s%s", (int)(s.len > 40 ? 40 : s.len), s.p, s.len > 40 ? "..." : "");
}

/* Row i's string s through e (toInt / toLong / toDouble) into out; a malformed one is 0 and
 * marks the row bad. */
static void parse_row(const sl_expr *e, sl_str s, size_t i, sl_col *out, sl_xeval *x)
{
	if (e->op == X_PARSEI ? !parse_int(x->kern, s.p, s.len, e->sub, &out->v.i64[i])
			      : !parse_double(x->kern, s.p, s.len, &out->v.f64[i]))
		return;
	char b[64];
	show(b, sizeof(b), s);
	out->v.i64[i] = 0;
	mark_bad(x, i, "malformed number \"%s\" for %s", b,
		 e->op == X_PARSEF ? "toDouble"
		 : e->sub == 32    ? "toInt"
				   : "toLong");
}

/* Row i (record r) has no field e (csvField / jsonField): mark it bad, naming what is missing. */
static void no_field(const sl_expr *e, sl_str r, size_t i, sl_xeval *x)
{
	char b[64];
	show(b, sizeof(b), r);
	if (e->op == X_CSVFIELD) {
		mark_bad(x, i, "no CSV column %lld in \"%s\"", (long long)e->i, b);
		return;
	}
	/* The first failure of the batch is the one reported: say whether the key is absent or
	 * the record is not a JSON object (the full parser, only on this path, says where; past
	 * its limits, a number out of range or nesting too deep, it has no verdict). */
	sl_json_doc *doc = x->nbad ? NULL : sl_json_doc_new();
	sl_json *root = NULL;
	sl_json_error je;
	int rc = doc ? sl_json_parse(doc, r.p, (size_t)r.len, 1, 1, &root, &je) : 0;
	if (rc == -EINVAL && je.limit) /* valid JSON past the parser's limits: no verdict */
		rc = 0, root = NULL;
	if (rc == -EINVAL && je.line == 1)
		mark_bad(x, i, "jsonField(\"%s\"): malformed JSON at column %d of \"%s\": %s", e->s,
			 je.col, b, je.msg);
	else if (rc == -EINVAL)
		mark_bad(x, i,
			 "jsonField(\"%s\"): malformed JSON at line %d, column %d of \"%s\": %s",
			 e->s, je.line, je.col, b, je.msg);
	else if (!rc && root && root->kind != SL_JSON_OBJ)
		mark_bad(x, i, "jsonField(\"%s\"): %s, not an object: \"%s\"", e->s,
			 sl_json_kind_name(root->kind), b);
	else
		mark_bad(x, i, "no JSON field \"%s\" in \"%s\"", e->s, b);
	sl_json_doc_free(doc);
}

/* s.csvField(i), s.jsonField("key"): the ISA's field kernels; the field is a view into s's
 * bytes (no copy). A line without the field fails its record. */
static sl_col *eval_field(const sl_expr *e, sl_col *s, size_t n, sl_xeval *x)
{
	sl_col *out = sl_col_new(x->mem, &sl_type_str, n);
	if (!out || sl_col_share_bufs(out, s)) {
		sl_col_unref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		sl_str r = s->v.s[i];
		const char *f = r.p;
		size_t len = e->op == X_CSVFIELD
				 ? x->kern->csv_field(r.p, r.len, (unsigned)e->i, &f)
				 : x->kern->json_field(r.p, r.len, e->s, e->slen, &f);
		if (len == SIZE_MAX) {
			no_field(e, r, i, x);
			f = r.p, len = 0;
		}
		out->v.s[i] = (sl_str){f, len};
	}
	out->len = n;
	return out;
}

/* Row i of s.csvField(col).toLong / .toInt / .toDouble one row at a time (e is the parse
 * node): what eval_field and the parse case do, with their errors. */
static void csv_num_row(const sl_expr *e, const sl_col *s, size_t i, sl_col *out, sl_xeval *x)
{
	sl_str r = s->v.s[i];
	const char *f = r.p;
	size_t len = x->kern->csv_field(r.p, r.len, (unsigned)e->kid[0]->i, &f);
	if (len != SIZE_MAX) {
		parse_row(e, (sl_str){f, len}, i, out, x);
		return;
	}
	out->v.i64[i] = 0;
	no_field(e->kid[0], r, i, x);
}

/* Row b directly follows row a in memory, one line terminator between them ("\n", or "\r\n"
 * after a line not ending in '\r'), as textFile and the receivers lay lines out. Both
 * non-empty, so the bytes read lie between two valid ones. */
static inline bool csv_adjacent(sl_str a, sl_str b)
{
	if (!a.len || !b.len)
		return false;
	const char *end = a.p + a.len;
	if (b.p == end + 1)
		return end[0] == '\n' && end[-1] != '\r';
	return b.p == end + 2 && end[0] == '\r' && end[1] == '\n';
}

/*
 * s.csvField(col).toLong / .toInt / .toDouble with the bulk column kernels: a run of rows
 * that lie back to back (csv_adjacent) is one buffer of lines, parsed by one
 * csv_column_{i64,f64} call. The kernel splits at '\n' and drops one '\r' before it, so a
 * run's lines are exactly its rows, unless a row holds a '\n' of its own: then the kernel
 * stops at the run's row count before the run's last byte, and the run goes row by row.
 * Rows the kernel could not take (ok = 0: no such column, or not a plain number) and Ints out
 * of range take csv_num_row, which gives Java's other spellings and the errors.
 */
static sl_col *eval_csv_num(const sl_expr *e, sl_col *const *args, size_t n, sl_xeval *x)
{
	enum { RUN = 1024 };
	sl_col *s = ev(e->kid[0]->kid[0], args, n, x);
	if (!s)
		return NULL;
	sl_col *out = sl_col_new(x->mem, e->type, n);
	if (!out) {
		sl_col_unref(s);
		return NULL;
	}
	unsigned col = (unsigned)e->kid[0]->i;
	uint8_t ok[RUN];
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && j - i < RUN && csv_adjacent(s->v.s[j - 1], s->v.s[j]))
			j++;
		size_t rows = j - i, done = 0, used = 0;
		if (rows > 1) {
			const char *buf = s->v.s[i].p;
			size_t len = (size_t)(s->v.s[j - 1].p + s->v.s[j - 1].len - buf);
			done = e->op == X_PARSEF
				   ? x->kern->csv_column_f64(buf, len, col, out->v.f64 + i, ok,
							     rows, &used)
				   : x->kern->csv_column_i64(buf, len, col, out->v.i64 + i, ok,
							     rows, &used);
			if (done != rows || used != len)
				done = 0;
		}
		for (size_t r = 0; r < rows; r++)
			if (r >= done || !ok[r] ||
			    (e->op == X_PARSEI && e->sub == 32 &&
			     (out->v.i64[i + r] < INT32_MIN || out->v.i64[i + r] > INT32_MAX)))
				csv_num_row(e, s, i + r, out, x);
		i = j;
	}
	out->len = n;
	sl_col_unref(s);
	return out;
}

/* Scala toString of row i of c appended to the String column dst. */
static int fmt_row_str(sl_col *dst, const sl_col *c, size_t i)
{
	sl_sbuf b = {0};
	int rc = sl_fmt_row(&b, c, i);
	if (!rc)
		rc = sl_col_push_str(dst, b.p ? b.p : "", b.len);
	sl_sbuf_fini(&b);
	return rc;
}

static sl_col *eval_tostr(sl_col *c, size_t n, sl_xeval *x)
{
	if (c->type->kind == SL_STR)
		return sl_col_ref(c);
	sl_col *out = sl_col_new(x->mem, &sl_type_str, n);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (fmt_row_str(out, c, i)) {
			sl_col_unref(out);
			return NULL;
		}
	return out;
}

static sl_col *ev(const sl_expr *e, sl_col *const *args, size_t n, sl_xeval *x)
{
	sl_col *k0 = NULL, *k1 = NULL, *out = NULL;
	switch (e->op) {
	case X_PARAM: return sl_col_ref(args[e->param]);
	case X_NONE:
		if ((out = sl_col_new(x->mem, e->type, n)))
			for (size_t i = 0; i < n; i++)
				if (sl_col_push_none(out)) {
					sl_col_unref(out);
					return NULL;
				}
		return out;
	case X_CONST: return const_col(e, n, x->mem);
	case X_ARITH: return eval_arith(e, args, n, x);
	case X_CMP: return eval_cmp(e, args, n, x);
	case X_TUPLE: {
		sl_col *kids[SL_TUPLE_MAX];
		int ok = 1;
		for (int i = 0; i < e->nkid; i++)
			ok = ok && (kids[i] = ev(e->kid[i], args, n, x)) != NULL;
		if (ok)
			out = sl_col_tuple_of(x->mem, e->type, kids);
		for (int i = 0; i < e->nkid; i++)
			if (ok || kids[i])
				sl_col_unref(kids[i]);
		if (out)
			out->len = out->cap = n;
		return out;
	}
	case X_MKLIST: {
		sl_col *kids[64];
		int nk = e->nkid < 64 ? e->nkid : 64, ok = 1;
		for (int i = 0; i < nk; i++)
			ok = ok && (kids[i] = ev(e->kid[i], args, n, x)) != NULL;
		if (ok && (out = sl_col_new(x->mem, e->type, n))) {
			for (int i = 0; i < nk; i++)
				if (sl_col_share_bufs(out->kid[0], kids[i]))
					ok = 0;
			for (size_t r = 0; ok && r < n; r++) {
				for (int i = 0; ok && i < nk; i++)
					ok = !sl_col_push_row(out->kid[0], kids[i], r);
				ok = ok && !sl_col_commit(out);
			}
		}
		for (int i = 0; i < nk; i++)
			if (kids[i] && (ok || i < nk))
				sl_col_unref(kids[i]);
		if (!ok) {
			sl_col_unref(out);
			return NULL;
		}
		return out;
	}
	case X_PARSEI:
	case X_PARSEF:
		if (e->kid[0]->op == X_CSVFIELD)
			return eval_csv_num(e, args, n, x);
		break;
	default: break;
	}
	k0 = ev(e->kid[0], args, n, x);
	if (!k0)
		return NULL;
	if (e->nkid > 1 && e->op != X_IF && e->op != X_AND && e->op != X_OR) {
		k1 = ev(e->kid[1], args, n, x);
		if (!k1)
			goto done;
	}
	switch (e->op) {
	case X_FIELD: out = sl_col_ref(k0->kid[e->field]); break;
	case X_AND:
	case X_OR: {
		/* both sides evaluated (vector form); Scala's short circuit only matters for
		 * side effects and bad rows, and a row the left side decides is not marked bad */
		sl_xeval sub;
		sl_xeval_init(&sub, x->mem);
		sub.kern = x->kern;
		sub.n = n;
		k1 = ev(e->kid[1], args, n, &sub);
		if (!k1) {
			sl_xeval_fini(&sub);
			goto done;
		}
		out = sl_col_new(x->mem, &sl_type_bool, n);
		if (out) {
			int isand = e->op == X_AND;
			for (size_t i = 0; i < n; i++) {
				int l = k0->v.b[i];
				out->v.b[i] = isand ? (l && k1->v.b[i]) : (l || k1->v.b[i]);
				if (sub.bad && sub.bad[i] && (isand ? l : !l))
					mark_bad(x, i, "%s", sub.why);
			}
			out->len = n;
		}
		sl_xeval_fini(&sub);
		break;
	}
	case X_NOT:
		if ((out = sl_col_new(x->mem, &sl_type_bool, n))) {
			for (size_t i = 0; i < n; i++)
				out->v.b[i] = !k0->v.b[i];
			out->len = n;
		}
		break;
	case X_NEG:
	case X_ABS:
	case X_TOF64:
	case X_TOI64:
		if ((out = sl_col_new(x->mem, e->type, n))) {
			for (size_t i = 0; i < n; i++) {
				if (e->op == X_TOF64)
					out->v.f64[i] = (double)k0->v.i64[i];
				else if (e->op == X_TOI64 && e->sub == 32) {
					double d =
					    k0->v.f64[i]; /* Scala's Double.toInt saturates */
					out->v.i64[i] = d != d               ? 0
							: d >= 2147483647.0  ? 2147483647
							: d <= -2147483648.0 ? -2147483648LL
									     : (int64_t)d;
				} else if (e->op == X_TOI64) {
					double d = k0->v.f64[i];
					out->v.i64[i] = d != d                        ? 0
							: d >= 9.2233720368547758e18  ? INT64_MAX
							: d <= -9.2233720368547758e18 ? INT64_MIN
										      : (int64_t)d;
				} else if (e->type->kind == SL_F64)
					out->v.f64[i] =
					    e->op == X_NEG ? -k0->v.f64[i] : fabs(k0->v.f64[i]);
				else {
					int64_t v = k0->v.i64[i];
					out->v.i64[i] = e->op == X_NEG || v < 0
							    ? (int64_t)(0 - (uint64_t)v)
							    : v;
				}
			}
			out->len = n;
		}
		break;
	case X_IF: {
		/* Both branches run over the whole column (vector form); a record counts as
		 * bad only if the branch its condition selects failed on it, as if only that
		 * branch had run (Scala evaluates one branch). */
		sl_xeval xa, xb;
		sl_xeval_init(&xa, x->mem);
		sl_xeval_init(&xb, x->mem);
		xa.n = xb.n = n;
		sl_col *a = ev(e->kid[1], args, n, &xa),
		       *b = a ? ev(e->kid[2], args, n, &xb) : NULL;
		if (b && (out = sl_col_new(x->mem, e->type, n))) {
			if (sl_col_share_bufs(out, a) || sl_col_share_bufs(out, b)) {
				sl_col_unref(out);
				out = NULL;
			}
			for (size_t i = 0; out && i < n; i++) {
				int take_a = k0->v.b[i];
				sl_xeval *bx = take_a ? &xa : &xb;
				if (bx->bad && bx->bad[i])
					mark_bad(x, i, "%s", bx->why);
				if (sl_col_push_row(out, take_a ? a : b, i)) {
					sl_col_unref(out);
					out = NULL;
				}
			}
		}
		sl_xeval_fini(&xa);
		sl_xeval_fini(&xb);
		sl_col_unref(a);
		sl_col_unref(b);
		break;
	}
	case X_CONCAT:
		if ((out = sl_col_new(x->mem, &sl_type_str, n))) {
			for (size_t i = 0; i < n; i++) {
				sl_str a = k0->v.s[i], b = k1->v.s[i];
				char *d = sl_col_str_space(out, a.len + b.len);
				if (!d) {
					sl_col_unref(out);
					out = NULL;
					break;
				}
				memcpy(d, a.p, a.len);
				memcpy(d + a.len, b.p, b.len);
				out->v.s[i] = (sl_str){d, a.len + b.len};
			}
			if (out)
				out->len = n;
		}
		break;
	case X_TOSTR: out = eval_tostr(k0, n, x); break;
	case X_SPLIT: out = eval_split(e, k0, n, x); break;
	case X_CSVFIELD:
	case X_JSONFIELD: out = eval_field(e, k0, n, x); break;
	case X_LOWER:
	case X_UPPER:
	case X_TRIM: out = eval_str_unary(e, k0, n, x); break;
	case X_STRLEN:
	case X_STREMPTY:
	case X_LSIZE:
	case X_ISDEF:
		if ((out = sl_col_new(x->mem, e->type, n))) {
			for (size_t i = 0; i < n; i++) {
				if (e->op == X_STRLEN) {
					int64_t cp = 0;
					for (uint64_t j = 0; j < k0->v.s[i].len; j++)
						cp +=
						    ((unsigned char)k0->v.s[i].p[j] & 0xC0) != 0x80;
					out->v.i64[i] = cp;
				} else if (e->op == X_STREMPTY)
					out->v.b[i] = k0->v.s[i].len == 0;
				else if (e->op == X_LSIZE)
					out->v.i64[i] = k0->v.off[i + 1] - k0->v.off[i];
				else
					out->v.b[i] = k0->valid[i];
			}
			out->len = n;
		}
		break;
	case X_PARSEI:
	case X_PARSEF:
		if ((out = sl_col_new(x->mem, e->type, n))) {
			for (size_t i = 0; i < n; i++)
				parse_row(e, k0->v.s[i], i, out, x);
			out->len = n;
		}
		break;
	case X_CONTAINS:
	case X_STARTS:
	case X_ENDS:
		if ((out = sl_col_new(x->mem, &sl_type_bool, n))) {
			for (size_t i = 0; i < n; i++) {
				sl_str a = k0->v.s[i], b = k1->v.s[i];
				int r = 0;
				if (b.len <= a.len) {
					if (e->op == X_STARTS)
						r = !memcmp(a.p, b.p, b.len);
					else if (e->op == X_ENDS)
						r = !memcmp(a.p + a.len - b.len, b.p, b.len);
					else
						r = !b.len ||
						    memmem(a.p, a.len, b.p, b.len) != NULL;
				}
				out->v.b[i] = (uint8_t)r;
			}
			out->len = n;
		}
		break;
	case X_MAXMIN:
		if ((out = sl_col_new(x->mem, e->type, n))) {
			int mx = e->sub;
			if (e->type->kind == SL_I64)
				for (size_t i = 0; i < n; i++) {
					int64_t a = k0->v.i64[i], b = k1->v.i64[i];
					out->v.i64[i] = mx ? (a > b ? a : b) : (a < b ? a : b);
				}
			else
				for (size_t i = 0; i < n; i++) {
					double a = k0->v.f64[i], b = k1->v.f64[i];
					/* Java's Math.max/min: NaN wins, and 0.0 > -0.0 */
					if (a != a || b != b)
						out->v.f64[i] = NAN;
					else if (a == b)
						out->v.f64[i] = (signbit(a) != 0) == mx ? b : a;
					else
						out->v.f64[i] =
						    mx ? (a > b ? a : b) : (a < b ? a : b);
				}
			out->len = n;
		}
		break;
	case X_LSUM:
	case X_LMAXMIN:
		if ((out = sl_col_new(x->mem, e->type, n))) {
			sl_col *el = k0->kid[0];
			if (e->type->kind == SL_STR && sl_col_share_bufs(out, el)) {
				sl_col_unref(out);
				out = NULL;
				break;
			}
			for (size_t i = 0; i < n; i++) {
				uint32_t b = k0->v.off[i], en = k0->v.off[i + 1];
				if (e->op == X_LSUM) {
					if (e->type->kind == SL_I64) {
						uint64_t s = 0;
						for (uint32_t j = b; j < en; j++)
							s += (uint64_t)el->v.i64[j];
						out->v.i64[i] = (int64_t)s;
					} else {
						double s = 0;
						for (uint32_t j = b; j < en; j++)
							s += el->v.f64[j];
						out->v.f64[i] = s;
					}
					continue;
				}
				if (b == en) {
					mark_bad(x, i, "%s of an empty collection",
						 e->sub ? "max" : "min");
					if (e->type->kind == SL_STR)
						out->v.s[i] = (sl_str){"", 0};
					else
						out->v.i64[i] = 0;
					continue;
				}
				uint32_t best = b;
				for (uint32_t j = b + 1; j < en; j++) {
					int c = sl_col_row_cmp(el, j, el, best);
					if (e->sub ? c > 0 : c < 0)
						best = j;
				}
				if (e->type->kind == SL_STR)
					out->v.s[i] = el->v.s[best];
				else
					out->v.i64[i] = el->v.i64[best];
			}
			out->len = n;
		}
		break;
	case X_OPTGET:
		for (size_t i = 0; i < n; i++)
			if (!k0->valid[i])
				mark_bad(x, i, "None.get");
		out = sl_col_ref(k0->kid[0]);
		break;
	case X_GETORELSE:
		if ((out = sl_col_new(x->mem, e->type, n))) {
			if (sl_col_share_bufs(out, k0->kid[0]) || sl_col_share_bufs(out, k1)) {
				sl_col_unref(out);
				out = NULL;
				break;
			}
			for (size_t i = 0; i < n; i++)
				if (sl_col_push_row(out, k0->valid[i] ? k0->kid[0] : k1, i)) {
					sl_col_unref(out);
					out = NULL;
					break;
				}
		}
		break;
	case X_SOME:
		if ((out = sl_col_new(x->mem, e->type, 0))) {
			sl_col_unref(out->kid[0]);
			out->kid[0] = sl_col_ref(k0);
			if (sl_col_reserve(out, n)) {
				sl_col_unref(out);
				out = NULL;
				break;
			}
			memset(out->valid, 1, n);
			out->len = n;
		}
		break;
	}
done:
	sl_col_unref(k0);
	sl_col_unref(k1);
	return out;
}

sl_col *sl_lambda_eval(const sl_lambda *l, sl_col *const *args, size_t n, sl_xeval *x)
{
	x->n = n;
	return ev(l->body, args, n, x);
}
