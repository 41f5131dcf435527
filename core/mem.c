/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem.c - allocation seam: jemalloc (or libc) + hwloc NUMA placement.
 *
 * Invariants (see mem.h for the design):
 *   - big(n) := n > m->big_min. Small blocks always come from jemalloc's automatic
 *     arenas with the tcache; big blocks always use MALLOCX_TCACHE_NONE and, when a
 *     node is given and its arena exists, MALLOCX_ARENA of that node.
 *   - m->big_min >= jemalloc's tcache_max, so regions of our explicit arenas are never
 *     in a tcache; "arena.<i>.destroy" in sl_mem_free is therefore safe.
 *   - m->big_min >= 16 KiB (the first large size class), so for big blocks jemalloc's
 *     usable size does not depend on alignment and sdallocx(p, n) is valid for blocks
 *     from sl_alloc_aligned too. Small blocks are freed unsized (dallocx), which is
 *     valid whatever their alignment was.
 *   - node_flags[i] is the jemalloc flag word for big blocks on node i, arena_ok[i]
 *     says whether arena[i] was created by us (and must be destroyed).
 *   - in_use and fail are the only fields written after sl_mem_new returns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mem.h"

#include <errno.h>
#include <hwloc.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SL_MEM_LIBC
#include <jemalloc/jemalloc.h>
#endif

/* jemalloc encodes the arena index in 12 flag bits; 4095 means "none". */
#define MEM_ARENA_LIMIT 4095u
/* The first large size class of jemalloc (4 KiB pages): lower bound of big_min. */
#define MEM_LARGE_MIN ((size_t)16 << 10)
/* Default tcache_max of jemalloc 5.3, used for the libc backend. */
#define MEM_BIG_DEFAULT ((size_t)32 << 10)
/* Recycled block sizes and the most a sl_mem keeps for reuse. */
#define MEM_CLASS_MIN ((size_t)64 << 10)
#define MEM_CLASS_MAX ((size_t)64 << 20)
#define MEM_CLASSES   11
/* The recycling cache keeps at least this much, and at most what was recently held (see
 * "recycling"), never more than cache_limit. */
#define MEM_CACHE_MIN ((size_t)256 << 20)
/* Requests above this fail up front (jemalloc's behaviour is undefined past it). */
#define MEM_MAX_REQUEST ((size_t)PTRDIFF_MAX)

struct sl_mem {
	/* Written on every allocation by every thread: its own cache line. */
	_Alignas(64) _Atomic size_t in_use;
	/* Read on every allocation, written only by sl_mem_fail_after and while a
	 * countdown runs: kept apart from in_use so reads stay cache-local. */
	_Alignas(64) _Atomic long fail;
	/* Read-only after sl_mem_new. */
	_Alignas(64) hwloc_topology_t topo; /* NULL if hwloc failed */
	int nodes;                          /* >= 1 */
	int bind;                           /* membind big node blocks */
	size_t big_min;                     /* big(n) := n > big_min */
	size_t pagesize;
	hwloc_const_nodeset_t *nodeset; /* [nodes], owned by topo; NULL entries ok */
	int *node_flags;                /* [nodes] jemalloc flags for big blocks */
	unsigned *arena;                /* [nodes] */
	unsigned char *arena_ok;        /* [nodes] */
	/* Recycling of batch-sized blocks (see "recycling" below), under cache_mu. */
	_Alignas(64) pthread_mutex_t cache_mu;
	void *cache[MEM_CLASSES]; /* LIFO per size class, linked through each block */
	size_t cache_bytes;
	size_t cache_cap;   /* the most cache_bytes may reach now (>= MEM_CACHE_MIN) */
	size_t cache_limit; /* the most cache_cap may ever be (sl_mem_set_cache_max) */
	size_t held;        /* bytes of recyclable-size blocks allocated and not freed */
	size_t held_peak;   /* the most `held` was in this window ... */
	size_t held_prev;   /* ... and in the previous one */
	size_t window;      /* recyclable bytes handed out in this window */
};

/* ---------------------------------------------------------------- recycling */

