/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - worker pool (see pool.h for the model).
 *
 * Job protocol. One 64-bit word, `state`, carries
 *     bits 0..15   count of helpers currently inside the job (joined, not left)
 *     bit  16      OPEN: the job accepts joiners
 *     bit  17      STOP: the pool is shutting down
 *     bits 18..63  generation of the current/last job (driver-private counter, 46 bits)
 *   Driver: write the job (fn, arg, ntasks, base, next = 0), then publish
 *   state = gen<<18 | OPEN; wake sleepers if any; claim tasks itself; when the
 *   counter runs out, clear OPEN (no new joiner can enter), then wait for count == 0.
 *   Helper: when it sees OPEN with a generation it has not served, join with a CAS
 *   that increments count (fails if the job closed or changed meanwhile), claim tasks,
 *   leave by decrementing count; the last helper out of a closed job wakes the driver
 *   if it sleeps.
 *
 * Invariants:
 *   - The job fields are written only by the driver, only while count == 0 and OPEN
 *     is clear; helpers read them only between a successful join and their leave.
 *     Join is acquire (after the publishing release store), leave is release (before
 *     the driver's acquire that sees count == 0): no data race, and task writes are
 *     visible to the driver when sl_workers_run returns.
 *   - Every task index in [0, ntasks) is claimed by exactly one fetch_add on `next`;
 *     `next` overshoots by at most the number of workers, which cannot wrap because a
 *     job has at most SIZE_MAX / 2 tasks (larger runs are split).
 *   - A helper never joins the same generation twice (`seen`).
 *   - Sleeping is a Dekker pair in seq_cst: a helper increments `sleepers`, reads
 *     `wake_seq`, re-reads `state`, and only then futex-waits on wake_seq; the driver
 *     stores `state`, then reads `sleepers` and, if non-zero, bumps wake_seq and wakes.
 *     Either the helper sees the job or the driver sees the sleeper; a bump between
 *     the helper's read and its wait makes FUTEX_WAIT return at once. The driver's own
 *     sleep (dsleep/dwake against the leaving decrement) is the same pattern.
 *   - sl_workers_free joins every helper before releasing memory, so a helper still
 *     inside its wake-the-driver tail never touches freed memory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pool.h"

#include <errno.h>
#include <hwloc.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ST_COUNT_MASK ((uint64_t)0xffff)
#define ST_OPEN       ((uint64_t)1 << 16)
#define ST_STOP       ((uint64_t)1 << 17)
#define ST_GEN_SHIFT  18

/* Pause iterations before a helper sleeps / before the driver sleeps. */
#define HELPER_SPIN 4000
#define DRIVER_SPIN 4000
/* Largest job handed to the helpers at once (keeps `next` from wrapping). */
#define JOB_MAX_TASKS (SIZE_MAX / 2)

struct helper {
	_Alignas(64) pthread_t tid;
	sl_workers *w;
	hwloc_bitmap_t cpuset; /* PU to bind to, NULL = do not bind; owned */
	int index;             /* worker index, 1..n-1 */
	int pinned;            /* written by the helper before it reports started */
};

struct sl_workers {
	/* Hot line: everything a job touches. */
	_Alignas(64) _Atomic uint64_t state;
	_Atomic size_t next; /* next task index to claim (relative to base) */
	sl_task_fn fn;       /* job fields: see invariants */
	void *arg;
	size_t ntasks;
	size_t base;
	_Atomic uint32_t sleepers; /* helpers in (or entering) futex sleep */
	_Atomic uint32_t wake_seq; /* futex word helpers sleep on */
	_Atomic uint32_t dsleep;   /* 1 while the driver is (about to be) asleep */
	_Atomic uint32_t dwake;    /* futex word the driver sleeps on */

	/* Cold: set up in sl_workers_new, read-only afterwards (gen: driver only). */
	_Alignas(64) uint64_t gen;
	int n;
	int pin;
	int pinned;
	int nstarted; /* guarded by mu, startup only */
	sl_mem *mem;
	hwloc_topology_t topo; /* borrowed from mem, may be NULL */
	int *node;             /* [n] */
	struct helper *h;      /* [n - 1] */
	struct scratch {       /* [n]: sl_workers_scratch, each touched by its worker only */
		void *p;
		size_t bytes;
	} * scratch;
	pthread_mutex_t mu; /* startup handshake only */
	pthread_cond_t cv;
};

/* ---------------------------------------------------------------- low level */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	/* Returns on wake, on value mismatch (EAGAIN) or on a signal; callers loop. */
	(void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr, int nwake)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, nwake, NULL, NULL, 0);
}

