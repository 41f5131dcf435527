/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rate.c - tests of core/rate.c: the PID rate estimator and the receiver rate limiter.
 *
 * The pid_* tests replay apache/spark's PIDRateEstimatorSuite
 * (streaming/src/test/scala/org/apache/spark/streaming/scheduler/rate/PIDRateEstimatorSuite.scala)
 * call by call with its expected values; the ratelimit_spark_* tests replay RateLimiterSuite
 * (streaming/src/test/scala/org/apache/spark/streaming/receiver/RateLimiterSuite.scala). The
 * rest pin down what Spark leaves implicit (hand-computed sequences with binary-exact gains,
 * guard subtleties) and the token bucket, driven on a simulated clock: no test sleeps.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "rate.h"

#define MS ((int64_t)1000000) /* ns */
#define S  ((int64_t)1000000000)

/* One compute call: 1 and the rate, or 0 (None), checked. */
static void expect_none(sl_pid *p, int64_t t, int64_t n, int64_t pd, int64_t sd)
{
	double rate = -12345.0;
	cr_assert_eq(sl_pid_compute(p, t, n, pd, sd, &rate), 0, "compute(%lld, %lld, %lld, %lld)",
		     (long long)t, (long long)n, (long long)pd, (long long)sd);
	cr_assert_eq(rate, -12345.0, "None must leave *rate alone");
}

static double expect_some(sl_pid *p, int64_t t, int64_t n, int64_t pd, int64_t sd)
{
	double rate = 0;
	cr_assert_eq(sl_pid_compute(p, t, n, pd, sd, &rate), 1, "compute(%lld, %lld, %lld, %lld)",
		     (long long)t, (long long)n, (long long)pd, (long long)sd);
	return rate;
}

/* Spark's createDefaultEstimator() in the suite: PIDRateEstimator(20, 1D, 0D, 0D, 10). */
static sl_pid suite_default(void)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 20, 1.0, 0.0, 0.0, 10.0), 0);
	return p;
}

/* splitmix64: a deterministic stand-in for scala.util.Random in the random case. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- PIDRateEstimatorSuite ---- */

/* "the right estimator is created": here, the defaults of spark.streaming.backpressure.pid.* */
Test(pid, default_parameters)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init_default(&p, 1000), 0);
	cr_assert_eq(p.kp, 1.0);
	cr_assert_eq(p.ki, 0.2);
	cr_assert_eq(p.kd, 0.0);
	cr_assert_eq(p.min_rate, 100.0);
	cr_assert_eq(p.batch_ms, 1000);
	cr_assert_eq(p.first, 1);
	cr_assert_eq(p.latest_time, -1);
	cr_assert_eq(sl_pid_init_default(&p, 0), -EINVAL);
}

/* "estimator checks ranges" */
Test(pid, checks_ranges)
{
	sl_pid p = {.kp = 42.0};
	cr_assert_eq(sl_pid_init(&p, 0, 1, 2, 3, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, -1, 2, 3, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, -1, 3, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, 0, -1, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, 0, 0, 0), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, 0, 0, -10), -EINVAL);
	/* beyond the suite: negative batch, NaN anywhere (fails require() on the JVM too), NULL */
	cr_assert_eq(sl_pid_init(&p, -20, 1, 0, 0, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, NAN, 0, 0, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, NAN, 0, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, 0, NAN, 10), -EINVAL);
	cr_assert_eq(sl_pid_init(&p, 100, 0, 0, 0, NAN), -EINVAL);
	cr_assert_eq(sl_pid_init(NULL, 100, 0, 0, 0, 10), -EINVAL);
	cr_assert_eq(p.kp, 42.0, "a rejected init leaves the estimator alone");
	/* zero gains are allowed; so are infinite ones (require(x >= 0) passes) */
	cr_assert_eq(sl_pid_init(&p, 1, 0, 0, 0, 1e-9), 0);
	cr_assert_eq(sl_pid_init(&p, 1, INFINITY, 0, 0, 1), 0);
}

