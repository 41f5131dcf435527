/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdd.h - one batch of one DStream: the partitions generated for a batch time.
 *
 * Named after Spark's RDD because that is what a DStream user calls it. An sl_rdd is
 * immutable once published and reference counted; a DStream memoizes the rdd it made for
 * a time, so a stream read by several consumers is computed once per batch.
 * "No RDD at this time" (Spark's None) is a NULL sl_rdd pointer, distinct from an
 * rdd with zero rows.
 */
#ifndef SL_RDD_H
#define SL_RDD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "col.h"

typedef struct sl_rdd {
	atomic_int ref;
	int64_t time;
	const sl_type *type;
	sl_mem *mem;
	size_t nparts;
	sl_col **part; /* nparts columns, each of type `type`; a slot may be NULL = empty */
} sl_rdd;

/* New rdd with nparts empty (NULL) partition slots. */
sl_rdd *sl_rdd_new(sl_mem *m, const sl_type *t, int64_t time, size_t nparts);
sl_rdd *sl_rdd_ref(sl_rdd *r);
void sl_rdd_unref(sl_rdd *r); /* NULL ok */
size_t sl_rdd_rows(const sl_rdd *r);

#endif