/* Does state s ask a helper that last served generation `seen` to act? */
static inline int helper_ready(uint64_t s, uint64_t seen)
{
	return (s & ST_STOP) || ((s & ST_OPEN) && (s >> ST_GEN_SHIFT) != seen);
}

/* ---------------------------------------------------------------- job execution */

static void run_tasks(sl_workers *w, int self)
{
	sl_task_fn fn = w->fn;
	void *arg = w->arg;
	size_t nt = w->ntasks, base = w->base;
	for (;;) {
		/* relaxed: only the index is claimed; the job fields were acquired
		 * through `state` (join CAS or the driver's own writes). */
		size_t i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
		if (i >= nt)
			return;
		fn(arg, base + i, self);
	}
}

static void wake_driver(sl_workers *w)
{
	/* seq_cst: second half of the Dekker pair with driver_wait (our leaving
	 * fetch_sub on state, then this load of dsleep). */
	if (atomic_load_explicit(&w->dsleep, memory_order_seq_cst)) {
		/* seq_cst: ordered after the decrement the driver re-checks */
		atomic_fetch_add_explicit(&w->dwake, 1, memory_order_seq_cst);
		futex_wake(&w->dwake, 1);
	}
}

/* Wait until state asks this helper to act; returns that state. */
static uint64_t helper_wait(sl_workers *w, uint64_t seen)
{
	for (;;) {
		for (int i = 0; i < HELPER_SPIN; i++) {
			/* relaxed: a peek; the join CAS (acquire) is what synchronises */
			uint64_t s = atomic_load_explicit(&w->state, memory_order_relaxed);
			if (helper_ready(s, seen))
				return s;
			cpu_relax();
		}
		/* seq_cst: first half of the Dekker pair with the publishing store +
		 * sleepers load in run_job. */
		atomic_fetch_add_explicit(&w->sleepers, 1, memory_order_seq_cst);
		/* seq_cst: read before the re-check, so a bump after it aborts the wait */
		uint32_t seq = atomic_load_explicit(&w->wake_seq, memory_order_seq_cst);
		/* seq_cst: the re-check that closes the Dekker window */
		uint64_t s = atomic_load_explicit(&w->state, memory_order_seq_cst);
		if (!helper_ready(s, seen))
			futex_wait(&w->wake_seq, seq);
		/* relaxed: a hint for the driver; a stale non-zero only costs a wake */
		atomic_fetch_sub_explicit(&w->sleepers, 1, memory_order_relaxed);
		if (helper_ready(s, seen))
			return s;
		/* woken (or spurious): spin again, more jobs are likely to follow */
	}
}

static void helper_loop(sl_workers *w, int self)
{
	uint64_t seen = 0; /* generation 0 is "no job yet" */
	for (;;) {
		uint64_t s = helper_wait(w, seen);
		if (s & ST_STOP)
			return;
		/* acquire: pairs with the publishing store, so fn/arg/ntasks/base/next
		 * written before it are visible; fails if the job closed, changed, or
		 * another helper joined first (then re-evaluate). */
		if (!atomic_compare_exchange_strong_explicit(
			&w->state, &s, s + 1, memory_order_acquire, memory_order_relaxed))
			continue;
		seen = s >> ST_GEN_SHIFT;
		run_tasks(w, self);
		/* seq_cst: release (task effects and our reads of the job fields happen
		 * before the driver's acquire that sees count == 0) and Dekker with
		 * dsleep (see wake_driver). */
		uint64_t old = atomic_fetch_sub_explicit(&w->state, 1, memory_order_seq_cst);
		if ((old & ST_COUNT_MASK) == 1 && !(old & ST_OPEN))
			wake_driver(w);
	}
}

static void *helper_main(void *p)
{
	struct helper *h = p;
	sl_workers *w = h->w;

	if (h->cpuset && w->topo)
		h->pinned = hwloc_set_cpubind(w->topo, h->cpuset, HWLOC_CPUBIND_THREAD) == 0;
	pthread_mutex_lock(&w->mu);
	w->nstarted++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	helper_loop(w, h->index);
	return NULL;
}

