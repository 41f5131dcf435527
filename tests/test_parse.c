/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_parse.c - lexer/parser tests. Trees are compared as S-expressions so one
 * string states a whole shape; positions are checked separately where they matter.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ---- sanitizer plumbing ------------------------------------------------------- */

/*
 * Criterion counts neither a UBSan report nor an at-exit LeakSanitizer report as a
 * failure, so make UB fatal and ask LSan for leaks while the test is still running.
 * The LSan hook is weak so this file also links without sanitizers.
 */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static void no_leaks(void)
{
	if (__lsan_do_recoverable_leak_check)
		cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
			     "memory leaked (see LSan report)");
}

/* ---- helpers ---------------------------------------------------------------- */

struct buf {
	char s[16384];
	size_t n;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	cr_assert(r >= 0 && (size_t)r < sizeof(b->s) - b->n, "sexpr buffer overflow");
	b->n += (size_t)r;
}

static const char *opname(enum sl_ast_op op)
{
	static const char *const names[] = {
	    [SL_OP_ADD] = "+", [SL_OP_SUB] = "-",   [SL_OP_MUL] = "*", [SL_OP_DIV] = "/",
	    [SL_OP_MOD] = "%", [SL_OP_EQ] = "==",   [SL_OP_NE] = "!=", [SL_OP_LT] = "<",
	    [SL_OP_LE] = "<=", [SL_OP_GT] = ">",    [SL_OP_GE] = ">=", [SL_OP_AND] = "&&",
	    [SL_OP_OR] = "||", [SL_OP_NEG] = "neg", [SL_OP_NOT] = "!",
	};
	return op > SL_OP_NONE && op <= SL_OP_NOT ? names[op] : "?";
}

static void sexpr(struct buf *b, const sl_ast *n)
{
	int i;

	switch (n->kind) {
	case SL_AST_INT: put(b, "%lld", (long long)n->ival); return;
	case SL_AST_FLOAT: put(b, "f%g", n->fval); return;
	case SL_AST_BOOL: put(b, "%s", n->ival ? "true" : "false"); return;
	case SL_AST_DURATION: put(b, "%lldms", (long long)n->ival); return;
	case SL_AST_IDENT: put(b, "%s", n->name); return;
	case SL_AST_UNDERSCORE: put(b, "_"); return;
	case SL_AST_STRING:
		cr_assert_eq(n->str[n->slen], 0, "string not NUL-terminated");
		put(b, "\"");
		for (size_t k = 0; k < n->slen; k++) {
			unsigned char c = (unsigned char)n->str[k];

			if (c >= 0x20 && c < 0x7f && c != '\\')
				put(b, "%c", c);
			else
				put(b, "\\x%02x", c);
		}
		put(b, "\"");
		return;
	case SL_AST_TUPLE: put(b, "(tuple"); break;
	case SL_AST_CALL: put(b, "(call"); break;
	case SL_AST_FIELD:
		put(b, "(. ");
		sexpr(b, n->kid[0]);
		put(b, " %s)", n->name);
		cr_assert_eq(n->nkid, 1);
		return;
	case SL_AST_BINARY:
		cr_assert_eq(n->nkid, 2);
		put(b, "(%s", opname(n->op));
		break;
	case SL_AST_UNARY:
		cr_assert_eq(n->nkid, 1);
		put(b, "(%s", opname(n->op));
		break;
	case SL_AST_IF:
		cr_assert_eq(n->nkid, 3);
		put(b, "(if");
		break;
	case SL_AST_NAMED:
		cr_assert_eq(n->nkid, 1);
		put(b, "(= %s", n->name);
		break;
	case SL_AST_LAMBDA:
		cr_assert_eq(n->nkid, 1);
		put(b, "(lambda (");
		for (i = 0; i < n->nparam; i++)
			put(b, "%s%s", i ? " " : "", n->params[i]);
		put(b, ")");
		break;
	case SL_AST_BLOCK: put(b, "(block"); break;
	case SL_AST_VAL:
		cr_assert_eq(n->nkid, 1);
		put(b, "(val %s", n->name);
		break;
	default: cr_assert_fail("bad node kind %d", n->kind);
	}
	for (i = 0; i < n->nkid; i++) {
		put(b, " ");
		sexpr(b, n->kid[i]);
	}
	put(b, ")");
}

/* Parse src (must succeed) and render all statements, "; "-separated. */
static const char *sx(const char *src)
{
	static struct buf b;
	sluice_error err;
	sl_program *p = sl_parse(src, strlen(src), &err);
	int i;

	cr_assert_not_null(p, "parse of <%s> failed: %d:%d %s", src, err.line, err.col, err.msg);
	cr_assert_eq(err.code, 0);
	b.n = 0;
	b.s[0] = 0;
	for (i = 0; i < p->nstmt; i++) {
		if (i)
			put(&b, "; ");
		if (p->stmt[i].name)
			put(&b, "val %s = ", p->stmt[i].name);
		sexpr(&b, p->stmt[i].expr);
	}
	sl_program_free(p);
	no_leaks();
	return b.s;
}

#define SX(src, want) cr_assert_str_eq(sx(src), want, "source: <%s>", src)

/* Parse src (must fail with -EINVAL) and check position and message. */
static void bad(const char *src, int line, int col, const char *msg)
{
	sluice_error err;
	sl_program *p = sl_parse(src, strlen(src), &err);

	cr_assert_null(p, "<%s> parsed but should not", src);
	cr_assert_eq(err.code, -EINVAL, "<%s>: code %d", src, err.code);
	cr_assert_str_eq(err.msg, msg, "<%s>", src);
	cr_assert_eq(err.line, line, "<%s>: line %d want %d (%s)", src, err.line, line, err.msg);
	cr_assert_eq(err.col, col, "<%s>: col %d want %d (%s)", src, err.col, col, err.msg);
	cr_assert(strchr(err.context, '^'), "<%s>: no caret in context", src);
	no_leaks();
}

/* Parse a single-statement program and hand back its expression (caller frees p). */
static const sl_ast *one(const char *src, sl_program **pp)
{
	sluice_error err;

	*pp = sl_parse(src, strlen(src), &err);
	cr_assert_not_null(*pp, "<%s>: %s", src, err.msg);
	cr_assert_eq((*pp)->nstmt, 1);
	return (*pp)->stmt[0].expr;
}

/* ---- literals -------------------------------------------------------------------- */

Test(literal, ints)
{
	SX("0", "0");
	SX("42", "42");
	SX("3L", "3");
	SX("7l", "7");
	SX("9223372036854775807", "9223372036854775807");
	SX("-5", "(neg 5)");
}

Test(literal, floats)
{
	sl_program *p;
	const sl_ast *n;

	SX("1.5", "f1.5");
	SX("1e3", "f1000");
	SX("2.5e-3", "f0.0025");
	SX("1E+2", "f100");
	SX("1.0d", "f1");
	SX("1.5f", "f1.5");
	SX("2d", "f2");
	n = one("0.1", &p);
	cr_assert_eq(n->kind, SL_AST_FLOAT);
	cr_assert_eq(n->fval, 0.1);
	sl_program_free(p);
	/* a digit must follow the dot, else it is a method call on an int */
	SX("1.toString", "(. 1 toString)");
	SX("3.max(4)", "(call (. 3 max) 4)");
}