/*
 * Blocks of exactly 2^k bytes, 64 KiB <= 2^k <= 64 MiB, are the ones a streaming
 * engine frees and allocates again every batch: column arrays (which grow by
 * doubling) and string buffers. They are kept on a per-size LIFO when freed and handed
 * out again by the next allocation of that size, already faulted in. (jemalloc alone
 * was measured to hand back fresh pages for such blocks freed by another thread: every
 * batch page-faulted its input in again.) Only node-agnostic requests take from it on
 * machines with several NUMA nodes. A mutex is enough: an io thread allocating and the
 * driver freeing meet here a few times per block, not per record.
 *
 * How much is kept scales with the batch: a batch frees at its end about what it held,
 * and the next one wants it back. `held` counts the bytes of recyclable-size blocks that
 * are live; the cap is the largest `held` seen over the current and the previous
 * window, clamped to [MEM_CACHE_MIN, cache_limit], where a window ends once cache_cap
 * bytes of such blocks were handed out (about one turnover of the cache). So live plus
 * cached recyclable memory stays under twice the recent peak (and the cap follows a
 * shrinking load down after two windows); blocks freed above the cap go back to the
 * backend, and each free above it also hands back one cached block (the cache shrinks
 * to a lowered cap as blocks come and go).
 */
static inline int size_class(size_t n)
{
	if (n < MEM_CLASS_MIN || n > MEM_CLASS_MAX || (n & (n - 1)))
		return -1;
	return __builtin_ctzll(n) - __builtin_ctzll(MEM_CLASS_MIN);
}

/* The class a request may take a cached block from (-1: none). */
static inline int mem_class(const sl_mem *m, int node, size_t n)
{
	return node >= 0 && m->nodes > 1 ? -1 : size_class(n);
}

/* Under cache_mu: n more bytes held; ends the window when its traffic reached the cap. */
static void held_add_locked(sl_mem *m, size_t n)
{
	m->held += n;
	if (m->held > m->held_peak)
		m->held_peak = m->held;
	m->window += n;
	if (m->window >= m->cache_cap) {
		size_t want = m->held_peak > m->held_prev ? m->held_peak : m->held_prev;
		m->cache_cap = want < MEM_CACHE_MIN    ? MEM_CACHE_MIN
			       : want > m->cache_limit ? m->cache_limit
						       : want;
		m->held_prev = m->held_peak;
		m->held_peak = m->held;
		m->window = 0;
	}
}

/* Count a recyclable-size block of n bytes as held, and pop a cached one of class c
 * (-1: none wanted). */
static void *cache_get(sl_mem *m, int c, size_t n)
{
	pthread_mutex_lock(&m->cache_mu);
	held_add_locked(m, n);
	void *p = c >= 0 ? m->cache[c] : NULL;
	if (p) {
		m->cache[c] = *(void **)p;
		m->cache_bytes -= n;
	}
	pthread_mutex_unlock(&m->cache_mu);
	return p;
}

/* Give back the block p of class c that cache_get just popped, unused (it is still held). */
static void cache_unget(sl_mem *m, int c, void *p, size_t n)
{
	pthread_mutex_lock(&m->cache_mu);
	*(void **)p = m->cache[c];
	m->cache[c] = p;
	m->cache_bytes += n;
	pthread_mutex_unlock(&m->cache_mu);
}

/* An allocation counted by cache_get failed: it is not held. */
static void held_undo(sl_mem *m, size_t n)
{
	pthread_mutex_lock(&m->cache_mu);
	m->held -= n;
	pthread_mutex_unlock(&m->cache_mu);
}

/*
 * A recyclable-size block p of n bytes (class c) is freed: keep it if the cache has
 * room under its cap. Returns 1 if kept; 0 if the caller frees p. *trim (size *trim_n)
 * is a cached block the caller frees too (the cache is above a lowered cap), or NULL.
 */
static int cache_put(sl_mem *m, int c, void *p, size_t n, void **trim, size_t *trim_n)
{
	*trim = NULL;
	pthread_mutex_lock(&m->cache_mu);
	m->held -= n;
	int ok = m->cache_bytes + n <= m->cache_cap;
	if (ok) {
		*(void **)p = m->cache[c];
		m->cache[c] = p;
		m->cache_bytes += n;
	} else {
		for (int k = MEM_CLASSES - 1; k >= 0 && m->cache_bytes > m->cache_cap; k--)
			if (m->cache[k]) {
				*trim = m->cache[k];
				*trim_n = MEM_CLASS_MIN << k;
				m->cache[k] = *(void **)*trim;
				m->cache_bytes -= *trim_n;
				break;
			}
	}
	pthread_mutex_unlock(&m->cache_mu);
	return ok;
}

