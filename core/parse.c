/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.c - lexer and recursive-descent parser for the pipeline language.
 *
 * The whole text is lexed first into a token array. A lexical error does not stop
 * parsing at once: it becomes a TK_ERROR token, so an earlier syntax error is still
 * reported first and errors always come out in source order. Newline tokens are then
 * filtered so that the ones left are exactly the statement separators (Scala-ish
 * semicolon inference), and bracket pairs are matched so that `(a, b) => ...` can be
 * told from a tuple with one lookup instead of backtracking.
 *
 * Everything the program keeps (nodes, names, decoded strings) lives in one arena of
 * malloc'd chunks; on error the arena is dropped whole, so the parser never has to
 * unwind partially built trees.
 */
#define _GNU_SOURCE /* strtod_l: number parsing must not depend on the caller's locale */
#include "parse.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_parse_fail_alloc;

/* Every allocation goes through here so the test hook can fail any one of them. */
static void *xrealloc(void *p, size_t n)
{
	if (sl_parse_fail_alloc > 0 && --sl_parse_fail_alloc == 0)
		return NULL;
	return realloc(p, n);
}

/* ---- arena ---------------------------------------------------------------- */

#define ARENA_CHUNK 16384

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

/* Zeroed, max-aligned memory that lives until the arena is freed. */
static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct chunk *c = a->head;
	void *r;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;

		c = xrealloc(NULL, sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		/* A big one-off block goes behind the head so the head keeps serving small ones. */
		if (a->head && cap != ARENA_CHUNK) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	r = (char *)c->data + c->used;
	c->used += n;
	memset(r, 0, n);
	return r;
}

static void arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* ---- tokens and parser state ---------------------------------------------- */

enum tok_kind {
	TK_EOF,
	TK_ERROR,
	TK_NL,
	TK_SEMI,
	TK_INT,
	TK_FLOAT,
	TK_STRING,
	TK_DURATION,
	TK_TRUE,
	TK_FALSE,
	TK_IDENT,
	TK_UNDERSCORE,
	TK_VAL,
	TK_VAR,
	TK_DEF,
	TK_IF,
	TK_ELSE,
	TK_LPAREN,
	TK_RPAREN,
	TK_LBRACKET,
	TK_RBRACKET,
	TK_LBRACE,
	TK_RBRACE,
	TK_COMMA,
	TK_DOT,
	TK_COLON,
	TK_ASSIGN,
	TK_ARROW,
	TK_PLUS,
	TK_MINUS,
	TK_STAR,
	TK_SLASH,
	TK_PERCENT,
	TK_EQ,
	TK_NE,
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE,
	TK_AND,
	TK_OR,
	TK_NOT,
};

#define NO_MATCH SIZE_MAX

struct token {
	enum tok_kind kind;
	int line, col;
	const unsigned char *s; /* source text, for messages */
	size_t len;
	size_t match; /* opening bracket: index of its closer, else NO_MATCH */
	int64_t ival;
	double fval;
	const char *str; /* identifier name or decoded string (arena) */
	size_t slen;
};

/*
 * A name defined in a scope: a lambda's parameter list, a block's vals, or the program's
 * vals. Scope numbers are never reused, so leaving a scope needs no clean-up, and an
 * inner scope may define a name again (shadowing, as in Scala).
 */
struct def {
	const char *name;
	int scope;
	int line, col;
};

struct parser {
	const unsigned char *s;
	size_t len;
	size_t i, ls; /* lexer: next byte, and where its line starts */
	/* lx_col's memo: the characters of the current line before byte cc_at */
	size_t cc_at, cc_n;
	int line; /* lexer: current line */
	struct token *tok;
	size_t ntok, tcap;
	size_t pos;
	struct arena *arena;
	sluice_error *err;
	int depth;
	int in_block;     /* parsing the statements of a { } block */
	int brace_lambda; /* the lambda about to be parsed opens a { } block */
	bool failed;
	/* names defined so far, by scope: open addressing, defcap a power of two or 0 */
	struct def *defs;
	size_t ndef, defcap;
	int nscope;            /* scopes opened so far; the program's own vals are scope 0 */
	int lex_line, lex_col; /* the lexical error a TK_ERROR token stands for */
	char lex_msg[256];
	char desc[80]; /* scratch for describing the token an error found */
};

/* Lexer step results besides 0 and -ENOMEM: a lexical error was recorded. */
#define LEX_STOP 1