Test(literal, durations)
{
	SX("500ms", "500ms");
	SX("2s", "2000ms");
	SX("10sec", "10000ms");
	SX("1.5s", "1500ms");
	SX("3min", "180000ms");
	SX("2m", "120000ms");
	SX("1h", "3600000ms");
	SX("0.5m", "30000ms");
	SX("1e3ms", "1000ms");
	SX("0s", "0ms");
	SX("1.0010s", "1001ms");
	SX("000.25s", "250ms");
	SX("1.5e3s", "1500000ms");
	SX("f(30s, 10s)", "(call f 30000ms 10000ms)");
	SX("-5s", "(neg 5000ms)");
}

Test(literal, strings)
{
	sl_program *p;
	const sl_ast *n;

	SX("\"hello\"", "\"hello\"");
	SX("\"\"", "\"\"");
	SX("\"a\\nb\\tc\\rd\"", "\"a\\x0ab\\x09c\\x0dd\"");
	SX("\"q\\\"q\\'\\\\\"", "\"q\"q'\\x5c\"");
	SX("\"\\u00e9\"", "\"\\xc3\\xa9\"");
	SX("\"\\u0041\\u20AC\"", "\"A\\xe2\\x82\\xac\"");
	SX("\"\\uD83D\\uDE00\"", "\"\\xf0\\x9f\\x98\\x80\"");
	SX("\"caf\xc3\xa9\"", "\"caf\\xc3\\xa9\"");
	SX("\"a // not a comment\"", "\"a // not a comment\"");
	n = one("\"a\\0b\"", &p);
	cr_assert_eq(n->kind, SL_AST_STRING);
	cr_assert_eq(n->slen, 3);
	cr_assert_eq(memcmp(n->str, "a\0b", 4), 0);
	sl_program_free(p);
}

Test(literal, chars)
{
	SX("'x'", "\"x\"");
	SX("' '", "\" \"");
	SX("'\\n'", "\"\\x0a\"");
	SX("'\\''", "\"'\"");
	SX("'\"'", "\"\"\"");
	SX("'\xc3\xa9'", "\"\\xc3\\xa9\"");
	SX("'\\u00e9'", "\"\\xc3\\xa9\"");
	SX("_.split(' ')", "(call (. _ split) \" \")");
}

Test(literal, bools_names_placeholders)
{
	SX("true", "true");
	SX("false", "false");
	SX("x", "x");
	SX("$x", "$x");
	SX("_", "_");
	SX("_foo", "_foo");
	SX("_1", "_1");
	SX("a_b$9", "a_b$9");
	SX("trueish", "trueish");
	SX("vals", "vals");
	SX("_._1", "(. _ _1)");
	SX("x._2", "(. x _2)");
}

/* ---- operators ---------------------------------------------------------------------- */

Test(ops, precedence)
{
	SX("1 + 2 * 3", "(+ 1 (* 2 3))");
	SX("1 * 2 + 3", "(+ (* 1 2) 3)");
	SX("(1 + 2) * 3", "(* (+ 1 2) 3)");
	SX("a || b && c", "(|| a (&& b c))");
	SX("a && b || c", "(|| (&& a b) c)");
	SX("a == b < c", "(== a (< b c))");
	SX("a < b + c", "(< a (+ b c))");
	SX("a != b && c >= d", "(&& (!= a b) (>= c d))");
	SX("a <= b || c > d", "(|| (<= a b) (> c d))");
	SX("-a * b", "(* (neg a) b)");
	SX("!a && b", "(&& (! a) b)");
	SX("- -a", "(neg (neg a))");
	SX("!!a", "(! (! a))");
	SX("-x.length", "(neg (. x length))");
	SX("a % b * c", "(* (% a b) c)");
	SX("_ + _", "(+ _ _)");
	SX("_+_", "(+ _ _)");
}

Test(ops, associativity)
{
	SX("a - b - c", "(- (- a b) c)");
	SX("a / b / c", "(/ (/ a b) c)");
	SX("a || b || c", "(|| (|| a b) c)");
	SX("a == b == c", "(== (== a b) c)");
	SX("a < b < c", "(< (< a b) c)");
}

Test(ops, infix_max_min)
{
	SX("_ max _", "(call (. _ max) _)");
	SX("a min b", "(call (. a min) b)");
	/* Scala: operators named by letters bind loosest of all */
	SX("a max b * c", "(call (. a max) (* b c))");
	SX("a + b max c", "(call (. (+ a b) max) c)");
	SX("a || b max c", "(call (. (|| a b) max) c)");
	SX("a max b max c", "(call (. (call (. a max) b) max) c)");
	SX("a max -b", "(call (. a max) (neg b))");
	SX("x.max(y)", "(call (. x max) y)");
}

/* ---- postfix, calls, arguments ----------------------------------------------------- */

Test(postfix, fields_and_calls)
{
	SX("print()", "(call print)");
	SX("f(1, 2)", "(call f 1 2)");
	SX("x.y.z", "(. (. x y) z)");
	SX("x.f(1).g", "(. (call (. x f) 1) g)");
	SX("w.toLowerCase", "(. w toLowerCase)");
	SX("s.count()", "(call (. s count))");
	SX("math.max(a, b)", "(call (. math max) a b)");
	SX("f(g(h(1)))", "(call f (call g (call h 1)))");
	SX("(x).f", "(. x f)");
	SX("\"a b\".split(\" \")", "(call (. \"a b\" split) \" \")");
	SX("(1, 2)._1", "(. (tuple 1 2) _1)");
}

Test(postfix, empty_call_has_one_kid)
{
	sl_program *p;
	const sl_ast *n = one("print()", &p);

	cr_assert_eq(n->kind, SL_AST_CALL);
	cr_assert_eq(n->nkid, 1);
	cr_assert_eq(n->kid[0]->kind, SL_AST_IDENT);
	cr_assert_str_eq(n->kid[0]->name, "print");
	sl_program_free(p);
	n = one("s.print(20)", &p);
	cr_assert_eq(n->kind, SL_AST_CALL);
	cr_assert_eq(n->nkid, 2);
	cr_assert_eq(n->kid[0]->kind, SL_AST_FIELD);
	cr_assert_str_eq(n->kid[0]->name, "print");
	cr_assert_eq(n->kid[1]->ival, 20);
	sl_program_free(p);
}