/* ---------------------------------------------------------------- helpers */

static inline int mem_big(const sl_mem *m, size_t n)
{
	return n > m->big_min;
}

static inline int mem_node_ok(const sl_mem *m, int node)
{
	return node >= 0 && node < m->nodes;
}

/*
 * One allocation attempt against the fault-injection countdown: 1 = go ahead,
 * 0 = fail. Relaxed throughout: the countdown publishes no other data, only its own
 * value, and each CAS is atomic on its own.
 */
static int mem_attempt(sl_mem *m)
{
	long c = atomic_load_explicit(&m->fail, memory_order_relaxed); /* relaxed: counter only */
	for (;;) {
		if (c < 0)
			return 1;
		if (c == 0)
			return 0;
		/* relaxed: success/failure orders nothing but the counter itself */
		if (atomic_compare_exchange_weak_explicit(&m->fail, &c, c - 1, memory_order_relaxed,
							  memory_order_relaxed))
			return 1;
	}
}

static inline void mem_count_add(sl_mem *m, size_t n)
{
	atomic_fetch_add_explicit(&m->in_use, n, memory_order_relaxed); /* relaxed: statistic */
}

static inline void mem_count_sub(sl_mem *m, size_t n)
{
	atomic_fetch_sub_explicit(&m->in_use, n, memory_order_relaxed); /* relaxed: statistic */
}

/*
 * Bind the whole pages inside [p, p+n) to node when binding is on. Best effort: the
 * result is deliberately ignored (see mem.h). hwloc allows concurrent read-only use
 * of a loaded topology, so this is safe from any thread.
 */
static void mem_bind(sl_mem *m, int node, void *p, size_t n)
{
	if (!m->bind || !mem_node_ok(m, node) || n < SL_MEM_BIND_MIN || !m->nodeset[node])
		return;
	uintptr_t pg = m->pagesize;
	uintptr_t lo = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	uintptr_t hi = ((uintptr_t)p + n) & ~(pg - 1);
	if (hi <= lo)
		return;
	(void)hwloc_set_area_membind(m->topo, (const void *)lo, hi - lo, m->nodeset[node],
				     HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET);
}

/*
 * Ask for transparent huge pages on the whole 2 MiB pages inside a block of at least 2 MiB
 * (the kernel's THP mode is usually "madvise": without the advice a batch-sized column is
 * first touched 4 KiB at a time, one page fault each, ~4 us apiece under some hypervisors).
 * Best effort like binding: the result is ignored, the advice only ever affects whole huge
 * pages inside the block, and memory without it works the same.
 */
