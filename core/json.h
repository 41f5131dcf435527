/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h - a small JSON (RFC 8259) parser that remembers where every value was.
 *
 * Parsed values are nodes of a tree owned by an sl_json_doc (an arena): they stay valid
 * until the doc is freed, and several texts may be parsed into one doc. Every node has
 * the 1-based line and column (in bytes) of its first character, so callers can point
 * at the exact record that is wrong.
 *
 * Numbers: an integer literal (no fraction, no exponent) that fits int64 sets is_int
 * and i; every number also has its double value in d (nearest double). Numbers whose
 * magnitude overflows a double are an error. Strings are decoded to UTF-8 (\uXXXX
 * escapes, surrogate pairs joined; \u0000 gives a NUL byte, so use len); other bytes
 * are taken as they are. Nesting deeper than SL_JSON_MAX_DEPTH arrays/objects is an
 * error, and so is anything but whitespace after the value.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>
#include <stdint.h>

#define SL_JSON_MAX_DEPTH 512

enum sl_json_kind {
	SL_JSON_NULL,
	SL_JSON_BOOL,
	SL_JSON_NUM,
	SL_JSON_STR,
	SL_JSON_ARR,
	SL_JSON_OBJ,
};

typedef struct sl_json sl_json;
struct sl_json {
	uint8_t kind;     /* enum sl_json_kind */
	uint8_t is_int;   /* NUM: integer literal that fits int64 (i is exact) */
	uint8_t b;        /* BOOL: 0 or 1 */
	int line, col;    /* 1-based position of the first character */
	int64_t i;        /* NUM with is_int */
	double d;         /* NUM: the value as a double */
	const char *s;    /* STR: decoded bytes, NUL-terminated (may contain NULs) */
	size_t len;       /* STR: bytes in s; ARR/OBJ: number of members */
	sl_json **kid;    /* ARR: elements; OBJ: member values (in text order) */
	const char **key; /* OBJ: member names, decoded, NUL-terminated */
	size_t *keylen;   /* OBJ: their lengths */
};

typedef struct sl_json_doc sl_json_doc;

/* Where and why a parse failed: msg says what was expected and what was found. */
typedef struct sl_json_error {
	int line, col;
	int limit; /* 1: well-formed so far, but past a limit (Long or Double range, depth) */
	char msg[256];
} sl_json_error;

/* New empty doc, or NULL on ENOMEM. */
sl_json_doc *sl_json_doc_new(void);
/* Free d and every node parsed into it. NULL ok. */
void sl_json_doc_free(sl_json_doc *d);

/* Parse text[0..len) (need not be NUL-terminated) as exactly one JSON value surrounded
 * by optional whitespace. text[0] is at position (line, col); positions of later bytes
 * follow (a '\n' starts a new line). On success *out is the root (owned by d) and 0 is
 * returned. On failure returns -EINVAL (e says where and why) or -ENOMEM; nodes parsed
 * so far stay in d until it is freed. */
int sl_json_parse(sl_json_doc *d, const char *text, size_t len, int line, int col, sl_json **out,
		  sl_json_error *e);

/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *sl_json_kind_name(int kind);

/* The value of member `key` of object o (the last one if repeated), or NULL if o is not
 * an object or has no such member. */
const sl_json *sl_json_get(const sl_json *o, const char *key);

#endif
