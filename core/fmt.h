/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmt.h - how values look as text: Scala's toString of elements, Spark's print() block,
 * a growable string buffer, and filling a sluice_error.
 *
 * Formats (what Scala 2.12 / JDK 19+ print):
 *   Long     decimal: -42
 *   Double   Java's Double.toString: 1.0, 0.30000000000000004, 1.0E7, 4.9E-324, NaN
 *   Boolean  true / false
 *   String   the raw bytes, unquoted
 *   tuple    (a,1), nested (a,(1,x)) - no spaces
 *   Seq      List(1, 2) / Array(a, b) / CompactBuffer(1, 2) by the type's style; List()
 *   Option   Some(1) / None; Some((a,1)) for a tuple
 */
#ifndef SL_FMT_H
#define SL_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "../include/sluice.h"
#include "col.h"
#include "env.h"
#include "rdd.h"

/* Growable byte buffer on malloc. Zero-initialize it ({0}) before use. Invariant: once
 * anything was put, p[len] == '\0' and len < cap. */
typedef struct sl_sbuf {
	char *p;
	size_t len, cap;
} sl_sbuf;

/* Append n bytes of s (may contain NULs). 0, or -ENOMEM leaving b unchanged. */
int sl_sbuf_put(sl_sbuf *b, const char *s, size_t n);
/* Append printf-formatted text. 0, -ENOMEM (b unchanged) or -EINVAL (bad format). */
int sl_sbuf_printf(sl_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free the bytes and reset b to empty ({0}). */
void sl_sbuf_fini(sl_sbuf *b);

/* Java's Double.toString(v) (JDK 19+ shortest-repr algorithm) into buf, NUL-terminated.
 * Returns the length (at most 24). */
size_t sl_fmt_f64(char buf[32], double v);

/* Append Scala's toString of row i of c (i < c->len). 0 or -ENOMEM. */
int sl_fmt_row(sl_sbuf *b, const sl_col *c, size_t i);

/* Append Spark's DStream.print(num) block for one batch:
 *   "-------------------------------------------\nTime: <ms> ms\n"
 *   "-------------------------------------------\n"
 * then the first num elements, one per line, in partition order, then "...\n" iff the
 * rdd has more than num elements, then "\n". NULL partition slots count as empty; a
 * NULL r prints like an empty rdd (Spark prints nothing for "no RDD": callers that want
 * that skip the call). num < 0 counts as 0. 0 or -ENOMEM. */
int sl_fmt_print(sl_sbuf *b, const sl_rdd *r, int64_t time_ms, long num);

#endif
