/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem.h - the one allocation seam of sluice.
 *
 * Every byte the engine allocates goes through an sl_mem (one per context). There is
 * no process-wide state here: each sl_mem owns its hwloc topology, its jemalloc arenas
 * and its counters, and several may live side by side in one process.
 *
 * Backends
 *   - default: jemalloc's non-prefixed extended API (mallocx, rallocx, sdallocx,
 *     dallocx, mallctl) from Debian's libjemalloc.
 *   - SL_MEM_LIBC: plain malloc/realloc/posix_memalign/free. Defined automatically
 *     when the code is compiled with AddressSanitizer or ThreadSanitizer (they
 *     intercept malloc, and jemalloc's memory would be invisible to them); may also
 *     be defined by hand. Both backends honour the same contracts.
 *
 * NUMA design (what the node argument does)
 *   - sl_mem_new loads an hwloc topology and counts the NUMA nodes (>= 1). Node
 *     indexes are hwloc logical indexes of NUMANODE objects, the same numbers
 *     sl_workers_node() reports.
 *   - One explicit jemalloc arena is created per node ("arenas.create"); if that
 *     fails the node silently uses jemalloc's automatic arenas.
 *   - Small blocks (n <= the "big" threshold, i.e. max(jemalloc's tcache_max, 16 KiB),
 *     32 KiB by default) ignore node: they come from jemalloc's automatic arenas through
 *     the thread cache (tcache). Why: a tcache hands out cached regions of whatever
 *     arena filled it, so forcing a small block into a node arena would need
 *     MALLOCX_TCACHE_NONE, i.e. an arena lock per malloc/free. Small objects are not
 *     bandwidth critical, and hot small objects should be recycled (sl_freelist).
 *   - Big blocks (n > threshold) with node >= 0 come from that node's arena with
 *     MALLOCX_TCACHE_NONE (free of cost here: jemalloc never caches sizes above
 *     tcache_max). As a result no region of a node arena can ever sit in any thread's
 *     tcache, which is exactly the precondition jemalloc puts on "arena.<i>.destroy";
 *     that is what lets sl_mem_free hand the arenas back.
 *   - Placement: within a node arena, pages are placed by first touch, and since the
 *     engine's workers are pinned (core/pool.h) and allocate for their own node, an
 *     arena's pages are normally first touched on its node. In addition, when binding
 *     is on, blocks of >= 2 MiB from a node are bound after allocation with
 *     hwloc_set_area_membind(BIND, BYNODESET) over the whole pages inside the block
 *     (rounded inwards, so neighbours are never affected). The policy stays on the
 *     virtual range, which the arena keeps and reuses for that node only. No page
 *     migration is requested; failures (e.g. mbind refused by a seccomp profile) are
 *     ignored, because placement is a performance hint and never a correctness issue.
 *     Binding is used when numa_bind == 1 and the machine has more than one node, or
 *     when numa_bind == 2 (force, even on one node, to exercise the path in tests).
 *   - Huge pages: every block of >= SL_MEM_HUGE_MIN (2 MiB) gets MADV_HUGEPAGE on the whole
 *     2 MiB pages inside it (the usual THP mode is "madvise"), so a batch-sized column is
 *     first touched with one fault per 2 MiB instead of per 4 KiB. Also only a hint.
 *
 * Invariants
 *   - A block is freed with the same sl_mem that allocated it and with the size it was
 *     last allocated/reallocated with (n is needed for accounting and, for big
 *     blocks, for jemalloc's sized free). Sizes below are the requested sizes.
 *   - "small" / "big" is a function of the size only, so alloc and free agree on the
 *     path; sl_realloc crossing the threshold moves the block (alloc+copy+free).
 *   - in_use == sum of sizes of live blocks; it returns to 0 when all are freed.
 *   - fail countdown: < 0 disabled, 0 every allocation fails, k > 0 k more
 *     allocations may succeed.
 *
 * Thread safety: allocation, free, counters and fault injection are thread-safe on a
 * shared sl_mem. sl_mem_new/sl_mem_free are not concurrent with anything on that
 * object. Nothing here prints or aborts; failures are NULL or -errno.
 */
#ifndef SL_MEM_H
#define SL_MEM_H

#include <pthread.h>
#include <stddef.h>

#if !defined(SL_MEM_LIBC) && (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define SL_MEM_LIBC 1
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of at least this many bytes from a node are membind-ed when binding is on. */
#define SL_MEM_BIND_MIN ((size_t)2 << 20)
/* Blocks of at least this size (one x86-64 huge page) get MADV_HUGEPAGE on the whole huge
 * pages inside them. */
#define SL_MEM_HUGE_MIN ((size_t)2 << 20)

typedef struct sl_mem sl_mem;

/*
 * sl_mem_new - create an allocator context.
 * numa_bind: 0 = never bind, 1 = bind big per-node blocks on multi-node machines,
 * 2 = bind even on a single node (tests). Arena creation or hwloc failures are not
 * errors: they degrade to jemalloc's default arenas / one node.
 * Returns 0 and stores the object in *out, or -EINVAL (out NULL, numa_bind not 0..2),
 * -ENOMEM. On error *out is untouched. Ownership: caller frees with sl_mem_free.
 * Threads: any thread.
 */
int sl_mem_new(sl_mem **out, int numa_bind);

/*
 * sl_mem_free - destroy the context: destroys its jemalloc arenas (big node blocks
 * still live are discarded with them; small blocks still live simply leak) and its
 * hwloc topology. NULL is a no-op. Threads: no other use of m may be in progress or
 * follow, including pools that borrowed its topology.
 */
void sl_mem_free(sl_mem *m);

/*
 * sl_mem_nodes - number of NUMA nodes seen (>= 1), or -EINVAL when m is NULL.
 * Threads: any.
 */
int sl_mem_nodes(const sl_mem *m);

/*
 * sl_alloc - allocate n bytes (n == 0 gives a minimal unique block), preferably on
 * NUMA node `node` (-1 or any value outside [0, nodes) = no preference). Aligned as
 * malloc aligns: max_align_t for n >= 16, 8 bytes below. Returns the block or NULL
 * (m NULL, n > PTRDIFF_MAX, out of memory, injected failure). Ownership: caller frees with
 * sl_dealloc(m, p, n). Threads: any.
 */
void *sl_alloc(sl_mem *m, int node, size_t n);

/* sl_calloc - as sl_alloc, but the n bytes are zeroed. */
void *sl_calloc(sl_mem *m, int node, size_t n);

/*
 * sl_realloc - resize block p of old_n bytes to new_n bytes, keeping the first
 * min(old_n, new_n) bytes. p NULL behaves as sl_alloc(m, node, new_n); new_n == 0
 * gives a minimal block (never frees and returns NULL). node is a preference for the
 * block only if it has to move. Returns the (possibly moved) block, or NULL on failure,
 * in which case p is untouched and still owned by the caller. Alignment from
 * sl_alloc_aligned is not preserved. Threads: any (not concurrently on the same p).
 */
void *sl_realloc(sl_mem *m, int node, void *p, size_t old_n, size_t new_n);

/*
 * sl_dealloc - free block p of n bytes (n as allocated). p NULL (or m NULL) is a
 * no-op. Works for blocks from every allocating function of m, including aligned
 * ones and sl_strndup (whose n is strlen(p) + 1). Threads: any.
 */
void sl_dealloc(sl_mem *m, void *p, size_t n);

/*
 * sl_strndup - copy of the first strnlen(s, n) bytes of s plus a terminating NUL
 * (POSIX strndup: copying stops at the first NUL; for byte strings with embedded NULs
 * use sl_alloc + memcpy). Returns NULL when s or m is NULL or on failure. Free with
 * sl_dealloc(m, p, strlen(p) + 1). Threads: any.
 */
char *sl_strndup(sl_mem *m, const char *s, size_t n);

/*
 * sl_alloc_aligned - n bytes aligned to `align` (a power of two; values below
 * sizeof(void *) are raised to it), preferably on node. Meant for large I/O buffers
 * (O_DIRECT). Returns NULL on bad align, failure or m NULL. Free with
 * sl_dealloc(m, p, n). Threads: any.
 */
void *sl_alloc_aligned(sl_mem *m, int node, size_t align, size_t n);

/*
 * sl_mem_fail_after - fault injection for tests: after `countdown` more allocation
 * attempts succeed, every allocation attempt fails (returns NULL) until reset with a
 * negative value (-1). Attempts are sl_alloc, sl_calloc, sl_realloc, sl_strndup,
 * sl_alloc_aligned, and freelist gets that must allocate. NULL m is a no-op.
 * Threads: any; the counter is atomic.
 */
void sl_mem_fail_after(sl_mem *m, long countdown);

/*
 * sl_mem_set_cache_max - the most the recycling cache may ever keep, in bytes (0: the
 * default, an eighth of physical memory; values below 256 MiB are raised to it). The
 * cache keeps between 256 MiB and this, following the recyclable memory recently held
 * (mem.c, "recycling"); cached blocks above a lowered ceiling are freed at once.
 * Returns 0 or -EINVAL (m NULL). Threads: any.
 */
int sl_mem_set_cache_max(sl_mem *m, size_t bytes);

/* sl_mem_cache_cap - the cache's current cap in bytes; *cached (if not NULL) = bytes
 * cached now. 0 for NULL. Threads: any (a snapshot). */
size_t sl_mem_cache_cap(sl_mem *m, size_t *cached);

/* sl_mem_in_use - bytes currently allocated through m (requested sizes); 0 for NULL.
 * Relaxed atomic read: exact only when no other thread allocates. Threads: any. */
size_t sl_mem_in_use(const sl_mem *m);

/*
 * sl_mem_topology - the hwloc topology m loaded (a hwloc_topology_t), borrowed: valid
 * until sl_mem_free(m); read-only use only. NULL if hwloc could not load or m is NULL.
 * Used by core/pool.c so the topology is discovered once. Threads: any.
 */
struct hwloc_topology;
struct hwloc_topology *sl_mem_topology(const sl_mem *m);

/*
 * sl_freelist - a cache of fixed-size objects recycled without going back to the
 * allocator per batch. The caller owns the struct (stack, embedded); treat the
 * fields as private. Objects are handed out uninitialised; while cached, their first
 * pointer-sized bytes hold the list link, so objsize is raised to sizeof(void *).
 * Thread safety: get/put are thread-safe, serialised by a plain pthread mutex (held
 * for a few instructions; per-worker freelists are uncontended). A lock-free Treiber
 * stack was rejected: it needs ABA tags (double-width CAS) and reads the link of a
 * node another thread may already have popped and freed.
 */
typedef struct sl_freelist {
	sl_mem *mem;
	int node;
	size_t objsize; /* rounded up to sizeof(void *) */
	size_t max_cached;
	size_t ncached;
	void *head;
	pthread_mutex_t mu;
} sl_freelist;

/*
 * sl_freelist_init - prepare f for objects of objsize bytes allocated from m on node,
 * keeping at most max_cached free objects (0 = never cache). Returns 0, or -EINVAL
 * (f or m NULL), or a -errno from pthread_mutex_init. Ownership: m must outlive f.
 * Threads: f must not be in use.
 */
int sl_freelist_init(sl_freelist *f, sl_mem *m, int node, size_t objsize, size_t max_cached);

/*
 * sl_freelist_get - a cached object (LIFO: the most recently put one), or a fresh
 * one from the sl_mem; NULL on allocation failure or f NULL. Ownership: caller, until
 * sl_freelist_put. Threads: any.
 */
void *sl_freelist_get(sl_freelist *f);

/*
 * sl_freelist_put - give an object from sl_freelist_get back; it is cached, or freed
 * when max_cached objects are already cached. p NULL or f NULL is a no-op.
 * Threads: any.
 */
void sl_freelist_put(sl_freelist *f, void *p);

/*
 * sl_freelist_fini - free every cached object and destroy the mutex. Objects still
 * out are not tracked: put them back before, or free them yourself with
 * sl_dealloc(m, p, max(objsize, sizeof(void *))). NULL is a no-op; calling it twice
 * is undefined. Threads: f must not be in use.
 */
void sl_freelist_fini(sl_freelist *f);

#ifdef __cplusplus
}
#endif
#endif