Test(postfix, member_name_position)
{
	sl_program *p;
	const sl_ast *n = one("s.map(f)\n  .print()", &p);

	/* FIELD's line/col is its object's; nline/ncol point at the member name */
	cr_assert_eq(n->kind, SL_AST_CALL);
	cr_assert_eq(n->kid[0]->kind, SL_AST_FIELD);
	cr_assert_eq(n->kid[0]->line, 1);
	cr_assert_eq(n->kid[0]->col, 1);
	cr_assert_eq(n->kid[0]->nline, 2);
	cr_assert_eq(n->kid[0]->ncol, 4);
	n = n->kid[0]->kid[0]->kid[0];
	cr_assert_eq(n->kind, SL_AST_FIELD);
	cr_assert_eq(n->nline, 1);
	cr_assert_eq(n->ncol, 3);
	sl_program_free(p);
	n = one("(a) max b", &p);
	cr_assert_eq(n->kid[0]->kind, SL_AST_FIELD);
	cr_assert_eq(n->kid[0]->col, 1);
	cr_assert_eq(n->kid[0]->ncol, 5);
	sl_program_free(p);
	cr_assert_eq(one("x", &p)->nline, 0);
	sl_program_free(p);
}

Test(postfix, type_args_ignored)
{
	SX("updateStateByKey[Int](f)", "(call updateStateByKey f)");
	SX("queueStream[String](\"f\")", "(call queueStream \"f\")");
	SX("Seq[Int](1)", "(call Seq 1)");
	SX("s.updateStateByKey[(Int, Long)](f)", "(call (. s updateStateByKey) f)");
	SX("m[Map[String, Seq[Int]], Int]()", "(call m)");
	SX("x.asInstanceOf[Int]", "(. x asInstanceOf)");
	SX("s.map[Int => Int](g)", "(call (. s map) g)");
	SX("f[scala.Int](1)", "(call f 1)");
}

Test(postfix, named_args)
{
	SX("generator(\"words\", rate = 1000000, keys = 1000)",
	   "(call generator \"words\" (= rate 1000000) (= keys 1000))");
	SX("f(a == b)", "(call f (== a b))");
	SX("f(x => x)", "(call f (lambda (x) x))");
	SX("f(a = b == c)", "(call f (= a (== b c)))");
	SX("f(a = x => x)", "(call f (= a (lambda (x) x)))");
	SX("f(1, n = 2, 3)", "(call f 1 (= n 2) 3)");
}

Test(postfix, named_arg_positions)
{
	sl_program *p;
	const sl_ast *n = one("g(\"w\", rate = 10)", &p);

	cr_assert_eq(n->nkid, 3);
	cr_assert_eq(n->kid[2]->kind, SL_AST_NAMED);
	cr_assert_str_eq(n->kid[2]->name, "rate");
	cr_assert_eq(n->kid[2]->line, 1);
	cr_assert_eq(n->kid[2]->col, 8);
	cr_assert_eq(n->kid[2]->kid[0]->kind, SL_AST_INT);
	cr_assert_eq(n->kid[2]->kid[0]->col, 15);
	sl_program_free(p);
}

Test(postfix, block_argument)
{
	SX("s.map { x => x * 2 }", "(call (. s map) (lambda (x) (* x 2)))");
	SX("s.foreachRDD {\n  r => r.count()\n}",
	   "(call (. s foreachRDD) (lambda (r) (call (. r count))))");
}

/* ---- groups, tuples, blocks ---------------------------------------------------------- */

Test(group, tuples_and_blocks)
{
	SX("(a, b)", "(tuple a b)");
	SX("(a, b, c)", "(tuple a b c)");
	SX("(_, 1)", "(tuple _ 1)");
	SX("((a, b), c)", "(tuple (tuple a b) c)");
	SX("(a)", "a");
	SX("((a))", "a");
	SX("{ a + 1 }", "(+ a 1)");
	SX("{\n  a +\n  1\n}", "(+ a 1)");
	SX("(w.toLowerCase, 1)", "(tuple (. w toLowerCase) 1)");
}

Test(group, positions)
{
	sl_program *p;
	const sl_ast *n = one("  (a + b) * c", &p);

	/* a node starts at its first character, including an opening paren */
	cr_assert_eq(n->kind, SL_AST_BINARY);
	cr_assert_eq(n->col, 3);
	cr_assert_eq(n->kid[0]->col, 3);
	cr_assert_eq(n->kid[0]->kid[0]->col, 4);
	cr_assert_eq(n->kid[1]->col, 13);
	sl_program_free(p);
	n = one("x + (1, 2)", &p);
	cr_assert_eq(n->kid[1]->kind, SL_AST_TUPLE);
	cr_assert_eq(n->kid[1]->nkid, 2);
	cr_assert_eq(n->kid[1]->col, 5);
	sl_program_free(p);
}

/* ---- lambdas and if ------------------------------------------------------------------ */

Test(lambda, forms)
{
	SX("x => x + 1", "(lambda (x) (+ x 1))");
	SX("(x) => x", "(lambda (x) x)");
	SX("() => 1", "(lambda () 1)");
	SX("(a, b) => a + b", "(lambda (a b) (+ a b))");
	SX("(x: Int) => x", "(lambda (x) x)");
	SX("(a: Long, b: Long) => a + b", "(lambda (a b) (+ a b))");
	SX("(p: (String, Int), q: Array[String]) => p", "(lambda (p q) p)");
	SX("(f: Int => Int) => f(1)", "(lambda (f) (call f 1))");
	SX("x => y => x", "(lambda (x) (lambda (y) x))");
	SX("s.map(x => x * 2)", "(call (. s map) (lambda (x) (* x 2)))");
	SX("s.reduce((a, b) => a max b)", "(call (. s reduce) (lambda (a b) (call (. a max) b)))");
	SX("s.map(x =>\n  x + 1)", "(call (. s map) (lambda (x) (+ x 1)))");
	SX("x => (x, 1)", "(lambda (x) (tuple x 1))");
	SX("{ x => x }", "(lambda (x) x)");
}

/* Scala's `_ =>`: a parameter the body ignores; `_` in the body stays a placeholder. */
Test(lambda, underscore_parameter)
{
	SX("s.map(_ => 1)", "(call (. s map) (lambda (_) 1))");
	SX("(_, b) => b", "(lambda (_ b) b)");
	SX("(_: Long, _: Long) => 0", "(lambda (_ _) 0)");
	SX("s.map { _ => 1 }", "(call (. s map) (lambda (_) 1))");
	SX("_ => _ + 1", "(lambda (_) (+ _ 1))");
}

Test(lambda, positions)
{
	sl_program *p;
	const sl_ast *n = one("f((a, b) => a)", &p);

	n = n->kid[1];
	cr_assert_eq(n->kind, SL_AST_LAMBDA);
	cr_assert_eq(n->nparam, 2);
	cr_assert_str_eq(n->params[0], "a");
	cr_assert_str_eq(n->params[1], "b");
	cr_assert_eq(n->col, 3);
	cr_assert_eq(n->kid[0]->col, 13);
	sl_program_free(p);
	n = one("() => 1", &p);
	cr_assert_eq(n->nparam, 0);
	sl_program_free(p);
}

Test(lambda, if_expr)
{
	SX("if (a) 1 else 2", "(if a 1 2)");
	SX("if (a > 1) x else if (b) y else z", "(if (> a 1) x (if b y z))");
	SX("x => if (x % 2 == 0) x else -x", "(lambda (x) (if (== (% x 2) 0) x (neg x)))");
	SX("if (a) 1 else 2 + 3", "(if a 1 (+ 2 3))");
	SX("if (a)\n  1\nelse\n  2", "(if a 1 2)");
	SX("val y = if (c) 1\nelse 2", "val y = (if c 1 2)");
	SX("(if (a) b else c).f", "(. (if a b c) f)");
}

