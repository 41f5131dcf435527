/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rate.c - the PID rate estimator and the receiver rate limiter (see rate.h).
 *
 * Token bucket layout, in nano-records (1 record = 1e9):
 *
 *     credit ─────────────┬──────────────────────────────┬────────────>
 *       debt (< 0)        0          tokens              cap = burst * 1e9
 *                         └── + rate per ns elapsed ─────┘ (clamped at cap)
 *
 * All bucket arithmetic is on signed 128-bit integers; the bounds that keep every
 * product in range are noted where the product is formed. rate, burst, n and dt are
 * each < 2^63 (dt is clamped before it multiplies anything).
 */
#include <errno.h>
#include <math.h>

#include "rate.h"

#ifndef __SIZEOF_INT128__
#error "rate.c needs a compiler with __int128 (GCC or Clang on a 64-bit target)"
#endif

typedef __int128 i128;

#define NANO ((i128)1000000000)

int sl_pid_init(sl_pid *p, int64_t batch_ms, double kp, double ki, double kd, double min_rate)
{
	/* Spark's require()s, written so that NaN fails them as it does on the JVM. */
	if (!p || batch_ms <= 0 || !(kp >= 0) || !(ki >= 0) || !(kd >= 0) || !(min_rate > 0))
		return -EINVAL;
	*p = (sl_pid){
	    .kp = kp,
	    .ki = ki,
	    .kd = kd,
	    .min_rate = min_rate,
	    .batch_ms = batch_ms,
	    .first = 1,
	    /* Spark's initial values. latest_time = -1 matters: the first call passes the
	     * guard only for time >= 0. The other two are never used before being set. */
	    .latest_time = -1,
	    .latest_rate = -1.0,
	    .latest_error = -1.0,
	};
	return 0;
}

int sl_pid_init_default(sl_pid *p, int64_t batch_ms)
{
	return sl_pid_init(p, batch_ms, SL_PID_DEFAULT_KP, SL_PID_DEFAULT_KI, SL_PID_DEFAULT_KD,
			   SL_PID_DEFAULT_MIN_RATE);
}

/* Java's Math.max (what Scala's Double.max calls): NaN wins. The signed-zero rule does
 * not matter here because the second operand (min_rate) is > 0. */
static double jvm_max(double a, double b)
{
	if (isnan(a))
		return a;
	return a >= b ? a : b;
}

int sl_pid_compute(sl_pid *p, int64_t time_ms, int64_t num_elements, int64_t processing_delay_ms,
		   int64_t scheduling_delay_ms, double *rate)
{
	if (!p || !rate)
		return -EINVAL;
	if (!(time_ms > p->latest_time && num_elements > 0 && processing_delay_ms > 0))
		return 0; /* Spark's None; nothing is updated */

	/* Each expression keeps Spark's operand order: n.toDouble / delay * 1000 is not
	 * n * 1000 / delay in binary floating point. */
	double processing_rate = (double)num_elements / (double)processing_delay_ms * 1000.0;

	/* Spark updates latestTime on every call that passes the guard, the first included,
	 * so a second call with the same time is None. It computes newRate on the first call
	 * too but discards it (and time - (-1) could overflow there), so it is skipped. */
	if (p->first) {
		p->latest_time = time_ms;
		p->latest_rate = processing_rate;
		p->latest_error = 0.0;
		p->first = 0;
		return 0;
	}

	/* latest_time >= 0 here and time_ms > latest_time: the difference fits. */
	double delay_since_update = (double)(time_ms - p->latest_time) / 1000.0;
	double error = p->latest_rate - processing_rate;
	double historical_error =
	    (double)scheduling_delay_ms * processing_rate / (double)p->batch_ms;
	double d_error = (error - p->latest_error) / delay_since_update;
	double new_rate =
	    jvm_max(p->latest_rate - p->kp * error - p->ki * historical_error - p->kd * d_error,
		    p->min_rate);

	p->latest_time = time_ms;
	p->latest_rate = new_rate;
	p->latest_error = error; /* the error, not the clamped rate difference */
	*rate = new_rate;
	return 1;
}

void sl_ratelimit_init(sl_ratelimit *r, int64_t max_rate, int64_t initial_rate)
{
	if (max_rate < 0)
		max_rate = 0;
	if (initial_rate < 0)
		initial_rate = 0;
	int64_t rate = initial_rate;
	if (max_rate > 0 && (rate == 0 || max_rate < rate))
		rate = max_rate;
	r->max_rate = max_rate;
	atomic_init(&r->rate, rate);
	r->bucket_rate = 0; /* "not started", treated like "coming from unlimited" */
	r->last_ns = 0;
	r->credit = 0;
}