/* "first estimate is None" */
Test(pid, first_estimate_is_none)
{
	sl_pid p = suite_default();
	expect_none(&p, 0, 10, 10, 0);
}

/* "second estimate is not None": 10 elements in 10 ms = 1000 elements/s */
Test(pid, second_estimate_is_not_none)
{
	sl_pid p = suite_default();
	expect_none(&p, 0, 10, 10, 0);
	cr_assert_eq(expect_some(&p, 10, 10, 10, 0), 1000.0);
}

/* "no estimate when no time difference between successive calls" */
Test(pid, no_estimate_without_time_difference)
{
	sl_pid p = suite_default();
	expect_none(&p, 0, 10, 10, 0);
	expect_some(&p, 10, 10, 10, 0);
	expect_none(&p, 10, 10, 10, 0);
	/* and time going back */
	expect_none(&p, 5, 10, 10, 0);
}

/* "no estimate when no records in previous batch" */
Test(pid, no_estimate_without_records)
{
	sl_pid p = suite_default();
	expect_none(&p, 0, 10, 10, 0);
	expect_none(&p, 10, 0, 10, 0);
	expect_none(&p, 20, -10, 10, 0);
}

/* "no estimate when there is no processing delay" */
Test(pid, no_estimate_without_processing_delay)
{
	sl_pid p = suite_default();
	expect_none(&p, 0, 10, 10, 0);
	expect_none(&p, 10, 10, 0, 0);
	expect_none(&p, 20, 10, -10, 0);
}

/* "estimate is never less than min rate": PIDRateEstimator(20, 1, 1, 0, 5), a batch every
 * 20 ms with 1 element in 20 ms and 100 ms of scheduling delay. */
Test(pid, never_below_min_rate)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 20, 1.0, 1.0, 0.0, 5.0), 0);
	expect_none(&p, 0, 1, 20, 100);
	for (int i = 1; i < 50; i++)
		cr_assert_eq(expect_some(&p, (int64_t)i * 20, 1, 20, 100), 5.0, "i=%d", i);
}

/* "with no accumulated or positive error, |I| > 0, follow the processing speed":
 * PIDRateEstimator(20, 1, 1, 0, 10), (x + 1) * 20 elements in 20 ms every 20 ms. */
Test(pid, follows_increasing_processing_speed)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 20, 1.0, 1.0, 0.0, 10.0), 0);
	expect_none(&p, 0, 20, 20, 0);
	for (int x = 1; x < 50; x++)
		cr_assert_eq(expect_some(&p, (int64_t)x * 20, (int64_t)(x + 1) * 20, 20, 0),
			     (double)(x + 1) * 1000.0, "x=%d", x);
}

/* "with no accumulated but some positive error, |I| > 0, follow the processing speed":
 * the same with (50 - x) * 20 elements (decreasing). */
Test(pid, follows_decreasing_processing_speed)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 20, 1.0, 1.0, 0.0, 10.0), 0);
	expect_none(&p, 0, 50 * 20, 20, 0);
	for (int x = 1; x < 50; x++)
		cr_assert_eq(expect_some(&p, (int64_t)x * 20, (int64_t)(50 - x) * 20, 20, 0),
			     (double)(50 - x) * 1000.0, "x=%d", x);
}

/*
 * "with some accumulated and some positive error, |I| > 0, stay below the processing
 * speed": PIDRateEstimator(20, 1, 0.01, 0, 10), random elements < 1000 in 20 ms and a
 * random scheduling delay < 19 ms. Spark draws elements with nextInt(1000), which can be
 * 0 and then makes its own "not None" assertion fail (about 5% of runs); here they are
 * drawn from 1..999, over many seeds.
 */