static int clamp_int(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

/* The 1-based column of byte at on the current line, in characters (UTF-8 continuation
 * bytes do not count), as the caret under an error counts them. Tokens come in order, so
 * the count goes on from the last call on the same line. */
static int lx_col(struct parser *p, size_t at)
{
	if (p->cc_at < p->ls || p->cc_at > at) {
		p->cc_at = p->ls;
		p->cc_n = 0;
	}
	for (; p->cc_at < at; p->cc_at++)
		p->cc_n += ((unsigned char)p->s[p->cc_at] & 0xc0) != 0x80;
	return clamp_int(p->cc_n + 1);
}

/* The characters of n bytes at s. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t k = 0; k < n; k++)
		c += ((unsigned char)s[k] & 0xc0) != 0x80;
	return c;
}

static bool is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_ident_char(unsigned c)
{
	return is_ident_start(c) || is_digit(c);
}

/* The lexer passed the line break at `at`; line numbers saturate on absurd inputs. */
static void next_line(struct parser *p, size_t at)
{
	if (p->line < INT_MAX)
		p->line++;
	p->ls = at + 1;
}

/*
 * The code point of the UTF-8 sequence at s[0..n), its length in *len; -1 if it is not
 * well-formed (a stray continuation byte, a truncated sequence, an overlong form, a
 * surrogate, or past U+10FFFF).
 */
static long utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
	size_t m, k;
	long cp, min;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		m = 2, cp = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		m = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		m = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return -1;
	if (n < m)
		return -1;
	for (k = 1; k < m; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = m;
	return cp;
}

/* Characters a message shows by code point only: they are invisible, or would join the
 * quote before them or reshape the line (not exhaustive: the usual suspects in pasted text). */
static bool invisible(long cp)
{
	static const long r[][2] = {
	    {0x80, 0xa0},     {0xad, 0xad},       {0x300, 0x36f},   {0x115f, 0x1160},
	    {0x180b, 0x180f}, {0x2000, 0x200f},   {0x2028, 0x202f}, {0x205f, 0x206f},
	    {0x3000, 0x3000}, {0x3164, 0x3164},   {0xfe00, 0xfe0f}, {0xfeff, 0xfeff},
	    {0xfff0, 0xfffb}, {0xe0000, 0xe0fff},
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (cp >= r[i][0] && cp <= r[i][1])
			return true;
	return false;
}

/* Characters that text copied from a document or a web page brings along, with the fix. */
static const struct {
	long lo, hi;
	const char *what, *fix;
} lookalikes[] = {
    {0x2018, 0x201f, "a curly quote", "use straight quotes: \"text\" or 'c'"},
    {0xa0, 0xa0, "a no-break space", "use a plain space"},
    {0x200b, 0x200d, "a zero-width character", "delete it"},
    {0xfeff, 0xfeff, "a byte order mark", "delete it"},
    {0x2010, 0x2015, "a dash", "the minus operator is '-'"},
    {0x2212, 0x2212, "a minus sign", "the minus operator is '-'"},
    {0x21d2, 0x21d2, "a double arrow", "write '=>'"},
};

/* Quote a byte for a message; bytes that would garble a one-line message are escaped. */
static const char *byte_name(unsigned char c, char buf[16])
{
	if (c == 0)
		snprintf(buf, 16, "'\\0'");
	else if (c > 0x20 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "'\\x%02x'", c);
	return buf;
}

/*
 * Name the character at s[at] (nothing at or past lim belongs to the text) for a message:
 * a UTF-8 character whole with its code point, '“' (U+201C, a curly quote), and what to
 * write instead when it is a known lookalike; a byte that is not UTF-8 as '\xNN'. code: the
 * character is outside a literal, where a letter next to a name may be meant as part of it.
 */
static const char *char_name(const unsigned char *s, size_t at, size_t lim, bool code,
			     char buf[160])
{
	const char *what = NULL, *fix = NULL;
	size_t n, o;
	long cp = utf8_decode(s + at, lim - at, &n);

	if (cp < 0x80) {
		byte_name(s[at], buf);
		return buf;
	}
	for (size_t i = 0; i < sizeof(lookalikes) / sizeof(lookalikes[0]); i++)
		if (cp >= lookalikes[i].lo && cp <= lookalikes[i].hi) {
			what = lookalikes[i].what;
			fix = lookalikes[i].fix;
		}
	/* A letter such as é inside a name: say what a name may hold. */
	if (code && !fix && cp >= 0xc0 && cp != 0xd7 && cp != 0xf7 &&
	    (cp < 0x2000 || cp > 0x2bff) &&
	    ((at > 0 && is_ident_char(s[at - 1])) || (at + n < lim && is_ident_char(s[at + n]))))
		fix = "names are ASCII letters, digits, '_' and '$'";
	if (invisible(cp))
		o = (size_t)snprintf(buf, 160, "U+%04lX%s%s%s", cp, what ? " (" : "",
				     what ? what : "", what ? ")" : "");
	else
		o = (size_t)snprintf(buf, 160, "'%.*s' (U+%04lX%s%s)", (int)n, (const char *)s + at,
				     cp, what ? ", " : "", what ? what : "");
	if (fix && o < 160)
		snprintf(buf + o, 160 - o, "; %s", fix);
	return buf;
}

__attribute__((format(printf, 4, 5))) static int lex_fail(struct parser *p, int line, int col,
							  const char *fmt, ...)
{
	va_list ap;

	p->lex_line = line;
	p->lex_col = col;
	va_start(ap, fmt);
	vsnprintf(p->lex_msg, sizeof(p->lex_msg), fmt, ap);
	va_end(ap);
	return LEX_STOP;
}

#define lex_fail_at(p, at, ...) lex_fail((p), (p)->line, lx_col((p), (at)), __VA_ARGS__)

static struct token *push_tok_at(struct parser *p, enum tok_kind k, const unsigned char *s,
				 size_t len, int line, int col)
{
	struct token *t;

	if (p->ntok == p->tcap) {
		size_t cap = p->tcap ? p->tcap * 2 : 256;
		struct token *nt = xrealloc(p->tok, cap * sizeof(*nt));

		if (!nt)
			return NULL;
		p->tok = nt;
		p->tcap = cap;
	}
	t = &p->tok[p->ntok++];
	*t = (struct token){
	    .kind = k, .s = s, .len = len, .line = line, .col = col, .match = NO_MATCH};
	return t;
}

static struct token *push_tok(struct parser *p, enum tok_kind k, size_t start, size_t end)
{
	return push_tok_at(p, k, p->s + start, end - start, p->line, lx_col(p, start));
}

/* Runs of line breaks collapse into one token; nothing before the first token needs one. */
static int push_newline(struct parser *p, size_t at, int line, int col)
{
	if (p->ntok == 0 || p->tok[p->ntok - 1].kind == TK_NL)
		return 0;
	return push_tok_at(p, TK_NL, p->s + at, 1, line, col) ? 0 : -ENOMEM;
}

/* Skip a // or block comment; NUL bytes are refused even here (binary input). */
static int skip_comment(struct parser *p)
{
	const unsigned char *s = p->s;
	bool block = s[p->i + 1] == '*';
	int line = p->line, col = lx_col(p, p->i), nl_line = 0, nl_col = 0;
	size_t i, nl_at = 0;

	for (i = p->i + 2;; i++) {
		if (i >= p->len) {
			if (block)
				return lex_fail(p, line, col, "unterminated comment");
			break;
		}
		if (!block && s[i] == '\n')
			break;
		if (block && s[i] == '*' && i + 1 < p->len && s[i + 1] == '/') {
			i += 2;
			break;
		}
		if (s[i] == 0)
			return lex_fail_at(p, i, "unexpected character '\\0'");
		if (s[i] == '\n') {
			if (!nl_line) {
				nl_line = p->line;
				nl_col = lx_col(p, i);
				nl_at = i;
			}
			next_line(p, i);
		}
	}
	p->i = i;
	/* A comment spanning lines still separates the statements around it. */
	return nl_line ? push_newline(p, nl_at, nl_line, nl_col) : 0;
}

static size_t utf8_put(char *out, uint32_t cp)
{
	static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
	size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4, i;

	for (i = n - 1; i > 0; i--, cp >>= 6)
		out[i] = (char)(0x80 | (cp & 0x3f));
	out[0] = (char)(lead[n] | cp);
	return n;
}

/* Four hex digits at s[at..at+4) below lim, or -1. */
static long hex4(const unsigned char *s, size_t at, size_t lim)
{
	long v = 0;
	size_t i;

	if (at > lim || lim - at < 4)
		return -1;
	for (i = at; i < at + 4; i++) {
		unsigned c = s[i] | 0x20;

		if (!is_digit(s[i]) && (c < 'a' || c > 'f'))
			return -1;
		v = v * 16 + (is_digit(s[i]) ? s[i] - '0' : (long)c - 'a' + 10);
	}
	return v;
}

/*
 * Decode the escape whose backslash is at *kp (nothing at or past lim belongs to the
 * literal); appends its bytes to out and advances *kp past it.
 */
static int lex_escape(struct parser *p, size_t *kp, size_t lim, char *out, size_t *olen)
{
	const unsigned char *s = p->s;
	size_t k = *kp;
	unsigned e = k + 1 < lim ? s[k + 1] : '\n';
	long cp, lo;
	char nb[160];

	switch (e) {
	case 'n': out[(*olen)++] = '\n'; break;
	case 't': out[(*olen)++] = '\t'; break;
	case 'r': out[(*olen)++] = '\r'; break;
	case '0': out[(*olen)++] = '\0'; break;
	case '\\':
	case '"':
	case '\'': out[(*olen)++] = (char)e; break;
	case 'u':
		cp = hex4(s, k + 2, lim);
		if (cp < 0)
			return lex_fail_at(p, k, "invalid \\u escape: expected 4 hex digits");
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return lex_fail_at(p, k, "invalid \\u escape: unpaired surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			/* UTF-16 pair as Java/Scala write astral characters: \uD83D\uDE00 */
			lo = k + 7 < lim && s[k + 6] == '\\' && s[k + 7] == 'u'
				 ? hex4(s, k + 8, lim)
				 : -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				return lex_fail_at(p, k, "invalid \\u escape: unpaired surrogate");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			k += 6;
		}
		*olen += utf8_put(out + *olen, (uint32_t)cp);
		k += 4;
		break;
	case 0: return lex_fail_at(p, k + 1, "unexpected character '\\0'");
	default:
		if (e > 0x20 && e < 0x7f)
			return lex_fail_at(p, k, "unknown escape '\\%c'", e);
		return lex_fail_at(p, k, "unknown escape '\\' followed by %s",
				   char_name(s, k + 1, lim, false, nb));
	}
	*kp = k + 2;
	return 0;
}

/*
 * "string" or 'c' (a one-character string; the character may be an escape or a UTF-8
 * sequence). Strings do not span lines.
 */
static int lex_quoted(struct parser *p)
{
	const unsigned char *s = p->s;
	size_t st = p->i, j = st + 1, k, olen = 0, nchar = 0;
	unsigned q = s[st];
	const char *what = q == '"' ? "string" : "character";
	struct token *t;
	char *buf;
	int rc;

	/* Find the end first: sizes the buffer, and reports unterminated at the opening quote. */
	for (;;) {
		if (j >= p->len || s[j] == '\n' ||
		    (s[j] == '\\' && (j + 1 >= p->len || s[j + 1] == '\n')))
			return lex_fail_at(p, st, "unterminated %s literal", what);
		if (s[j] == q)
			break;
		if (s[j] == 0)
			return lex_fail_at(p, j, "unexpected character '\\0'");
		j += s[j] == '\\' ? 2 : 1;
	}
	/* Escapes never grow: \uXXXX is at most 3 bytes, a surrogate pair 4 bytes for 12. */
	buf = arena_alloc(p->arena, j - st);
	if (!buf)
		return -ENOMEM;
	for (k = st + 1; k < j; nchar++) {
		if (s[k] == '\\') {
			rc = lex_escape(p, &k, j, buf, &olen);
			if (rc)
				return rc;
			continue;
		}
		/* UTF-8 continuation bytes belong to the character before them. */
		if ((s[k] & 0xc0) == 0x80 && nchar)
			nchar--;
		buf[olen++] = (char)s[k++];
	}
	if (q == '\'' && nchar != 1)
		return lex_fail_at(p, st,
				   nchar ? "character literal must hold one character"
					 : "empty character literal");
	t = push_tok(p, TK_STRING, st, j + 1);
	if (!t)
		return -ENOMEM;
	t->str = buf;
	t->slen = olen;
	p->i = j + 1;
	return 0;
}

/*
 * Exact decimal arithmetic for durations, so 1.5s is 1500 and 0.0015s is an error
 * instead of whatever binary floating point rounds it to. s[0..n) is
 * digits[.digits][e[+-]digits]. Returns 0, -ERANGE, or -EDOM (not whole milliseconds).
 */
static int decimal_ms(const unsigned char *s, size_t n, int64_t unit, int64_t *out)
{
	int64_t m = 0;
	long e10 = 0, ex = 0, zeros = 0;
	bool frac = false, eneg = false;
	size_t i;

	for (i = 0; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
		if (s[i] == '.') {
			frac = true;
			continue;
		}
		if (frac)
			e10--;
		/* Zeros are only multiplied in when a later nonzero digit needs them. */
		if (s[i] == '0') {
			zeros++;
			continue;
		}
		for (; zeros >= 0; zeros--)
			if (__builtin_mul_overflow(m, 10, &m))
				return -ERANGE;
		zeros = 0;
		if (__builtin_add_overflow(m, s[i] - '0', &m))
			return -ERANGE;
	}
	e10 += zeros;
	if (i < n) {
		i++;
		if (s[i] == '+' || s[i] == '-')
			eneg = s[i++] == '-';
		for (; i < n; i++)
			if (ex < 1000000)
				ex = ex * 10 + (s[i] - '0');
		e10 += eneg ? -ex : ex;
	}
	if (m == 0) {
		*out = 0;
		return 0;
	}
	if (__builtin_mul_overflow(m, unit, &m))
		return -ERANGE;
	for (; e10 > 0; e10--)
		if (__builtin_mul_overflow(m, 10, &m))
			return -ERANGE;
	for (; e10 < 0; e10++) {
		if (m % 10)
			return -EDOM;
		m /= 10;
	}
	*out = m;
	return 0;
}

static const struct {
	const char *name;
	int64_t ms;
} units[] = {
    {"ms", 1}, {"s", 1000}, {"sec", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
};

static int lex_number(struct parser *p)
{
	const unsigned char *s = p->s;
	size_t st = p->i, i = st, n = p->len, nend, sfx, j;
	enum tok_kind kind = TK_INT;
	int64_t unit = 0, v = 0;
	struct token *t;
	double d = 0;
	int rc;

	while (i < n && is_digit(s[i]))
		i++;
	/* `1.5` is a float but `1.toString` is a method call on 1. */
	if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
		kind = TK_FLOAT;
		for (i++; i < n && is_digit(s[i]); i++)
			;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		j = i + 1;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit(s[j])) {
			kind = TK_FLOAT;
			for (i = j; i < n && is_digit(s[i]); i++)
				;
		}
	}
	nend = i;
	/* Scala: "Non-zero integral values may not have a leading zero" (07 was octal once) */
	if (kind == TK_INT && s[st] == '0' && nend - st > 1) {
		size_t z = st;
		while (z + 1 < nend && s[z] == '0')
			z++;
		return lex_fail_at(p, st,
				   "integer literal '%.*s' has a leading zero (there are no octal "
				   "literals); write %.*s",
				   (int)(nend - st > 40 ? 40 : nend - st), (const char *)s + st,
				   (int)(nend - z > 40 ? 40 : nend - z), (const char *)s + z);
	}
	for (sfx = i; i < n && is_ident_char(s[i]); i++)
		;
	if (i - sfx == 1 && (s[sfx] == 'L' || s[sfx] == 'l') && kind == TK_INT) {
		/* Long suffix: all integers are 64-bit already. */
	} else if (i - sfx == 1 && (s[sfx] == 'L' || s[sfx] == 'l')) {
		/* 1.5L, 1e3L: Scala has no such literal either */
		bool frac = memchr(s + st, '.', nend - st) != NULL;

		return lex_fail_at(p, st,
				   "Long literal '%.*s' cannot have %s: write %.*s for a Double",
				   (int)(i - st > 40 ? 40 : i - st), (const char *)s + st,
				   frac ? "a fraction" : "an exponent",
				   (int)(nend - st > 40 ? 40 : nend - st), (const char *)s + st);
	} else if (i - sfx == 1 && strchr("dDfF", s[sfx])) {
		kind = TK_FLOAT;
	} else if (i > sfx) {
		for (j = 0; j < sizeof(units) / sizeof(units[0]); j++)
			if (strlen(units[j].name) == i - sfx &&
			    !memcmp(units[j].name, s + sfx, i - sfx))
				unit = units[j].ms;
		if (!unit && sfx == st + 1 && s[st] == '0' && (s[sfx] == 'x' || s[sfx] == 'X'))
			return lex_fail_at(p, st,
					   "hexadecimal literals are not supported; write "
					   "the number in decimal");
		if (!unit && (s[sfx] == 'e' || s[sfx] == 'E' || s[sfx] == '_'))
			return lex_fail_at(p, st, "malformed number '%.*s'",
					   (int)(i - st > 40 ? 40 : i - st), (const char *)s + st);
		if (!unit)
			return lex_fail_at(p, sfx, "unknown duration unit '%.*s'",
					   (int)(i - sfx > 32 ? 32 : i - sfx),
					   (const char *)s + sfx);
		kind = TK_DURATION;
	}

	if (kind != TK_FLOAT) {
		/* an integer is a duration in a unit of 1 */
		rc = decimal_ms(s + st, nend - st, unit ? unit : 1, &v);
		if (rc)
			return lex_fail_at(p, st,
					   rc == -EDOM
					       ? "%s '%.*s' is not a whole number of milliseconds"
					       : "%s '%.*s' out of range",
					   kind == TK_INT ? "integer literal" : "duration",
					   (int)(i - st > 40 ? 40 : i - st), (const char *)s + st);
	} else {
		/* strtod needs a terminated copy; the text may not be NUL-terminated */
		char *buf = xrealloc(NULL, nend - st + 1);
		locale_t c;

		if (!buf)
			return -ENOMEM;
		memcpy(buf, s + st, nend - st);
		buf[nend - st] = 0;
		c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
		if (c) {
			d = strtod_l(buf, NULL, c);
			freelocale(c);
		}
		free(buf);
		if (!c)
			return -ENOMEM;
		if (isinf(d))
			return lex_fail_at(p, st, "float literal '%.*s' out of range",
					   (int)(nend - st > 40 ? 40 : nend - st),
					   (const char *)s + st);
	}
	t = push_tok(p, kind, st, i);
	if (!t)
		return -ENOMEM;
	t->ival = v;
	t->fval = d;
	p->i = i;
	return 0;
}

static const struct {
	const char *word;
	enum tok_kind kind;
} keywords[] = {
    {"val", TK_VAL},   {"var", TK_VAR},   {"def", TK_DEF},     {"if", TK_IF},
    {"else", TK_ELSE}, {"true", TK_TRUE}, {"false", TK_FALSE},
};

static int lex_word(struct parser *p)
{
	size_t st = p->i, i = st, n, k;
	enum tok_kind kind = TK_IDENT;
	struct token *t;
	char *name;

	while (i < p->len && is_ident_char(p->s[i]))
		i++;
	n = i - st;
	if (n == 1 && p->s[st] == '_')
		kind = TK_UNDERSCORE;
	for (k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++)
		if (strlen(keywords[k].word) == n && !memcmp(keywords[k].word, p->s + st, n))
			kind = keywords[k].kind;
	t = push_tok(p, kind, st, i);
	if (!t)
		return -ENOMEM;
	t->ival = kind == TK_TRUE;
	if (kind == TK_IDENT) {
		name = arena_alloc(p->arena, n + 1);
		if (!name)
			return -ENOMEM;
		memcpy(name, p->s + st, n);
		t->str = name;
		t->slen = n;
	}
	p->i = i;
	return 0;
}

/* Operators; a two-byte one is listed before the one-byte operator it starts with. */
static const struct {
	char text[3];
	enum tok_kind kind;
} ops[] = {
    {"==", TK_EQ},     {"=>", TK_ARROW}, {"!=", TK_NE},    {"<=", TK_LE},      {">=", TK_GE},
    {"&&", TK_AND},    {"||", TK_OR},    {"=", TK_ASSIGN}, {"!", TK_NOT},      {"<", TK_LT},
    {">", TK_GT},      {"(", TK_LPAREN}, {")", TK_RPAREN}, {"[", TK_LBRACKET}, {"]", TK_RBRACKET},
    {"{", TK_LBRACE},  {"}", TK_RBRACE}, {",", TK_COMMA},  {".", TK_DOT},      {":", TK_COLON},
    {";", TK_SEMI},    {"+", TK_PLUS},   {"-", TK_MINUS},  {"*", TK_STAR},     {"/", TK_SLASH},
    {"%", TK_PERCENT},
};

/* Lex one token (or skip blanks/comments) at p->i. */
static int lex_one(struct parser *p)
{
	size_t i = p->i, k, w;
	unsigned c = p->s[i], c1 = i + 1 < p->len ? p->s[i + 1] : 0;
	char nb[160];
	int rc;

	if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
		p->i++;
		return 0;
	}
	if (c == '\n') {
		rc = push_newline(p, i, p->line, lx_col(p, i));
		next_line(p, p->i++);
		return rc;
	}
	if (c == '"' || c == '\'')
		return lex_quoted(p);
	if (c == '/' && (c1 == '/' || c1 == '*'))
		return skip_comment(p);
	if (is_digit(c))
		return lex_number(p);
	if (is_ident_start(c))
		return lex_word(p);
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		w = ops[k].text[1] ? 2 : 1;
		if ((unsigned char)ops[k].text[0] == c &&
		    (w == 1 || (unsigned char)ops[k].text[1] == c1)) {
			if (!push_tok(p, ops[k].kind, i, i + w))
				return -ENOMEM;
			p->i = i + w;
			return 0;
		}
	}
	if (c == '&' || c == '|')
		return lex_fail_at(p, i, "unexpected character '%c' (did you mean '%c%c'?)", c, c,
				   c);
	return lex_fail_at(p, i, "unexpected character %s", char_name(p->s, i, p->len, true, nb));
}

