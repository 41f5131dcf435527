/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ast.h - syntax tree of the pipeline language.
 *
 * The parser (core/parse.c) turns pipeline text into a list of statements made of
 * these nodes; the graph builder (core/build.c) turns them into DStreams and typed
 * vector expressions. Nodes live in one arena owned by the sl_program and are freed
 * with it; nothing points into the source text.
 *
 * Invariants:
 *   - every node carries the 1-based line and column of its first character;
 *   - SL_AST_CALL's callee is an IDENT (`print`, `math.max` is FIELD(IDENT math, max))
 *     or a FIELD (method call `x.split(" ")`, operator call `s.map(...)`);
 *   - named call arguments (`rate = 1000`) are SL_AST_NAMED nodes whose `name` is set
 *     and whose kid[0] is the value; positional arguments are plain expressions;
 *   - `_` is SL_AST_UNDERSCORE; the builder, not the parser, decides what lambda an
 *     underscore belongs to (Scala's placeholder rule).
 */
#ifndef SL_AST_H
#define SL_AST_H

#include <stddef.h>
#include <stdint.h>

enum sl_ast_kind {
	SL_AST_INT,        /* ival */
	SL_AST_FLOAT,      /* fval */
	SL_AST_STRING,     /* str, slen (escapes already decoded; may contain NUL) */
	SL_AST_BOOL,       /* ival: 0 or 1 */
	SL_AST_DURATION,   /* ival: milliseconds. 500ms, 2s, 1.5s, 3min, 1h, 2m (=minutes) */
	SL_AST_IDENT,      /* name */
	SL_AST_UNDERSCORE, /* _ */
	SL_AST_TUPLE,      /* kid[0..nkid): (a, b, ...) with nkid >= 2 */
	SL_AST_CALL,       /* kid[0] = callee, kid[1..nkid) = arguments */
	SL_AST_FIELD,      /* kid[0] = object, name = member: x._1, s.length, math.max */
	SL_AST_BINARY,     /* op, kid[0] op kid[1] */
	SL_AST_UNARY,      /* op ('-' or '!'), kid[0] */
	SL_AST_LAMBDA,     /* params[0..nparam) => kid[0] */
	SL_AST_IF,         /* if (kid[0]) kid[1] else kid[2] */
	SL_AST_NAMED,      /* name = kid[0], only as a call argument */
	SL_AST_BLOCK, /* { s1; s2; ...; e }: kid[0..nkid) statements, the last one is the value */
	SL_AST_VAL,   /* val name = kid[0], only as a statement of a BLOCK */
};

/* Binary and unary operator codes (op field). */
enum sl_ast_op {
	SL_OP_NONE = 0,
	SL_OP_ADD, /* + */
	SL_OP_SUB, /* - */
	SL_OP_MUL, /* * */
	SL_OP_DIV, /* / */
	SL_OP_MOD, /* % */
	SL_OP_EQ,  /* == */
	SL_OP_NE,  /* != */
	SL_OP_LT,  /* < */
	SL_OP_LE,  /* <= */
	SL_OP_GT,  /* > */
	SL_OP_GE,  /* >= */
	SL_OP_AND, /* && */
	SL_OP_OR,  /* || */
	SL_OP_NEG, /* unary - */
	SL_OP_NOT, /* unary ! */
};

typedef struct sl_ast sl_ast;
struct sl_ast {
	enum sl_ast_kind kind;
	enum sl_ast_op op;
	int line, col;   /* 1-based position of the node's first character */
	int nline, ncol; /* FIELD: position of the member name (0 if unknown) */
	int64_t ival;
	double fval;
	const char *name; /* NUL-terminated, arena-owned */
	const char *str;  /* arena-owned, NUL-terminated too */
	size_t slen;
	sl_ast **kid;
	int nkid;
	const char **params; /* lambda parameter names */
	int nparam;
};

/* One statement: `val name = expr` (name set) or a bare expression (name NULL). */
typedef struct sl_stmt {
	const char *name;
	sl_ast *expr;
	int line, col;
} sl_stmt;

typedef struct sl_program sl_program;
struct sl_program {
	sl_stmt *stmt;
	int nstmt;
	void *arena; /* private to parse.c */
};

#endif
