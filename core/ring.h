/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring.h - lock-free single-producer single-consumer ring of pointers.
 *
 * Carries received data (chunk columns) from a receiver's io thread (the only producer)
 * to the block builder (the only consumer; the driver with the manual clock, and after the
 * builder is joined). Capacity is a power of two; head and tail are
 * free-running counters on their own cache lines, so the producer and the consumer never
 * write the same line. Each side caches the other's counter and re-reads it only when the
 * ring looks full (producer) or empty (consumer).
 *
 *   slot[ (tail .. head-1) & mask ]   filled, oldest at tail
 *   producer writes slot, then publishes head (release); consumer reads head (acquire),
 *   then the slot; consumer publishes tail (release) after reading the slot; producer
 *   reads tail (acquire) before reusing that slot.
 */
#ifndef SL_RING_H
#define SL_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "mem.h"

typedef struct sl_spsc {
	_Alignas(64) atomic_size_t head; /* written by the producer only */
	size_t tail_cache;               /* producer's copy of tail */
	_Alignas(64) atomic_size_t tail; /* written by the consumer only */
	size_t head_cache;               /* consumer's copy of head */
	_Alignas(64) size_t mask;
	void **slot;
	sl_mem *mem;
} sl_spsc;

/* cap is rounded up to a power of two (>= 2). 0 or -ENOMEM. */
static inline int sl_spsc_init(sl_spsc *r, sl_mem *m, size_t cap)
{
	size_t n = 2;
	while (n < cap)
		n *= 2;
	r->slot = sl_calloc(m, -1, n * sizeof(void *));
	if (!r->slot)
		return -ENOMEM;
	r->mem = m;
	r->mask = n - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->tail_cache = r->head_cache = 0;
	return 0;
}

static inline void sl_spsc_fini(sl_spsc *r)
{
	if (r->slot)
		sl_dealloc(r->mem, r->slot, (r->mask + 1) * sizeof(void *));
	r->slot = NULL;
}

/* Producer: false if the ring is full (nothing written). */
static inline bool sl_spsc_push(sl_spsc *r, void *p)
{
	/* relaxed: only the producer writes head */
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (h - r->tail_cache > r->mask) {
		/* acquire: the consumer finished reading the slot we are about to reuse */
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (h - r->tail_cache > r->mask)
			return false;
	}
	r->slot[h & r->mask] = p;
	/* release: the slot (and everything p points to) is visible before the new head */
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

/* Consumer: the oldest pointer, or NULL if the ring is empty. */
static inline void *sl_spsc_pop(sl_spsc *r)
{
	/* relaxed: only the consumer writes tail */
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (t == r->head_cache) {
		/* acquire: pairs with the producer's release of head, so the slot is written */
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (t == r->head_cache)
			return NULL;
	}
	void *p = r->slot[t & r->mask];
	/* release: our read of the slot happens before the producer may overwrite it */
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return p;
}

/* Either side: a snapshot of the number of filled slots (for metrics and backpressure). */
static inline size_t sl_spsc_size(sl_spsc *r)
{
	/* acquire on both: a consistent-enough snapshot; never used for correctness */
	size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	return h - t;
}

#endif