static void mem_hugepages(void *p, size_t n)
{
	const uintptr_t huge = (uintptr_t)SL_MEM_HUGE_MIN;
	if (n < SL_MEM_HUGE_MIN)
		return;
	uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* Where a new block's pages go: huge pages, then the node (both hints). */
static void mem_place(sl_mem *m, int node, void *p, size_t n)
{
	mem_hugepages(p, n);
	mem_bind(m, node, p, n);
}

/* ---------------------------------------------------------------- backend */

#ifdef SL_MEM_LIBC

static void mem_backend_init(sl_mem *m)
{
	m->big_min = MEM_BIG_DEFAULT;
}

static void mem_backend_fini(sl_mem *m)
{
	(void)m;
}

static void *be_alloc(sl_mem *m, int node, size_t n, int zero)
{
	(void)m;
	(void)node;
	if (n == 0)
		n = 1;
	return zero ? calloc(1, n) : malloc(n);
}

static void *be_aligned(sl_mem *m, int node, size_t align, size_t n)
{
	(void)m;
	(void)node;
	void *p = NULL;
	if (n == 0)
		n = 1;
	if (posix_memalign(&p, align, n) != 0)
		return NULL;
	return p;
}

/* Resize within one size path (both small or both big). */
static void *be_resize(sl_mem *m, int node, void *p, size_t new_n)
{
	(void)m;
	(void)node;
	return realloc(p, new_n ? new_n : 1);
}

static void be_free(sl_mem *m, void *p, size_t n)
{
	(void)m;
	(void)n;
	free(p);
}

#else /* jemalloc */

static void mem_backend_init(sl_mem *m)
{
	size_t tmax = 0, sz = sizeof(tmax);
	int have_tmax = mallctl("arenas.tcache_max", &tmax, &sz, NULL, 0) == 0;

	m->big_min = have_tmax ? tmax : MEM_BIG_DEFAULT;
	if (m->big_min < MEM_LARGE_MIN)
		m->big_min = MEM_LARGE_MIN;
	for (int i = 0; i < m->nodes; i++) {
		m->node_flags[i] = MALLOCX_TCACHE_NONE;
		/* Without a known tcache_max we cannot prove that arena regions stay
		 * out of every tcache, so we would be unable to destroy the arena:
		 * use the automatic arenas instead. */
		if (!have_tmax)
			continue;
		unsigned ind = 0;
		size_t isz = sizeof(ind);
		if (mallctl("arenas.create", &ind, &isz, NULL, 0) != 0)
			continue;
		m->arena[i] = ind;
		m->arena_ok[i] = 1;
		if (ind >= MEM_ARENA_LIMIT)
			continue; /* cannot be named in flags; destroyed in fini */
		m->node_flags[i] = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
		/* Batch-sized columns (often above opt.oversize_threshold, 8 MiB) are freed
		 * and allocated again every batch; jemalloc purges "oversize" extents at once,
		 * which would page-fault every batch in afresh. Our arenas keep them under the
		 * normal decay instead (best effort: older jemallocs lack the knob). */
		char name[64];
		size_t never = SIZE_MAX;
		snprintf(name, sizeof(name), "arena.%u.oversize_threshold", ind);
		(void)mallctl(name, NULL, NULL, &never, sizeof(never));
	}
}

static void mem_backend_fini(sl_mem *m)
{
	char name[64];
	for (int i = 0; i < m->nodes; i++) {
		if (!m->arena_ok[i])
			continue;
		snprintf(name, sizeof(name), "arena.%u.destroy", m->arena[i]);
		(void)mallctl(name, NULL, NULL, NULL, 0); /* nothing useful to do on failure */
	}
}

static inline int be_flags(const sl_mem *m, int node, size_t n)
{
	if (!mem_big(m, n))
		return 0;
	/*
	 * A big block with no node preference still goes to one of our arenas (node 0's):
	 * jemalloc serves automatic-arena requests above opt.oversize_threshold (8 MiB) from
	 * a dedicated arena that purges at once, so every batch-sized column would be
	 * page-faulted in afresh (measured: 2.6x slower word count). Our arenas keep the
	 * default decay, so freed batch memory is reused by the next batch.
	 */
	if (!mem_node_ok(m, node))
		node = 0;
	return m->node_flags[node];
}

static void *be_alloc(sl_mem *m, int node, size_t n, int zero)
{
	if (n == 0)
		n = 1;
	return mallocx(n, be_flags(m, node, n) | (zero ? MALLOCX_ZERO : 0));
}

static void *be_aligned(sl_mem *m, int node, size_t align, size_t n)
{
	if (n == 0)
		n = 1;
	return mallocx(n, be_flags(m, node, n) | MALLOCX_LG_ALIGN(__builtin_ctzll(align)));
}

static void *be_resize(sl_mem *m, int node, void *p, size_t new_n)
{
	if (new_n == 0)
		new_n = 1;
	return rallocx(p, new_n, be_flags(m, node, new_n));
}

static void be_free(sl_mem *m, void *p, size_t n)
{
	if (mem_big(m, n))
		sdallocx(p, n, MALLOCX_TCACHE_NONE);
	else
		dallocx(p, 0);
}

#endif

/* ---------------------------------------------------------------- topology */

/* Load the topology and the per-node nodesets. hwloc failure leaves one node. */
static int mem_topology_init(sl_mem *m)
{
	int nodes = 1;
	hwloc_topology_t t = NULL;

	if (hwloc_topology_init(&t) == 0) {
		/* Caches, I/O and misc objects are not needed: faster load. */
		(void)hwloc_topology_set_cache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
		(void)hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
		if (hwloc_topology_load(t) == 0) {
			int k = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
			if (k > 1)
				nodes = k;
		} else {
			hwloc_topology_destroy(t);
			t = NULL;
		}
	}
	m->topo = t;
	m->nodes = nodes;
	m->nodeset = calloc((size_t)nodes, sizeof(*m->nodeset));
	m->node_flags = calloc((size_t)nodes, sizeof(*m->node_flags));
	m->arena = calloc((size_t)nodes, sizeof(*m->arena));
	m->arena_ok = calloc((size_t)nodes, sizeof(*m->arena_ok));
	if (!m->nodeset || !m->node_flags || !m->arena || !m->arena_ok)
		return -ENOMEM;
	if (t) {
		for (int i = 0; i < nodes; i++) {
			hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
			m->nodeset[i] = o ? o->nodeset : NULL;
		}
	}
	return 0;
}

static void mem_release(sl_mem *m)
{
	if (m->topo)
		hwloc_topology_destroy(m->topo);
	free(m->nodeset);
	free(m->node_flags);
	free(m->arena);
	free(m->arena_ok);
	free(m);
}

/* ---------------------------------------------------------------- public */

/* The default ceiling of the recycling cache: an eighth of physical memory, at least
 * MEM_CACHE_MIN. */
static size_t mem_cache_limit_default(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), pg = sysconf(_SC_PAGESIZE);
	size_t phys = pages > 0 && pg > 0 ? (size_t)pages * (size_t)pg : 0;
	return phys / 8 > MEM_CACHE_MIN ? phys / 8 : MEM_CACHE_MIN;
}