/* ---- statements and newlines --------------------------------------------------------- */

Test(stmt, empty)
{
	sl_program *p;
	sluice_error err;
	const char *blank[] = {"", "   ", "\n\n", ";", ";;\n;", "// only\n", "/* c */", " \t\r\n"};

	for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		p = sl_parse(blank[i], strlen(blank[i]), &err);
		cr_assert_not_null(p, "<%s>", blank[i]);
		cr_assert_eq(p->nstmt, 0);
		sl_program_free(p);
	}
	p = sl_parse(NULL, 0, NULL);
	cr_assert_not_null(p);
	cr_assert_eq(p->nstmt, 0);
	sl_program_free(p);
	sl_program_free(NULL);
}

Test(stmt, val_and_separators)
{
	SX("val s = queueStream(\"in.jsonl\")", "val s = (call queueStream \"in.jsonl\")");
	SX("val t = s.map(x => x * 2); s.union(t).print(20)",
	   "val t = (call (. s map) (lambda (x) (* x 2))); (call (. (call (. s union) t) print) "
	   "20)");
	SX("a; b;; c;", "a; b; c");
	SX("a\nb\n\n\nc", "a; b; c");
	SX("a\r\nb\r\n", "a; b");
	SX("val x: Int = 5", "val x = 5");
	SX("val f: Int => Int = x => x", "val f = (lambda (x) x)");
	SX("val x =\n  1", "val x = 1");
}

Test(stmt, positions)
{
	sl_program *p;
	sluice_error err;
	const char *src = "val a = 1\n  b.c(2); d";

	p = sl_parse(src, strlen(src), &err);
	cr_assert_not_null(p);
	cr_assert_eq(p->nstmt, 3);
	cr_assert_str_eq(p->stmt[0].name, "a");
	cr_assert_eq(p->stmt[0].line, 1);
	cr_assert_eq(p->stmt[0].col, 1);
	cr_assert_eq(p->stmt[0].expr->col, 9);
	cr_assert_null(p->stmt[1].name);
	cr_assert_eq(p->stmt[1].line, 2);
	cr_assert_eq(p->stmt[1].col, 3);
	cr_assert_eq(p->stmt[1].expr->kind, SL_AST_CALL);
	cr_assert_eq(p->stmt[1].expr->line, 2);
	cr_assert_eq(p->stmt[1].expr->col, 3);
	cr_assert_eq(p->stmt[1].expr->kid[0]->col, 3);
	cr_assert_eq(p->stmt[1].expr->kid[1]->col, 7);
	cr_assert_eq(p->stmt[2].line, 2);
	cr_assert_eq(p->stmt[2].col, 11);
	sl_program_free(p);
}

Test(stmt, continuation)
{
	SX("a +\n b", "(+ a b)");
	SX("a &&\n\n b", "(&& a b)");
	SX("f(1,\n 2)", "(call f 1 2)");
	SX("f(\n1\n,\n2\n)", "(call f 1 2)");
	SX("x.\ny", "(. x y)");
	SX("x =>\n x", "(lambda (x) x)");
	SX("(a\n, b)", "(tuple a b)");
	SX("a\n- b", "a; (neg b)");
	bad("a\n+ b", 2, 1, "expected expression, found '+'");
}

Test(stmt, leading_dot_chains)
{
	SX("s.map(f)\n  .filter(g)\n  .print()",
	   "(call (. (call (. (call (. s map) f) filter) g) print))");
	SX("s\n\n  // note\n  .count()\n\n/* c\n */\n  .print()",
	   "(call (. (call (. s count)) print))");
	SX("a\n.b\nc\n.d", "(. a b); (. c d)");
}

Test(stmt, comments)
{
	SX("a // c\nb", "a; b");
	SX("a /* x */ + b", "(+ a b)");
	SX("a /* x\n y */ b", "a; b");
	SX("/**/a", "a");
	SX("a/* * / */", "a");
	SX("f(1, /* two */ 2)", "(call f 1 2)");
	SX("a // x /* y", "a");
}

Test(stmt, examples)
{
	SX("socketTextStream(\"localhost\", 9999).flatMap(_.split(\" \")).map((_, 1))\n"
	   "  .reduceByKeyAndWindow(_ + _, _ - _, 30s, 10s).print()",
	   "(call (. (call (. (call (. (call (. (call socketTextStream \"localhost\" 9999) "
	   "flatMap) "
	   "(call (. _ split) \" \")) map) (tuple _ 1)) reduceByKeyAndWindow) (+ _ _) (- _ _) "
	   "30000ms 10000ms) print))");
	SX("val s = queueStream(\"in.jsonl\")   // comment\n"
	   "val t = s.map(x => x * 2); s.union(t).print(20)\n"
	   "/* block comment */\n"
	   "generator(\"words\", rate = 1000000, keys = 1000).map(w => (w.toLowerCase, 1))"
	   ".reduceByKey(_ + _).saveAsTextFiles(\"out/wc\", \"txt\")",
	   "val s = (call queueStream \"in.jsonl\"); "
	   "val t = (call (. s map) (lambda (x) (* x 2))); "
	   "(call (. (call (. s union) t) print) 20); "
	   "(call (. (call (. (call (. (call generator \"words\" (= rate 1000000) (= keys 1000)) "
	   "map) "
	   "(lambda (w) (tuple (. w toLowerCase) 1))) reduceByKey) (+ _ _)) saveAsTextFiles) "
	   "\"out/wc\" \"txt\")");
	SX("Seconds(10)", "(call Seconds 10)");
}

/* ---- errors ---------------------------------------------------------------------------- */

Test(error, lexical)
{
	bad("a # b", 1, 3, "unexpected character '#'");
	bad("s.map { case (k, v) => k }", 1, 9,
	    "pattern-matching functions ({ case ... => ... }) are not supported; "
	    "write a lambda such as x => x._1 + x._2");
	bad("x\n  @", 2, 3, "unexpected character '@'");
	bad("a & b", 1, 3, "unexpected character '&' (did you mean '&&'?)");
	bad("a | b", 1, 3, "unexpected character '|' (did you mean '||'?)");
	bad("f(\xc3\xa9)", 1, 3, "unexpected character '\xc3\xa9' (U+00E9)");
	bad("\"abc", 1, 1, "unterminated string literal");
	bad("x(\"abc\n\")", 1, 3, "unterminated string literal");
	bad("\"ab\\\"", 1, 1, "unterminated string literal");
	bad("a /* b\n c", 1, 3, "unterminated comment");
	bad("\"\\q\"", 1, 2, "unknown escape '\\q'");
	bad("\"ab\\u12\"", 1, 4, "invalid \\u escape: expected 4 hex digits");
	bad("\"\\uD800x\"", 1, 2, "invalid \\u escape: unpaired surrogate");
	bad("\"\\uDC00\"", 1, 2, "invalid \\u escape: unpaired surrogate");
	bad("''", 1, 1, "empty character literal");
	bad("'ab'", 1, 1, "character literal must hold one character");
	bad("'a", 1, 1, "unterminated character literal");
	bad("'\\", 1, 1, "unterminated character literal");
	bad("'", 1, 1, "unterminated character literal");
	bad("&", 1, 1, "unexpected character '&' (did you mean '&&'?)");
	bad("a\x01", 1, 2, "unexpected character '\\x01'");
}

