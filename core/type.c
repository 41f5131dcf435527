/* SPDX-License-Identifier: Apache-2.0 */
/*
 * type.c - element types: static scalars and an arena of compound types.
 *
 * The arena is a linked list of malloc'd nodes; types are few (a handful per operator)
 * and built only while the graph is built, never on the batch path.
 */
#include "type.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const sl_type sl_type_i64 = {.kind = SL_I64};
const sl_type sl_type_f64 = {.kind = SL_F64};
const sl_type sl_type_bool = {.kind = SL_BOOL};
const sl_type sl_type_str = {.kind = SL_STR};

struct tnode {
	struct tnode *next;
	sl_type t;
	const sl_type *kids[];
};

struct sl_types {
	struct tnode *head;
};

sl_types *sl_types_new(void)
{
	return calloc(1, sizeof(sl_types));
}

void sl_types_free(sl_types *t)
{
	if (!t)
		return;
	for (struct tnode *n = t->head, *next; n; n = next) {
		next = n->next;
		free(n);
	}
	free(t);
}

static const sl_type *mk(sl_types *ts, int kind, int style, int n, const sl_type *const *kids)
{
	/* Reuse an equal type: keeps pointer comparison cheap in the common case. */
	for (struct tnode *x = ts->head; x; x = x->next) {
		if (x->t.kind != kind || x->t.n != n || x->t.style != style)
			continue;
		int same = 1;
		for (int i = 0; i < n && same; i++)
			same = x->kids[i] == kids[i];
		if (same)
			return &x->t;
	}
	struct tnode *node = malloc(sizeof(*node) + (size_t)n * sizeof(sl_type *));
	if (!node)
		return NULL;
	for (int i = 0; i < n; i++)
		node->kids[i] = kids[i];
	node->t = (sl_type){
	    .kind = (uint8_t)kind, .style = (uint8_t)style, .n = (uint16_t)n, .kid = node->kids};
	node->next = ts->head;
	ts->head = node;
	return &node->t;
}

const sl_type *sl_type_tuple(sl_types *t, int n, const sl_type *const *kids)
{
	if (n < 2 || n > SL_TUPLE_MAX)
		return NULL;
	for (int i = 0; i < n; i++)
		if (!kids[i])
			return NULL;
	return mk(t, SL_TUPLE, 0, n, kids);
}

const sl_type *sl_type_pair(sl_types *t, const sl_type *a, const sl_type *b)
{
	const sl_type *k[2] = {a, b};
	return sl_type_tuple(t, 2, k);
}

const sl_type *sl_type_list(sl_types *t, const sl_type *elem, enum sl_list_style style)
{
	return elem ? mk(t, SL_LIST, style, 1, &elem) : NULL;
}

const sl_type *sl_type_opt(sl_types *t, const sl_type *elem)
{
	return elem ? mk(t, SL_OPT, 0, 1, &elem) : NULL;
}

int sl_type_eq(const sl_type *a, const sl_type *b)
{
	if (a == b)
		return 1;
	if (!a || !b || a->kind != b->kind || a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (!sl_type_eq(a->kid[i], b->kid[i]))
			return 0;
	return 1;
}

int sl_type_is_pair(const sl_type *t)
{
	return t && t->kind == SL_TUPLE && t->n == 2;
}

int sl_type_is_num(const sl_type *t)
{
	return t && (t->kind == SL_I64 || t->kind == SL_F64);
}

static void put(char *buf, size_t n, size_t *at, const char *s)
{
	size_t l = strlen(s);
	if (*at < n) {
		size_t room = n - 1 - *at;
		memcpy(buf + *at, s, l < room ? l : room);
	}
	*at += l;
}

static void name_rec(const sl_type *t, char *buf, size_t n, size_t *at)
{
	switch (t->kind) {
	case SL_I64: put(buf, n, at, "Long"); return;
	case SL_F64: put(buf, n, at, "Double"); return;
	case SL_BOOL: put(buf, n, at, "Boolean"); return;
	case SL_STR: put(buf, n, at, "String"); return;
	case SL_TUPLE:
		put(buf, n, at, "(");
		for (int i = 0; i < t->n; i++) {
			if (i)
				put(buf, n, at, ", ");
			name_rec(t->kid[i], buf, n, at);
		}
		put(buf, n, at, ")");
		return;
	case SL_LIST:
		put(buf, n, at,
		    t->style == SL_LIST_ARRAY    ? "Array["
		    : t->style == SL_LIST_BUFFER ? "Iterable["
						 : "Seq[");
		name_rec(t->kid[0], buf, n, at);
		put(buf, n, at, "]");
		return;
	case SL_OPT:
		put(buf, n, at, "Option[");
		name_rec(t->kid[0], buf, n, at);
		put(buf, n, at, "]");
		return;
	}
}

char *sl_type_name(const sl_type *t, char *buf, size_t n)
{
	size_t at = 0;
	if (!n)
		return buf;
	if (!t)
		put(buf, n, &at, "?");
	else
		name_rec(t, buf, n, &at);
	buf[at < n ? at : n - 1] = 0;
	return buf;
}

static const sl_type *parse_rec(sl_types *ts, const char **sp, int depth)
{
	const char *s = *sp;
	while (isspace((unsigned char)*s))
		s++;
	if (depth > 32)
		return NULL;
	const sl_type *r = NULL;
	if (*s == '(') {
		const sl_type *kids[SL_TUPLE_MAX];
		int n = 0;
		s++;
		for (;;) {
			if (n == SL_TUPLE_MAX)
				return NULL;
			kids[n] = parse_rec(ts, &s, depth + 1);
			if (!kids[n++])
				return NULL;
			while (isspace((unsigned char)*s))
				s++;
			if (*s == ',') {
				s++;
				continue;
			}
			if (*s != ')')
				return NULL;
			s++;
			break;
		}
		r = n == 1 ? kids[0] : sl_type_tuple(ts, n, kids);
	} else {
		const char *b = s;
		while (isalnum((unsigned char)*s))
			s++;
		size_t l = (size_t)(s - b);
#define IS(w) (l == strlen(w) && !strncmp(b, w, l))
		if (IS("Long") || IS("Int") || IS("long") || IS("int") || IS("Short") || IS("Byte"))
			r = &sl_type_i64;
		else if (IS("Double") || IS("Float") || IS("double") || IS("float"))
			r = &sl_type_f64;
		else if (IS("Boolean") || IS("bool") || IS("boolean"))
			r = &sl_type_bool;
		else if (IS("String") || IS("string"))
			r = &sl_type_str;
		else if (IS("Seq") || IS("List") || IS("Array") || IS("Iterable") || IS("Option")) {
			int opt = IS("Option");
			int style = IS("Array")      ? SL_LIST_ARRAY
				    : IS("Iterable") ? SL_LIST_BUFFER
						     : SL_LIST_SEQ;
			while (isspace((unsigned char)*s))
				s++;
			if (*s++ != '[')
				return NULL;
			const sl_type *e = parse_rec(ts, &s, depth + 1);
			while (isspace((unsigned char)*s))
				s++;
			if (!e || *s++ != ']')
				return NULL;
			r = opt ? sl_type_opt(ts, e) : sl_type_list(ts, e, style);
		}
#undef IS
	}
	*sp = s;
	return r;
}

const sl_type *sl_type_parse(sl_types *t, const char *s)
{
	const sl_type *r = parse_rec(t, &s, 0);
	while (r && isspace((unsigned char)*s))
		s++;
	return r && !*s ? r : NULL;
}