/* Wait, as the driver of a closed job, until no helper is inside it. */
static void driver_wait(sl_workers *w)
{
	for (int i = 0; i < DRIVER_SPIN; i++) {
		/* acquire: pairs with the helpers' leaving fetch_sub */
		if (!(atomic_load_explicit(&w->state, memory_order_acquire) & ST_COUNT_MASK))
			return;
		cpu_relax();
	}
	for (;;) {
		/* seq_cst: read before announcing, so a wake after it aborts the wait */
		uint32_t v = atomic_load_explicit(&w->dwake, memory_order_seq_cst);
		/* seq_cst: first half of the Dekker pair with the leaving helper */
		atomic_store_explicit(&w->dsleep, 1, memory_order_seq_cst);
		/* seq_cst (includes acquire for the task effects): the re-check */
		if (!(atomic_load_explicit(&w->state, memory_order_seq_cst) & ST_COUNT_MASK))
			break;
		futex_wait(&w->dwake, v);
	}
	/* relaxed: a stale 1 seen by a helper only costs a spurious wake */
	atomic_store_explicit(&w->dsleep, 0, memory_order_relaxed);
}

static void run_inline(size_t base, size_t ntasks, sl_task_fn fn, void *arg)
{
	for (size_t i = 0; i < ntasks; i++)
		fn(arg, base + i, 0);
}

static void run_job(sl_workers *w, size_t base, size_t ntasks, sl_task_fn fn, void *arg)
{
	if (w->n == 1 || ntasks == 1) {
		run_inline(base, ntasks, fn, arg);
		return;
	}
	/* relaxed: a peek. Between jobs the state is closed with count 0; anything else
	 * means a job is in progress, i.e. we were called from a task (misuse): run the
	 * inner job inline rather than corrupt the outer one. */
	if (atomic_load_explicit(&w->state, memory_order_relaxed) & (ST_OPEN | ST_COUNT_MASK)) {
		run_inline(base, ntasks, fn, arg);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	w->ntasks = ntasks;
	w->base = base;
	/* relaxed: published by the store of state below */
	atomic_store_explicit(&w->next, 0, memory_order_relaxed);
	uint64_t g = ++w->gen;
	/* seq_cst: release publishes the job fields to joiners; seq_cst for the Dekker
	 * pair with sleeping helpers (this store, then the sleepers load). count is 0
	 * and STOP clear here (previous job drained; STOP only set by free). */
	atomic_store_explicit(&w->state, (g << ST_GEN_SHIFT) | ST_OPEN, memory_order_seq_cst);
	/* seq_cst: second half of the Dekker pair */
	uint32_t sl = atomic_load_explicit(&w->sleepers, memory_order_seq_cst);
	if (sl) {
		/* seq_cst: ordered after the publish, so a helper reading the new value
		 * also sees the job */
		atomic_fetch_add_explicit(&w->wake_seq, 1, memory_order_seq_cst);
		size_t want = ntasks - 1 < (size_t)(w->n - 1) ? ntasks - 1 : (size_t)(w->n - 1);
		futex_wake(&w->wake_seq, (int)want);
	}
	run_tasks(w, 0);
	/* acq_rel: acquire pairs with leaving helpers (task effects); release keeps our
	 * task claims before the close. */
	uint64_t s = atomic_fetch_and_explicit(&w->state, ~ST_OPEN, memory_order_acq_rel);
	if (s & ST_COUNT_MASK)
		driver_wait(w);
}

/* ---------------------------------------------------------------- placement */

struct pu_key {
	int rank;         /* position of the PU among the usable PUs of its core */
	unsigned logical; /* hwloc logical index */
	hwloc_obj_t pu;
};

static int pu_key_cmp(const void *a, const void *b)
{
	const struct pu_key *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->logical < y->logical ? -1 : (x->logical > y->logical);
}

/*
 * Usable PUs in spreading order. Returns the count (0 if none/failure) and stores
 * an sl_mem-allocated array in *out (size npu * sizeof(hwloc_obj_t)).
 */
static int pool_pu_order(sl_mem *mem, hwloc_topology_t t, hwloc_obj_t **out)
{
	*out = NULL;
	hwloc_bitmap_t set = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
	hwloc_bitmap_t cur = hwloc_bitmap_alloc();
	int n = 0;
	struct pu_key *keys = NULL;
	hwloc_obj_t *order = NULL;

	if (!set || !cur)
		goto done;
	/* Respect the process binding (taskset, numactl) when it is known. */
	if (hwloc_get_cpubind(t, cur, HWLOC_CPUBIND_PROCESS) == 0 &&
	    hwloc_bitmap_intersects(set, cur))
		hwloc_bitmap_and(set, set, cur);
	int total = hwloc_get_nbobjs_inside_cpuset_by_type(t, set, HWLOC_OBJ_PU);
	if (total <= 0)
		goto done;
	keys = sl_alloc(mem, -1, (size_t)total * sizeof(*keys));
	order = sl_alloc(mem, -1, (size_t)total * sizeof(*order));
	if (!keys || !order)
		goto done;
	hwloc_obj_t pu = NULL;
	while (n < total &&
	       (pu = hwloc_get_next_obj_inside_cpuset_by_type(t, set, HWLOC_OBJ_PU, pu))) {
		int rank = 0;
		hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu);
		/* PUs of one core are consecutive in logical order. */
		for (hwloc_obj_t q = pu->prev_cousin; core && q; q = q->prev_cousin) {
			if (hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, q) != core)
				break;
			if (hwloc_bitmap_isincluded(q->cpuset, set))
				rank++;
		}
		keys[n].rank = rank;
		keys[n].logical = pu->logical_index;
		keys[n].pu = pu;
		n++;
	}
	qsort(keys, (size_t)n, sizeof(*keys), pu_key_cmp);
	for (int i = 0; i < n; i++)
		order[i] = keys[i].pu;