Test(error, nul_bytes)
{
	sluice_error err;
	static const char src[] = "f(1)\n ab\0c";
	static const char str[] = "\"a\0b\"";
	static const char cmt[] = "a // \0";

	cr_assert_null(sl_parse(src, sizeof(src) - 1, &err));
	cr_assert_str_eq(err.msg, "unexpected character '\\0'");
	cr_assert_eq(err.line, 2);
	cr_assert_eq(err.col, 4);
	cr_assert_str_eq(err.context, " ab?c\n   ^");
	cr_assert_null(sl_parse(str, sizeof(str) - 1, &err));
	cr_assert_str_eq(err.msg, "unexpected character '\\0'");
	cr_assert_eq(err.col, 3);
	cr_assert_null(sl_parse(cmt, sizeof(cmt) - 1, &err));
	cr_assert_eq(err.col, 6);
}

Test(error, numbers)
{
	bad("9223372036854775808", 1, 1, "integer literal '9223372036854775808' out of range");
	bad("x + 99999999999999999999999", 1, 5,
	    "integer literal '99999999999999999999999' out of range");
	bad("5x", 1, 2, "unknown duration unit 'x'");
	bad("f(10 + 5secs)", 1, 9, "unknown duration unit 'secs'");
	bad("1.5L", 1, 1, "Long literal '1.5L' cannot have a fraction: write 1.5 for a Double");
	bad("f(2.5e3l)", 1, 3,
	    "Long literal '2.5e3l' cannot have a fraction: write 2.5e3 for a Double");
	bad("x * 1e3L", 1, 5,
	    "Long literal '1e3L' cannot have an exponent: write 1e3 for a Double");
	bad("0x1f", 1, 1, "hexadecimal literals are not supported; write the number in decimal");
	bad("1e", 1, 1, "malformed number '1e'");
	bad("x + 07", 1, 5,
	    "integer literal '07' has a leading zero (there are no octal literals); write 7");
	bad("000", 1, 1,
	    "integer literal '000' has a leading zero (there are no octal literals); write 0");
	bad("f(02s)", 1, 3,
	    "integer literal '02' has a leading zero (there are no octal literals); write 2");
	bad("1e999", 1, 1, "float literal '1e999' out of range");
	bad("0.5ms", 1, 1, "duration '0.5ms' is not a whole number of milliseconds");
	bad("2.5e-3s + 1", 1, 1, "duration '2.5e-3s' is not a whole number of milliseconds");
	bad("9999999999999999h", 1, 1, "duration '9999999999999999h' out of range");
	bad("1e30s", 1, 1, "duration '1e30s' out of range");
}

Test(error, syntax)
{
	bad("f(1, )", 1, 6, "expected expression, found ')'");
	bad(")", 1, 1, "expected expression, found ')'");
	bad("a +", 1, 4, "expected expression, found end of input");
	bad("a + \n\n", 1, 4, "expected expression, found end of input");
	bad("print() foo", 1, 9, "expected ';' or newline, found 'foo'");
	bad("a b", 1, 3, "expected ';' or newline, found 'b'");
	/* Spark's first lines: nothing to construct */
	bad("val ssc = new StreamingContext(conf, Seconds(1))", 1, 15,
	    "'new StreamingContext': nothing is constructed in sluice: it makes the streaming "
	    "context itself (its batch interval is --batch, or sluice_config), so remove the "
	    "SparkConf and StreamingContext lines; sources such as ssc.socketTextStream(...) "
	    "work as written");
	bad("new x", 1, 5,
	    "'new x': nothing is constructed in sluice: it makes the streaming "
	    "context itself (its batch interval is --batch, or sluice_config), so "
	    "remove the SparkConf and StreamingContext lines; sources such as "
	    "ssc.socketTextStream(...) work as written");
	bad("print())", 1, 8, "expected ';' or newline, found ')'");
	bad("f(1)(2)", 1, 5, "only a name or a method can be called, found '(' here");
	bad("x.1", 1, 3, "expected member name after '.', found '1'");
	bad("x.(", 1, 3, "expected member name after '.', found '('");
	bad("var x = 1", 1, 1, "only 'val' is supported");
	bad("a\ndef f = 1", 2, 1, "only 'val' is supported");
	bad("val = 1", 1, 5, "expected name after 'val', found '='");
	bad("val x 1", 1, 7, "expected '=' after 'val x', found '1'");
	bad("val x\n= 1", 1, 6, "expected '=' after 'val x', found newline");
	bad("val x == 1", 1, 7, "expected '=' after 'val x', found '=='");
	bad("x => ", 1, 5, "expected expression, found end of input");
	bad("(1, x) => x", 1, 2, "expected parameter name, found '1'");
	bad("(x: ) => x", 1, 5, "expected type, found ')'");
	bad("1 + if (a) b else c", 1, 5, "expected expression, found 'if'");
	bad("if a", 1, 4, "expected '(' after 'if', found 'a'");
	bad("{}", 1, 2, "expected expression, found '}'");
	bad("()", 1, 2, "expected expression, found ')'");
	bad("a =>", 1, 5, "expected expression, found end of input");
	bad("x = 1", 1, 3, "expected ';' or newline, found '='");
	bad("f(x = )", 1, 7, "expected expression, found ')'");
	bad(".5", 1, 1, "a number cannot start with '.': write 0.5");
	bad("f(\"\xc3\xa9\", .25s)", 1, 8, "a number cannot start with '.': write 0.25s");
	bad("x * .5e3", 1, 5, "a number cannot start with '.': write 0.5e3");
	bad("f(.\"s\")", 1, 3, "expected expression, found '.'"); /* a string is no number */
	bad("x * . 5", 1, 5, "expected expression, found '.'");
}

Test(error, unclosed)
{
	bad("socketTextStream(\"h\", 1", 1, 24,
	    "expected ')' to close '(' opened at 1:17, found end of input");
	bad("f(g(1, 2 foo)", 1, 10, "expected ')' to close '(' opened at 1:4, found 'foo'");
	bad("f(1]", 1, 4, "expected ')' to close '(' opened at 1:2, found ']'");
	bad("(a, b", 1, 6, "expected ')' to close '(' opened at 1:1, found end of input");
	bad("(a b)", 1, 4, "expected ')' to close '(' opened at 1:1, found 'b'");
	bad("{ a", 1, 4, "expected '}' to close '{' opened at 1:1, found end of input");
	bad("f[Int(1)", 1, 6, "expected ']' to close '[' opened at 1:2, found '('");
	bad("s.map(x =>\n  x + 1\nval y = 2", 3, 1,
	    "expected ')' to close '(' opened at 1:6, found 'val'");
	bad("(a: Int, b => a", 1, 3, "expected ')' to close '(' opened at 1:1, found ':'");
}