int sl_mem_new(sl_mem **out, int numa_bind)
{
	if (!out || numa_bind < 0 || numa_bind > 2)
		return -EINVAL;
	/* The context itself comes from the process allocator: it is what holds the
	 * arenas, and it is aligned to its 64-byte members. */
	sl_mem *m = NULL;
	if (posix_memalign((void **)&m, 64, sizeof(*m)) != 0)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	atomic_init(&m->in_use, 0);
	atomic_init(&m->fail, -1);
	pthread_mutex_init(&m->cache_mu, NULL);
	m->cache_cap = MEM_CACHE_MIN;
	m->cache_limit = mem_cache_limit_default();
	long pg = sysconf(_SC_PAGESIZE);
	m->pagesize = pg > 0 ? (size_t)pg : 4096;

	if (mem_topology_init(m) != 0) {
		mem_release(m);
		return -ENOMEM;
	}
	m->bind = m->topo && (numa_bind == 2 || (numa_bind == 1 && m->nodes > 1));
	mem_backend_init(m);
	*out = m;
	return 0;
}

void sl_mem_free(sl_mem *m)
{
	if (!m)
		return;
	for (int c = 0; c < MEM_CLASSES; c++)
		for (void *p = m->cache[c], *next; p; p = next) {
			next = *(void **)p;
			be_free(m, p, MEM_CLASS_MIN << c);
		}
	pthread_mutex_destroy(&m->cache_mu);
	mem_backend_fini(m);
	mem_release(m);
}

/* sl_mem_set_cache_max: see the contract in mem.h */
int sl_mem_set_cache_max(sl_mem *m, size_t bytes)
{
	if (!m)
		return -EINVAL;
	void *drop[MEM_CLASSES];
	size_t dn[MEM_CLASSES];
	int nd = 0;
	pthread_mutex_lock(&m->cache_mu);
	m->cache_limit =
	    bytes ? (bytes < MEM_CACHE_MIN ? MEM_CACHE_MIN : bytes) : mem_cache_limit_default();
	if (m->cache_cap > m->cache_limit)
		m->cache_cap = m->cache_limit;
	/* hand back what is above the new cap: whole lists, largest first */
	for (int k = MEM_CLASSES - 1; k >= 0 && m->cache_bytes > m->cache_cap; k--) {
		if (!m->cache[k])
			continue;
		drop[nd] = m->cache[k];
		dn[nd++] = MEM_CLASS_MIN << k;
		for (void *p = m->cache[k]; p; p = *(void **)p)
			m->cache_bytes -= MEM_CLASS_MIN << k;
		m->cache[k] = NULL;
	}
	pthread_mutex_unlock(&m->cache_mu);
	for (int i = 0; i < nd; i++)
		for (void *p = drop[i], *next; p; p = next) {
			next = *(void **)p;
			be_free(m, p, dn[i]);
		}
	return 0;
}