/* Tokenize the whole text; always ends with TK_EOF (after TK_ERROR if lexing failed). */
static int lex(struct parser *p)
{
	const struct token *last = NULL;
	int rc = 0, line = 1, col = 1;
	size_t k;

	p->line = 1;
	while (p->i < p->len && !rc)
		rc = lex_one(p);
	if (rc < 0)
		return rc;
	if (rc == LEX_STOP && !push_tok_at(p, TK_ERROR, p->s + p->i, 0, p->lex_line, p->lex_col))
		return -ENOMEM;
	/* End of input is reported just past the last token, not on trailing blank lines. */
	for (k = p->ntok; k > 0 && !last; k--)
		if (p->tok[k - 1].kind != TK_NL)
			last = &p->tok[k - 1];
	if (last) {
		line = last->line;
		col = clamp_int((size_t)last->col + utf8_chars((const char *)last->s, last->len));
	}
	return push_tok_at(p, TK_EOF, p->s + p->len, 0, line, col) ? 0 : -ENOMEM;
}

static bool is_open(enum tok_kind k)
{
	return k == TK_LPAREN || k == TK_LBRACKET || k == TK_LBRACE;
}

static bool is_close(enum tok_kind k)
{
	return k == TK_RPAREN || k == TK_RBRACKET || k == TK_RBRACE;
}