Test(error, missing_else)
{
	bad("if (x > 1) 2", 1, 13, "expected 'else' to complete 'if' at 1:1, found end of input");
	bad("f(if (a) b)", 1, 11, "expected 'else' to complete 'if' at 1:3, found ')'");
	bad("val v = if (a) b\nc", 1, 17, "expected 'else' to complete 'if' at 1:9, found newline");
	bad("if (a b", 1, 7, "expected ')' to close '(' opened at 1:4, found 'b'");
}

Test(error, second_line_and_context)
{
	sluice_error err;
	const char *src = "val s = src()\n\ts.map(x => x +) // oops\n";

	cr_assert_null(sl_parse(src, strlen(src), &err));
	cr_assert_eq(err.code, -EINVAL);
	cr_assert_eq(err.line, 2);
	cr_assert_eq(err.col, 16);
	cr_assert_str_eq(err.msg, "expected expression, found ')'");
	cr_assert_str_eq(err.context, "\ts.map(x => x +) // oops\n\t              ^");
}

/* Columns count characters, not bytes: a UTF-8 string literal before the error, a lexical
 * error after it, and the end of input after a token that holds one. */
Test(error, columns_count_characters)
{
	sluice_error err;
	const char *src = "val s = \"h\xc3\xa9\xe2\x82\xacllo\"; s.map(x => x +)";

	cr_assert_null(sl_parse(src, strlen(src), &err));
	cr_assert_eq(err.col, 33, "col %d", err.col); /* the ')' (byte 37) */
	cr_assert_str_eq(err.context, "val s = \"h\xc3\xa9\xe2\x82\xacllo\"; s.map(x => x +)\n"
				      "                                ^");
	bad("\"\xc3\xa9\" # 1", 1, 5, "unexpected character '#'");
	bad("f(\"\xc3\xa9\xc3\xa9\"", 1, 7,
	    "expected ')' to close '(' opened at 1:2, found end of input");
}

/* A character outside ASCII is named whole, with its code point and, for the lookalikes
 * pasted text brings (curly quotes, odd spaces and dashes), what to write instead; a byte
 * that is not UTF-8 is still named '\xNN'. Columns count characters before it. */
Test(error, non_ascii_characters)
{
	bad("queueStream(\xe2\x80\x9cnums.jsonl\xe2\x80\x9d).print()", 1, 13,
	    "unexpected character '\xe2\x80\x9c' (U+201C, a curly quote); use straight quotes: "
	    "\"text\" or 'c'");
	bad("s.map(x => \"\xc3\xa9\" + \xe2\x80\x98"
	    "a\xe2\x80\x99)",
	    1, 18,
	    "unexpected character '\xe2\x80\x98' (U+2018, a curly quote); use straight quotes: "
	    "\"text\" or 'c'");
	bad("val caf\xc3\xa9 = 1", 1, 8,
	    "unexpected character '\xc3\xa9' (U+00E9); names are ASCII letters, digits, '_' and "
	    "'$'");
	bad("x \xf0\x9f\x98\x80", 1, 3, "unexpected character '\xf0\x9f\x98\x80' (U+1F600)");
	bad("1 \xe2\x88\x92 2", 1, 3,
	    "unexpected character '\xe2\x88\x92' (U+2212, a minus sign); the minus operator is "
	    "'-'");
	bad("1\xc2\xa0+ 2", 1, 2,
	    "unexpected character U+00A0 (a no-break space); use a plain space");
	bad("\xef\xbb\xbfval x = 1", 1, 1,
	    "unexpected character U+FEFF (a byte order mark); delete it");
	bad("\"\\\xc3\xa9\"", 1, 2, "unknown escape '\\' followed by '\xc3\xa9' (U+00E9)");
	/* not UTF-8: a stray continuation byte, a cut sequence, an overlong form, a surrogate */
	bad("a\x80", 1, 2, "unexpected character '\\x80'");
	bad("a \xe2\x80", 1, 3, "unexpected character '\\xe2'");
	bad("\xc0\xaf", 1, 1, "unexpected character '\\xc0'");
	bad("\xed\xa0\x80", 1, 1, "unexpected character '\\xed'");
	bad("\xf4\x90\x80\x80", 1, 1, "unexpected character '\\xf4'");
}

Test(error, long_token_cut_between_characters)
{
	/* 40 bytes would end inside the 20th é */
	bad("f(1 "
	    "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
	    "\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\")",
	    1, 5,
	    "expected ')' to close '(' opened at 1:2, found "
	    "'\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
	    "\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9...'");
}

/* Scala's "a is already defined in the scope": at the second definition, naming the first.
 * An inner block, or a block inside a lambda, may define a name again (shadowing). */
Test(error, names_defined_twice)
{
	bad("s.map(x => { val a = 1; val a = 2; a })", 1, 29, "val a is already defined at 1:18");
	bad("s.map { x =>\n  val y = x\n  val y = 2\n  y\n}", 3, 7,
	    "val y is already defined at 2:7");
	bad("s.reduce((a, a) => a)", 1, 14, "parameter a is already defined at 1:11");
	bad("(a: Long, b, \"\xc3\xa9\".length, b) => a", 1, 14,
	    "expected parameter name, found '\"\xc3\xa9\"'");
	bad("(a: Long, b: Long, b: Long) => a", 1, 20, "parameter b is already defined at 1:11");
	bad("val s = f(1)\nval t = s\nval s = g(2)", 3, 5, "val s is already defined at 1:5");
	/* the first error in source order wins */
	bad("val s = f(1); val s = (a, a) => 1", 1, 19, "val s is already defined at 1:5");
	bad("val s = (a, a) => 1; val s = 2", 1, 13, "parameter a is already defined at 1:10");
	SX("{ val a = 1; { val a = 2; a } + a }", "(block (val a 1) (+ (block (val a 2) a) a))");
	SX("x => { val x = 1; x }", "(lambda (x) (block (val x 1) x))");
	SX("(a, b) => { (a, b) => a }", "(lambda (a b) (lambda (a b) a))");
	SX("s.map(x => { val a = 1; a }).map(y => { val a = 2; a })",
	   "(call (. (call (. s map) (lambda (x) (block (val a 1) a))) map) (lambda (y) (block "
	   "(val a 2) a)))");
	SX("val a = 1; f(a => a)", "val a = 1; (call f (lambda (a) a))");
}

Test(error, first_error_wins)
{
	/* a syntax error before a lexical one is reported first, in source order */
	bad("a b\n#", 1, 3, "expected ';' or newline, found 'b'");
	bad("a\n#\nb c", 2, 1, "unexpected character '#'");
	bad("f(1 #)", 1, 5, "unexpected character '#'");
}