Test(pid, stays_below_processing_speed_with_accumulated_error)
{
	for (uint64_t seed = 1; seed <= 200; seed++) {
		uint64_t s = seed;
		sl_pid p;
		cr_assert_eq(sl_pid_init(&p, 20, 1.0, 0.01, 0.0, 10.0), 0);
		for (int i = 0; i < 50; i++) {
			int64_t elements = 1 + (int64_t)(splitmix64(&s) % 999);
			int64_t sched = (int64_t)(splitmix64(&s) % 19);
			double speed = (double)elements / 20 * 1000;
			double rate = 0;
			int got = sl_pid_compute(&p, (int64_t)i * 20, elements, 20, sched, &rate);
			if (i == 0) {
				cr_assert_eq(got, 0);
				continue;
			}
			cr_assert_eq(got, 1, "seed %llu i %d", (unsigned long long)seed, i);
			if (rate > 0 && sched > 0)
				cr_assert_lt(rate, speed, "seed %llu i %d",
					     (unsigned long long)seed, i);
		}
	}
}

/* ---- beyond the suite ---- */

/*
 * All three terms at once, with gains that are binary fractions so every value is exact.
 * PID(batch 1000 ms, kp 0.5, ki 0.25, kd 0.125, min 1), worked by hand:
 *   t=1000 n=1000 pd=500  sd=0:   pr 2000: first, None
 *   t=2000 n=1200 pd=600  sd=200: pr 2000, err 0, hist 400, dErr 0
 *                                 2000 - 0 - 100 - 0 = 1900
 *   t=2500 n=1500 pd=1000 sd=400: pr 1500, err 400, hist 600, dErr 400 / 0.5 s = 800
 *                                 1900 - 200 - 150 - 100 = 1450
 *   t=3500 n=3000 pd=1000 sd=0:   pr 3000, err -1550, hist 0, dErr -1950
 *                                 1450 + 775 - 0 + 243.75 = 2468.75
 *   t=4500 n=10   pd=1000 sd=1e4: pr 10, err 2458.75, hist 100, dErr 4008.75
 *                                 2468.75 - 1229.375 - 25 - 501.09375 = 713.28125
 *   t=5500 n=1    pd=1000 sd=1e5: pr 1, err 712.28125, hist 100, dErr -1746.46875
 *                                 713.28125 - 356.140625 - 25 + 218.30859375 = 550.44921875
 *   t=6500 n=1    pd=1000 sd=1e7: hist 10000: far below 0, clamped to min 1
 */
Test(pid, proportional_integral_derivative_exact)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 1000, 0.5, 0.25, 0.125, 1.0), 0);
	expect_none(&p, 1000, 1000, 500, 0);
	cr_assert_eq(p.latest_rate, 2000.0);
	cr_assert_eq(p.latest_error, 0.0);
	cr_assert_eq(expect_some(&p, 2000, 1200, 600, 200), 1900.0);
	cr_assert_eq(expect_some(&p, 2500, 1500, 1000, 400), 1450.0);
	cr_assert_eq(p.latest_error, 400.0);
	cr_assert_eq(expect_some(&p, 3500, 3000, 1000, 0), 2468.75);
	cr_assert_eq(expect_some(&p, 4500, 10, 1000, 10000), 713.28125);
	cr_assert_eq(expect_some(&p, 5500, 1, 1000, 100000), 550.44921875);
	cr_assert_eq(expect_some(&p, 6500, 1, 1000, 10000000), 1.0);
	/* the stored error is the raw error (549.44921875), not derived from the clamp */
	cr_assert_eq(p.latest_error, 549.44921875);
	cr_assert_eq(p.latest_rate, 1.0);
	cr_assert_eq(p.latest_time, 6500);
}

/* Spark sets latestTime on the first call too: a second call at the same time is None,
 * and the first call's own time must be > -1 (the initial latestTime). */
