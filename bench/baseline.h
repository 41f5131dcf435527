/* SPDX-License-Identifier: Apache-2.0 */
/*
 * baseline.h - physical baselines measured in the same run as a benchmark, so results
 * are ratios that mean something on a noisy shared machine (STYLE.md, BRIEF.md).
 */
#ifndef SL_BENCH_BASELINE_H
#define SL_BENCH_BASELINE_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * An array as the engine's allocator (core/mem.c) gives a column: blocks of 2 MiB and more
 * get transparent huge pages (MADV_HUGEPAGE; the usual THP mode is "madvise"), so kernels and
 * baselines read memory the way the engine's batches do. With 4 KiB pages the hardware
 * prefetcher stops at every page boundary: a one-core sum here reads ~9 GB/s on 4 KiB pages
 * and ~13 GB/s on huge pages. Free with free().
 */
static inline void *bench_alloc(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	if (bytes < huge)
		return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	size_t n = (bytes + huge - 1) & ~(huge - 1);
	void *p = aligned_alloc(huge, n);
	if (p)
		(void)madvise(p, n, MADV_HUGEPAGE);
	return p;
}

/*
 * Memory read bandwidth of one core: sum a `bytes` array of int64 (DRAM-resident when
 * bytes is well above the L3), median of `reps` passes. Returns bytes/s.
 */
static inline double bench_mem_read(size_t bytes, int reps)
{
	size_t n = bytes / 8;
	int64_t *a = bench_alloc(n * 8);
	if (!a)
		return 0;
	for (size_t i = 0; i < n; i++)
		a[i] = (int64_t)i;
	double t[32];
	volatile int64_t sink = 0;
	if (reps > 32)
		reps = 32;
	for (int r = 0; r < reps; r++) {
		double t0 = bench_now();
		int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		for (size_t i = 0; i + 4 <= n; i += 4) {
			s0 += a[i];
			s1 += a[i + 1];
			s2 += a[i + 2];
			s3 += a[i + 3];
		}
		sink += s0 + s1 + s2 + s3;
		t[r] = bench_now() - t0;
	}
	(void)sink;
	free(a);
	return (double)(n * 8) / bench_median(t, reps);
}

#endif