/* A line ending in one of these obviously goes on. */
static bool continues_line(enum tok_kind k)
{
	return (k >= TK_COMMA && k <= TK_NOT) || is_open(k) || k == TK_ELSE || k == TK_SEMI;
}

/*
 * Drop newlines that do not end a statement: inside brackets, after a token that
 * needs a right-hand side, before a line starting with `.` (chained call) or `else`.
 * What is left is a separator the parser must see. In the same pass pair brackets
 * (any kind with any kind: mismatches are the parser's to report), which lets the
 * parser tell `(a, b) => ...` from a tuple without backtracking.
 */
static int arrange(struct parser *p)
{
	size_t *stack = NULL, n = 0, cap = 0, i, o = 0;

	for (i = 0; i < p->ntok; i++) {
		const struct token *t = &p->tok[i];

		if (t->kind == TK_NL) {
			enum tok_kind next = p->tok[i + 1].kind;

			/* inside `{ }` (innermost bracket) a newline separates statements of a
			 * block, as at top level; inside ( ) and [ ] it is dropped */
			bool brace = n && p->tok[stack[n - 1]].kind == TK_LBRACE;
			if ((n && !brace) || o == 0 || continues_line(p->tok[o - 1].kind) ||
			    next == TK_DOT || next == TK_ELSE || next == TK_EOF ||
			    next == TK_RBRACE || next == TK_NL)
				continue;
		} else if (is_open(t->kind)) {
			if (n == cap) {
				size_t *ns =
				    xrealloc(stack, (cap = cap ? cap * 2 : 64) * sizeof(*ns));

				if (!ns) {
					free(stack);
					return -ENOMEM;
				}
				stack = ns;
			}
			stack[n++] = o;
		} else if (is_close(t->kind) && n) {
			p->tok[stack[--n]].match = o;
		}
		if (o != i)
			p->tok[o] = *t;
		o++;
	}
	p->ntok = o;
	free(stack);
	return 0;
}

/* ---- parser ------------------------------------------------------------------ */

static struct token *cur(struct parser *p)
{
	return &p->tok[p->pos];
}

static struct token *peek(struct parser *p, size_t k)
{
	return &p->tok[p->pos + k < p->ntok ? p->pos + k : p->ntok - 1];
}

static bool at(struct parser *p, enum tok_kind k)
{
	return p->tok[p->pos].kind == k;
}

/* Consume the current token; EOF is sticky so lookahead never runs off the end. */
static struct token *advance(struct parser *p)
{
	struct token *t = &p->tok[p->pos];

	if (p->pos + 1 < p->ntok)
		p->pos++;
	return t;
}

/* How a token reads in "found ..." (in p->desc, so one per message). */
static const char *desc(struct parser *p, const struct token *t)
{
	size_t n = t->len > 40 ? 40 : t->len, i, o = 0;

	if (t->kind == TK_EOF)
		return "end of input";
	if (t->kind == TK_NL)
		return "newline";
	/* a long token is cut before a character, not inside its UTF-8 bytes */
	while (n > 0 && n < t->len && (t->s[n] & 0xc0) == 0x80)
		n--;
	p->desc[o++] = '\'';
	for (i = 0; i < n; i++)
		p->desc[o++] = t->s[i] < 0x20 || t->s[i] == 0x7f ? '?' : (char)t->s[i];
	if (n < t->len) {
		memcpy(p->desc + o, "...", 3);
		o += 3;
	}
	p->desc[o++] = '\'';
	p->desc[o] = 0;
	return p->desc;
}

/*
 * Record the first error at token t and return NULL for the caller to pass up. If t is
 * the lexer's error token, the lexical error is what went wrong there, so it wins.
 */
__attribute__((format(printf, 3, 4))) static void *fail(struct parser *p, const struct token *t,
							const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return NULL;
	p->failed = true;
	if (t->kind == TK_ERROR)
		sl_error_set(p->err, -EINVAL, "%s", p->lex_msg); /* clears the position */
	p->err->code = -EINVAL;
	p->err->line = t->line;
	p->err->col = t->col;
	if (t->kind == TK_ERROR)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return NULL;
}

static void *oom(struct parser *p)
{
	if (!p->failed) {
		p->failed = true;
		memset(p->err, 0, sizeof(*p->err));
		sl_error_set(p->err, -ENOMEM, "out of memory");
	}
	return NULL;
}

