/* SPDX-License-Identifier: Apache-2.0 */
/*
 * type.h - element types of DStreams.
 *
 * A type is an immutable tree: scalars (Long, Double, Boolean, String) at the leaves,
 * tuples, sequences and options above them. Scalar types are static constants; compound
 * types are allocated from an sl_types arena owned by the context and live as long as
 * it does, so type pointers can be shared freely by streams, expressions and columns.
 * Two types are the same iff sl_type_eq says so (structure, not pointer).
 *
 * Scala names are used in messages: Long, Double, Boolean, String, (String, Long),
 * Seq[Long], Option[Long].
 */
#ifndef SL_TYPE_H
#define SL_TYPE_H

#include <stddef.h>
#include <stdint.h>

enum sl_kind {
	SL_I64,   /* Scala Long (Int literals are Longs here) */
	SL_F64,   /* Double */
	SL_BOOL,  /* Boolean */
	SL_STR,   /* String (bytes, UTF-8 expected but not required) */
	SL_TUPLE, /* (T1, ..., Tn), 2 <= n <= SL_TUPLE_MAX */
	SL_LIST,  /* a sequence; style says how Scala would print it */
	SL_OPT,   /* Option[T]: Some(x) or None */
};

/* How a sequence prints: what Scala's toString shows for the collection that made it. */
enum sl_list_style {
	SL_LIST_SEQ,    /* List(1, 2): Seq(...), List(...) */
	SL_LIST_ARRAY,  /* Array(a, b): split() (Scala prints [Ljava.lang.String;@..; we don't) */
	SL_LIST_BUFFER, /* CompactBuffer(1, 2): groupByKey, cogroup */
};

#define SL_TUPLE_MAX 22

typedef struct sl_type sl_type;
struct sl_type {
	uint8_t kind;  /* enum sl_kind */
	uint8_t style; /* enum sl_list_style, SL_LIST only */
	uint16_t n;    /* number of kids: tuple arity, 1 for list/option, 0 for scalars */
	const sl_type *const *kid;
};

extern const sl_type sl_type_i64, sl_type_f64, sl_type_bool, sl_type_str;

typedef struct sl_types sl_types; /* arena of compound types */
sl_types *sl_types_new(void);
void sl_types_free(sl_types *t); /* NULL ok */

/* Constructors return an arena-owned type, or NULL on allocation failure. */
const sl_type *sl_type_tuple(sl_types *t, int n, const sl_type *const *kids);
const sl_type *sl_type_pair(sl_types *t, const sl_type *a, const sl_type *b);
const sl_type *sl_type_list(sl_types *t, const sl_type *elem, enum sl_list_style style);
const sl_type *sl_type_opt(sl_types *t, const sl_type *elem);

int sl_type_eq(const sl_type *a, const sl_type *b); /* structural; style ignored */
int sl_type_is_pair(const sl_type *t);
int sl_type_is_num(const sl_type *t); /* Long or Double */
/* Scala-style name into buf ("(String, Long)"); returns buf. Truncates safely. */
char *sl_type_name(const sl_type *t, char *buf, size_t n);
/* Parse a type name (the form sl_type_name prints; also Int, String, Long, Double,
 * Boolean, Seq[T], List[T], Array[T], Option[T], (A, B)). NULL if malformed. */
const sl_type *sl_type_parse(sl_types *t, const char *s);

#endif
