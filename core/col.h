/* SPDX-License-Identifier: Apache-2.0 */
/*
 * col.h - typed column vectors: the data model of a partition.
 *
 * A partition (one block of a batch) is one column whose type is the stream's element
 * type. Compound types are stored as structs of arrays:
 *
 *   Long/Double/Boolean   int64_t[] / double[] / uint8_t[]           (v.i64 / v.f64 / v.b)
 *   String                sl_str[] {ptr, len} views into byte buffers (v.s, bufs[])
 *   (A, B, ...)           one child column per field, all of length len   (kid[])
 *   Seq[T]                uint32_t off[len + 1] into one child column       (v.off, kid[0])
 *   Option[T]             uint8_t valid[len] and a child of length len      (valid, kid[0])
 *                         (rows that are None hold a zero value in the child)
 *
 *   e.g. ("a", 1), ("bb", 2) as (String, Long):
 *
 *     col(type=(String,Long), len=2)
 *       kid[0] String: s[0]={p->"a",1} s[1]={p->"bb",2}   bufs: [ "abb" ]
 *       kid[1] Long:   i64 = {1, 2}
 *
 * Columns are reference counted (atomic: partitions move between worker threads) and
 * immutable once published: whoever creates a column appends to it, then shares it by
 * sl_col_ref. That is what makes the cheap paths cheap: `(x, 1)` shares x as kid[0],
 * `_._1` returns a reference to kid[0], and split() returns string views that point into
 * the parent's byte buffers, which the result holds references to.
 *
 * String bytes live in sl_buf chunks (refcounted). A column lists every buffer its views
 * point into; a buffer is freed when the last column that lists it is freed.
 */
#ifndef SL_COL_H
#define SL_COL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "type.h"

typedef struct sl_str {
	const char *p;
	uint64_t len;
} sl_str;

typedef struct sl_buf sl_buf;
struct sl_buf {
	atomic_int ref;
	sl_mem *mem;
	size_t len, cap;
	char data[];
};

typedef struct sl_col sl_col;
struct sl_col {
	atomic_int ref;
	const sl_type *type;
	sl_mem *mem;
	size_t len, cap;
	union {
		int64_t *i64;
		double *f64;
		uint8_t *b;
		sl_str *s;
		uint32_t *off;
		void *p;
	} v;
	uint8_t *valid; /* SL_OPT */
	sl_col **kid;   /* type->n children */
	sl_buf **bufs;  /* SL_STR: buffers the views point into; last one is appended to */
	int nbufs, capbufs;
	int node; /* NUMA node its data is allocated on (-1: any) */
};

/* New empty column of type t (children created too) with room for cap rows. NULL on ENOMEM. */
sl_col *sl_col_new(sl_mem *m, const sl_type *t, size_t cap);
/* Same, with every array and byte buffer of the column (and its children) allocated on
 * NUMA node `node` (the node of the worker that will process it; -1: any). */
sl_col *sl_col_new_on(sl_mem *m, int node, const sl_type *t, size_t cap);
/* New column of type t that shares the given children (references taken). Tuples only. */
sl_col *sl_col_tuple_of(sl_mem *m, const sl_type *t, sl_col *const *kids);
sl_col *sl_col_ref(sl_col *c); /* returns c; c may be NULL */
void sl_col_unref(sl_col *c);  /* NULL ok; frees at zero, children and buffers unref'd */

/* Ensure room for `extra` more rows at this level (children not grown). 0 or -ENOMEM. */
int sl_col_reserve(sl_col *c, size_t extra);

/* Appends. Each returns 0 or -ENOMEM. For tuples: push every kid, then sl_col_commit(c).
 * For Seq: push the elements into kid[0], then sl_col_commit(c) closes the row.
 * For Option: sl_col_push_none, or push the value into kid[0] then sl_col_commit(c). */
int sl_col_push_i64(sl_col *c, int64_t v);
int sl_col_push_f64(sl_col *c, double v);
int sl_col_push_bool(sl_col *c, bool v);
int sl_col_push_str(sl_col *c, const char *p, size_t n);  /* copies the bytes */
int sl_col_push_view(sl_col *c, const char *p, size_t n); /* bytes must be in a buffer c holds */
int sl_col_push_none(sl_col *c);
int sl_col_commit(sl_col *c); /* tuple / Seq / Some row */
/* Copy row i of src (same type) onto the end of dst. String bytes are shared, not copied. */
int sl_col_push_row(sl_col *dst, const sl_col *src, size_t i);
/* Same, for callers that already called sl_col_share_bufs(dst, src) once. */
int sl_col_push_row_shared(sl_col *dst, const sl_col *src, size_t i);
/* Same, but string bytes are copied into dst's own buffers (for long-lived columns
 * such as key dictionaries, which must not pin their inputs' buffers). */
int sl_col_push_row_copy(sl_col *dst, const sl_col *src, size_t i);
/* Push a zero value row (0, 0.0, false, "", (zero, ...), empty Seq, None). */
int sl_col_push_zero(sl_col *c);

/* Make dst hold references to every byte buffer of src (recursively for all string
 * columns of the same shape). Needed before pushing views of src's strings into dst. */
int sl_col_share_bufs(sl_col *dst, const sl_col *src);
/* Reserve n bytes in c's current writable buffer; returns where to write, or NULL. The
 * caller then pushes views into it. */
char *sl_col_str_space(sl_col *c, size_t n);

/* Rows idx[0..n) of src as a new column (strings shared). NULL on ENOMEM. */
sl_col *sl_col_gather(const sl_col *src, const uint32_t *idx, size_t n);
/* Append n rows to dst, a block at a time: row rows[i] of srcs[which[i]] (which[i] < nsrcs;
 * the sources have dst's type; which NULL: srcs[0] for every row), or a zero row
 * (sl_col_push_zero) where rows[i] is UINT32_MAX.
 * String views are shared: the caller has shared the sources' buffers (sl_col_share_bufs).
 * Fixed-width, String and tuple columns are copied column by column, Seqs and Options a row
 * at a time. 0 or -ENOMEM. */
int sl_col_gather_from(sl_col *dst, const sl_col *const *srcs, size_t nsrcs, const uint32_t *which,
		       const uint32_t *rows, size_t n);
/* Rows [from, from+n) of src. */
sl_col *sl_col_slice(const sl_col *src, size_t from, size_t n);
/* Concatenation of cols[0..n) (all of type t; n may be 0). */
sl_col *sl_col_concat(sl_mem *m, const sl_type *t, sl_col *const *cols, size_t n);

/* Hash of every row (64-bit, XXH3-based, equal rows hash equal): out[0..c->len). */
void sl_col_hash(const sl_col *c, uint64_t *out);
uint64_t sl_col_hash_row(const sl_col *c, size_t i);
bool sl_col_row_eq(const sl_col *a, size_t i, const sl_col *b, size_t j);
/* Total order used to sort outputs in tests and for deterministic results: <0, 0, >0. */
int sl_col_row_cmp(const sl_col *a, size_t i, const sl_col *b, size_t j);

#endif