static void *palloc(struct parser *p, size_t n)
{
	void *r = arena_alloc(p->arena, n);

	return r ? r : oom(p);
}

static uint64_t def_hash(const char *name, int scope)
{
	uint64_t h = 0xcbf29ce484222325u ^ (uint64_t)(unsigned)scope; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3u;
	return h;
}

static void def_put(struct def *tab, size_t mask, const struct def *d)
{
	size_t j = def_hash(d->name, d->scope) & mask;

	while (tab[j].name)
		j = (j + 1) & mask;
	tab[j] = *d;
}

/*
 * Define the name token t (a val's name or a parameter, `what`) in scope; a second
 * definition in the same scope is an error at it, naming the first one.
 */
static bool define(struct parser *p, int scope, const struct token *t, const char *what)
{
	const struct def d = {.name = t->str, .scope = scope, .line = t->line, .col = t->col};
	size_t mask, j;

	if (2 * (p->ndef + 1) > p->defcap) {
		size_t cap = p->defcap ? p->defcap * 2 : 64;
		struct def *tab =
		    cap < SIZE_MAX / sizeof(*tab) ? xrealloc(NULL, cap * sizeof(*tab)) : NULL;

		if (!tab)
			return oom(p), false;
		memset(tab, 0, cap * sizeof(*tab));
		for (j = 0; j < p->defcap; j++)
			if (p->defs[j].name)
				def_put(tab, cap - 1, &p->defs[j]);
		free(p->defs);
		p->defs = tab;
		p->defcap = cap;
	}
	mask = p->defcap - 1;
	for (j = def_hash(d.name, scope) & mask; p->defs[j].name; j = (j + 1) & mask)
		if (p->defs[j].scope == scope && !strcmp(p->defs[j].name, d.name)) {
			fail(p, t, "%s %s is already defined at %d:%d", what, d.name,
			     p->defs[j].line, p->defs[j].col);
			return false;
		}
	p->defs[j] = d;
	p->ndef++;
	return true;
}

/* Nodes carry their height privately, so trees can be capped without walking them. */
struct node {
	sl_ast ast; /* first, so an sl_ast * converts back to its node */
	int height;
};

#define HEIGHT(n) (((struct node *)(n))->height)

static sl_ast *new_node(struct parser *p, enum sl_ast_kind kind, int line, int col, int nkid)
{
	struct node *pn = palloc(p, sizeof(*pn));
	sl_ast *n = &pn->ast;

	if (!pn)
		return NULL;
	pn->height = 1;
	n->kind = kind;
	n->line = line;
	n->col = col;
	if (nkid) {
		n->kid = palloc(p, (size_t)nkid * sizeof(*n->kid));
		if (!n->kid)
			return NULL;
		n->nkid = nkid;
	}
	return n;
}

/*
 * Make room for item n of an arena array with capacity *cap; returns the (possibly
 * moved) array or NULL. Old copies are left to the arena: at most 2x waste.
 */
static void *grow(struct parser *p, void *arr, int n, int *cap, size_t elem)
{
	void *na;

	if (n < *cap)
		return arr;
	if (n >= INT_MAX / 2)
		return fail(p, cur(p), "too many items in one list");
	*cap = *cap ? *cap * 2 : 4;
	na = palloc(p, (size_t)*cap * elem);
	if (na && n)
		memcpy(na, arr, (size_t)n * elem);
	return na;
}

static bool add_kid(struct parser *p, sl_ast *n, int *cap, sl_ast *k)
{
	sl_ast **kid;

	if (!k)
		return false;
	kid = grow(p, n->kid, n->nkid, cap, sizeof(*kid));
	if (!kid)
		return false;
	n->kid = kid;
	kid[n->nkid++] = k;
	return true;
}

/*
 * Seal a node whose kids are all set. Recursion depth alone does not bound the tree
 * (loops build `a + b + c ...` and long method chains), yet consumers walk trees
 * recursively, so the height is capped as well.
 */
static bool finish(struct parser *p, sl_ast *n)
{
	int i, h = 0;

	for (i = 0; i < n->nkid; i++)
		if (HEIGHT(n->kid[i]) > h)
			h = HEIGHT(n->kid[i]);
	HEIGHT(n) = h + 1;
	if (h < SL_PARSE_MAX_HEIGHT)
		return true;
	fail(p, cur(p), "expression nested too deeply");
	return false;
}

static bool enter(struct parser *p)
{
	if (++p->depth <= SL_PARSE_MAX_DEPTH)
		return true;
	fail(p, cur(p), "expression nested too deeply");
	return false;
}

/* Consume the closer of `open`, or fail naming both ends. */
static bool expect_close(struct parser *p, const struct token *open, enum tok_kind k)
{
	static const char closer[] = {[TK_RPAREN] = ')', [TK_RBRACKET] = ']', [TK_RBRACE] = '}'};

	if (at(p, k)) {
		advance(p);
		return true;
	}
	fail(p, cur(p), "expected '%c' to close '%c' opened at %d:%d, found %s", closer[k],
	     *open->s, open->line, open->col, desc(p, cur(p)));
	return false;
}

static sl_ast *parse_expr(struct parser *p);
static sl_ast *parse_stmts(struct parser *p, const struct token *open);
static bool skip_type(struct parser *p);

/* [T, U[V], ...] after a name; types are not checked by this language, only skipped. */
static bool skip_type_args(struct parser *p)
{
	const struct token *open = advance(p);

	do {
		if (!skip_type(p))
			return false;
	} while (at(p, TK_COMMA) && advance(p));
	return expect_close(p, open, TK_RBRACKET);
}

/* type := ( `(` [type {, type}] `)` | name{.name} [typeargs] ) [`=>` type] */
static bool skip_type(struct parser *p)
{
	bool ok = false;

	if (!enter(p))
		goto out;
	if (at(p, TK_LPAREN)) {
		const struct token *open = advance(p);

		if (!at(p, TK_RPAREN)) {
			do {
				if (!skip_type(p))
					goto out;
			} while (at(p, TK_COMMA) && advance(p));
		}
		if (!expect_close(p, open, TK_RPAREN))
			goto out;
	} else if (at(p, TK_IDENT)) {
		advance(p);
		while (at(p, TK_DOT) && peek(p, 1)->kind == TK_IDENT) {
			advance(p);
			advance(p);
		}
		if (at(p, TK_LBRACKET) && !skip_type_args(p))
			goto out;
	} else {
		fail(p, cur(p), "expected type, found %s", desc(p, cur(p)));
		goto out;
	}
	ok = !at(p, TK_ARROW) || (advance(p), skip_type(p));
out:
	p->depth--;
	return ok;
}

/* A lambda parameter's name; `_` (Scala's unused parameter) is named "_", which no
 * expression can refer to since `_` in a body is a placeholder. */
static const char *param_name(const struct token *t)
{
	return t->kind == TK_UNDERSCORE ? "_" : t->str;
}

/* x => e | ( [x[: T] {, x[: T]}] ) => e, where a name may be `_` */
static sl_ast *parse_lambda(struct parser *p)
{
	const struct token *t = advance(p);
	sl_ast *n = new_node(p, SL_AST_LAMBDA, t->line, t->col, 1);
	const char **params;
	int cap = 0;

	if (!n)
		return NULL;
	if (t->kind != TK_LPAREN) {
		n->params = palloc(p, sizeof(*n->params));
		if (!n->params)
			return NULL;
		n->params[n->nparam++] = param_name(t);
	} else if (!at(p, TK_RPAREN)) {
		int scope = ++p->nscope;

		for (;;) {
			if (!at(p, TK_IDENT) && !at(p, TK_UNDERSCORE))
				return fail(p, cur(p), "expected parameter name, found %s",
					    desc(p, cur(p)));
			/* (a, a) => a: Scala's "a is already defined"; any number of _ */
			if (at(p, TK_IDENT) && !define(p, scope, cur(p), "parameter"))
				return NULL;
			params = grow(p, n->params, n->nparam, &cap, sizeof(*params));
			if (!params)
				return NULL;
			n->params = params;
			n->params[n->nparam++] = param_name(advance(p));
			if (at(p, TK_COLON) && (advance(p), !skip_type(p)))
				return NULL;
			if (!at(p, TK_COMMA))
				break;
			advance(p);
		}
	}
	if (t->kind == TK_LPAREN && !expect_close(p, t, TK_RPAREN))
		return NULL;
	if (!at(p, TK_ARROW))
		return fail(p, cur(p), "expected '=>', found %s", desc(p, cur(p)));
	advance(p);
	if (p->brace_lambda) {
		/* { x => stmts }: the body runs to the closing brace */
		p->brace_lambda = 0;
		n->kid[0] = parse_stmts(p, t);
	} else {
		n->kid[0] = parse_expr(p);
	}
	return n->kid[0] && finish(p, n) ? n : NULL;
}