Test(pid, first_call_sets_latest_time)
{
	sl_pid p = suite_default();
	expect_none(&p, -1, 10, 10, 0); /* -1 > -1 fails: not even the first run */
	cr_assert_eq(p.first, 1);
	expect_none(&p, 0, 10, 10, 0); /* first run */
	cr_assert_eq(p.first, 0);
	cr_assert_eq(p.latest_time, 0);
	expect_none(&p, 0, 10, 10, 0); /* same time */
	cr_assert_eq(expect_some(&p, 1, 10, 10, 0), 1000.0);
}

/* Calls that fail the guard change nothing: they neither use up the first run nor move
 * latest_time, and the next estimate is what it would have been without them. */
Test(pid, none_changes_nothing)
{
	sl_pid a, b;
	cr_assert_eq(sl_pid_init(&a, 100, 0.5, 0.25, 0.125, 1.0), 0);
	b = a;
	expect_none(&a, 50, 0, 10, 0);
	expect_none(&a, 60, 5, 0, 0);
	cr_assert_eq(a.first, 1);
	cr_assert_eq(a.latest_time, -1);
	expect_none(&a, 100, 50, 20, 10);
	expect_none(&b, 100, 50, 20, 10);
	expect_none(&a, 300, 0, 20, 10);
	expect_none(&a, 400, 40, -1, 10);
	cr_assert_eq(a.latest_time, 100);
	double ra = expect_some(&a, 200, 70, 20, 30);
	double rb = expect_some(&b, 200, 70, 20, 30);
	cr_assert_eq(ra, rb);
	/* pr 3500, err -1000, hist 30 * 3500 / 100 = 1050, dErr -1000 / 0.1 s = -10000:
	 * 2500 + 500 - 262.5 + 1250 */
	cr_assert_eq(ra, 3987.5);
}

/* The same expression order as the JVM: n / delay * 1000, not n * 1000 / delay. They
 * differ for 1 element in 9 ms: 111.1111111111111 against 111.11111111111111. */
Test(pid, jvm_operand_order)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 1000, 0.0, 0.0, 0.0, 1.0), 0);
	expect_none(&p, 0, 1, 9, 0);
	double jvm = (double)1 / (double)9 * 1000.0;
	cr_assert_eq(p.latest_rate, jvm);
	cr_assert_neq(jvm, 1000.0 / 9.0, "the example must tell the two orders apart");
	/* kp = ki = kd = 0: the rate stays where it is */
	cr_assert_eq(expect_some(&p, 1000, 1, 1, 0), jvm);
}

/* NaN propagates as through Java's Math.max: infinite gain times zero error. */
Test(pid, nan_propagates_like_math_max)
{
	sl_pid p;
	cr_assert_eq(sl_pid_init(&p, 1000, INFINITY, 0.0, 0.0, 1.0), 0);
	expect_none(&p, 0, 10, 10, 0);
	double r = expect_some(&p, 1000, 10, 10, 0); /* error 0: inf * 0 */
	cr_assert(isnan(r));
}

Test(pid, null_arguments)
{
	sl_pid p = suite_default();
	double r;
	cr_assert_eq(sl_pid_compute(NULL, 0, 1, 1, 0, &r), -EINVAL);
	cr_assert_eq(sl_pid_compute(&p, 0, 1, 1, 0, NULL), -EINVAL);
	cr_assert_eq(p.first, 1);
}

/* ---- RateLimiterSuite ---- */

/* "rate limiter initializes even without a maxRate set" */
Test(ratelimit, spark_initializes_without_max_rate)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 0, 0);
	sl_ratelimit_update(&r, 105);
	cr_assert_eq(sl_ratelimit_rate(&r), 105);
}

/* "rate limiter updates when below maxRate" */
Test(ratelimit, spark_updates_below_max_rate)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 110, 0);
	sl_ratelimit_update(&r, 105);
	cr_assert_eq(sl_ratelimit_rate(&r), 105);
}

/* "rate limiter stays below maxRate despite large updates" */
Test(ratelimit, spark_stays_below_max_rate)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 100, 0);
	sl_ratelimit_update(&r, 105);
	cr_assert_eq(sl_ratelimit_rate(&r), 100);
}

