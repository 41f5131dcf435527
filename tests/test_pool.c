/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pool.c - tests of core/pool.c (worker pool).
 *
 * Besides exactly-once execution, the rendezvous tests make every worker of the
 * pool hold a task at the same time: they can only finish if every helper was woken,
 * so a lost wakeup (helper or driver side) shows up as a failure (bounded wait), not
 * as a silently serial run. Idle gaps of varying length before the jobs exercise both
 * the spinning and the futex-sleeping paths.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

/*
 * Under ThreadSanitizer Criterion cannot start: its sandbox library maps a shared
 * arena at random addresses inside the range TSan reserves for its shadow memory and
 * aborts ("Could not initialize inheritable arena"). TSan builds therefore use the
 * small runner below, which implements the few Criterion macros this file uses and
 * runs every test in-process, in order, with setup/teardown and a per-test alarm.
 * Define SL_TEST_CRITERION to force Criterion anyway.
 */
#if defined(__SANITIZE_THREAD__) && !defined(SL_TEST_CRITERION)
#define SL_TEST_MINI 1
#endif

#ifdef SL_TEST_MINI
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct mini_test {
	const char *name;
	void (*fn)(void);
};
static struct mini_test mini_tests[64];
static int mini_ntests;
static int mini_failed; /* failures in the current test */
static jmp_buf mini_jmp;

static void mini_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	fprintf(stderr, "%s:%d: failed: %s", file, line, expr);
	if (fmt[0]) {
		va_list ap;
		va_start(ap, fmt);
		fputs(": ", stderr);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	mini_failed++;
}

#define MINI_CHECK(fatal, cond, ...)                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			mini_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);                      \
			if (fatal)                                                                 \
				longjmp(mini_jmp, 1);                                              \
		}                                                                                  \
	} while (0)
