/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_mem.c - tests of core/mem.c (allocation seam, fault injection, freelist).
 * Sizes are chosen on both sides of the small/big threshold (32 KiB by default) and
 * of the 2 MiB binding threshold, so both jemalloc paths are exercised.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static const size_t sizes[] = {
    0, 1, 7, 16, 100, 4096, 16 * KiB, 32 * KiB, 32 * KiB + 1, 100 * KiB, 2 * MiB, 3 * MiB + 5};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static sl_mem *new_mem(int bind)
{
	sl_mem *m = NULL;
	cr_assert_eq(sl_mem_new(&m, bind), 0);
	cr_assert_not_null(m);
	return m;
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(seed + i * 31u);
}

static int check(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed + i * 31u))
			return 0;
	return 1;
}

Test(mem, new_args_and_nodes)
{
	sl_mem *m = NULL;
	cr_expect_eq(sl_mem_new(NULL, 0), -EINVAL);
	cr_expect_eq(sl_mem_new(&m, -1), -EINVAL);
	cr_expect_eq(sl_mem_new(&m, 3), -EINVAL);
	cr_expect_null(m);
	for (int bind = 0; bind <= 2; bind++) {
		m = new_mem(bind);
		cr_expect_geq(sl_mem_nodes(m), 1);
		cr_expect_eq(sl_mem_in_use(m), 0);
		sl_mem_free(m);
	}
	cr_expect_eq(sl_mem_nodes(NULL), -EINVAL);
	cr_expect_eq(sl_mem_in_use(NULL), 0);
	sl_mem_free(NULL); /* no-op */
}

Test(mem, null_arguments_are_harmless)
{
	sl_mem *m = new_mem(0);
	cr_expect_null(sl_alloc(NULL, -1, 10));
	cr_expect_null(sl_calloc(NULL, -1, 10));
	cr_expect_null(sl_alloc_aligned(NULL, -1, 64, 10));
	cr_expect_null(sl_strndup(NULL, "x", 1));
	cr_expect_null(sl_strndup(m, NULL, 1));
	sl_dealloc(m, NULL, 123);
	sl_dealloc(NULL, NULL, 0);
	sl_mem_fail_after(NULL, 3);
	cr_expect_null(sl_alloc(m, -1, SIZE_MAX));
	cr_expect_null(sl_alloc(m, -1, (size_t)PTRDIFF_MAX + 1));
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

Test(mem, alloc_free_accounting)
{
	for (int bind = 0; bind <= 2; bind++) {
		sl_mem *m = new_mem(bind);
		int nodes = sl_mem_nodes(m);
		void *p[NSIZES];
		size_t total = 0;
		for (size_t i = 0; i < NSIZES; i++) {
			/* nodes -1, each valid node, and an out-of-range one */
			int node = (int)(i % (size_t)(nodes + 2)) - 1;
			p[i] = sl_alloc(m, node, sizes[i]);
			cr_assert_not_null(p[i], "size %zu", sizes[i]);
			/* like malloc: max_align_t from 16 bytes on, 8 below */
			cr_expect_eq((uintptr_t)p[i] % (sizes[i] >= 16 ? _Alignof(max_align_t) : 8),
				     0);
			fill(p[i], sizes[i], (unsigned)i);
			total += sizes[i];
			cr_expect_eq(sl_mem_in_use(m), total);
		}
		for (size_t i = 0; i < NSIZES; i++) {
			cr_expect(check(p[i], sizes[i], (unsigned)i), "size %zu", sizes[i]);
			sl_dealloc(m, p[i], sizes[i]);
		}
		cr_expect_eq(sl_mem_in_use(m), 0);
		/* n == 0 gives distinct blocks */
		void *a = sl_alloc(m, -1, 0), *b = sl_alloc(m, -1, 0);
		cr_expect(a && b && a != b);
		sl_dealloc(m, a, 0);
		sl_dealloc(m, b, 0);
		cr_expect_eq(sl_mem_in_use(m), 0);
		sl_mem_free(m);
	}
}

Test(mem, calloc_zeroes_reused_memory)
{
	sl_mem *m = new_mem(0);
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];
		for (int round = 0; round < 3; round++) {
			/* dirty a block of the same size first so recycling is likely */
			unsigned char *d = sl_alloc(m, 0, n);
			cr_assert_not_null(d);
			memset(d, 0xAB, n);
			sl_dealloc(m, d, n);
			unsigned char *z = sl_calloc(m, round - 1, n);
			cr_assert_not_null(z);
			for (size_t k = 0; k < n; k++)
				if (z[k]) {
					cr_expect(0, "calloc(%zu) byte %zu = %u", n, k, z[k]);
					break;
				}
			sl_dealloc(m, z, n);
		}
	}
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

