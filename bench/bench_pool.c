/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_pool.c - per-job overhead of the worker pool.
 *
 * Runs back-to-back empty jobs of 2 tasks and prints TSV on stdout:
 *     workers <TAB> jobs <TAB> ns_per_job
 * for pools of 1, 2 and 4 workers (helpers pinned when possible). Jobs follow each
 * other without a gap, so helpers stay in their spin phase: this is the in-batch
 * cost, not the wake-from-sleep latency.
 *
 * Build: gcc -std=gnu17 -O2 -Icore core/mem.c core/pool.c bench/bench_pool.c \
 *            $(pkg-config --cflags --libs jemalloc hwloc) -lpthread -o /tmp/bench_pool
 * Usage: bench_pool [jobs]   (default 1000000)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mem.h"
#include "pool.h"

static void empty_task(void *arg, size_t task, int worker)
{
	(void)arg;
	(void)task;
	(void)worker;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
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
	printf("workers\tjobs\tns_per_job\n");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		sl_workers *w = NULL;
		if (sl_workers_new(&w, sizes[k], 1, mem) != 0) {
			fprintf(stderr, "bench_pool: sl_workers_new(%d) failed\n", sizes[k]);
			sl_mem_free(mem);
			return 1;
		}
		for (long i = 0; i < jobs / 10 + 1; i++) /* warm up */
			sl_workers_run(w, 2, empty_task, NULL);
		double t0 = now_ns();
		for (long i = 0; i < jobs; i++)
			sl_workers_run(w, 2, empty_task, NULL);
		double t1 = now_ns();
		printf("%d\t%ld\t%.1f\n", sizes[k], jobs, (t1 - t0) / (double)jobs);
		sl_workers_free(w);
	}
	sl_mem_free(mem);
	return 0;
}