#define cr_assert(c, ...)          MINI_CHECK(1, c, __VA_ARGS__)
#define cr_assert_eq(a, b, ...)    MINI_CHECK(1, (a) == (b), __VA_ARGS__)
#define cr_assert_not_null(a, ...) MINI_CHECK(1, (a) != NULL, __VA_ARGS__)
#define cr_expect(c, ...)          MINI_CHECK(0, c, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)    MINI_CHECK(0, (a) == (b), __VA_ARGS__)
#define cr_expect_null(a, ...)     MINI_CHECK(0, (a) == NULL, __VA_ARGS__)
#define cr_skip_test(msg)          longjmp(mini_jmp, 2)
#define TestSuite(...)             _Static_assert(1, "")
#define Test(suite, name, ...)                                                                     \
	static void suite##_##name(void);                                                          \
	__attribute__((constructor)) static void suite##_##name##_reg(void)                        \
	{                                                                                          \
		if (mini_ntests < 64)                                                              \
			mini_tests[mini_ntests++] =                                                \
			    (struct mini_test){#suite "::" #name, suite##_##name};                 \
	}                                                                                          \
	static void suite##_##name(void)
#else
#include <criterion/criterion.h>
#endif

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "pool.h"

/* Per-test fixture: one sl_mem; every test checks that the pool gave back all. */
static sl_mem *mem;

static void setup(void)
{
	cr_assert_eq(sl_mem_new(&mem, 0), 0);
}

static void teardown(void)
{
	cr_expect_eq(sl_mem_in_use(mem), 0, "pool leaked memory");
	sl_mem_free(mem);
	mem = NULL;
}

TestSuite(pool, .init = setup, .fini = teardown, .timeout = 120);

static sl_workers *new_pool(int n, int pin)
{
	sl_workers *w = NULL;
	cr_assert_eq(sl_workers_new(&w, n, pin, mem), 0);
	cr_assert_not_null(w);
	return w;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- exactly once */

struct count_job {
	_Atomic unsigned *hits; /* [ntasks] */
	int *plain;             /* [ntasks], plain writes: visibility after run */
	int nworkers;
	_Atomic int bad_worker;
	_Atomic int *busy; /* [nworkers]: a worker runs one task at a time */
	_Atomic int overlap;
};

static void count_task(void *arg, size_t task, int worker)
{
	struct count_job *j = arg;
	if (worker < 0 || worker >= j->nworkers) {
		atomic_store(&j->bad_worker, 1);
		return;
	}
	if (atomic_exchange(&j->busy[worker], 1))
		atomic_store(&j->overlap, 1);
	atomic_fetch_add_explicit(&j->hits[task], 1, memory_order_relaxed);
	j->plain[task] = (int)task + 1;
	atomic_store(&j->busy[worker], 0);
}

static void run_counted(sl_workers *w, size_t ntasks, int rounds)
{
	int n = sl_workers_count(w);
	struct count_job j = {0};
	j.hits = calloc(ntasks + 1, sizeof(*j.hits));
	j.plain = calloc(ntasks + 1, sizeof(*j.plain));
	j.busy = calloc((size_t)n, sizeof(*j.busy));
	j.nworkers = n;
	cr_assert(j.hits && j.plain && j.busy);
	for (int r = 0; r < rounds; r++) {
		memset(j.plain, 0, (ntasks + 1) * sizeof(*j.plain));
		sl_workers_run(w, ntasks, count_task, &j);
		size_t bad = 0;
		for (size_t i = 0; i < ntasks; i++) {
			if (atomic_load(&j.hits[i]) != (unsigned)(r + 1) ||
			    j.plain[i] != (int)i + 1)
				bad++;
		}
		cr_assert_eq(bad, 0, "workers %d ntasks %zu round %d: %zu tasks wrong", n, ntasks,
			     r, bad);
	}
	cr_expect_eq(atomic_load(&j.bad_worker), 0, "worker index out of range");
	cr_expect_eq(atomic_load(&j.overlap), 0, "one worker index ran two tasks at once");
	free(j.hits);
	free(j.plain);
	free(j.busy);
}

Test(pool, every_task_exactly_once)
{
	static const size_t ntasks[] = {0, 1, 2, 7, 1000, 100000};
	static const int workers[] = {1, 2, 4};
	for (size_t wi = 0; wi < 3; wi++) {
		for (int pin = 0; pin <= 1; pin++) {
			sl_workers *w = new_pool(workers[wi], pin);
			cr_expect_eq(sl_workers_count(w), workers[wi]);
			for (size_t t = 0; t < sizeof(ntasks) / sizeof(ntasks[0]); t++)
				run_counted(w, ntasks[t], ntasks[t] > 1000 ? 2 : 20);
			sl_workers_free(w);
		}
	}
}

Test(pool, null_and_empty_runs)
{
	sl_workers *w = new_pool(2, 0);
	struct count_job j = {0};
	sl_workers_run(w, 0, count_task, &j); /* must not touch j */
	sl_workers_run(w, 5, NULL, &j);
	sl_workers_run(NULL, 5, count_task, &j);
	sl_workers_free(w);
	sl_workers_free(NULL);
}

/* Each worker's scratch block: zeroed at first, then the same block with what the worker
 * left in it, one per worker, refused for another size or a worker out of range. Tasks
 * stamp their worker's block (a worker runs one task at a time, so no two tasks share one). */
struct scratch_job {
	sl_workers *w;
	_Atomic int bad;
};

static void scratch_task(void *arg, size_t i, int worker)
{
	struct scratch_job *j = arg;
	uint64_t *p = sl_workers_scratch(j->w, worker, 4096);
	if (!p || ((uintptr_t)p & 63) || p[0] != (uint64_t)worker * 1000 + p[1])
		atomic_fetch_add(&j->bad, 1);
	else
		p[1]++, p[0]++; /* tasks of one worker never overlap */
	(void)i;
}

Test(pool, worker_scratch)
{
	sl_workers *w = new_pool(3, 0);
	struct scratch_job j = {.w = w};
	for (int wk = 0; wk < 3; wk++) {
		uint64_t *p = sl_workers_scratch(w, wk, 4096); /* the driver, for the test */
		cr_assert_not_null(p);
		for (size_t i = 0; i < 512; i++)
			cr_assert_eq(p[i], 0);
		p[0] = (uint64_t)wk * 1000;
		cr_assert_eq(sl_workers_scratch(w, wk, 4096), p);
		cr_assert(!sl_workers_scratch(w, wk, 8192));
	}
	cr_assert(sl_workers_scratch(w, 0, 4096) != sl_workers_scratch(w, 1, 4096));
	cr_assert(!sl_workers_scratch(w, 3, 4096));
	cr_assert(!sl_workers_scratch(w, -1, 4096));
	cr_assert(!sl_workers_scratch(NULL, 0, 4096));
	for (int r = 0; r < 20; r++)
		sl_workers_run(w, 1000, scratch_task, &j);
	cr_assert_eq(atomic_load(&j.bad), 0);
	uint64_t total = 0;
	for (int wk = 0; wk < 3; wk++)
		total += ((uint64_t *)sl_workers_scratch(w, wk, 4096))[1];
	cr_assert_eq(total, 20000, "every task stamped its worker's block once");
	sl_workers_free(w);
}

/* ---------------------------------------------------------------- introspection */

Test(pool, arguments_and_introspection)
{
	sl_workers *w = NULL;
	cr_expect_eq(sl_workers_new(NULL, 1, 0, mem), -EINVAL);
	cr_expect_eq(sl_workers_new(&w, -1, 0, mem), -EINVAL);
	cr_expect_eq(sl_workers_new(&w, SL_WORKERS_MAX + 1, 0, mem), -EINVAL);
	cr_expect_eq(sl_workers_new(&w, 2, 2, mem), -EINVAL);
	cr_expect_eq(sl_workers_new(&w, 2, 0, NULL), -EINVAL);
	cr_expect_null(w);
	cr_expect_eq(sl_workers_count(NULL), -EINVAL);
	cr_expect_eq(sl_workers_node(NULL, 0), -EINVAL);
	cr_expect_eq(sl_workers_pinned(NULL), -EINVAL);

	/* default size: one worker per usable PU */
	w = new_pool(0, 1);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t cs;
	if (sched_getaffinity(0, sizeof(cs), &cs) == 0)
		ncpu = CPU_COUNT(&cs);
	int n = sl_workers_count(w);
	cr_expect_eq(n, (int)ncpu, "default workers %d, cpus %ld", n, ncpu);
	int nodes = sl_mem_nodes(mem);
	for (int i = 0; i < n; i++) {
		int node = sl_workers_node(w, i);
		cr_expect(node >= 0 && node < nodes, "worker %d node %d", i, node);
	}
	cr_expect_eq(sl_workers_node(w, -1), -EINVAL);
	cr_expect_eq(sl_workers_node(w, n), -EINVAL);
	int pinned = sl_workers_pinned(w);
	cr_expect(pinned == 0 || pinned == 1);
	sl_workers_free(w);

	w = new_pool(3, 0);
	cr_expect_eq(sl_workers_pinned(w), 0, "pin 0 never reports pinned");
	sl_workers_free(w);
	w = new_pool(1, 1);
	cr_expect_eq(sl_workers_pinned(w), 1, "no helper: vacuously pinned");
	sl_workers_free(w);
}

/* Where did each helper really run? With pinning, always on its assigned PU set. */
struct where_job {
	_Atomic int wrong;
	_Atomic int cpu_of[8];
};

static void where_task(void *arg, size_t task, int worker)
{
	struct where_job *j = arg;
	(void)task;
	if (worker > 0 && worker < 8) {
		int c = sched_getcpu();
		int prev = atomic_exchange(&j->cpu_of[worker], c);
		if (prev >= 0 && prev != c)
			atomic_store(&j->wrong, 1);
	}
	for (volatile int i = 0; i < 2000; i++)
		;
}

Test(pool, pinned_helpers_stay_put)
{
	sl_workers *w = new_pool(0, 1);
	if (!sl_workers_pinned(w)) {
		sl_workers_free(w);
		cr_skip_test("pinning not permitted here");
	}
	struct where_job j = {0};
	for (int i = 0; i < 8; i++)
		atomic_init(&j.cpu_of[i], -1);
	for (int r = 0; r < 200; r++)
		sl_workers_run(w, 64, where_task, &j);
	cr_expect_eq(atomic_load(&j.wrong), 0, "a pinned helper changed CPU");
	sl_workers_free(w);
}

/* ---------------------------------------------------------------- wakeups */

struct rdv_job {
	int n; /* workers: all must arrive */
	_Atomic int arrived;
	_Atomic int timeout;
	_Atomic int slow_worker; /* this worker sleeps before leaving (driver waits) */
	uint64_t limit_ns;
};

static void rdv_task(void *arg, size_t task, int worker)
{
	struct rdv_job *j = arg;
	(void)task;
	atomic_fetch_add(&j->arrived, 1);
	uint64_t t0 = now_ns();
	while (atomic_load(&j->arrived) < j->n) {
		if (now_ns() - t0 > j->limit_ns) {
			atomic_store(&j->timeout, 1);
			break;
		}
		sched_yield();
	}
	if (worker == atomic_load(&j->slow_worker))
		usleep(2000); /* longer than the driver's spin: it must sleep and be woken */
}

/* One job of n tasks that can only complete if all n workers take part. */
static void rendezvous(sl_workers *w, int slow_worker)
{
	struct rdv_job j = {.n = sl_workers_count(w), .limit_ns = 10ull * 1000000000ull};
	atomic_init(&j.arrived, 0);
	atomic_init(&j.timeout, 0);
	atomic_init(&j.slow_worker, slow_worker);
	sl_workers_run(w, (size_t)j.n, rdv_task, &j);
	cr_assert_eq(atomic_load(&j.timeout), 0, "a worker never joined: lost wakeup");
	cr_assert_eq(atomic_load(&j.arrived), j.n);
}

Test(pool, helpers_wake_after_idle)
{
	/* gaps: none (spinning helpers), short, around the spin window, long (asleep) */
	static const unsigned gaps_us[] = {0, 20, 100, 300, 1000, 5000};
	for (int n = 2; n <= 4; n += 2) {
		sl_workers *w = new_pool(n, 1);
		for (int rep = 0; rep < 20; rep++) {
			for (size_t g = 0; g < sizeof(gaps_us) / sizeof(gaps_us[0]); g++) {
				if (gaps_us[g])
					usleep(gaps_us[g]);
				rendezvous(w, -1);
			}
		}
		sl_workers_free(w);
	}
}

Test(pool, driver_wakes_after_slow_helper)
{
	sl_workers *w = new_pool(2, 1);
	for (int rep = 0; rep < 50; rep++) {
		rendezvous(w, 1); /* the helper is slow: driver spins out and sleeps */
		if (rep % 5 == 0)
			usleep(1000);
	}
	sl_workers_free(w);
}

static void nop_task(void *arg, size_t task, int worker)
{
	_Atomic size_t *sum = arg;
	atomic_fetch_add_explicit(sum, task + 1 + (size_t)worker * 0, memory_order_relaxed);
}

Test(pool, many_small_jobs)
{
	for (int n = 2; n <= 4; n += 2) {
		sl_workers *w = new_pool(n, 1);
		_Atomic size_t sum = 0;
		const int jobs = 100000;
		for (int i = 0; i < jobs; i++)
			sl_workers_run(w, 2, nop_task, &sum);
		cr_expect_eq(atomic_load(&sum), (size_t)jobs * 3);
		sl_workers_free(w);
	}
}

/* Random job sizes with random idle gaps, checked job by job. */
Test(pool, stress_random)
{
	unsigned x = 12345;
	for (int n = 2; n <= 4; n++) {
		sl_workers *w = new_pool(n, n != 3);
		for (int i = 0; i < 3000; i++) {
			x = x * 1103515245u + 12345u;
			size_t nt = (x >> 8) % 40;
			unsigned gap = (x >> 20) % 8 == 0 ? (x >> 12) % 400 : 0;
			if (gap)
				usleep(gap);
			_Atomic size_t sum = 0;
			sl_workers_run(w, nt, nop_task, &sum);
			cr_assert_eq(atomic_load(&sum), nt * (nt + 1) / 2, "job %d ntasks %zu", i,
				     nt);
		}
		sl_workers_free(w);
	}
}

/* ---------------------------------------------------------------- lifecycle */

Test(pool, free_while_idle)
{
	for (int i = 0; i < 50; i++) {
		sl_workers *w = new_pool(1 + i % 4, i % 2);
		if (i % 3 == 1) {
			_Atomic size_t sum = 0;
			sl_workers_run(w, 10, nop_task, &sum);
		}
		if (i % 5 == 0)
			usleep(3000); /* helpers asleep on the futex */
		sl_workers_free(w);
	}
}

Test(pool, allocation_failures_leave_nothing_behind)
{
	for (long k = 0; k < 8; k++) {
		sl_workers *w = NULL;
		sl_mem_fail_after(mem, k);
		int rc = sl_workers_new(&w, 4, 1, mem);
		sl_mem_fail_after(mem, -1);
		if (rc == 0) {
			sl_workers_free(w);
		} else {
			cr_expect_eq(rc, -ENOMEM, "fail_after %ld", k);
			cr_expect_null(w);
		}
		cr_expect_eq(sl_mem_in_use(mem), 0, "fail_after %ld", k);
	}
}

/* ---------------------------------------------------------------- misuse */

struct nest_job {
	sl_workers *w;
	_Atomic size_t inner;
};

static void inner_task(void *arg, size_t task, int worker)
{
	struct nest_job *j = arg;
	(void)task;
	(void)worker;
	atomic_fetch_add(&j->inner, 1);
}

static void outer_task(void *arg, size_t task, int worker)
{
	struct nest_job *j = arg;
	(void)task;
	(void)worker;
	sl_workers_run(j->w, 3, inner_task, j); /* forbidden, but must not hang */
}

Test(pool, recursive_run_does_not_hang)
{
	sl_workers *w = new_pool(2, 0);
	struct nest_job j = {.w = w};
	atomic_init(&j.inner, 0);
	for (int i = 0; i < 100; i++)
		sl_workers_run(w, 4, outer_task, &j);
	cr_expect_eq(atomic_load(&j.inner), 100 * 4 * 3);
	sl_workers_free(w);
}

#ifdef SL_TEST_MINI
int main(void)
{
	static int passed, failed, skipped;
	for (volatile int i = 0; i < mini_ntests; i++) {
		mini_failed = 0;
		alarm(300); /* a hang (lost wakeup) kills the run instead of blocking it */
		int r = setjmp(mini_jmp);
		if (r == 0) {
			setup();
			mini_tests[i].fn();
			teardown();
		}
		alarm(0);
		if (r == 2) {
			teardown();
			skipped++;
			fprintf(stderr, "[SKIP] %s\n", mini_tests[i].name);
		} else if (mini_failed) {
			failed++;
			fprintf(stderr, "[FAIL] %s\n", mini_tests[i].name);
		} else {
			passed++;
			fprintf(stderr, "[PASS] %s\n", mini_tests[i].name);
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
#endif