/* "rate limiter does not update on receiving an update of 0" */
Test(ratelimit, spark_ignores_zero_update)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 100, 0);
	sl_ratelimit_update(&r, 0);
	cr_assert_eq(sl_ratelimit_rate(&r), 100);
}

/* ---- beyond the suite: the rules of RateLimiter.scala ---- */

/* initial rate = min(initialRate, maxRate) over the ones that are set */
Test(ratelimit, initial_rate)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 0, 0);
	cr_assert_eq(sl_ratelimit_rate(&r), 0, "unlimited");
	sl_ratelimit_init(&r, 100, 0);
	cr_assert_eq(sl_ratelimit_rate(&r), 100);
	sl_ratelimit_init(&r, 0, 50);
	cr_assert_eq(sl_ratelimit_rate(&r), 50);
	sl_ratelimit_init(&r, 100, 50);
	cr_assert_eq(sl_ratelimit_rate(&r), 50);
	sl_ratelimit_init(&r, 100, 500);
	cr_assert_eq(sl_ratelimit_rate(&r), 100);
	sl_ratelimit_init(&r, -5, -7);
	cr_assert_eq(sl_ratelimit_rate(&r), 0, "negative = not set");
	sl_ratelimit_init(&r, -5, 70);
	cr_assert_eq(sl_ratelimit_rate(&r), 70);
}

Test(ratelimit, update_rules)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 100, 50);
	sl_ratelimit_update(&r, -3);
	cr_assert_eq(sl_ratelimit_rate(&r), 50, "negative ignored");
	sl_ratelimit_update(&r, 80);
	cr_assert_eq(sl_ratelimit_rate(&r), 80, "the initial rate is no cap");
	sl_ratelimit_update(&r, 100);
	cr_assert_eq(sl_ratelimit_rate(&r), 100);
	sl_ratelimit_update(&r, INT64_MAX);
	cr_assert_eq(sl_ratelimit_rate(&r), 100);
	sl_ratelimit_update(&r, 1);
	cr_assert_eq(sl_ratelimit_rate(&r), 1);

	sl_ratelimit_init(&r, 0, 0);
	sl_ratelimit_update(&r, 1000000000000LL);
	cr_assert_eq(sl_ratelimit_rate(&r), 1000000000000LL, "no cap without maxRate");
	sl_ratelimit_update(&r, INT64_MIN);
	cr_assert_eq(sl_ratelimit_rate(&r), 1000000000000LL);
}

/* ---- the token bucket, on a simulated clock ---- */

/* 1000 records/s: burst 100, one token per ms. */
Test(bucket, exact_timeline)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 1000, 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 0), 100, "starts full");
	cr_assert_eq(sl_ratelimit_acquire(&r, 60, 0), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 0), 40);
	cr_assert_eq(sl_ratelimit_acquire(&r, 50, 0), 10 * MS, "10 tokens short");
	cr_assert_eq(sl_ratelimit_tokens(&r, 0), 40, "a refused request takes nothing");
	cr_assert_eq(sl_ratelimit_acquire(&r, 50, 10 * MS - 1), 1, "1 ns short");
	cr_assert_eq(sl_ratelimit_acquire(&r, 50, 10 * MS), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * MS), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * MS + MS / 2), 0, "half a token");
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 10 * MS + MS / 2), MS / 2);
	cr_assert_eq(sl_ratelimit_tokens(&r, 11 * MS), 1);
	cr_assert_eq(sl_ratelimit_tokens(&r, 47 * MS), 37);
	cr_assert_eq(sl_ratelimit_acquire(&r, 37, 47 * MS), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 47 * MS), MS);
}