/* if (c) a else b; newlines may sit after the condition and before `else`. */
static sl_ast *parse_if(struct parser *p)
{
	const struct token *t = advance(p), *open = cur(p);
	sl_ast *n = new_node(p, SL_AST_IF, t->line, t->col, 3);

	if (!n)
		return NULL;
	if (!at(p, TK_LPAREN))
		return fail(p, cur(p), "expected '(' after 'if', found %s", desc(p, cur(p)));
	advance(p);
	n->kid[0] = parse_expr(p);
	if (!n->kid[0] || !expect_close(p, open, TK_RPAREN))
		return NULL;
	while (at(p, TK_NL))
		advance(p);
	n->kid[1] = parse_expr(p);
	if (!n->kid[1])
		return NULL;
	if (!at(p, TK_ELSE)) {
		/* `if (c) stmt` without else: a statement of a block (kid[2] = NULL); an
		 * expression needs its else, which the compiler reports */
		if (p->in_block && (at(p, TK_NL) || at(p, TK_SEMI) || at(p, TK_RBRACE))) {
			n->nkid = 2;
			return finish(p, n) ? n : NULL;
		}
		return fail(p, cur(p), "expected 'else' to complete 'if' at %d:%d, found %s",
			    t->line, t->col, desc(p, cur(p)));
	}
	advance(p);
	n->kid[2] = parse_expr(p);
	return n->kid[2] && finish(p, n) ? n : NULL;
}

/* Arguments after `(` of a call: positional expressions or `name = expr`. */
static bool parse_args(struct parser *p, sl_ast *call, const struct token *open)
{
	int cap = call->nkid;
	sl_ast *a;

	if (!at(p, TK_RPAREN)) {
		for (;;) {
			if (at(p, TK_IDENT) && peek(p, 1)->kind == TK_ASSIGN) {
				const struct token *name = advance(p);

				advance(p);
				a = new_node(p, SL_AST_NAMED, name->line, name->col, 1);
				if (!a)
					return false;
				a->name = name->str;
				a->kid[0] = parse_expr(p);
				if (!a->kid[0] || !finish(p, a))
					return false;
			} else {
				a = parse_expr(p);
			}
			if (!add_kid(p, call, &cap, a))
				return false;
			if (!at(p, TK_COMMA))
				break;
			advance(p);
		}
	}
	return expect_close(p, open, TK_RPAREN);
}

/* `x =>` or `( ... ) =>` starts here. */
static bool lambda_ahead(struct parser *p)
{
	const struct token *t = cur(p);

	return ((t->kind == TK_IDENT || t->kind == TK_UNDERSCORE) &&
		peek(p, 1)->kind == TK_ARROW) ||
	       (t->kind == TK_LPAREN && t->match != NO_MATCH &&
		p->tok[t->match + 1].kind == TK_ARROW);
}

/*
 * Statements up to (not including) the `}` of `open`: separated by `;` or newlines, each
 * `val name = e` or an expression. One expression alone is just that expression (the
 * common `map { x => ... }`); anything else is a BLOCK node whose last statement is its
 * value. `{ x => stmts }` is a lambda whose body is the statements (Scala's rule).
 */
static sl_ast *parse_stmts(struct parser *p, const struct token *open)
{
	sl_ast *blk = new_node(p, SL_AST_BLOCK, open->line, open->col, 0), *e;
	int cap = 0, save = p->in_block, scope = ++p->nscope;

	if (!blk)
		return NULL;
	p->in_block = 1;
	for (;;) {
		while (at(p, TK_NL) || at(p, TK_SEMI))
			advance(p);
		if (at(p, TK_RBRACE) && blk->nkid)
			break;
		if (at(p, TK_VAL)) {
			const struct token *v = advance(p), *name;

			if (!at(p, TK_IDENT))
				return fail(p, cur(p), "expected name after 'val', found %s",
					    desc(p, cur(p)));
			if (!define(p, scope, cur(p), "val"))
				return NULL;
			name = advance(p);
			if (at(p, TK_COLON) && (advance(p), !skip_type(p)))
				return NULL;
			if (!at(p, TK_ASSIGN))
				return fail(p, cur(p), "expected '=' after 'val %.40s', found %s",
					    name->str, desc(p, cur(p)));
			advance(p);
			e = new_node(p, SL_AST_VAL, v->line, v->col, 1);
			if (!e)
				return NULL;
			e->name = name->str;
			e->kid[0] = parse_expr(p);
			if (!e->kid[0] || !finish(p, e))
				return NULL;
		} else if (blk->nkid == 0 && lambda_ahead(p)) {
			p->brace_lambda = 1;
			e = parse_expr(p);
			if (e && !at(p, TK_RBRACE) && !at(p, TK_EOF))
				return fail(p, cur(p), "expected '}', found %s", desc(p, cur(p)));
		} else {
			e = parse_expr(p);
		}
		if (!e || !add_kid(p, blk, &cap, e))
			return NULL;
		if (!at(p, TK_NL) && !at(p, TK_SEMI) && !at(p, TK_RBRACE) && !at(p, TK_EOF))
			return fail(p, cur(p), "expected ';', newline or '}', found %s",
				    desc(p, cur(p)));
		if (at(p, TK_EOF))
			break;
	}
	p->in_block = save;
	if (blk->nkid == 1 && blk->kid[0]->kind != SL_AST_VAL)
		return blk->kid[0];
	return finish(p, blk) ? blk : NULL;
}

static sl_ast *parse_block(struct parser *p, const struct token *open)
{
	sl_ast *e = parse_stmts(p, open);

	if (!e || !expect_close(p, open, TK_RBRACE))
		return NULL;
	e->line = open->line;
	e->col = open->col;
	return e;
}

/* `(e)`, `(a, b, ...)` or `{ e }`; a bare group takes the bracket's position. */
static sl_ast *parse_group(struct parser *p)
{
	const struct token *open = advance(p);
	enum tok_kind close = open->kind == TK_LBRACE ? TK_RBRACE : TK_RPAREN;
	sl_ast *e, *tup;
	int cap = 0;

	if (close == TK_RBRACE && cur(p)->kind == TK_IDENT && !strcmp(cur(p)->str, "case"))
		return fail(p, cur(p),
			    "pattern-matching functions ({ case ... => ... }) are not supported; "
			    "write a lambda such as x => x._1 + x._2");
	if (close == TK_RBRACE)
		return parse_block(p, open);
	e = parse_expr(p);

	if (!e)
		return NULL;
	if (close == TK_RPAREN && at(p, TK_COMMA)) {
		tup = new_node(p, SL_AST_TUPLE, open->line, open->col, 0);
		if (!tup || !add_kid(p, tup, &cap, e))
			return NULL;
		while (at(p, TK_COMMA)) {
			advance(p);
			if (!add_kid(p, tup, &cap, parse_expr(p)))
				return NULL;
		}
		if (!finish(p, tup))
			return NULL;
		e = tup;
	}
	if (!expect_close(p, open, close))
		return NULL;
	e->line = open->line;
	e->col = open->col;
	return e;
}