done:
	if (keys)
		sl_dealloc(mem, keys, (size_t)total * sizeof(*keys));
	if (n > 0) {
		*out = order;
	} else if (order) {
		sl_dealloc(mem, order, (size_t)total * sizeof(*order));
	}
	hwloc_bitmap_free(set);
	hwloc_bitmap_free(cur);
	return n;
}

/* Logical index of the first NUMA node local to pu, 0 if none. */
static int pool_pu_node(hwloc_topology_t t, hwloc_obj_t pu)
{
	int k = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
	for (int i = 0; i < k; i++) {
		hwloc_obj_t nd = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
		if (nd && nd->cpuset && hwloc_bitmap_intersects(nd->cpuset, pu->cpuset))
			return i;
	}
	return 0;
}

/* CPUs this thread may run on, without a topology. */
static int pool_cpu_count(void)
{
	cpu_set_t cs;
	if (sched_getaffinity(0, sizeof(cs), &cs) == 0 && CPU_COUNT(&cs) > 0)
		return CPU_COUNT(&cs);
	long k = sysconf(_SC_NPROCESSORS_ONLN);
	return k > 0 ? (int)(k < SL_WORKERS_MAX ? k : SL_WORKERS_MAX) : 1;
}

/* ---------------------------------------------------------------- lifecycle */