Test(bucket, burst_limit)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 0, 1000);
	cr_assert_eq(sl_ratelimit_acquire(&r, 100, 0), 0);
	/* an hour idle still earns only one burst (100 ms worth) */
	int64_t t = 3600 * S;
	cr_assert_eq(sl_ratelimit_tokens(&r, t), 100);
	cr_assert_eq(sl_ratelimit_acquire(&r, 101, t), 0, "full bucket: a larger request goes");
	cr_assert_eq(sl_ratelimit_tokens(&r, t), -1, "and leaves a debt");
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, t), 2 * MS, "repay 1, then earn 1");
	cr_assert_eq(sl_ratelimit_tokens(&r, t + 1), -1, "rounded down while in debt");
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, t + 2 * MS), 0);

	/* burst is at least one record: 5 records/s has a bucket of 1 */
	sl_ratelimit_init(&r, 5, 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 0), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 0), 200 * MS);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * S), 1);

	/* a burst of 12345 / 10 = 1234 */
	sl_ratelimit_init(&r, 12345, 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 0), 1234);
}

/* A request larger than the bucket waits for a full bucket, goes, and is repaid. */
Test(bucket, large_request)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 1000, 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 0), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 250, 0), MS, "needs a full bucket, 1 short");
	cr_assert_eq(sl_ratelimit_acquire(&r, 250, MS), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, MS), -150);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, MS), 151 * MS);
	cr_assert_eq(sl_ratelimit_tokens(&r, 151 * MS), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 152 * MS), 0);
}

Test(bucket, rate_change_midway)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 0, 1000); /* burst 100 */
	cr_assert_eq(sl_ratelimit_acquire(&r, 100, 0), 0);
	/* 50 ms at 1000/s earns 50 of 100; at 100/s (burst 10) that fill becomes 5 of 10 */
	sl_ratelimit_update(&r, 100);
	cr_assert_eq(sl_ratelimit_tokens(&r, 50 * MS), 5);
	/* then one token per 10 ms */
	cr_assert_eq(sl_ratelimit_tokens(&r, 79 * MS), 7);
	cr_assert_eq(sl_ratelimit_tokens(&r, 80 * MS), 8);
	cr_assert_eq(sl_ratelimit_acquire(&r, 10, 80 * MS), 20 * MS);
	cr_assert_eq(sl_ratelimit_acquire(&r, 10, 100 * MS), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 100 * MS), 10 * MS);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * S), 10, "new burst");

	/* up again: a full bucket of 10 becomes a full bucket of 1000 */
	sl_ratelimit_update(&r, 10000);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * S), 1000);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1000, 10 * S), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 10 * S), 100000, "10 records per ms");

	/* the change is picked up at the next call: time before it ran at the old rate */
	sl_ratelimit_update(&r, 1000);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * S + 5 * MS), 5, "50 of 1000 -> 5 of 100");

	/* a debt is kept across a change, in records */
	cr_assert_eq(sl_ratelimit_acquire(&r, 5, 10 * S + 5 * MS), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 300, 10 * S + 105 * MS), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * S + 105 * MS), -200);
	sl_ratelimit_update(&r, 2000);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10 * S + 105 * MS), -200);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 10 * S + 105 * MS), 100 * MS + MS / 2);
}

Test(bucket, unlimited)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 0, 0);
	for (int64_t t = 0; t < 10; t++)
		cr_assert_eq(sl_ratelimit_acquire(&r, INT64_MAX, t), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, 10), INT64_MAX);
	/* from unlimited to a limit: a full bucket from the time it is picked up */
	sl_ratelimit_update(&r, 500);
	cr_assert_eq(sl_ratelimit_acquire(&r, 50, 7 * S), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 1, 7 * S), 2 * MS);
	cr_assert_eq(sl_ratelimit_tokens(&r, 7 * S + 10 * MS), 5);

	/* with a huge finite rate the arithmetic still holds */
	sl_ratelimit_init(&r, 0, INT64_MAX);
	cr_assert_eq(sl_ratelimit_tokens(&r, 0), INT64_MAX / 10);
	cr_assert_eq(sl_ratelimit_acquire(&r, INT64_MAX, 0), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, INT64_MAX, 0), S, "repay INT64_MAX at INT64_MAX/s");
	cr_assert_eq(sl_ratelimit_acquire(&r, INT64_MAX, INT64_MAX), 0);
}