static sl_ast *parse_primary(struct parser *p)
{
	/* literal and name tokens, TK_INT..TK_UNDERSCORE, map one to one onto leaf nodes */
	static const enum sl_ast_kind leaf[] = {
	    SL_AST_INT,  SL_AST_FLOAT, SL_AST_STRING, SL_AST_DURATION,
	    SL_AST_BOOL, SL_AST_BOOL,  SL_AST_IDENT,  SL_AST_UNDERSCORE,
	};
	const struct token *t = cur(p);
	sl_ast *n;

	if (t->kind == TK_LPAREN || t->kind == TK_LBRACE)
		return parse_group(p);
	if (t->kind == TK_DOT && peek(p, 1)->kind >= TK_INT && peek(p, 1)->kind <= TK_DURATION &&
	    peek(p, 1)->kind != TK_STRING && peek(p, 1)->s == t->s + 1) {
		const struct token *num = peek(p, 1);

		return fail(p, t, "a number cannot start with '.': write 0.%.*s",
			    (int)(num->len > 40 ? 40 : num->len), (const char *)num->s);
	}
	if (t->kind < TK_INT || t->kind > TK_UNDERSCORE)
		return fail(p, t, "expected expression, found %s", desc(p, t));
	n = new_node(p, leaf[t->kind - TK_INT], t->line, t->col, 0);
	if (!n)
		return NULL;
	n->ival = t->ival;
	n->fval = t->fval;
	if (t->kind == TK_IDENT) {
		n->name = t->str;
	} else {
		n->str = t->str;
		n->slen = t->slen;
	}
	advance(p);
	return n;
}

static bool callable(const sl_ast *n)
{
	return n->kind == SL_AST_IDENT || n->kind == SL_AST_FIELD;
}

/* primary { .name | [types] | (args) | { block-arg } } */
static sl_ast *parse_postfix(struct parser *p)
{
	sl_ast *n = parse_primary(p), *k;
	const struct token *t;
	int cap;

	while (n) {
		t = cur(p);
		if (t->kind == TK_DOT) {
			advance(p);
			if (!at(p, TK_IDENT))
				return fail(p, cur(p), "expected member name after '.', found %s",
					    desc(p, cur(p)));
			k = new_node(p, SL_AST_FIELD, n->line, n->col, 1);
			if (!k)
				return NULL;
			k->kid[0] = n;
			k->nline = cur(p)->line;
			k->ncol = cur(p)->col;
			k->name = advance(p)->str;
			if (!finish(p, k))
				return NULL;
			n = k;
		} else if (t->kind == TK_LBRACKET && callable(n)) {
			if (!skip_type_args(p))
				return NULL;
		} else if (t->kind == TK_LPAREN || (t->kind == TK_LBRACE && callable(n))) {
			/* The AST promises callees are names or members; say so here, not later. */
			if (!callable(n))
				return fail(
				    p, t, "only a name or a method can be called, found '(' here");
			k = new_node(p, SL_AST_CALL, n->line, n->col, 1);
			if (!k)
				return NULL;
			k->kid[0] = n;
			cap = 1;
			if (t->kind == TK_LBRACE) {
				/* Scala's `s.map { x => ... }`: one block argument, no parens. */
				if (!add_kid(p, k, &cap, parse_group(p)))
					return NULL;
			} else if (!parse_args(p, k, advance(p))) {
				return NULL;
			}
			if (!finish(p, k))
				return NULL;
			n = k;
		} else {
			break;
		}
	}
	return n;
}

static sl_ast *parse_unary(struct parser *p)
{
	const struct token *t = cur(p);
	sl_ast *n;

	if (t->kind != TK_MINUS && t->kind != TK_NOT)
		return parse_postfix(p);
	n = enter(p) && advance(p) ? new_node(p, SL_AST_UNARY, t->line, t->col, 1) : NULL;
	if (n) {
		n->op = t->kind == TK_MINUS ? SL_OP_NEG : SL_OP_NOT;
		n->kid[0] = parse_unary(p);
		if (!n->kid[0] || !finish(p, n))
			n = NULL;
	}
	p->depth--;
	return n;
}

#define NLEVELS 7
/* Scala gives operators named by letters (`a max b`) the lowest precedence of all. */
#define INFIX_LEVEL 0

/* Binary operator of token kind k at precedence level (0 = loosest), or SL_OP_NONE. */
static enum sl_ast_op binop(enum tok_kind k, int level)
{
	static const struct {
		enum tok_kind tk;
		enum sl_ast_op op;
		int level;
	} binops[] = {
	    {TK_OR, SL_OP_OR, 1},       {TK_AND, SL_OP_AND, 2},  {TK_EQ, SL_OP_EQ, 3},
	    {TK_NE, SL_OP_NE, 3},       {TK_LT, SL_OP_LT, 4},    {TK_LE, SL_OP_LE, 4},
	    {TK_GT, SL_OP_GT, 4},       {TK_GE, SL_OP_GE, 4},    {TK_PLUS, SL_OP_ADD, 5},
	    {TK_MINUS, SL_OP_SUB, 5},   {TK_STAR, SL_OP_MUL, 6}, {TK_SLASH, SL_OP_DIV, 6},
	    {TK_PERCENT, SL_OP_MOD, 6},
	};
	size_t i;

	for (i = 0; i < sizeof(binops) / sizeof(binops[0]); i++)
		if (binops[i].tk == k && binops[i].level == level)
			return binops[i].op;
	return SL_OP_NONE;
}

static bool infix_method(const struct token *t)
{
	return t->kind == TK_IDENT && (!strcmp(t->str, "max") || !strcmp(t->str, "min"));
}

/* Left-associative binary operators, one precedence level per call. */
static sl_ast *parse_binary(struct parser *p, int level)
{
	sl_ast *lhs, *n, *f;
	enum sl_ast_op op;

	lhs = level + 1 < NLEVELS ? parse_binary(p, level + 1) : parse_unary(p);
	while (lhs) {
		op = binop(cur(p)->kind, level);
		if (op != SL_OP_NONE) {
			advance(p);
			n = new_node(p, SL_AST_BINARY, lhs->line, lhs->col, 2);
			if (!n)
				return NULL;
			n->op = op;
			n->kid[0] = lhs;
			n->kid[1] =
			    level + 1 < NLEVELS ? parse_binary(p, level + 1) : parse_unary(p);
			if (!n->kid[1] || !finish(p, n))
				return NULL;
		} else if (level == INFIX_LEVEL && infix_method(cur(p))) {
			/* `a max b` is Scala for a.max(b) */
			f = new_node(p, SL_AST_FIELD, lhs->line, lhs->col, 1);
			n = new_node(p, SL_AST_CALL, lhs->line, lhs->col, 2);
			if (!f || !n)
				return NULL;
			f->kid[0] = lhs;
			f->nline = cur(p)->line;
			f->ncol = cur(p)->col;
			f->name = advance(p)->str;
			n->kid[0] = f;
			n->kid[1] = parse_binary(p, level + 1);
			if (!n->kid[1] || !finish(p, f) || !finish(p, n))
				return NULL;
		} else {
			break;
		}
		lhs = n;
	}
	return lhs;
}

/* expr := lambda | if | binary */
static sl_ast *parse_expr(struct parser *p)
{
	const struct token *t = cur(p);
	sl_ast *n = NULL;

	if (!enter(p))
		goto out;
	if (lambda_ahead(p))
		n = parse_lambda(p);
	else if (t->kind == TK_IF)
		n = parse_if(p);
	else
		n = parse_binary(p, 0);
out:
	p->depth--;
	return n;
}

/* stmt := val name [: T] = expr | expr */
static bool parse_stmt(struct parser *p, sl_program *prog, int *cap)
{
	const struct token *t = cur(p), *name = NULL;
	sl_stmt *st;
	sl_ast *e;

	if (t->kind == TK_VAR || t->kind == TK_DEF) {
		fail(p, t, "only 'val' is supported");
		return false;
	}
	if (t->kind == TK_VAL) {
		advance(p);
		if (!at(p, TK_IDENT)) {
			fail(p, cur(p), "expected name after 'val', found %s", desc(p, cur(p)));
			return false;
		}
		/* The program's vals are one scope, as in a compiled Scala block (the REPL
		 * would let a val be redefined); sl_build also refuses the names an earlier
		 * pipeline of the context defined. */
		if (!define(p, 0, cur(p), "val"))
			return false;
		name = advance(p);
		if (at(p, TK_COLON) && (advance(p), !skip_type(p)))
			return false;
		if (!at(p, TK_ASSIGN)) {
			fail(p, cur(p), "expected '=' after 'val %.40s', found %s", name->str,
			     desc(p, cur(p)));
			return false;
		}
		advance(p);
	}
	e = parse_expr(p);
	if (!e)
		return false;
	st = grow(p, prog->stmt, prog->nstmt, cap, sizeof(*st));
	if (!st)
		return false;
	prog->stmt = st;
	st = &prog->stmt[prog->nstmt++];
	st->name = name ? name->str : NULL;
	st->expr = e;
	st->line = t->line;
	st->col = t->col;
	return true;
}