Test(mem, realloc_keeps_contents_across_paths)
{
	sl_mem *m = new_mem(2);
	/* every pair of sizes: same-path and threshold-crossing, grow and shrink */
	for (size_t i = 0; i < NSIZES; i++) {
		for (size_t j = 0; j < NSIZES; j++) {
			size_t a = sizes[i], b = sizes[j];
			void *p = sl_alloc(m, 0, a);
			cr_assert_not_null(p);
			fill(p, a, 7);
			void *q = sl_realloc(m, (int)(j % 2) - 1, p, a, b);
			cr_assert_not_null(q, "%zu -> %zu", a, b);
			cr_expect(check(q, a < b ? a : b, 7), "%zu -> %zu", a, b);
			fill(q, b, 9);
			cr_expect_eq(sl_mem_in_use(m), b);
			sl_dealloc(m, q, b);
			cr_expect_eq(sl_mem_in_use(m), 0);
		}
	}
	/* NULL pointer is alloc; new_n 0 returns a block, not NULL */
	void *p = sl_realloc(m, -1, NULL, 0, 100);
	cr_assert_not_null(p);
	cr_expect_eq(sl_mem_in_use(m), 100);
	void *q = sl_realloc(m, -1, p, 100, 0);
	cr_assert_not_null(q);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_dealloc(m, q, 0);
	/* a growing chain, as a vector would do */
	size_t n = 8;
	unsigned char *v = sl_alloc(m, 0, n);
	cr_assert_not_null(v);
	fill(v, n, 3);
	while (n < 8 * MiB) {
		unsigned char *w = sl_realloc(m, 0, v, n, n * 2);
		cr_assert_not_null(w);
		cr_expect(check(w, n, 3));
		fill(w, n * 2, 3);
		v = w;
		n *= 2;
	}
	sl_dealloc(m, v, n);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

Test(mem, aligned)
{
	sl_mem *m = new_mem(2);
	static const size_t aligns[] = {1, 2, 8, 16, 64, 512, 4096, 65536, 2 * MiB};
	for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
		for (size_t i = 0; i < NSIZES; i++) {
			size_t al = aligns[a], n = sizes[i];
			void *p = sl_alloc_aligned(m, (int)(i % 2) - 1, al, n);
			cr_assert_not_null(p, "align %zu size %zu", al, n);
			cr_expect_eq((uintptr_t)p % al, 0, "align %zu size %zu", al, n);
			fill(p, n, 5);
			cr_expect(check(p, n, 5));
			cr_expect_eq(sl_mem_in_use(m), n);
			sl_dealloc(m, p, n); /* the plain free must accept aligned blocks */
		}
	}
	cr_expect_null(sl_alloc_aligned(m, -1, 0, 64));
	cr_expect_null(sl_alloc_aligned(m, -1, 3, 64));
	cr_expect_null(sl_alloc_aligned(m, -1, 4096 + 8, 64));
	cr_expect_null(sl_alloc_aligned(m, -1, (size_t)1 << 63, 64));
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

/* Aligned requests of a recyclable size take a cached block when it is aligned enough (key
 * tables are allocated and zeroed every batch: fresh pages were 40 % of a word count's time),
 * and leave it cached when it is not. */
Test(mem, aligned_blocks_reuse_cached_memory)
{
	sl_mem *m = new_mem(0);
	size_t n = 256 * KiB;
	void *p = sl_alloc(m, -1, n);
	cr_assert_not_null(p);
	sl_dealloc(m, p, n);
	/* 2 MiB alignment: a cached block will not do unless it happens to be */
	void *big = sl_alloc_aligned(m, -1, 2 * MiB, n);
	cr_assert_not_null(big);
	cr_expect_eq((uintptr_t)big % (2 * MiB), 0);
	if ((uintptr_t)p % (2 * MiB))
		cr_expect_neq(big, p);
	sl_dealloc(m, big, n); /* cached on top of p */
	/* 64 bytes: any block of the cache (at least 64-byte aligned under jemalloc) */
	void *q = sl_alloc_aligned(m, -1, 64, n);
	cr_assert_not_null(q);
	cr_expect_eq((uintptr_t)q % 64, 0);
	if ((uintptr_t)big % 64 == 0)
		cr_expect_eq(q, big, "the most recently cached block is reused");
	fill(q, n, 9);
	cr_expect(check(q, n, 9));
	sl_dealloc(m, q, n);
	cr_expect_eq(sl_mem_in_use(m), 0);
	/* both blocks are cached: the misaligned one went back when the 2 MiB request passed
	 * it over */
	size_t cached = 0;
	sl_mem_cache_cap(m, &cached);
	cr_expect_eq(cached, (uintptr_t)p % (2 * MiB) ? 2 * n : n);
	sl_mem_free(m);
}

Test(mem, strndup)
{
	sl_mem *m = new_mem(0);
	char *a = sl_strndup(m, "hello world", 5);
	cr_assert_not_null(a);
	cr_expect_str_eq(a, "hello");
	char *b = sl_strndup(m, "abc", 100); /* stops at the NUL */
	cr_assert_not_null(b);
	cr_expect_str_eq(b, "abc");
	char *c = sl_strndup(m, "x\0yz", 4);
	cr_assert_not_null(c);
	cr_expect_str_eq(c, "x");
	char *d = sl_strndup(m, "whatever", 0);
	cr_assert_not_null(d);
	cr_expect_str_eq(d, "");
	cr_expect_eq(sl_mem_in_use(m), 6 + 4 + 2 + 1);
	sl_dealloc(m, a, strlen(a) + 1);
	sl_dealloc(m, b, strlen(b) + 1);
	sl_dealloc(m, c, strlen(c) + 1);
	sl_dealloc(m, d, strlen(d) + 1);
	/* a big one takes the big path: freeing with strlen + 1 must be right */
	size_t n = 100 * KiB;
	char *src = sl_alloc(m, -1, n + 1);
	cr_assert_not_null(src);
	memset(src, 'q', n);
	src[n] = '\0';
	char *e = sl_strndup(m, src, SIZE_MAX);
	cr_assert_not_null(e);
	cr_expect_eq(strlen(e), n);
	sl_dealloc(m, e, strlen(e) + 1);
	sl_dealloc(m, src, n + 1);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

Test(mem, fail_after)
{
	sl_mem *m = new_mem(0);
	void *p[3];
	sl_mem_fail_after(m, 3);
	for (int i = 0; i < 3; i++) {
		p[i] = sl_alloc(m, -1, 64);
		cr_assert_not_null(p[i], "allocation %d", i + 1);
	}
	cr_expect_null(sl_alloc(m, -1, 64), "4th allocation must fail");
	cr_expect_null(sl_alloc(m, -1, 64));
	cr_expect_null(sl_calloc(m, -1, 64));
	cr_expect_null(sl_alloc(m, 0, 1 * MiB));
	cr_expect_null(sl_alloc_aligned(m, -1, 4096, 4096));
	cr_expect_null(sl_strndup(m, "abc", 3));
	/* a failed realloc leaves the block alone */
	fill(p[0], 64, 1);
	cr_expect_null(sl_realloc(m, -1, p[0], 64, 1000));
	cr_expect_null(sl_realloc(m, -1, p[0], 64, 100 * KiB));
	cr_expect(check(p[0], 64, 1));
	cr_expect_eq(sl_mem_in_use(m), 3 * 64);
	/* frees keep working while failing */
	sl_dealloc(m, p[2], 64);
	sl_mem_fail_after(m, -1);
	void *q = sl_alloc(m, -1, 64);
	cr_expect_not_null(q);
	sl_dealloc(m, q, 64);
	/* 0: the very next one fails; reset by any negative value */
	sl_mem_fail_after(m, 0);
	cr_expect_null(sl_alloc(m, -1, 1));
	sl_mem_fail_after(m, -42);
	q = sl_realloc(m, -1, p[0], 64, 100 * KiB);
	cr_assert_not_null(q);
	cr_expect(check(q, 64, 1));
	sl_dealloc(m, q, 100 * KiB);
	sl_dealloc(m, p[1], 64);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

Test(mem, freelist_recycles)
{
	sl_mem *m = new_mem(0);
	sl_freelist f;
	cr_expect_eq(sl_freelist_init(NULL, m, -1, 64, 4), -EINVAL);
	cr_expect_eq(sl_freelist_init(&f, NULL, -1, 64, 4), -EINVAL);
	cr_assert_eq(sl_freelist_init(&f, m, 0, 200, 4), 0);
	void *p[6];
	for (int i = 0; i < 6; i++) {
		p[i] = sl_freelist_get(&f);
		cr_assert_not_null(p[i]);
		memset(p[i], i, 200);
	}
	cr_expect_eq(sl_mem_in_use(m), 6 * 200);
	for (int i = 0; i < 6; i++)
		sl_freelist_put(&f, p[i]); /* only 4 are kept */
	cr_expect_eq(sl_mem_in_use(m), 4 * 200);
	/* LIFO: the last four put come back, most recent first, no new memory */
	sl_mem_fail_after(m, 0);
	for (int i = 3; i >= 0; i--) {
		void *q = sl_freelist_get(&f);
		cr_expect_eq(q, p[i], "get %d", i);
	}
	cr_expect_null(sl_freelist_get(&f)); /* empty, and allocation fails */
	sl_mem_fail_after(m, -1);
	for (int i = 0; i < 4; i++)
		sl_freelist_put(&f, p[i]);
	sl_freelist_put(&f, NULL);
	sl_freelist_put(NULL, p[0]);
	sl_freelist_fini(&f);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_freelist_fini(NULL);

	/* tiny objects are raised to hold the link; max_cached 0 never caches; big
	 * objects take the big path */
	static const size_t objs[] = {0, 1, 100 * KiB};
	for (size_t k = 0; k < 3; k++) {
		for (size_t maxc = 0; maxc <= 2; maxc += 2) {
			cr_assert_eq(sl_freelist_init(&f, m, -1, objs[k], maxc), 0);
			void *a = sl_freelist_get(&f);
			cr_assert_not_null(a);
			memset(a, 0x5a, objs[k]);
			sl_freelist_put(&f, a);
			void *b = sl_freelist_get(&f);
			if (maxc)
				cr_expect_eq(a, b);
			sl_freelist_put(&f, b);
			sl_freelist_fini(&f);
			cr_expect_eq(sl_mem_in_use(m), 0);
		}
	}
	sl_mem_free(m);
}

struct thr_arg {
	sl_mem *m;
	sl_freelist *f;
	int seed;
	int ok;
};

static void *thr_churn(void *p)
{
	struct thr_arg *a = p;
	void *keep[64] = {0};
	size_t ksz[64] = {0};
	unsigned x = (unsigned)a->seed * 2654435761u + 1;
	a->ok = 1;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		int slot = (int)((x >> 8) % 64);
		if (keep[slot]) {
			if (!check(keep[slot], ksz[slot] < 64 ? ksz[slot] : 64, (unsigned)slot))
				a->ok = 0;
			sl_dealloc(a->m, keep[slot], ksz[slot]);
			keep[slot] = NULL;
		} else {
			size_t n = (x >> 16) % 5 == 0 ? 40 * KiB + (x % 4096) : (x >> 12) % 512;
			keep[slot] = sl_alloc(a->m, (int)(x % 3) - 1, n);
			ksz[slot] = n;
			if (!keep[slot]) {
				a->ok = 0;
				continue;
			}
			fill(keep[slot], n < 64 ? n : 64, (unsigned)slot);
		}
		void *o = sl_freelist_get(a->f);
		if (!o)
			a->ok = 0;
		else
			sl_freelist_put(a->f, o);
	}
	for (int s = 0; s < 64; s++)
		sl_dealloc(a->m, keep[s], ksz[s]);
	return NULL;
}

Test(mem, threads_share_one_context)
{
	sl_mem *m = new_mem(1);
	sl_freelist f;
	cr_assert_eq(sl_freelist_init(&f, m, -1, 128, 8), 0);
	pthread_t t[4];
	struct thr_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr_arg){.m = m, .f = &f, .seed = i};
		cr_assert_eq(pthread_create(&t[i], NULL, thr_churn, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_expect(a[i].ok, "thread %d", i);
	}
	sl_freelist_fini(&f);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

static void *thr_free_big(void *p)
{
	void **args = p;
	sl_dealloc(args[0], args[1], 200 * KiB);
	return NULL;
}

Test(mem, contexts_are_independent)
{
	/* blocks of one context survive the destruction of another, and a big block
	 * may be freed by another thread; repeated create/free recycles arenas */
	sl_mem *keep = new_mem(0);
	void *kb = sl_alloc(keep, 0, 200 * KiB);
	cr_assert_not_null(kb);
	fill(kb, 200 * KiB, 11);
	for (int i = 0; i < 300; i++) {
		sl_mem *m = new_mem(i % 3);
		void *p = sl_alloc(m, 0, 200 * KiB);
		cr_assert_not_null(p);
		fill(p, 64, 1);
		void *args[2] = {m, p};
		pthread_t t;
		cr_assert_eq(pthread_create(&t, NULL, thr_free_big, args), 0);
		pthread_join(t, NULL);
		void *s = sl_alloc(m, 0, 24);
		sl_dealloc(m, s, 24);
		cr_expect_eq(sl_mem_in_use(m), 0);
		sl_mem_free(m);
	}
	cr_expect(check(kb, 200 * KiB, 11));
	sl_dealloc(keep, kb, 200 * KiB);
	cr_expect_eq(sl_mem_in_use(keep), 0);
	sl_mem_free(keep);
}

Test(mem, topology_is_exposed)
{
	sl_mem *m = new_mem(0);
	/* hwloc loads on this machine; the pool relies on it */
	cr_expect_not_null(sl_mem_topology(m));
	cr_expect_null(sl_mem_topology(NULL));
	sl_mem_free(m);
}

/* The recycling cache kept at most 256 MiB, less than one batch at > 4 GB/s: it now
 * follows what was recently held, within its ceiling, and comes back down. */
Test(mem, recycling_cache_scales_with_what_was_held)
{
	enum { N = 640 };
	static void *p[N];
	sl_mem *m = NULL;
	cr_assert_eq(sl_mem_new(&m, 0), 0);
	cr_assert_eq(sl_mem_set_cache_max(m, 1024 * MiB), 0);
	size_t cached = 1;
	cr_expect_eq(sl_mem_cache_cap(m, &cached), 256 * MiB);
	cr_expect_eq(cached, 0);
	/* a "batch" of 640 MiB held at once, then freed */
	for (int i = 0; i < N; i++)
		cr_assert_not_null(p[i] = sl_alloc(m, -1, MiB));
	for (int i = 0; i < N; i++)
		sl_dealloc(m, p[i], MiB);
	size_t cap = sl_mem_cache_cap(m, &cached);
	cr_expect_geq(cap, 512 * MiB, "cap %zu MiB", cap / MiB);
	cr_expect_geq(cached, 512 * MiB, "cached %zu MiB", cached / MiB);
	cr_expect_leq(cached, cap);
	/* the next batch gets them back: the first 512 freed were kept (the cap was 512 MiB
	 * then), and the cache is LIFO, so the last of those comes first */
	static void *old[N];
	memcpy(old, p, sizeof(p));
	for (int i = 0; i < N; i++)
		cr_assert_not_null(p[i] = sl_alloc(m, -1, MiB));
	for (int i = 0; i < 512; i++)
		cr_expect_eq(p[i], old[511 - i], "block %d not recycled", i);
	cr_expect_eq(sl_mem_in_use(m), N * MiB);
	/* a lower ceiling frees what is above it at once */
	for (int i = 0; i < N; i++)
		sl_dealloc(m, p[i], MiB);
	cr_assert_eq(sl_mem_set_cache_max(m, 300 * MiB), 0);
	cap = sl_mem_cache_cap(m, &cached);
	cr_expect_leq(cap, 300 * MiB);
	cr_expect_leq(cached, cap);
	/* the ceiling is never exceeded, and a small load brings the cap back down */
	cr_assert_eq(sl_mem_set_cache_max(m, 1024 * MiB), 0);
	for (int i = 0; i < 4000; i++) {
		void *q = sl_alloc(m, -1, MiB);
		cr_assert_not_null(q);
		sl_dealloc(m, q, MiB);
	}
	cap = sl_mem_cache_cap(m, &cached);
	cr_expect_eq(cap, 256 * MiB);
	cr_expect_leq(cached, cap);
	cr_expect_eq(sl_mem_set_cache_max(NULL, 0), -EINVAL);
	cr_expect_eq(sl_mem_cache_cap(NULL, &cached), 0);
	cr_expect_eq(sl_mem_in_use(m), 0);
	sl_mem_free(m);
}

/* The "THPeligible" line of the /proc/self/smaps mapping holding address a: 1 when the
 * mapping may get transparent huge pages (MADV_HUGEPAGE in the "madvise" mode), -1 if the
 * line is missing. */
static int thp_eligible(uintptr_t a)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0, r = -1;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "THPeligible:", 12))
			r = atoi(line + 12);
	}
	if (f)
		fclose(f);
	return r;
}

/* Blocks of 2 MiB and more ask for transparent huge pages on the whole huge pages inside
 * them (one fault per 2 MiB on first touch). Only checkable where the
 * kernel's THP mode is "madvise" (with "always" everything is eligible, with "never"
 * nothing). */
Test(mem, big_blocks_ask_for_huge_pages)
{
	char mode[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			mode[0] = 0;
		fclose(f);
	}
	if (!strstr(mode, "[madvise]"))
		cr_skip_test("THP mode is not madvise: %s", mode);
	sl_mem *m = NULL;
	cr_assert_eq(sl_mem_new(&m, 0), 0);
	size_t n = 16 * MiB;
	char *p = sl_alloc(m, -1, n);
	cr_assert_not_null(p);
	uintptr_t inner = ((uintptr_t)p + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1);
	cr_expect_eq(thp_eligible(inner), 1, "no MADV_HUGEPAGE on a 16 MiB block");
	sl_dealloc(m, p, n);
	sl_mem_free(m);
}
