/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rate.h - rate control: the backpressure estimator (Spark's PIDRateEstimator) and the
 * receiver rate limiter (Spark's receiver RateLimiter, a Guava RateLimiter underneath).
 *
 *   driver (RateController)                      receiver io thread
 *   ───────────────────────                      ──────────────────
 *   batch completed ─> sl_pid_compute ─> rate ─> sl_ratelimit_update ··· sl_ratelimit_acquire
 *                      (pure, per stream)         (atomic store)           (token bucket, reads
 *                                                                           the rate each call)
 *
 * Invariants
 *   - Nothing here reads a clock, allocates, prints or touches global state: time is an
 *     argument (milliseconds for the estimator, nanoseconds for the bucket).
 *   - sl_pid is plain data owned by one thread (Spark synchronises compute; here the
 *     caller does, or keeps one estimator per thread).
 *   - In an sl_ratelimit only `rate` is shared. The driver may call sl_ratelimit_update
 *     and sl_ratelimit_rate at any time; every other call belongs to the one io thread.
 *   - Bucket arithmetic is exact: tokens are counted in nano-records (1e-9 record) in
 *     128-bit integers, so a rate of r records/s adds exactly r nano-records per ns and a
 *     simulated timeline gives the same answer on every machine.
 */
#ifndef SL_RATE_H
#define SL_RATE_H

#include <stdatomic.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Spark's spark.streaming.backpressure.pid.* defaults. */
#define SL_PID_DEFAULT_KP       1.0
#define SL_PID_DEFAULT_KI       0.2
#define SL_PID_DEFAULT_KD       0.0
#define SL_PID_DEFAULT_MIN_RATE 100.0

/*
 * The PID rate estimator. Fields are readable; only sl_pid_init* and sl_pid_compute
 * write them. Before the first estimate latest_time, latest_rate and latest_error hold
 * Spark's initial -1 values.
 */
typedef struct sl_pid {
	double kp, ki, kd, min_rate;
	int64_t batch_ms;
	/* state */
	int first;           /* 1 until the first call that passes the guard */
	int64_t latest_time; /* ms, time of the last call that passed the guard */
	double latest_rate;  /* records/s, the last estimate (or the first processing rate) */
	double latest_error; /* records/s, the error of the last estimate */
} sl_pid;

/*
 * sl_pid_init - set up an estimator for a stream with batch interval batch_ms (Spark's
 * PIDRateEstimator constructor). kp, ki, kd: proportional, integral and derivative gains;
 * min_rate: the lowest rate it ever estimates (records/s).
 *   Returns 0, or -EINVAL (p NULL, batch_ms <= 0, kp, ki or kd < 0, min_rate <= 0; NaN
 *   fails every check, as in Spark's require()s; infinities pass, as in Spark). On error
 *   *p is untouched.
 */
int sl_pid_init(sl_pid *p, int64_t batch_ms, double kp, double ki, double kd, double min_rate);

/* sl_pid_init_default - sl_pid_init with Spark's defaults (Kp 1.0, Ki 0.2, Kd 0, min 100). */
int sl_pid_init_default(sl_pid *p, int64_t batch_ms);

/*
 * sl_pid_compute - feed one completed batch (Spark's RateEstimator.compute): time_ms is
 * when its processing ended, num_elements the records it held, processing_delay_ms and
 * scheduling_delay_ms its delays.
 *   Returns 1 and stores the new rate (records/s, >= min_rate) in *rate; 0 for Spark's
 *   None (*rate untouched); -EINVAL if p or rate is NULL.
 *   None, with no state change, unless time_ms > latest_time && num_elements > 0 &&
 *   processing_delay_ms > 0. Otherwise latest_time = time_ms, and the first such call
 *   only records the processing rate and also returns None; later calls return
 *   max(latest_rate - kp*error - ki*historical_error - kd*d_error, min_rate), where
 *     processing_rate  = num_elements / processing_delay_ms * 1000
 *     error            = latest_rate - processing_rate
 *     historical_error = scheduling_delay_ms * processing_rate / batch_ms
 *     d_error          = (error - latest_error) / ((time_ms - latest_time) / 1000)
 *   evaluated in the same order as the JVM, so results are bit-identical to Spark's
 *   (with FMA contraction off, which is the default for x86-64 builds without -mfma).
 */
int sl_pid_compute(sl_pid *p, int64_t time_ms, int64_t num_elements, int64_t processing_delay_ms,
		   int64_t scheduling_delay_ms, double *rate);

/*
 * The receiver rate limiter: the rate in force (Spark's RateLimiter) plus the token
 * bucket the io thread consults before handing records on (Spark's waitToPush, without
 * blocking: acquire says how long to wait and the io thread decides what to do).
 *
 * Bucket: capacity burst(rate) = max(rate / 10, 1) records, i.e. 100 ms of records at
 * the current rate (Guava allows a second's worth; a shorter burst keeps blocks of a
 * 200 ms block interval even). It refills continuously at `rate` records/s and starts
 * full at the first acquire. Fields are private to rate.c.
 */
typedef struct sl_ratelimit {
	int64_t max_rate;     /* spark.streaming.receiver.maxRate, 0 = none; constant */
	_Atomic int64_t rate; /* records/s in force, 0 = unlimited; driver writes */
	/* io thread only */
	int64_t bucket_rate; /* the rate the bucket last ran at, 0 = unlimited */
	int64_t last_ns;     /* time up to which the bucket has been refilled */
	__int128 credit;     /* nano-records; negative while a large request is repaid */
} sl_ratelimit;

/*
 * sl_ratelimit_init - set up a limiter. max_rate: spark.streaming.receiver.maxRate,
 * initial_rate: spark.streaming.backpressure.initialRate, both records/s, 0 (or
 * negative) = not set. The initial rate is the smaller of the set ones, or unlimited
 * if neither is set. Threads: before the io thread starts. r must not be NULL.
 */
void sl_ratelimit_init(sl_ratelimit *r, int64_t max_rate, int64_t initial_rate);

/*
 * sl_ratelimit_update - the driver publishes a new rate (Spark's updateRate): new_rate
 * <= 0 is ignored; otherwise the rate becomes min(new_rate, max_rate) when max_rate is
 * set, else new_rate. The io thread's next acquire picks it up.
 * Threads: any thread, concurrently with the io thread.
 */
void sl_ratelimit_update(sl_ratelimit *r, int64_t new_rate);

/*
 * sl_ratelimit_rate - the rate in force, records/s, 0 if unlimited (Spark's
 * getCurrentLimit reports Long.MaxValue there). Threads: any.
 */
int64_t sl_ratelimit_rate(const sl_ratelimit *r);

/*
 * sl_ratelimit_acquire - may n records go on at now_ns?
 *   Returns 0 if they may (their tokens are taken), else the nanoseconds (> 0) to wait
 *   before asking again; nothing is taken then. Calling again after that wait succeeds
 *   unless the rate changed meanwhile.
 *   A request needs min(n, burst) tokens present and takes n: a request larger than the
 *   bucket goes through when the bucket is full and leaves a debt that later requests
 *   wait out, so the long-run rate still holds. n <= 0 and an unlimited rate return 0.
 *   A changed rate is picked up here: the bucket is first refilled at the old rate up
 *   to now_ns, then its tokens are scaled by new burst / old burst (Guava's setRate
 *   keeps the fill fraction; a debt is kept as is); coming from unlimited, it is full.
 *   now_ns is any monotonic clock; a time earlier than a previous call adds nothing.
 * Threads: the io thread only.
 */
int64_t sl_ratelimit_acquire(sl_ratelimit *r, int64_t n, int64_t now_ns);

/*
 * sl_ratelimit_tokens - whole tokens in the bucket at now_ns (rounded down; negative
 * while in debt; INT64_MAX when unlimited), after picking up a changed rate as acquire
 * does. Takes nothing. Threads: the io thread only.
 */
int64_t sl_ratelimit_tokens(sl_ratelimit *r, int64_t now_ns);

#ifdef __cplusplus
}
#endif

#endif