static bool parse_program(struct parser *p, sl_program *prog)
{
	int cap = 0;

	for (;;) {
		while (at(p, TK_NL) || at(p, TK_SEMI))
			advance(p);
		if (at(p, TK_EOF))
			return true;
		if (!parse_stmt(p, prog, &cap))
			return false;
		if (!at(p, TK_NL) && !at(p, TK_SEMI) && !at(p, TK_EOF)) {
			const sl_ast *e = prog->stmt[prog->nstmt - 1].expr;
			if (at(p, TK_IDENT) && e->kind == SL_AST_IDENT && !strcmp(e->name, "new"))
				/* val conf = new SparkConf()..., val ssc = new
				 * StreamingContext(...) */
				fail(p, cur(p),
				     "'new %.*s': nothing is constructed in sluice: it makes the "
				     "streaming context itself (its batch interval is --batch, or "
				     "sluice_config), so remove the SparkConf and StreamingContext "
				     "lines; sources such as ssc.socketTextStream(...) work as "
				     "written",
				     (int)cur(p)->len, (const char *)cur(p)->s);
			else
				fail(p, cur(p), "expected ';' or newline, found %s",
				     desc(p, cur(p)));
			return false;
		}
	}
}

/* ---- public entry points ---------------------------------------------------------- */

sl_program *sl_parse(const char *text, size_t len, sluice_error *err)
{
	/* "" stands in for a NULL empty text so no arithmetic is ever done on NULL. */
	struct parser p = {.s = (const unsigned char *)(text ? text : ""), .len = len};
	sluice_error local;
	sl_program *prog = NULL;
	int rc;

	p.err = err ? err : &local;
	memset(p.err, 0, sizeof(*p.err));
	if (!text && len) {
		sl_error_set(p.err, -EINVAL, "no pipeline text");
		return NULL;
	}
	p.arena = xrealloc(NULL, sizeof(*p.arena));
	if (!p.arena) {
		oom(&p);
		return NULL;
	}
	p.arena->head = NULL;
	prog = palloc(&p, sizeof(*prog));
	if (!prog)
		goto out;
	prog->arena = p.arena;
	rc = lex(&p);
	if (rc || arrange(&p)) {
		oom(&p);
		goto out;
	}
	if (parse_program(&p, prog)) {
		free(p.tok);
		free(p.defs);
		return prog;
	}
out:
	if (p.err->code == -EINVAL)
		sl_error_context(p.err, text, len, p.err->line, p.err->col);
	free(p.tok);
	free(p.defs);
	arena_free(p.arena);
	return NULL;
}

void sl_program_free(sl_program *p)
{
	if (p)
		arena_free(p->arena);
}

/* Bytes of the source line shown around the caret; keeps context well inside 512. */
#define CTX_WIDTH 240

/* The bytes of a character at p (n bytes left) that a terminal would not show as one cell
 * of text: C1 controls (U+0080..U+009F), the bidi marks and embeddings (U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069) that reorder what follows, and the line and
 * paragraph separators (U+2028, U+2029); 0 for anything else. */
static size_t ctx_hidden(const unsigned char *p, size_t n)
{
	if (n >= 2 &&
	    ((p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) || (p[0] == 0xd8 && p[1] == 0x9c)))
		return 2;
	if (n >= 3 && p[0] == 0xe2 &&
	    ((p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae))) ||
	     (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return 3;
	return 0;
}

void sl_error_context(sluice_error *err, const char *text, size_t len, int line, int col)
{
	const unsigned char *s = (const unsigned char *)text, *nl;
	size_t ls = 0, le, ll, c, ws = 0, we, k, o = 0;
	char *out;
	int l;

	if (!err)
		return;
	err->line = line;
	err->col = col;
	err->context[0] = 0;
	if (!s || line < 1)
		return;
	for (l = 1; l < line; l++) {
		nl = memchr(s + ls, '\n', len - ls);
		if (!nl)
			return;
		ls = (size_t)(nl - s) + 1;
	}
	nl = memchr(s + ls, '\n', len - ls);
	le = nl ? (size_t)(nl - s) : len;
	if (le > ls && s[le - 1] == '\r')
		le--;
	ll = le - ls;
	/* col counts characters: c is the byte where the col-th one starts */
	for (c = 0, k = col < 1 ? 0 : (size_t)col - 1; c < ll && k; c++)
		if (c + 1 >= ll || (s[ls + c + 1] & 0xc0) != 0x80)
			k--;
	we = ll;
	if (ll > CTX_WIDTH) {
		ws = c > CTX_WIDTH / 2 ? c - CTX_WIDTH / 2 : 0;
		if (ws + CTX_WIDTH > ll)
			ws = ll - CTX_WIDTH;
		we = ws + CTX_WIDTH;
	}
	out = err->context;
	if (ws) {
		memcpy(out, "...", 3);
		o = 3;
	}
	/* Control bytes become '?' one for one, and so do the characters ctx_hidden names (one
	 * '?' for the whole character), so the caret still counts right and nothing in the
	 * line can reorder or break what the terminal shows. */
	for (k = ws; k < we;) {
		size_t hid = ctx_hidden(s + ls + k, we - k);
		unsigned ch = s[ls + k];

		if (hid) {
			out[o++] = '?';
			k += hid;
			continue;
		}
		out[o++] = ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? (char)ch : '?';
		k++;
	}
	if (we < ll) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\n';
	if (ws) {
		memcpy(out + o, "   ", 3);
		o += 3;
	}
	/* Tabs stay tabs and a UTF-8 character takes one cell, as a terminal shows them. */
	for (k = ws; k < c; k++) {
		unsigned ch = s[ls + k];

		if (ch == '\t')
			out[o++] = '\t';
		else if ((ch & 0xc0) != 0x80)
			out[o++] = ' ';
	}
	out[o++] = '^';
	out[o] = 0;
}

static unsigned lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32u : c;
}

/* Optimal string alignment distance, case-insensitive; rows holds 3 * (m + 1). */
static size_t osa(const char *a, size_t n, const char *b, size_t m, size_t *rows)
{
	size_t *pp = rows, *pr = rows + m + 1, *cu = rows + 2 * (m + 1), *tmp;
	size_t i, j, v;

	for (j = 0; j <= m; j++)
		pr[j] = j;
	for (i = 1; i <= n; i++) {
		cu[0] = i;
		for (j = 1; j <= m; j++) {
			size_t cost = lower(a[i - 1]) != lower(b[j - 1]);

			v = pr[j] + 1;
			if (cu[j - 1] + 1 < v)
				v = cu[j - 1] + 1;
			if (pr[j - 1] + cost < v)
				v = pr[j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cu[j] = v;
		}
		tmp = pp;
		pp = pr;
		pr = cu;
		cu = tmp;
	}
	return pr[m];
}

const char *sl_nearest_name(const char *name, const char *const *candidates)
{
	size_t n, m, maxm = 0, limit, d, best_d = SIZE_MAX, i;
	const char *best = NULL;
	size_t *rows;

	if (!name || !candidates)
		return NULL;
	n = strlen(name);
	limit = n / 3 > 2 ? n / 3 : 2;
	for (i = 0; candidates[i]; i++) {
		m = strlen(candidates[i]);
		if (m > maxm)
			maxm = m;
	}
	rows = xrealloc(NULL, 3 * (maxm + 1) * sizeof(*rows));
	if (!rows)
		return NULL;
	for (i = 0; candidates[i]; i++) {
		m = strlen(candidates[i]);
		/* The length difference alone is a lower bound on the distance. */
		if ((m > n ? m - n : n - m) > limit)
			continue;
		d = osa(name, n, candidates[i], m, rows);
		if (d <= limit && d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	free(rows);
	return best;
}
