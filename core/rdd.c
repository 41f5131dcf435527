/* SPDX-License-Identifier: Apache-2.0 */
/* rdd.c - a batch of one DStream (see rdd.h). */
#include "rdd.h"

sl_rdd *sl_rdd_new(sl_mem *m, const sl_type *t, int64_t time, size_t nparts)
{
	sl_rdd *r = sl_calloc(m, -1, sizeof(*r));
	if (!r)
		return NULL;
	r->part = sl_calloc(m, -1, (nparts ? nparts : 1) * sizeof(sl_col *));
	if (!r->part) {
		sl_dealloc(m, r, sizeof(*r));
		return NULL;
	}
	atomic_init(&r->ref, 1);
	r->time = time;
	r->type = t;
	r->mem = m;
	r->nparts = nparts;
	return r;
}

sl_rdd *sl_rdd_ref(sl_rdd *r)
{
	/* relaxed: the caller already holds a reference. */
	if (r)
		atomic_fetch_add_explicit(&r->ref, 1, memory_order_relaxed);
	return r;
}

void sl_rdd_unref(sl_rdd *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->ref, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < r->nparts; i++)
		sl_col_unref(r->part[i]);
	sl_dealloc(r->mem, r->part, (r->nparts ? r->nparts : 1) * sizeof(sl_col *));
	sl_dealloc(r->mem, r, sizeof(*r));
}

size_t sl_rdd_rows(const sl_rdd *r)
{
	size_t n = 0;
	for (size_t i = 0; r && i < r->nparts; i++)
		n += r->part[i] ? r->part[i]->len : 0;
	return n;
}