/* Stop and join helpers [0, nthreads), free everything. */
static void pool_destroy(sl_workers *w, int nthreads)
{
	/* seq_cst: STOP must be seen by every helper; followed by an unconditional
	 * wake so even one deciding to sleep right now gets out. */
	atomic_fetch_or_explicit(&w->state, ST_STOP, memory_order_seq_cst);
	/* seq_cst: bump after STOP, as for a job publish */
	atomic_fetch_add_explicit(&w->wake_seq, 1, memory_order_seq_cst);
	futex_wake(&w->wake_seq, INT_MAX);
	for (int i = 0; i < nthreads; i++)
		pthread_join(w->h[i].tid, NULL);
	if (w->h) {
		for (int i = 0; i < w->n - 1; i++)
			if (w->h[i].cpuset)
				hwloc_bitmap_free(w->h[i].cpuset);
		sl_dealloc(w->mem, w->h, (size_t)(w->n - 1) * sizeof(*w->h));
	}
	if (w->node)
		sl_dealloc(w->mem, w->node, (size_t)w->n * sizeof(*w->node));
	if (w->scratch) {
		for (int i = 0; i < w->n; i++)
			sl_dealloc(w->mem, w->scratch[i].p, w->scratch[i].bytes);
		sl_dealloc(w->mem, w->scratch, (size_t)w->n * sizeof(*w->scratch));
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	sl_dealloc(w->mem, w, sizeof(*w));
}

int sl_workers_new(sl_workers **out, int nworkers, int pin, sl_mem *mem)
{
	if (!out || !mem || nworkers < 0 || nworkers > SL_WORKERS_MAX || (pin != 0 && pin != 1))
		return -EINVAL;

	hwloc_topology_t topo = sl_mem_topology(mem);
	hwloc_obj_t *order = NULL;
	int npu = topo ? pool_pu_order(mem, topo, &order) : 0;
	int n = nworkers;
	if (n == 0)
		n = npu > 0 ? npu : pool_cpu_count();
	if (n > SL_WORKERS_MAX)
		n = SL_WORKERS_MAX;

	int rc = -ENOMEM;
	sl_workers *w = sl_alloc_aligned(mem, -1, 64, sizeof(*w));
	if (!w)
		goto fail_order;
	memset(w, 0, sizeof(*w));
	atomic_init(&w->state, 0);
	atomic_init(&w->next, 0);
	atomic_init(&w->sleepers, 0);
	atomic_init(&w->wake_seq, 0);
	atomic_init(&w->dsleep, 0);
	atomic_init(&w->dwake, 0);
	w->n = n;
	w->pin = pin;
	w->mem = mem;
	w->topo = topo;
	rc = -pthread_mutex_init(&w->mu, NULL);
	if (rc)
		goto fail_w;
	rc = -pthread_cond_init(&w->cv, NULL);
	if (rc)
		goto fail_mu;

	/* From here on pool_destroy cleans up. */
	w->node = sl_calloc(mem, -1, (size_t)n * sizeof(*w->node));
	w->scratch = sl_calloc(mem, -1, (size_t)n * sizeof(*w->scratch));
	if (n > 1)
		w->h = sl_alloc_aligned(mem, -1, 64, (size_t)(n - 1) * sizeof(*w->h));
	if (!w->node || !w->scratch || (n > 1 && !w->h)) {
		pool_destroy(w, 0);
		rc = -ENOMEM;
		goto fail_order;
	}
	if (w->h)
		memset(w->h, 0, (size_t)(n - 1) * sizeof(*w->h));
	for (int i = 0; i < n; i++) {
		hwloc_obj_t pu = npu > 0 ? order[i % npu] : NULL;
		w->node[i] = pu ? pool_pu_node(topo, pu) : 0;
		if (i == 0)
			continue;
		struct helper *h = &w->h[i - 1];
		h->w = w;
		h->index = i;
		if (pin && pu) {
			h->cpuset = hwloc_bitmap_dup(pu->cpuset);
			/* a failed dup just leaves this helper unpinned */
		}
	}

	/* Helpers start with every signal blocked (inherited mask). */
	sigset_t all, old;
	sigfillset(&all);
	int masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
	int started = 0;
	rc = 0;
	for (; started < n - 1; started++) {
		int e = pthread_create(&w->h[started].tid, NULL, helper_main, &w->h[started]);
		if (e) {
			rc = -e;
			break;
		}
	}
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* Wait for the helpers we did start to report (pinning result included). */
	pthread_mutex_lock(&w->mu);
	while (w->nstarted < started)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (rc) {
		pool_destroy(w, started);
		goto fail_order;
	}
	w->pinned = pin;
	for (int i = 0; i < n - 1; i++)
		if (!w->h[i].pinned)
			w->pinned = 0;
	if (order)
		sl_dealloc(mem, order, (size_t)npu * sizeof(*order));
	*out = w;
	return 0;

fail_mu:
	pthread_mutex_destroy(&w->mu);
fail_w:
	sl_dealloc(mem, w, sizeof(*w));
fail_order:
	if (order)
		sl_dealloc(mem, order, (size_t)npu * sizeof(*order));
	return rc;
}

void sl_workers_free(sl_workers *w)
{
	if (!w)
		return;
	pool_destroy(w, w->n - 1);
}

int sl_workers_count(const sl_workers *w)
{
	return w ? w->n : -EINVAL;
}

int sl_workers_node(const sl_workers *w, int worker)
{
	if (!w || worker < 0 || worker >= w->n)
		return -EINVAL;
	return w->node[worker];
}

void *sl_workers_scratch(sl_workers *w, int worker, size_t bytes)
{
	if (!w || worker < 0 || worker >= w->n || !bytes)
		return NULL;
	struct scratch *s = &w->scratch[worker];
	if (!s->p) {
		s->p = sl_alloc_aligned(w->mem, w->node[worker], 64, bytes);
		if (!s->p)
			return NULL;
		memset(s->p, 0, bytes);
		s->bytes = bytes;
	}
	return s->bytes == bytes ? s->p : NULL;
}

int sl_workers_pinned(const sl_workers *w)
{
	return w ? w->pinned : -EINVAL;
}

void sl_workers_run(sl_workers *w, size_t ntasks, sl_task_fn fn, void *arg)
{
	if (!w || !fn)
		return;
	size_t base = 0;
	while (ntasks > 0) {
		size_t chunk = ntasks > JOB_MAX_TASKS ? JOB_MAX_TASKS : ntasks;
		run_job(w, base, chunk, fn, arg);
		base += chunk;
		ntasks -= chunk;
	}
}