/* sl_mem_cache_cap: see the contract in mem.h */
size_t sl_mem_cache_cap(sl_mem *m, size_t *cached)
{
	if (!m) {
		if (cached)
			*cached = 0;
		return 0;
	}
	pthread_mutex_lock(&m->cache_mu);
	size_t cap = m->cache_cap;
	if (cached)
		*cached = m->cache_bytes;
	pthread_mutex_unlock(&m->cache_mu);
	return cap;
}

int sl_mem_nodes(const sl_mem *m)
{
	return m ? m->nodes : -EINVAL;
}

struct hwloc_topology *sl_mem_topology(const sl_mem *m)
{
	return m ? m->topo : NULL;
}

/* Allocate n bytes: a recycled block when there is one, else from the backend. */
static void *mem_get(sl_mem *m, int node, size_t n, int zero)
{
	if (size_class(n) < 0)
		return be_alloc(m, node, n, zero);
	void *p = cache_get(m, mem_class(m, node, n), n);
	if (p) {
		if (zero)
			memset(p, 0, n);
		return p;
	}
	p = be_alloc(m, node, n, zero);
	if (!p)
		held_undo(m, n);
	return p;
}

/* Free n bytes: keep a recyclable block, else give it back to the backend. */
static void mem_put(sl_mem *m, void *p, size_t n)
{
	int c = size_class(n);
	void *trim = NULL;
	size_t trim_n = 0;
	if (c < 0 || !cache_put(m, c, p, n, &trim, &trim_n))
		be_free(m, p, n);
	if (trim)
		be_free(m, trim, trim_n);
}

void *sl_alloc(sl_mem *m, int node, size_t n)
{
	if (!m || n > MEM_MAX_REQUEST || !mem_attempt(m))
		return NULL;
	void *p = mem_get(m, node, n, 0);
	if (p) {
		mem_count_add(m, n);
		mem_place(m, node, p, n);
	}
	return p;
}

void *sl_calloc(sl_mem *m, int node, size_t n)
{
	if (!m || n > MEM_MAX_REQUEST || !mem_attempt(m))
		return NULL;
	void *p = mem_get(m, node, n, 1);
	if (p) {
		mem_count_add(m, n);
		mem_place(m, node, p, n);
	}
	return p;
}

void *sl_alloc_aligned(sl_mem *m, int node, size_t align, size_t n)
{
	if (!m || align == 0 || (align & (align - 1)) != 0 || align > MEM_MAX_REQUEST / 2 ||
	    n > MEM_MAX_REQUEST)
		return NULL;
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (!mem_attempt(m))
		return NULL;
	/* A recyclable size: counted as held like the rest (it is freed through mem_put), and
	 * a cached block when one is aligned enough, so that key tables, allocated and zeroed
	 * afresh every batch, reuse memory already faulted in. jemalloc's blocks of these sizes
	 * start at a random cache line of a page: always good for 64 bytes; libc's malloc
	 * promises 16. */
	int recyclable = size_class(n) >= 0, c = recyclable ? mem_class(m, node, n) : -1;
	void *p = recyclable ? cache_get(m, c, n) : NULL;
	if (p && ((uintptr_t)p & (align - 1))) {
		cache_unget(m, c, p, n);
		p = NULL;
	}
	if (!p)
		p = be_aligned(m, node, align, n);
	if (!p && recyclable)
		held_undo(m, n);
	if (p) {
		mem_count_add(m, n);
		mem_place(m, node, p, n);
	}
	return p;
}