void sl_ratelimit_update(sl_ratelimit *r, int64_t new_rate)
{
	if (new_rate <= 0)
		return;
	if (r->max_rate > 0 && new_rate > r->max_rate)
		new_rate = r->max_rate;
	/* relaxed: the rate is the whole message, no other memory is published with it;
	 * per-object coherence keeps the io thread from seeing an older rate after a newer
	 * one. */
	atomic_store_explicit(&r->rate, new_rate, memory_order_relaxed);
}

int64_t sl_ratelimit_rate(const sl_ratelimit *r)
{
	/* relaxed: a statistic / the current value, see sl_ratelimit_update */
	return atomic_load_explicit(&r->rate, memory_order_relaxed);
}

static int64_t burst_of(int64_t rate)
{
	int64_t b = rate / 10;
	return b > 0 ? b : 1;
}

/* Add what rate earned from last_ns to now (clamped at the bucket's capacity). */
static void refill(sl_ratelimit *r, int64_t now_ns)
{
	if (now_ns <= r->last_ns)
		return; /* time stood still or went back: nothing earned, keep last_ns */
	i128 rate = r->bucket_rate;
	i128 cap = (i128)burst_of(r->bucket_rate) * NANO;
	i128 dt = (i128)now_ns - r->last_ns; /* < 2^64 */
	r->last_ns = now_ns;
	if (r->credit >= cap)
		return;
	/* ns needed to fill up; room < 2^63 * 1e9 * 2 (cap plus at most one request's debt) */
	i128 room = cap - r->credit;
	if (dt >= (room + rate - 1) / rate)
		r->credit = cap;
	else
		r->credit += rate * dt; /* < room + rate: fits */
}

/* Bring the bucket to now_ns at the current rate; return that rate (0 = unlimited). */
static int64_t sync_bucket(sl_ratelimit *r, int64_t now_ns)
{
	/* relaxed: see sl_ratelimit_update; the bucket is this thread's own data */
	int64_t rate = atomic_load_explicit(&r->rate, memory_order_relaxed);
	if (rate == r->bucket_rate) {
		if (rate > 0)
			refill(r, now_ns);
		return rate;
	}
	if (rate == 0) {
		r->bucket_rate = 0; /* unlimited from now on */
		return 0;
	}
	if (r->bucket_rate == 0) {
		/* first use, or back from unlimited: a full bucket at the new rate */
		r->bucket_rate = rate;
		r->last_ns = now_ns;
		r->credit = (i128)burst_of(rate) * NANO;
		return rate;
	}
	/* Tokens earned so far were earned at the old rate. */
	refill(r, now_ns);
	int64_t ob = burst_of(r->bucket_rate), nb = burst_of(rate);
	if (r->credit > 0 && ob != nb) {
		/* credit * nb / ob without overflow: credit <= ob * 1e9, so
		 * (credit / ob) * nb <= 1e9 * 2^63 and (credit % ob) * nb < 2^126. */
		i128 q = r->credit / ob, rem = r->credit % ob;
		r->credit = q * nb + rem * nb / ob;
	}
	r->bucket_rate = rate;
	return rate;
}

int64_t sl_ratelimit_acquire(sl_ratelimit *r, int64_t n, int64_t now_ns)
{
	if (n <= 0)
		return 0;
	int64_t rate = sync_bucket(r, now_ns);
	if (rate == 0)
		return 0;
	int64_t burst = burst_of(rate);
	i128 need = (i128)(n < burst ? n : burst) * NANO;
	if (r->credit >= need) {
		r->credit -= (i128)n * NANO; /* may go into debt when n > burst */
		return 0;
	}
	i128 wait = (need - r->credit + rate - 1) / rate; /* ceil: enough after this long */
	return wait > INT64_MAX ? INT64_MAX : (int64_t)wait;
}

int64_t sl_ratelimit_tokens(sl_ratelimit *r, int64_t now_ns)
{
	if (sync_bucket(r, now_ns) == 0)
		return INT64_MAX;
	i128 q = r->credit / NANO;
	if (r->credit % NANO < 0)
		q--; /* round toward minus infinity while in debt */
	return (int64_t)q;
}
