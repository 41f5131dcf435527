/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expr.h - typed lambda expressions, compiled from the AST and evaluated a whole column
 * at a time.
 *
 * A lambda `(a, b) => body` (or Scala's placeholder form `_ + _`) compiles to a tree of
 * sl_expr nodes with static types. Evaluation walks the tree once per partition, not once
 * per record: each node turns its kids' columns into one result column with a tight loop
 * (constant operands get their own loops), and shares input memory where it can
 * (`(x, 1)` references x, `_._1` references the tuple's first column, split() returns
 * views into the input strings).
 *
 * Records a lambda cannot evaluate (a malformed number in toInt, an integer division by
 * zero, max of an empty Seq) are marked in sl_xeval.bad; the operator drops those rows and
 * counts them as skipped (BRIEF: the engine keeps running where a record can be skipped).
 */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include "../include/sluice.h"
#include "ast.h"
#include "col.h"

typedef struct sl_expr sl_expr;

struct sl_kernels;

typedef struct sl_xeval {
	sl_mem *mem;
	/* the kernels evaluation calls (arithmetic, split, number parsing): sl_xeval_init sets
	 * the best this CPU runs; a caller with a context sets its env->kern (SLUICE_ISA) */
	const struct sl_kernels *kern;
	uint8_t *bad; /* n flags, allocated on the first bad row */
	size_t nbad, n;
	char why[200]; /* the first bad row's reason */
} sl_xeval;

/* What a compiled lambda looks like from outside. */
typedef struct sl_lambda {
	sl_expr *body;
	int nparam;
	const sl_type *ptype[2];
	const sl_type *type; /* result type */
	void *arena;
	/* Recognised shapes the operators run as kernels instead of evaluating: */
	int reducer; /* SL_RED_* for `_ + _`, `math.max(_, _)`, ... */
} sl_lambda;

enum sl_reducer { SL_RED_NONE, SL_RED_SUM, SL_RED_MIN, SL_RED_MAX };

/*
 * sl_lambda_compile - compile `ast` as a function of nparam arguments of the given types.
 *   If ast is a LAMBDA its parameter count must equal nparam; otherwise every `_` in it
 *   (outside nested lambdas) is one parameter, in source order, and there must be exactly
 *   nparam of them (a plain expression with no `_` is allowed when nparam == 1 and then
 *   ignores its argument only if allow_const). Errors carry the AST position; the message
 *   names the types ("value + is not defined for (String, Long) and Long").
 *   Returns 0 or -EINVAL/-ENOMEM. The lambda owns its nodes; free with sl_lambda_fini.
 */
int sl_lambda_compile(sl_lambda *l, sl_types *types, const sl_ast *ast, int nparam,
		      const sl_type *const *ptypes, sluice_error *err);
void sl_lambda_fini(sl_lambda *l);

/*
 * sl_lambda_eval - evaluate over n rows; args[k] has n rows of ptype[k].
 *   Returns a new column of l->type with n rows (bad rows hold zero values and are
 *   flagged in ev), or NULL on ENOMEM. ev must be zeroed by the caller (sl_xeval_init).
 */
sl_col *sl_lambda_eval(const sl_lambda *l, sl_col *const *args, size_t n, sl_xeval *ev);
void sl_xeval_init(sl_xeval *ev, sl_mem *m);
void sl_xeval_fini(sl_xeval *ev);

/* One comparison a filter kernel runs directly: element (field < 0) or tuple field `field`
 * of the argument, compared with a constant of the same numeric type or another field. */
typedef struct sl_cmp_leaf {
	int field;  /* -1: the argument itself; else its tuple field */
	int op;     /* SL_OP_EQ .. SL_OP_GE */
	int kind;   /* SL_I64 or SL_F64 */
	int rfield; /* -1: the right side is the constant ci / cf; else a tuple field */
	int64_t ci;
	double cf;
} sl_cmp_leaf;
#define SL_CMP_MAX 4
/* A predicate the filter kernels run: the conjunction (&&) of n comparisons; only c[0] may
 * compare two fields (the kernels over a selection take a constant). */
typedef struct sl_cmp_shape {
	int n; /* 1..SL_CMP_MAX */
	sl_cmp_leaf c[SL_CMP_MAX];
} sl_cmp_shape;
/* 1 and *out filled if l (one parameter) is `x OP c`, `x._k OP c` or `x._j OP x._k` with x
 * (or x._k) a Long or Double and c a constant of that type (or x._j and x._k of one such
 * type), or up to SL_CMP_MAX of those joined by && with at most one of the two-field kind
 * (a range filter, `x => x > 0 && x < 100`); else 0. */
int sl_lambda_cmp_const(const sl_lambda *l, sl_cmp_shape *out);

/* Run a predicate of that shape over rows [0, n) of c (the argument's column) with k's
 * filter kernels (the first comparison over the column, the others over the selection):
 * idx[0..return) = the rows where it holds, in order. */
size_t sl_cmp_select(const struct sl_kernels *k, const sl_cmp_shape *s, const sl_col *c, size_t n,
		     uint32_t *idx);
/* How many rows of [0, n) the predicate holds for: the count kernel for one comparison
 * with a constant (idx unused, may be NULL), else the selection of all but the last
 * comparison in idx (n entries) and the count over it (count_*_sel). */
size_t sl_cmp_count(const struct sl_kernels *k, const sl_cmp_shape *s, const sl_col *c, size_t n,
		    uint32_t *idx);
/* sl_cmp_count needs idx. */
static inline int sl_cmp_count_needs_sel(const sl_cmp_shape *s)
{
	return s->n > 1 || s->c[0].rfield >= 0;
}

/* 1 and *c set if l (one parameter) is `x => (x, c)` with c a Long constant; else 0. */
int sl_lambda_pair_const(const sl_lambda *l, int64_t *c);
/* 1, *c and *key set if l (one parameter) is `x => (f(x), c)` with c a Long constant: key is
 * `x => f(x)`, borrowing l's nodes (it owns nothing: it must not outlive l, and
 * sl_lambda_fini on it frees nothing); else 0. */
int sl_lambda_pair_key(const sl_lambda *l, sl_lambda *key, int64_t *c);

/* Count underscores that make ast a placeholder function (not inside nested lambdas). */
int sl_ast_placeholders(const sl_ast *ast);

#endif
