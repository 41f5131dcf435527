/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.h - the worker pool: runs a parallel job of N tasks on pinned threads.
 *
 * Model
 *   - A pool of nworkers = N has N - 1 helper threads plus the calling (driver)
 *     thread, which is worker 0 and runs tasks while it waits. So N = 1 runs every
 *     job inline with no thread handoff, and on a 2-core machine the default pool is
 *     the driver + one helper. Helpers are workers 1..N-1.
 *   - Tasks are claimed one at a time from a shared atomic counter, so uneven tasks
 *     balance. A job returns when every task has finished and no helper still looks
 *     at the job (the next job may reuse anything the previous one used).
 *   - Placement: the PUs (hardware threads) the pool may use are hwloc's allowed PUs
 *     intersected with the process CPU binding (so `taskset` or `numactl` is
 *     respected). They are ordered to spread over cores first (first PU of every
 *     core, then second PUs, ...). Worker i is assigned PU order[i % npu]; helpers are
 *     bound to their PU from inside their thread (so their stacks are first touched
 *     on the right node). The driver thread is never pinned: the library does not
 *     change the affinity of a thread it does not own; PU order[0] is left for it.
 *     sl_workers_node(i) is the NUMA node of worker i's assigned PU, a logical index
 *     usable as the node argument of sl_alloc.
 *   - Default size (nworkers 0) is the number of such PUs.
 *   - If binding fails (restricted cpuset, seccomp, no topology), helpers run
 *     unpinned and sl_workers_pinned() reports 0.
 *   - Idle helpers spin on the job word for a short while (4000 pause iterations:
 *     about 100 us on an AMD EPYC, less on CPUs with a short pause), then sleep on a
 *     futex, using no CPU between batches. Publishing a job costs a futex wake only
 *     when some helper sleeps. The driver waits for stragglers the same way.
 *   - Helper threads are created with all signals blocked, so signals go to the
 *     application's threads.
 *
 * Threads: one driver thread at a time may call sl_workers_run; sl_workers_new/free
 * are called by that driver when no job runs. Tasks must not call sl_workers_run
 * (misuse is detected on a best-effort basis and runs the inner job inline as worker
 * 0). Nothing here prints or aborts.
 */
#ifndef SL_POOL_H
#define SL_POOL_H

#include <stddef.h>

#include "mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted nworkers. */
#define SL_WORKERS_MAX 1024

typedef struct sl_workers sl_workers;

/*
 * A task: run task number `task` of the job; `worker` is 0 for the driver thread
 * and 1..nworkers-1 for helpers. A worker index runs at most one task at a time, so
 * it can index per-worker scratch space.
 */
typedef void (*sl_task_fn)(void *arg, size_t task, int worker);

/*
 * sl_workers_new - create a pool of nworkers workers (0 = one per usable PU; the
 * caller is worker 0, so nworkers - 1 threads are started). pin: 1 = bind each
 * helper to its PU, 0 = do not. mem provides the memory and the hwloc topology and
 * must outlive the pool.
 * Returns 0 and stores the pool in *out, or -EINVAL (out or mem NULL, nworkers < 0
 * or > SL_WORKERS_MAX, pin not 0/1), -ENOMEM, or the -errno of pthread_create
 * (e.g. -EAGAIN). On error nothing is left running and *out is untouched.
 * Threads: the future driver thread.
 */
int sl_workers_new(sl_workers **out, int nworkers, int pin, sl_mem *mem);

/*
 * sl_workers_free - stop and join the helpers, free the pool. NULL is a no-op.
 * Threads: the driver, with no job running.
 */
void sl_workers_free(sl_workers *w);

/* sl_workers_count - number of workers including the driver (>= 1), -EINVAL if NULL. */
int sl_workers_count(const sl_workers *w);

/*
 * sl_workers_node - NUMA node (logical index, as for sl_alloc) of worker
 * 0..count-1; -EINVAL for NULL w or an index out of range. Threads: any.
 */
int sl_workers_node(const sl_workers *w, int worker);

/*
 * sl_workers_pinned - 1 if pinning was requested and every helper thread was bound
 * to its PU (vacuously so with no helpers), 0 otherwise, -EINVAL if NULL.
 */
int sl_workers_pinned(const sl_workers *w);

/*
 * sl_workers_scratch - worker `worker`'s own block of `bytes` bytes, 64-byte aligned, on its
 * node: allocated and zeroed by its first call, then the same block every time (its
 * contents kept) until sl_workers_free. One size per worker: a call with another size gets
 * NULL, as do a NULL w, a worker out of range and no memory. Threads: only the thread running
 * as `worker` (a task's worker argument, or the driver for 0).
 */
void *sl_workers_scratch(sl_workers *w, int worker, size_t bytes);

/*
 * sl_workers_run - run fn(arg, i, worker) exactly once for each i in [0, ntasks),
 * across the helpers and the calling thread; returns when all have finished, and
 * everything the tasks wrote is visible to the caller. ntasks 0 returns at once; w or
 * fn NULL is a no-op. Only the driver may call it, never recursively from a task.
 */
void sl_workers_run(sl_workers *w, size_t ntasks, sl_task_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