Test(bucket, odd_inputs)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 1000, 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 100, S), 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 0, S), 0, "nothing to admit");
	cr_assert_eq(sl_ratelimit_acquire(&r, -4, S), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, S), 0);
	/* time going back earns nothing and does not move the bucket's clock */
	cr_assert_eq(sl_ratelimit_tokens(&r, S / 2), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, S + MS), 1);
	/* a negative clock origin is fine */
	sl_ratelimit_init(&r, 1000, 0);
	cr_assert_eq(sl_ratelimit_acquire(&r, 100, -S), 0);
	cr_assert_eq(sl_ratelimit_tokens(&r, -S + 3 * MS), 3);
	cr_assert_eq(sl_ratelimit_tokens(&r, INT64_MAX), 100);
}

/*
 * A receiver that asks again exactly when told: retrying after the returned wait always
 * succeeds, and the records admitted over [0, t] never exceed burst + rate * t, nor fall
 * more than a request short of it.
 */
Test(bucket, wait_is_exact_and_rate_holds)
{
	const int64_t rates[] = {1, 7, 999, 1000, 12345, 1000000};
	for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		int64_t rate = rates[k], burst = rate / 10 > 0 ? rate / 10 : 1;
		uint64_t s = 77 + k;
		sl_ratelimit r;
		sl_ratelimit_init(&r, rate, 0);
		int64_t t = 0, admitted = 0;
		for (int i = 0; i < 2000; i++) {
			int64_t n = 1 + (int64_t)(splitmix64(&s) % (uint64_t)burst);
			int64_t w = sl_ratelimit_acquire(&r, n, t);
			if (w > 0) {
				t += w;
				cr_assert_eq(sl_ratelimit_acquire(&r, n, t), 0, "rate %lld",
					     (long long)rate);
			}
			admitted += n;
			/* upper bound: burst + rate * t / 1e9 (exact in 128 bits) */
			__int128 lhs = (__int128)admitted * S;
			__int128 cap = (__int128)burst * S + (__int128)rate * t;
			cr_assert(lhs <= cap, "rate %lld i %d", (long long)rate, i);
			/* lower bound: a bucket never idles with n tokens missing for long */
			cr_assert(lhs + (__int128)(burst + 1) * S >= cap, "rate %lld i %d",
				  (long long)rate, i);
		}
	}
}

/* ---- the driver updates while the io thread acquires ---- */

struct driver_arg {
	sl_ratelimit *r;
	int64_t last;
};

static void *driver_main(void *p)
{
	struct driver_arg *a = p;
	for (int64_t i = 1; i <= 20000; i++)
		sl_ratelimit_update(a->r, 100 + (i % 997) * 10);
	sl_ratelimit_update(a->r, a->last);
	return NULL;
}

Test(bucket, concurrent_updates)
{
	sl_ratelimit r;
	sl_ratelimit_init(&r, 20000, 1000);
	struct driver_arg a = {.r = &r, .last = 4321};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, driver_main, &a), 0);
	int64_t t = 0;
	for (int i = 0; i < 20000; i++) {
		int64_t rate = sl_ratelimit_rate(&r);
		cr_assert(rate >= 100 && rate <= 20000, "a rate the driver published: %lld",
			  (long long)rate);
		int64_t w = sl_ratelimit_acquire(&r, 1, t);
		t += w > 0 ? w : 1000;
	}
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(sl_ratelimit_rate(&r), 4321);
	/* the bucket picks up the last rate: its burst after a long idle is 432 */
	cr_assert_eq(sl_ratelimit_tokens(&r, t + 3600 * S), 432);
}