Test(error, nesting_limit)
{
	size_t n = 100000, i;
	char *s = malloc(2 * n + 2);
	sluice_error err;

	cr_assert_not_null(s);
	for (i = 0; i < n; i++) {
		s[i] = '(';
		s[n + 1 + i] = ')';
	}
	s[n] = '1';
	cr_assert_null(sl_parse(s, 2 * n + 1, &err));
	cr_assert_str_eq(err.msg, "expression nested too deeply");
	cr_assert_eq(err.line, 1);
	cr_assert_eq(err.col, SL_PARSE_MAX_DEPTH + 1);

	memset(s, '-', n);
	cr_assert_null(sl_parse(s, 2 * n + 1, &err));
	cr_assert_str_eq(err.msg, "expression nested too deeply");

	for (i = 0; i < n / 5; i++)
		memcpy(s + 5 * i, "x => ", 5);
	cr_assert_null(sl_parse(s, n, &err));
	cr_assert_str_eq(err.msg, "expression nested too deeply");

	for (i = 0; i < n; i++)
		s[i] = "f["[i % 2];
	cr_assert_null(sl_parse(s, n, &err));
	cr_assert_str_eq(err.msg, "expression nested too deeply");

	/* 100 levels are fine */
	for (i = 0; i < 100; i++) {
		s[i] = '(';
		s[101 + i] = ')';
	}
	s[100] = '7';
	s[201] = 0;
	cr_assert_str_eq(sx(s), "7");
	free(s);
}

/* Chains are parsed by loops but still make tall trees; those are capped too. */
static char *repeat(const char *head, const char *unit, size_t n)
{
	size_t hl = strlen(head), ul = strlen(unit), i;
	char *s = malloc(hl + ul * n + 1);

	cr_assert_not_null(s);
	memcpy(s, head, hl);
	for (i = 0; i < n; i++)
		memcpy(s + hl + ul * i, unit, ul);
	s[hl + ul * n] = 0;
	return s;
}

Test(error, height_limit)
{
	char *s;
	sl_program *p;

	s = repeat("a", " + a", SL_PARSE_MAX_HEIGHT - 1);
	p = sl_parse(s, strlen(s), NULL);
	cr_assert_not_null(p);
	sl_program_free(p);
	free(s);
	s = repeat("a", " + a", SL_PARSE_MAX_HEIGHT);
	cr_assert_null(sl_parse(s, strlen(s), NULL));
	free(s);
	s = repeat("s", ".f()", SL_PARSE_MAX_HEIGHT / 2 - 1);
	p = sl_parse(s, strlen(s), NULL);
	cr_assert_not_null(p);
	sl_program_free(p);
	free(s);
	s = repeat("s", "\n.f(1)", SL_PARSE_MAX_HEIGHT);
	bad(s, SL_PARSE_MAX_HEIGHT / 2 + 2, 1, "expression nested too deeply");
	free(s);
}

Test(error, long_flat_input_is_fine)
{
	size_t n = 200000, i;
	char *s = malloc(n * 4 + 1);
	sl_program *p;

	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + 3 * i, "a; ", 3);
	p = sl_parse(s, 3 * n, NULL);
	cr_assert_not_null(p);
	cr_assert_eq(p->nstmt, (int)n);
	sl_program_free(p);
	free(s);
}

/* ---- error helpers --------------------------------------------------------------------- */

Test(helpers, error_context)
{
	sluice_error err;
	const char *src = "first\n\tab\tcd\nlast";
	char longline[1000];

	sl_error_context(&err, src, strlen(src), 2, 5);
	cr_assert_eq(err.line, 2);
	cr_assert_eq(err.col, 5);
	cr_assert_str_eq(err.context, "\tab\tcd\n\t  \t^");
	sl_error_context(&err, src, strlen(src), 1, 1);
	cr_assert_str_eq(err.context, "first\n^");
	sl_error_context(&err, src, strlen(src), 3, 5);
	cr_assert_str_eq(err.context, "last\n    ^");
	sl_error_context(&err, src, strlen(src), 3, 99);
	cr_assert_str_eq(err.context, "last\n    ^");
	sl_error_context(&err, src, strlen(src), 4, 1);
	cr_assert_str_eq(err.context, "");
	cr_assert_eq(err.line, 4);
	sl_error_context(&err, src, strlen(src), 0, 0);
	cr_assert_str_eq(err.context, "");
	sl_error_context(&err, "ab\r\ncd", 6, 1, 3);
	cr_assert_str_eq(err.context, "ab\n  ^");
	/* columns count characters: x is the 5th (its byte is the 7th) */
	sl_error_context(&err, "\xc3\xa9t\xc3\xa9 x", 7, 1, 5);
	cr_assert_str_eq(err.context, "\xc3\xa9t\xc3\xa9 x\n    ^");
	cr_assert_eq(err.col, 5);
	sl_error_context(&err, "\xc3\xa9t\xc3\xa9 x", 7, 1, 9);
	cr_assert_str_eq(err.context, "\xc3\xa9t\xc3\xa9 x\n     ^");
	/* bidi overrides, isolates and marks, C1 controls and the line separator are one '?'
	 * each (they would reorder or break the line shown); the caret still under x */
	const char *bidi =
	    "a\xe2\x80\xae\"b\xe2\x81\xa6\xc2\x85\xe2\x80\xa8\xd8\x9c\xe2\x80\x8f\xc3\xa9 x";
	sl_error_context(&err, bidi, strlen(bidi), 1, 12);
	cr_assert_str_eq(err.context, "a?\"b?????\xc3\xa9 x\n           ^");
	/* cut at the end of the line: a sequence's first bytes are left as they are */
	sl_error_context(&err, "ab \xe2\x80", 5, 1, 1);
	cr_assert_str_eq(err.context, "ab \xe2\x80\n^");
	sl_error_context(NULL, src, strlen(src), 1, 1);

	/* the last line without a terminating newline, and an empty text */
	sl_error_context(&err, "", 0, 1, 1);
	cr_assert_str_eq(err.context, "\n^");

	/* a long line shows a window around the column */
	memset(longline, 'a', sizeof(longline));
	longline[600] = 'X';
	sl_error_context(&err, longline, sizeof(longline), 1, 601);
	cr_assert_lt(strlen(err.context), sizeof(err.context));
	{
		const char *nl = strchr(err.context, '\n');
		const char *caret = strchr(err.context, '^');
		const char *x = strchr(err.context, 'X');

		cr_assert_not_null(nl);
		cr_assert_not_null(x);
		cr_assert_eq(strncmp(err.context, "...", 3), 0);
		cr_assert_eq(strncmp(nl - 3, "...", 3), 0);
		cr_assert_eq(caret - (nl + 1), x - err.context);
	}
	sl_error_context(&err, longline, sizeof(longline), 1, 1);
	cr_assert_eq(strchr(err.context, '^') - strchr(err.context, '\n'), 1);
	sl_error_context(&err, longline, sizeof(longline), 1, 1000);
	cr_assert_eq(strncmp(strchr(err.context, '\n') - 1, "a\n", 2), 0);
}

