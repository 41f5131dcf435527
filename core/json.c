/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c - recursive-descent JSON parser into an arena (see json.h).
 *
 * Invariants:
 *   - the arena is a list of malloc'd chunks; nodes, member arrays and decoded strings
 *     are bump-allocated from it and never freed one by one;
 *   - while an array/object is open its members are kept on the parser's pointer stack
 *     (p->stk, entries above the frame's base) and copied into the arena when it closes;
 *   - p->pos/line/col always describe the next unread byte;
 *   - recursion depth is bounded by SL_JSON_MAX_DEPTH.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

typedef struct chunk {
	struct chunk *next;
	size_t used, cap;
	alignas(max_align_t) char data[];
} chunk;

struct sl_json_doc {
	chunk *head;
};

typedef struct parser {
	sl_json_doc *doc;
	const char *s;
	size_t n, pos;
	int line, col;
	int depth;
	sl_json_error *e;
	sl_json **stk;     /* open members */
	const char **kstk; /* open member names (objects) */
	size_t *lstk;      /* their lengths */
	size_t nstk, capstk;
	char *tmp; /* string decoding / number scratch */
	size_t ntmp, captmp;
} parser;

/* Contract: see json.h. */
sl_json_doc *sl_json_doc_new(void)
{
	return calloc(1, sizeof(sl_json_doc));
}

/* Contract: see json.h. */
void sl_json_doc_free(sl_json_doc *d)
{
	if (!d)
		return;
	for (chunk *c = d->head, *nx; c; c = nx) {
		nx = c->next;
		free(c);
	}
	free(d);
}

static void *arena_alloc(sl_json_doc *d, size_t n)
{
	const size_t al = alignof(max_align_t);
	n = (n + al - 1) / al * al;
	chunk *c = d->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK / 4 ? n : CHUNK;
		chunk *nc = malloc(sizeof(chunk) + cap);
		if (!nc)
			return NULL;
		nc->used = 0;
		nc->cap = cap;
		if (c && n > CHUNK / 4) {
			/* big block: keep filling the current chunk afterwards */
			nc->next = c->next;
			c->next = nc;
			nc->used = n;
			return nc->data;
		}
		nc->next = c;
		d->head = c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

/* Contract: see json.h. */
const char *sl_json_kind_name(int kind)
{
	switch (kind) {
	case SL_JSON_NULL: return "null";
	case SL_JSON_BOOL: return "a boolean";
	case SL_JSON_NUM: return "a number";
	case SL_JSON_STR: return "a string";
	case SL_JSON_ARR: return "an array";
	case SL_JSON_OBJ: return "an object";
	}
	return "a value";
}

/* Contract: see json.h. */
const sl_json *sl_json_get(const sl_json *o, const char *key)
{
	if (!o || o->kind != SL_JSON_OBJ)
		return NULL;
	size_t kl = strlen(key);
	for (size_t i = o->len; i-- > 0;)
		if (o->keylen[i] == kl && memcmp(o->key[i], key, kl) == 0)
			return o->kid[i];
	return NULL;
}

/* ---- errors and positions ---- */

__attribute__((format(printf, 4, 5))) static int fail_at(parser *p, int line, int col,
							 const char *fmt, ...)
{
	if (p->e) {
		p->e->line = line;
		p->e->col = col;
		p->e->limit = 0;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->e->msg, sizeof p->e->msg, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* fail_at for text that is well-formed so far but past one of the parser's limits. */
#define fail_limit(p, line, col, ...)                                                              \
	(fail_at(p, line, col, __VA_ARGS__), (p)->e ? (void)((p)->e->limit = 1) : (void)0, -EINVAL)

/* Describe the next byte for a message: "'x'", "end of input", "byte 0x01". */
static const char *found(const parser *p, char buf[16])
{
	if (p->pos >= p->n)
		return "end of input";
	unsigned char c = (unsigned char)p->s[p->pos];
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", c);
	return buf;
}

static int expected(parser *p, const char *what)
{
	char b[16];
	return fail_at(p, p->line, p->col, "expected %s, found %s", what, found(p, b));
}

static void adv(parser *p)
{
	if (p->s[p->pos] == '\n') {
		p->line++;
		p->col = 1;
	} else {
		p->col++;
	}
	p->pos++;
}

static void skip_ws(parser *p)
{
	while (p->pos < p->n) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		adv(p);
	}
}

static int peek(const parser *p)
{
	return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1;
}

static sl_json *node(parser *p, int kind, int line, int col)
{
	sl_json *j = arena_alloc(p->doc, sizeof *j);
	if (!j)
		return NULL;
	memset(j, 0, sizeof *j);
	j->kind = (uint8_t)kind;
	j->line = line;
	j->col = col;
	return j;
}

/* ---- scratch ---- */

static int tmp_put(parser *p, const char *s, size_t n)
{
	if (p->ntmp + n + 1 > p->captmp) {
		size_t cap = p->captmp ? p->captmp : 256;
		while (cap < p->ntmp + n + 1)
			cap *= 2;
		char *t = realloc(p->tmp, cap);
		if (!t)
			return -ENOMEM;
		p->tmp = t;
		p->captmp = cap;
	}
	memcpy(p->tmp + p->ntmp, s, n);
	p->ntmp += n;
	p->tmp[p->ntmp] = '\0';
	return 0;
}

static int stk_push(parser *p, sl_json *v, const char *k, size_t kl)
{
	if (p->nstk == p->capstk) {
		size_t cap = p->capstk ? p->capstk * 2 : 64;
		sl_json **s = realloc(p->stk, cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		p->stk = s;
		const char **ks = realloc(p->kstk, cap * sizeof *ks);
		if (!ks)
			return -ENOMEM;
		p->kstk = ks;
		size_t *ls = realloc(p->lstk, cap * sizeof *ls);
		if (!ls)
			return -ENOMEM;
		p->lstk = ls;
		p->capstk = cap;
	}
	p->stk[p->nstk] = v;
	p->kstk[p->nstk] = k;
	p->lstk[p->nstk] = kl;
	p->nstk++;
	return 0;
}

/* ---- values ---- */

static int parse_value(parser *p, sl_json **out);

static int hex4(parser *p, unsigned *u)
{
	*u = 0;
	for (int i = 0; i < 4; i++) {
		int c = peek(p);
		unsigned v;
		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = (unsigned)(c - 'A' + 10);
		else
			return expected(p, "a hex digit in \\u escape");
		*u = *u * 16 + v;
		adv(p);
	}
	return 0;
}

static int put_utf8(parser *p, unsigned u)
{
	char b[4];
	size_t n;
	if (u < 0x80) {
		b[0] = (char)u;
		n = 1;
	} else if (u < 0x800) {
		b[0] = (char)(0xc0 | (u >> 6));
		b[1] = (char)(0x80 | (u & 0x3f));
		n = 2;
	} else if (u < 0x10000) {
		b[0] = (char)(0xe0 | (u >> 12));
		b[1] = (char)(0x80 | ((u >> 6) & 0x3f));
		b[2] = (char)(0x80 | (u & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (u >> 18));
		b[1] = (char)(0x80 | ((u >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((u >> 6) & 0x3f));
		b[3] = (char)(0x80 | (u & 0x3f));
		n = 4;
	}
	return tmp_put(p, b, n);
}

/* Parse a string at p->pos (a '"'); the decoded copy goes to the arena. */
static int parse_str(parser *p, const char **s, size_t *len)
{
	int line = p->line, col = p->col;
	adv(p); /* " */
	p->ntmp = 0;
	int rc = tmp_put(p, "", 0);
	for (;;) {
		if (rc)
			return rc;
		if (p->pos >= p->n)
			return fail_at(p, line, col, "unterminated string");
		size_t start = p->pos;
		while (p->pos < p->n && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
		       (unsigned char)p->s[p->pos] >= 0x20)
			p->pos++;
		p->col += (int)(p->pos - start);
		if ((rc = tmp_put(p, p->s + start, p->pos - start)))
			return rc;
		int c = peek(p);
		if (c == '"') {
			adv(p);
			break;
		}
		if (c < 0)
			continue;
		if (c != '\\') {
			char b[16];
			return fail_at(p, p->line, p->col,
				       "control character %s in string (escape it)", found(p, b));
		}
		int eline = p->line, ecol = p->col;
		adv(p);
		c = peek(p);
		const char *simple = NULL;
		switch (c) {
		case '"': simple = "\""; break;
		case '\\': simple = "\\"; break;
		case '/': simple = "/"; break;
		case 'b': simple = "\b"; break;
		case 'f': simple = "\f"; break;
		case 'n': simple = "\n"; break;
		case 'r': simple = "\r"; break;
		case 't': simple = "\t"; break;
		case 'u': break;
		default: {
			char b[16];
			return fail_at(p, eline, ecol,
				       "invalid escape: expected one of \\\" \\\\ \\/ "
				       "\\b \\f \\n \\r \\t \\uXXXX, found %s after '\\'",
				       found(p, b));
		}
		}
		adv(p);
		if (simple) {
			rc = tmp_put(p, simple, 1);
			continue;
		}
		unsigned u;
		if ((rc = hex4(p, &u)))
			return rc;
		if (u >= 0xdc00 && u <= 0xdfff)
			return fail_at(p, eline, ecol, "unpaired low surrogate \\u%04X", u);
		if (u >= 0xd800 && u <= 0xdbff) {
			if (peek(p) != '\\' || p->pos + 1 >= p->n || p->s[p->pos + 1] != 'u')
				return fail_at(p, eline, ecol,
					       "unpaired high surrogate \\u%04X (expected a "
					       "\\uDC00-\\uDFFF escape after it)",
					       u);
			adv(p);
			adv(p);
			unsigned lo;
			if ((rc = hex4(p, &lo)))
				return rc;
			if (lo < 0xdc00 || lo > 0xdfff)
				return fail_at(p, eline, ecol,
					       "unpaired high surrogate \\u%04X (followed by "
					       "\\u%04X, not a low surrogate)",
					       u, lo);
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		}
		rc = put_utf8(p, u);
	}
	char *d = arena_alloc(p->doc, p->ntmp + 1);
	if (!d)
		return -ENOMEM;
	memcpy(d, p->tmp, p->ntmp + 1);
	*s = d;
	*len = p->ntmp;
	return 0;
}

static int digits(parser *p)
{
	int n = 0;
	while (peek(p) >= '0' && peek(p) <= '9') {
		adv(p);
		n++;
	}
	return n;
}

static int parse_num(parser *p, sl_json *j)
{
	size_t start = p->pos;
	bool integer = true;
	if (peek(p) == '-')
		adv(p);
	if (peek(p) == '0') {
		adv(p);
		if (peek(p) >= '0' && peek(p) <= '9')
			return fail_at(p, j->line, j->col,
				       "invalid number: leading zeros are not allowed");
	} else if (!digits(p)) {
		return expected(p, "a digit");
	}
	if (peek(p) == '.') {
		integer = false;
		adv(p);
		if (!digits(p))
			return expected(p, "a digit after the decimal point");
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		integer = false;
		adv(p);
		if (peek(p) == '+' || peek(p) == '-')
			adv(p);
		if (!digits(p))
			return expected(p, "a digit in the exponent");
	}
	p->ntmp = 0;
	int rc = tmp_put(p, p->s + start, p->pos - start);
	if (rc)
		return rc;
	if (integer) {
		const char *q = p->tmp;
		bool neg = *q == '-';
		q += neg;
		uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		uint64_t v = 0;
		bool fits = true;
		for (; *q; q++) {
			unsigned dgt = (unsigned)(*q - '0');
			if (v > (lim - dgt) / 10) {
				fits = false;
				break;
			}
			v = v * 10 + dgt;
		}
		if (fits) {
			j->is_int = 1;
			j->i = neg ? (int64_t)(0 - v) : (int64_t)v;
			j->d = (double)j->i;
			return 0;
		}
		/* as an integer literal in pipeline text: silently reading it as a Double
		 * would turn its whole column into Doubles */
		return fail_limit(p, j->line, j->col,
				  "integer %s is out of the Long range (for a Double write it with "
				  "a fraction or an exponent, e.g. 9.3e18)",
				  p->tmp);
	}
	j->d = strtod(p->tmp, NULL);
	if (isinf(j->d))
		return fail_limit(p, j->line, j->col, "number %s is out of range of a Double",
				  p->tmp);
	return 0;
}

static int lit(parser *p, const char *word)
{
	size_t n = strlen(word);
	if (p->n - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail_at(p, p->line, p->col, "invalid literal (expected %s)", word);
	for (size_t i = 0; i < n; i++)
		adv(p);
	return 0;
}

/* Array or object at p->pos ('[' or '{'). */
static int parse_container(parser *p, sl_json *j)
{
	bool obj = j->kind == SL_JSON_OBJ;
	char close = obj ? '}' : ']';
	if (++p->depth > SL_JSON_MAX_DEPTH)
		return fail_limit(p, j->line, j->col, "nesting deeper than %d arrays/objects",
				  SL_JSON_MAX_DEPTH);
	adv(p);
	size_t base = p->nstk;
	skip_ws(p);
	int rc = 0;
	if (peek(p) == close) {
		adv(p);
	} else {
		for (;;) {
			const char *k = NULL;
			size_t kl = 0;
			if (obj) {
				if (peek(p) != '"')
					return expected(p, "a string (member name)");
				if ((rc = parse_str(p, &k, &kl)))
					return rc;
				skip_ws(p);
				if (peek(p) != ':')
					return expected(p, "':'");
				adv(p);
				skip_ws(p);
			}
			sl_json *v;
			if ((rc = parse_value(p, &v)) || (rc = stk_push(p, v, k, kl)))
				return rc;
			skip_ws(p);
			if (peek(p) == ',') {
				adv(p);
				skip_ws(p);
				continue;
			}
			if (peek(p) == close) {
				adv(p);
				break;
			}
			return expected(p, obj ? "',' or '}'" : "',' or ']'");
		}
	}
	size_t n = p->nstk - base;
	j->len = n;
	if (n) {
		j->kid = arena_alloc(p->doc, n * sizeof *j->kid);
		if (!j->kid)
			return -ENOMEM;
		memcpy(j->kid, p->stk + base, n * sizeof *j->kid);
		if (obj) {
			j->key = arena_alloc(p->doc, n * sizeof *j->key);
			j->keylen = arena_alloc(p->doc, n * sizeof *j->keylen);
			if (!j->key || !j->keylen)
				return -ENOMEM;
			memcpy(j->key, p->kstk + base, n * sizeof *j->key);
			memcpy(j->keylen, p->lstk + base, n * sizeof *j->keylen);
		}
	}
	p->nstk = base;
	p->depth--;
	return 0;
}

static int parse_value(parser *p, sl_json **out)
{
	int c = peek(p);
	int kind;
	switch (c) {
	case '{': kind = SL_JSON_OBJ; break;
	case '[': kind = SL_JSON_ARR; break;
	case '"': kind = SL_JSON_STR; break;
	case 't':
	case 'f': kind = SL_JSON_BOOL; break;
	case 'n': kind = SL_JSON_NULL; break;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			kind = SL_JSON_NUM;
			break;
		}
		return expected(p, "a value");
	}
	sl_json *j = node(p, kind, p->line, p->col);
	if (!j)
		return -ENOMEM;
	int rc;
	switch (kind) {
	case SL_JSON_OBJ:
	case SL_JSON_ARR: rc = parse_container(p, j); break;
	case SL_JSON_STR: rc = parse_str(p, &j->s, &j->len); break;
	case SL_JSON_NUM: rc = parse_num(p, j); break;
	case SL_JSON_NULL: rc = lit(p, "null"); break;
	default:
		j->b = c == 't';
		rc = lit(p, j->b ? "true" : "false");
		break;
	}
	if (rc)
		return rc;
	*out = j;
	return 0;
}

/* Contract: see json.h. */
int sl_json_parse(sl_json_doc *d, const char *text, size_t len, int line, int col, sl_json **out,
		  sl_json_error *e)
{
	parser p = {.doc = d, .s = text, .n = len, .line = line, .col = col, .e = e};
	*out = NULL;
	skip_ws(&p);
	sl_json *v = NULL;
	int rc = parse_value(&p, &v);
	if (!rc) {
		skip_ws(&p);
		if (p.pos < p.n) {
			char b[16];
			rc = fail_at(&p, p.line, p.col, "unexpected %s after the JSON value",
				     found(&p, b));
		}
	}
	free(p.stk);
	free(p.kstk);
	free(p.lstk);
	free(p.tmp);
	if (!rc)
		*out = v;
	return rc;
}
