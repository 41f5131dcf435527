/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_json.c - libFuzzer target for core/json.c, the parser of queueStream's JSON lines.
 *
 * Any input: parse it. On failure the error must have a position inside the text (1-based)
 * and a message. On success every node must be well formed (positions, NUL-terminated strings
 * of their length, integers exact), and the tree must survive a round trip: serialized again
 * (every string \u-escaped where needed, numbers as integers or %.17g), the text must parse to
 * an equal tree. Built by tests/fuzz/build.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_json: %s\n", what);
	abort();
}

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			fail("out of memory");
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void put_str(sbuf *b, const char *s, size_t n)
{
	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[8];
		if (c < 0x20 || c == '"' || c == '\\') {
			snprintf(e, sizeof(e), "\\u%04x", c);
			put(b, e, 6);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
	put(b, "\"", 1);
}

static void check_and_write(const sl_json *v, size_t textlen, sbuf *b, int depth)
{
	char num[64];
	if (v->line < 1 || v->col < 1 || (size_t)v->col > textlen + 1 || depth > SL_JSON_MAX_DEPTH)
		fail("node position or depth out of range");
	switch (v->kind) {
	case SL_JSON_NULL: put(b, "null", 4); break;
	case SL_JSON_BOOL: put(b, v->b ? "true" : "false", v->b ? 4 : 5); break;
	case SL_JSON_NUM:
		if (v->is_int && v->d != (double)v->i)
			fail("integer and its double disagree");
		if (!isfinite(v->d))
			fail("number is not finite");
		if (v->is_int)
			snprintf(num, sizeof(num), "%lld", (long long)v->i);
		else
			snprintf(num, sizeof(num), "%.17g", v->d);
		if (!v->is_int && !strpbrk(num, ".eEn"))
			strcat(num, ".0"); /* keep it a non-integer literal */
		put(b, num, strlen(num));
		break;
	case SL_JSON_STR:
		if (v->s[v->len] != 0)
			fail("string not NUL-terminated at its length");
		put_str(b, v->s, v->len);
		break;
	case SL_JSON_ARR:
	case SL_JSON_OBJ:
		put(b, v->kind == SL_JSON_ARR ? "[" : "{", 1);
		for (size_t k = 0; k < v->len; k++) {
			if (k)
				put(b, ",", 1);
			if (v->kind == SL_JSON_OBJ) {
				if (v->key[k][v->keylen[k]] != 0)
					fail("key not NUL-terminated");
				put_str(b, v->key[k], v->keylen[k]);
				put(b, ":", 1);
			}
			check_and_write(v->kid[k], textlen, b, depth + 1);
		}
		put(b, v->kind == SL_JSON_ARR ? "]" : "}", 1);
		break;
	default: fail("unknown kind");
	}
}

static int same(const sl_json *a, const sl_json *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case SL_JSON_BOOL: return a->b == b->b;
	case SL_JSON_NUM:
		/* -0 written as an integer "0" comes back as 0: compare values */
		return a->is_int == b->is_int && (a->is_int ? a->i == b->i : a->d == b->d);
	case SL_JSON_STR: return a->len == b->len && !memcmp(a->s, b->s, a->len);
	case SL_JSON_ARR:
	case SL_JSON_OBJ:
		if (a->len != b->len)
			return 0;
		for (size_t k = 0; k < a->len; k++) {
			if (a->kind == SL_JSON_OBJ && (a->keylen[k] != b->keylen[k] ||
						       memcmp(a->key[k], b->key[k], a->keylen[k])))
				return 0;
			if (!same(a->kid[k], b->kid[k]))
				return 0;
		}
		return 1;
	default: return 1;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	sl_json_doc *d = sl_json_doc_new();
	if (!d)
		return 0;
	sl_json *root = NULL, *again = NULL;
	sl_json_error e = {0};
	int rc = sl_json_parse(d, (const char *)data, size, 1, 1, &root, &e);
	if (rc) {
		if (e.line < 1 || e.col < 1 || !e.msg[0])
			fail("error without a position or a message");
	} else {
		sbuf b = {0};
		check_and_write(root, size, &b, 0);
		sl_json_error e2 = {0};
		if (sl_json_parse(d, b.p, b.n, 1, 1, &again, &e2))
			fail(e2.msg);
		if (!same(root, again))
			fail("round trip changed the tree");
		free(b.p);
	}
	sl_json_doc_free(d);
	return 0;
}