void *sl_realloc(sl_mem *m, int node, void *p, size_t old_n, size_t new_n)
{
	if (!p)
		return sl_alloc(m, node, new_n);
	if (!m || new_n > MEM_MAX_REQUEST || !mem_attempt(m))
		return NULL;
	void *q;
	if (size_class(old_n) >= 0 || size_class(new_n) >= 0) {
		/* a recyclable size on either side: move, through the recycling lists */
		q = mem_get(m, node, new_n, 0);
		if (!q)
			return NULL;
		memcpy(q, p, old_n < new_n ? old_n : new_n);
		mem_put(m, p, old_n);
	} else if (mem_big(m, old_n) == mem_big(m, new_n)) {
		/* Same path: the allocator may resize in place. A small block stays in
		 * the automatic arenas, a big one keeps TCACHE_NONE (invariant). */
		q = be_resize(m, node, p, new_n);
		if (!q)
			return NULL;
	} else {
		/* Crossing the small/big threshold: move, so alloc and free of each
		 * block agree on the path. */
		q = be_alloc(m, node, new_n, 0);
		if (!q)
			return NULL;
		memcpy(q, p, old_n < new_n ? old_n : new_n);
		be_free(m, p, old_n);
	}
	mem_count_sub(m, old_n);
	mem_count_add(m, new_n);
	if (new_n > old_n)
		mem_place(m, node, q, new_n);
	return q;
}

void sl_dealloc(sl_mem *m, void *p, size_t n)
{
	if (!m || !p)
		return;
	mem_put(m, p, n);
	mem_count_sub(m, n);
}

char *sl_strndup(sl_mem *m, const char *s, size_t n)
{
	if (!m || !s)
		return NULL;
	size_t len = strnlen(s, n);
	if (len >= MEM_MAX_REQUEST)
		return NULL;
	char *d = sl_alloc(m, -1, len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void sl_mem_fail_after(sl_mem *m, long countdown)
{
	if (!m)
		return;
	/* relaxed: the countdown guards no other data */
	atomic_store_explicit(&m->fail, countdown < 0 ? -1 : countdown, memory_order_relaxed);
}

size_t sl_mem_in_use(const sl_mem *m)
{
	if (!m)
		return 0;
	/* relaxed: a statistic; casting away const is fine for an atomic load */
	return atomic_load_explicit((_Atomic size_t *)&m->in_use, memory_order_relaxed);
}

/* ---------------------------------------------------------------- freelist */

int sl_freelist_init(sl_freelist *f, sl_mem *m, int node, size_t objsize, size_t max_cached)
{
	if (!f || !m || objsize > MEM_MAX_REQUEST)
		return -EINVAL;
	int rc = pthread_mutex_init(&f->mu, NULL);
	if (rc != 0)
		return -rc;
	f->mem = m;
	f->node = node;
	f->objsize = objsize < sizeof(void *) ? sizeof(void *) : objsize;
	f->max_cached = max_cached;
	f->ncached = 0;
	f->head = NULL;
	return 0;
}

void *sl_freelist_get(sl_freelist *f)
{
	if (!f)
		return NULL;
	void *p;
	pthread_mutex_lock(&f->mu);
	p = f->head;
	if (p) {
		memcpy(&f->head, p, sizeof(void *)); /* link lives in the object */
		f->ncached--;
	}
	pthread_mutex_unlock(&f->mu);
	if (p)
		return p;
	return sl_alloc(f->mem, f->node, f->objsize);
}

void sl_freelist_put(sl_freelist *f, void *p)
{
	if (!f || !p)
		return;
	pthread_mutex_lock(&f->mu);
	if (f->ncached < f->max_cached) {
		memcpy(p, &f->head, sizeof(void *));
		f->head = p;
		f->ncached++;
		p = NULL;
	}
	pthread_mutex_unlock(&f->mu);
	if (p)
		sl_dealloc(f->mem, p, f->objsize);
}

void sl_freelist_fini(sl_freelist *f)
{
	if (!f)
		return;
	void *p = f->head;
	while (p) {
		void *next;
		memcpy(&next, p, sizeof(void *));
		sl_dealloc(f->mem, p, f->objsize);
		p = next;
	}
	f->head = NULL;
	f->ncached = 0;
	pthread_mutex_destroy(&f->mu);
}
