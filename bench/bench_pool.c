/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_pool.c - per-job overhead of the worker pool.
 *
 * Runs back-to-back empty jobs of 2 tasks and prints TSV on stdout:
 *     workers <TAB> jobs <TAB> ns_per_job <TAB> pingpong_ns
 * for pools of 1, 2 and 4 workers (helpers pinned when possible). Jobs follow each
 * other without a gap, so helpers stay in their spin phase: this is the in-batch
 * cost, not the wake-from-sleep latency. The physical baseline measured in the same run
 * is the round trip of a cache line between two threads (an atomic ping-pong): a job
 * handed to another core cannot cost less than about one of those. The benchmark checks
 * that every task ran.
 *
 * Usage: build/bench/bench_pool [jobs]   (default 1000000)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mem.h"
#include "pool.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void empty_task(void *arg, size_t task, int worker)
{
	(void)task;
	(void)worker;
	atomic_fetch_add_explicit((atomic_long *)arg, 1, memory_order_relaxed); /* a count only */
}

static atomic_long ball;

static void *pong(void *arg)
{
	long n = *(long *)arg;
	/* acquire/release: each side waits for the other's value, like a job handoff */
	for (long i = 0; i < n; i++) {
		while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 1)
			__builtin_ia32_pause();
		atomic_store_explicit(&ball, 2 * i + 2, memory_order_release);
	}
	return NULL;
}

/* ns per round trip of a cache line between two threads */
static double pingpong(long n)
{
	pthread_t t;
	atomic_store(&ball, 0);
	pthread_create(&t, NULL, pong, &n);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		atomic_store_explicit(&ball, 2 * i + 1, memory_order_release);
		while (atomic_load_explicit(&ball, memory_order_acquire) != 2 * i + 2)
			__builtin_ia32_pause();
	}
	double t1 = now_ns();
	pthread_join(t, NULL);
	return (t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long jobs = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	if (jobs <= 0)
		jobs = 1000000;
	sl_mem *mem = NULL;
	if (sl_mem_new(&mem, 0) != 0) {
		fprintf(stderr, "bench_pool: sl_mem_new failed\n");
		return 1;
	}
	static const int sizes[] = {1, 2, 4};
	double pp = pingpong(200000);
	printf("workers\tjobs\tns_per_job\tpingpong_ns\n");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		sl_workers *w = NULL;
		if (sl_workers_new(&w, sizes[k], 1, mem) != 0) {
			fprintf(stderr, "bench_pool: sl_workers_new(%d) failed\n", sizes[k]);
			sl_mem_free(mem);
			return 1;
		}
		atomic_long ran = 0;
		for (long i = 0; i < jobs / 10 + 1; i++) /* warm up */
			sl_workers_run(w, 2, empty_task, &ran);
		atomic_store(&ran, 0);
		double t0 = now_ns();
		for (long i = 0; i < jobs; i++)
			sl_workers_run(w, 2, empty_task, &ran);
		double t1 = now_ns();
		if (atomic_load(&ran) != 2 * jobs) {
			fprintf(stderr, "bench_pool: %ld tasks ran, expected %ld\n",
				atomic_load(&ran), 2 * jobs);
			return 1;
		}
		printf("%d\t%ld\t%.1f\t%.1f\n", sizes[k], jobs, (t1 - t0) / (double)jobs, pp);
		sl_workers_free(w);
	}
	sl_mem_free(mem);
	return 0;
}