Test(helpers, error_set)
{
	sluice_error err = {0};
	char big[2000];

	sl_error_set(NULL, -EINVAL, "x %d", 1);
	sl_error_set(&err, -ENOENT, "unknown operator '%s'", "mapp");
	cr_assert_eq(err.code, -ENOENT);
	cr_assert_str_eq(err.msg, "unknown operator 'mapp'");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	sl_error_set(&err, -EINVAL, "%s", big);
	cr_assert_eq(strlen(err.msg), sizeof(err.msg) - 1);
	sl_error_set(&err, -EINVAL, "two\nlines");
	cr_assert_str_eq(err.msg, "two lines");
	sl_error_set(&err, -EINVAL, "record \"%s\"", "a\x1b[31m\tb");
	cr_assert_str_eq(err.msg, "record \"a\\x1b[31m\\tb\"");
}

Test(helpers, nearest_name)
{
	static const char *const ops[] = {
	    "map",   "flatMap", "filter", "reduceByKey", "reduceByKeyAndWindow",
	    "print", "union",   "count",  "window",      "countByValue",
	    NULL,
	};
	static const char *const none[] = {NULL};

	cr_assert_str_eq(sl_nearest_name("reduceBKey", ops), "reduceByKey");
	cr_assert_str_eq(sl_nearest_name("prnt", ops), "print");
	cr_assert_null(sl_nearest_name("zzzzzz", ops));
	cr_assert_str_eq(sl_nearest_name("PRINT", ops), "print");
	cr_assert_str_eq(sl_nearest_name("fitler", ops), "filter"); /* transposition = 1 */
	cr_assert_str_eq(sl_nearest_name("flatmap", ops), "flatMap");
	cr_assert_str_eq(sl_nearest_name("mpa", ops), "map");
	cr_assert_str_eq(sl_nearest_name("reduceByKeyAndWindw", ops), "reduceByKeyAndWindow");
	cr_assert_str_eq(sl_nearest_name("cuont", ops), "count");
	cr_assert_null(sl_nearest_name("xyzab", ops));
	cr_assert_null(sl_nearest_name("print", none));
	cr_assert_null(sl_nearest_name(NULL, ops));
	/* threshold is max(2, len/3): 3 edits allowed for a 9+ letter name, not for 8 */
	cr_assert_str_eq(sl_nearest_name("reduceBKx", ops), "reduceByKey");
	cr_assert_null(sl_nearest_name("reduceBK", ops));
	cr_assert_null(sl_nearest_name("cntByVl", ops));
}

/* ---- robustness --------------------------------------------------------------------------- */

static const char *const corpus[] = {
    "socketTextStream(\"localhost\", 9999).flatMap(_.split(\" \")).map((_, 1))\n"
    "  .reduceByKeyAndWindow(_ + _, _ - _, 30s, 10s).print()\n",
    "val s = queueStream(\"in.jsonl\")   // comment\n"
    "val t = s.map(x => x * 2); s.union(t).print(20)\n/* block comment */\n"
    "generator(\"words\", rate = 1000000, keys = 1000).map(w => (w.toLowerCase, 1))"
    ".reduceByKey(_ + _).saveAsTextFiles(\"out/wc\", \"txt\")",
    "val f: (Int, Long) => Long = (a: Int, b: Long) => if (a > 0 && !(b == 1L)) a max b else "
    "-1.5e3\n"
    "s.updateStateByKey[Int]((v, st) => { v.sum + st }).map { x => ('\\u00e9', "
    "\"\\uD83D\\uDE00\\n\") }\n",
};

/* Every prefix must either parse or fail cleanly; sanitizers catch the rest. */
Test(robust, prefixes)
{
	sluice_error err;

	for (size_t c = 0; c < sizeof(corpus) / sizeof(corpus[0]); c++) {
		size_t n = strlen(corpus[c]);

		for (size_t k = 0; k <= n; k++) {
			/* exact-size copy so reading past len trips ASan */
			char *s = malloc(k ? k : 1);
			sl_program *p;

			memcpy(s, corpus[c], k);
			p = sl_parse(s, k, &err);
			if (p)
				sl_program_free(p);
			else
				cr_assert(err.code == -EINVAL && err.line >= 1 && err.col >= 1 &&
					      strlen(err.msg) > 0 && strchr(err.context, '^'),
					  "prefix %zu of corpus %zu: %d %s", k, c, err.code,
					  err.msg);
			free(s);
		}
	}
	no_leaks();
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

Test(robust, mutations)
{
	static const char alphabet[] = "()[]{},.:;=>!<&|+-*/%_\"'\\\n\t xa1e5s0\x80\xff";
	sluice_error err;

	for (int round = 0; round < 20000; round++) {
		const char *src = corpus[rng() % (sizeof(corpus) / sizeof(corpus[0]))];
		size_t n = strlen(src), k;
		char *s = malloc(n + 8);
		int edits = 1 + (int)(rng() % 4);
		sl_program *p;

		memcpy(s, src, n);
		while (edits--) {
			k = rng() % n;
			switch (rng() % 3) {
			case 0: /* replace with a random byte */ s[k] = (char)(rng() & 0xff); break;
			case 1: /* replace with an interesting byte */
				s[k] = alphabet[rng() % (sizeof(alphabet) - 1)];
				break;
			default: /* truncate */ n = k ? k : 1; break;
			}
		}
		p = sl_parse(s, n, &err);
		if (p)
			sl_program_free(p);
		else
			cr_assert(err.code == -EINVAL && err.line >= 1 && err.col >= 1 &&
				      strchr(err.context, '^'),
				  "round %d: %s", round, err.msg);
		free(s);
	}
	no_leaks();
}

/* Fail each allocation in turn: every one must give -ENOMEM and leak nothing. */
Test(robust, out_of_memory)
{
	sluice_error err;
	int nth, completed = 0;

	for (size_t c = 0; c < sizeof(corpus) / sizeof(corpus[0]); c++) {
		for (nth = 1; nth < 100000; nth++) {
			sl_program *p;

			sl_parse_fail_alloc = nth;
			p = sl_parse(corpus[c], strlen(corpus[c]), &err);
			if (sl_parse_fail_alloc > 0) {
				/* fewer than nth allocations: the parse ran to completion */
				sl_parse_fail_alloc = 0;
				cr_assert_not_null(p);
				sl_program_free(p);
				completed++;
				break;
			}
			cr_assert_null(p, "alloc %d failed but parse succeeded", nth);
			cr_assert_eq(err.code, -ENOMEM);
			cr_assert_str_eq(err.msg, "out of memory");
			cr_assert_eq(err.line, 0);
		}
		cr_assert_gt(nth, 2);
	}
	cr_assert_eq(completed, 3);

	sl_parse_fail_alloc = 1;
	cr_assert_null(sl_nearest_name("prnt", (const char *const[]){"print", NULL}));
	sl_parse_fail_alloc = 0;
	no_leaks();
}

Test(robust, not_nul_terminated)
{
	/* sl_parse must honour len: the text after it is not part of the program */
	const char src[] = "f(1) garbage #";
	sl_program *p = sl_parse(src, 4, NULL);

	cr_assert_not_null(p);
	cr_assert_eq(p->nstmt, 1);
	sl_program_free(p);
}
