/* SPDX-License-Identifier: Apache-2.0 */
/*
 * receiver.c - receivers as stream sources: chunks from the ring become blocks at every
 * block tick, blocks become the partitions of batches (design in receiver.h).
 */
#include "receiver.h"

#include "rate.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sl_receiver_init(sl_receiver *r, sl_env *env)
{
	r->env = env;
	r->node = -1;
	if (!r->max_record)
		r->max_record = SL_MAX_RECORD_DEFAULT;
	r->wake_at = SL_RECEIVER_INFLIGHT / 2;
	atomic_init(&r->rate_limit, 0);
	atomic_init(&r->flush_seq, 0);
	atomic_init(&r->stop_req, 0);
	atomic_init(&r->want_room, 0);
	atomic_init(&r->records, 0);
	atomic_init(&r->bytes, 0);
	atomic_init(&r->skipped, 0);
	atomic_init(&r->restarts, 0);
	atomic_init(&r->connections, 0);
	atomic_init(&r->done, 0);
	atomic_init(&r->last_errno, 0);
	return sl_spsc_init(&r->ring, env->mem, SL_RECEIVER_RING);
}

void sl_receiver_fini(sl_receiver *r)
{
	if (!r->ring.slot)
		return;
	sl_col *c;
	while ((c = sl_spsc_pop(&r->ring)))
		sl_col_unref(c);
	sl_spsc_fini(&r->ring);
}

/* ------------------------------------------------------------ receiver as a source */

struct block {
	int64_t time;
	sl_col *col;
};

struct rsrc {
	sl_source base;
	sl_receiver *r;   /* rs[0]: its name and maxRate are the source's */
	sl_receiver **rs; /* the receivers whose chunks make this stream's blocks */
	int nr;           /* (several: one socketServerStream over several io threads) */
	sl_col **pend;    /* chunks popped by poll(), sealed at the next tick */
	size_t npend, cappend;
	sl_ratelimit limit; /* maxRate and the current estimate (Spark's RateLimiter) */
	sl_pid pid;         /* backpressure: Spark's PIDRateEstimator */
	/* blk, nblk, capblk: the block builder appends, the driver takes (a batch) */
	pthread_mutex_t mu;
	struct block *blk; /* sealed, not yet in a batch; oldest first */
	size_t nblk, capblk;
	atomic_uint_fast64_t blocks; /* sealed so far (metrics; read by other threads) */
	uint64_t skipped_seen;       /* oversize records already reported (driver) */
	int started, stopped;
};

/* Pop every chunk in r's ring into pend. 0 or -ENOMEM (the rest stay in the ring). */
static int take_all(struct rsrc *s, sl_receiver *r)
{
	for (;;) {
		if (s->npend == s->cappend) {
			size_t nc = s->cappend ? s->cappend * 2 : 64;
			sl_col **p = sl_realloc(s->base.env->mem, -1, s->pend,
						s->cappend * sizeof(*p), nc * sizeof(*p));
			if (!p)
				return -ENOMEM;
			s->pend = p;
			s->cappend = nc;
		}
		sl_col *c = sl_spsc_pop(&r->ring);
		if (!c)
			return 0;
		s->pend[s->npend++] = c;
	}
}

/* Move every chunk in the ring to pend, and wake the io thread if it waits for room. The
 * ring's consumer: the block builder (the driver with the manual clock, and after the
 * builder stopped). 0 or -ENOMEM (the rest stay in the ring). */
static int take(struct rsrc *s)
{
	int rc = 0;
	for (int i = 0; i < s->nr; i++) {
		sl_receiver *r = s->rs[i];
		size_t before = s->npend;
		int e = take_all(s, r);
		rc = rc ? rc : e;
		/* acq_rel RMW after the pops: pairs with the one in sl_receiver_want_room (see
		 * there); 1 means the io thread may sleep until woken */
		if (s->npend > before && r->ops->room &&
		    atomic_exchange_explicit(&r->want_room, 0, memory_order_acq_rel))
			r->ops->room(r);
	}
	return rc;
}

/*
 * A block is one partition: the chunks' views one after the other in one String column
 * (the strings stay where they are; the column takes a reference to every buffer of every
 * chunk). Unlike sl_col_concat, the array has a power-of-two capacity, so that sl_mem
 * recycles it (already faulted in) from one block to the next, and buffers are not
 * de-duplicated (a chunk lists few, and a buffer listed twice is merely referenced twice:
 * the check was quadratic in the buffers of a block). NULL on ENOMEM.
 */
static sl_col *concat(struct rsrc *s)
{
	size_t rows = 0, cap = 4096;
	int nbufs = 0;
	for (size_t i = 0; i < s->npend; i++) {
		rows += s->pend[i]->len;
		nbufs += s->pend[i]->nbufs;
	}
	while (cap < rows)
		cap *= 2;
	sl_mem *m = s->base.env->mem;
	sl_col *b = sl_col_new_on(m, s->r->node, &sl_type_str, cap);
	if (!b)
		return NULL;
	if (nbufs) {
		b->bufs = sl_alloc(m, -1, (size_t)nbufs * sizeof(*b->bufs));
		if (!b->bufs) {
			sl_col_unref(b);
			return NULL;
		}
		b->capbufs = nbufs;
	}
	for (size_t i = 0; i < s->npend; i++) {
		const sl_col *c = s->pend[i];
		if (c->len)
			memcpy(b->v.s + b->len, c->v.s, c->len * sizeof(sl_str));
		b->len += c->len;
		for (int k = 0; k < c->nbufs; k++) {
			b->bufs[b->nbufs++] = c->bufs[k];
			/* relaxed: the chunk holds a reference for as long as this runs (as in
			 * sl_col_share_bufs) */
			atomic_fetch_add_explicit(&c->bufs[k]->ref, 1, memory_order_relaxed);
		}
	}
	return b;
}

/* Room for one more sealed block. 0 or -ENOMEM. Under s->mu. */
static int blk_room(struct rsrc *s)
{
	if (s->nblk < s->capblk)
		return 0;
	size_t nc = s->capblk ? s->capblk * 2 : 16;
	struct block *p =
	    sl_realloc(s->base.env->mem, -1, s->blk, s->capblk * sizeof(*p), nc * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->blk = p;
	s->capblk = nc;
	return 0;
}

/*
 * Seal pend plus every chunk in the ring into one block stamped `now`: the block builder's
 * thread (or the driver's, when there is none or it has stopped). 0 or -ENOMEM; on failure
 * nothing is lost, the chunks wait in pend for the next tick.
 */
static int seal(struct rsrc *s, int64_t now)
{
	if (take(s) && !s->npend)
		return -ENOMEM;
	if (!s->npend)
		return 0;
	pthread_mutex_lock(&s->mu);
	int rc = blk_room(s); /* first: past this point nothing can fail but the concat */
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	sl_col *block;
	if (s->npend == 1) {
		block = s->pend[0];
	} else {
		block = concat(s);
		if (!block)
			return -ENOMEM;
		for (size_t i = 0; i < s->npend; i++)
			sl_col_unref(s->pend[i]);
	}
	s->npend = 0;
	pthread_mutex_lock(&s->mu); /* only the driver takes blocks, so the room is still there */
	s->blk[s->nblk++] = (struct block){now, block};
	pthread_mutex_unlock(&s->mu);
	/* relaxed: a statistic */
	atomic_fetch_add_explicit(&s->blocks, 1, memory_order_relaxed);
	return 0;
}

/* Start the receivers, the first last (with several io threads, the first deals
 * connections to the others: see sl_socket_server_io_threads); a failure stops the
 * ones already started. */
static int r_start(sl_source *src, int64_t zero_time, sluice_error *err)
{
	(void)zero_time;
	struct rsrc *s = (struct rsrc *)src;
	for (int i = s->nr - 1; i >= 0; i--) {
		int rc = s->rs[i]->ops->start(s->rs[i], err);
		if (rc) {
			for (int k = i + 1; k < s->nr; k++)
				s->rs[k]->ops->stop(s->rs[k]);
			return rc;
		}
	}
	s->started = 1;
	return 0;
}

/* Receivers 0..n have pushed their last chunk. */
static bool done_upto(const struct rsrc *s, int n)
{
	for (int i = 0; i < n; i++)
		/* acquire: pairs with the io thread's release store after its last push */
		if (!atomic_load_explicit(&s->rs[i]->done, memory_order_acquire))
			return false;
	return true;
}

static bool all_done(const struct rsrc *s)
{
	return done_upto(s, s->nr);
}

/* Ask receivers [from, to) to stop, sealing what they push until 0..to have all pushed
 * their last chunk, or until *waited reaches 5000 ms (shared by the calls of one stop). */
static void ask_stop(struct rsrc *s, int from, int to, int *waited)
{
	struct timespec pause = {0, 1000000};
	for (int i = from; i < to; i++)
		/* release: pairs with the io thread's acquire load of stop_req */
		atomic_store_explicit(&s->rs[i]->stop_req, 1, memory_order_release);
	for (; *waited < 5000 && !done_upto(s, to) && s->started; ++*waited) {
		if (seal(s, INT64_MAX))
			break;
		nanosleep(&pause, NULL);
	}
}

/* Stop the receivers, the first (the one that deals connections) first. */
static void stop_all(struct rsrc *s)
{
	for (int i = 0; i < s->nr; i++)
		s->rs[i]->ops->stop(s->rs[i]);
}

static void r_poll(sl_source *src)
{
	struct rsrc *s = (struct rsrc *)src;
	if (take(s))
		sl_log(src->env, SL_LOG_ERROR,
		       "%s: out of memory taking chunks; they wait in the ring", s->r->ops->name);
}

static void r_tick(sl_source *src, int64_t now)
{
	struct rsrc *s = (struct rsrc *)src;
	if (seal(s, now))
		sl_log(src->env, SL_LOG_ERROR,
		       "%s: out of memory sealing a block; its chunks wait for the next tick",
		       s->r->ops->name);
	/* release: pairs with the io thread's acquire; it pushes its partial chunk, which the
	 * next tick seals (data is at most one block interval late) */
	for (int i = 0; i < s->nr; i++)
		atomic_fetch_add_explicit(&s->rs[i]->flush_seq, 1, memory_order_release);
}

/* Records the io threads skipped (longer than maxRecord) since the last batch: a warning,
 * as an operator's skipped records get (the count is also in the receiver's statistics). */
static void report_skipped(struct rsrc *s, int64_t time)
{
	uint64_t n = 0;
	for (int i = 0; i < s->nr; i++)
		/* relaxed: a statistic */
		n += atomic_load_explicit(&s->rs[i]->skipped, memory_order_relaxed);
	if (n > s->skipped_seen) {
		char at[32] = "";
		if (s->base.line > 0)
			snprintf(at, sizeof(at), " at %d:%d", s->base.line, s->base.col);
		sl_log(s->base.env, SL_LOG_WARN,
		       "%s%s skipped %llu record(s) by batch %lld ms: longer than maxRecord (%zu "
		       "bytes), or dropped for an error logged above",
		       s->r->ops->name, at, (unsigned long long)(n - s->skipped_seen),
		       (long long)time, s->r->max_record);
	}
	s->skipped_seen = n;
}

static int r_next(sl_source *src, int64_t time, sl_rdd **out, sluice_error *err)
{
	struct rsrc *s = (struct rsrc *)src;
	sl_env *env = src->env;
	if (s->stopped && seal(s, time))
		return sl_error_set(err, -ENOMEM, "%s: out of memory", s->r->ops->name);
	/* every block sealed up to this batch time: (t - B, t] for a running receiver, plus
	 * what a stopped receiver drained; the block builder may be sealing later ones */
	pthread_mutex_lock(&s->mu);
	size_t k = 0;
	while (k < s->nblk && (s->stopped || s->blk[k].time <= time))
		k++;
	sl_rdd *r = sl_rdd_new(env->mem, &sl_type_str, time, k ? k : 1);
	if (r) {
		for (size_t i = 0; i < k; i++)
			r->part[i] = s->blk[i].col;
		if (k) /* (memmove of a NULL block list, even of 0 bytes, is undefined) */
			memmove(s->blk, s->blk + k, (s->nblk - k) * sizeof(*s->blk));
		s->nblk -= k;
	}
	size_t left = s->nblk;
	pthread_mutex_unlock(&s->mu);
	if (!r)
		return sl_error_set(err, -ENOMEM, "%s: out of memory", s->r->ops->name);
	if (!k && !(r->part[0] = sl_col_new(env->mem, &sl_type_str, 0))) {
		sl_rdd_unref(r);
		return sl_error_set(err, -ENOMEM, "%s: out of memory", s->r->ops->name);
	}
	*out = r;
	report_skipped(s, time);
	/* a stopped receiver with nothing left has ended */
	if (!s->stopped || left || !all_done(s))
		return 0;
	for (int i = 0; i < s->nr; i++)
		if (sl_spsc_size(&s->rs[i]->ring))
			return 0;
	return SL_SOURCE_END;
}

static void r_stop(sl_source *src)
{
	struct rsrc *s = (struct rsrc *)src;
	if (s->stopped)
		return;
	/* Ask the io thread to finish, and keep sealing what it pushes so it is never stuck
	 * on a full ring while it flushes; then stop() joins it. Bounded: the io thread sees
	 * stop_req at its next wakeup (a few ms) and pushes at most a ring's worth. */
	/* The first receiver first: with several io threads it deals connections to the
	 * others, which must still take (and drain) what it dealt before it stopped; its done
	 * (acquire, in done_upto) orders every deal before their stop_req. */
	int waited = 0;
	ask_stop(s, 0, 1, &waited);
	ask_stop(s, 1, s->nr, &waited);
	stop_all(s);
	s->stopped = 1;
}

static void r_free(sl_source *src)
{
	struct rsrc *s = (struct rsrc *)src;
	if (s->started && !s->stopped) {
		for (int i = 0; i < s->nr; i++) {
			int zero = 0;
			/* release: as a receiver's own free: 2 = nobody pops, do not wait for room
			 * in the ring (set on all first, so they end together) */
			atomic_compare_exchange_strong_explicit(&s->rs[i]->stop_req, &zero, 2,
								memory_order_release,
								memory_order_relaxed);
		}
		stop_all(s);
	}
	/* what was received but never went into a batch: the run ended without a graceful
	 * stop (a batch limit, sluice_context_stop(ctx, 0)) */
	size_t lost = 0;
	for (size_t i = 0; i < s->nblk; i++)
		lost += s->blk[i].col->len;
	for (size_t i = 0; i < s->npend; i++)
		lost += s->pend[i]->len;
	for (int i = 0; i < s->nr; i++) {
		sl_col *c;
		while ((c = sl_spsc_pop(&s->rs[i]->ring))) {
			lost += c->len;
			sl_col_unref(c);
		}
	}
	if (lost)
		sl_log(src->env, SL_LOG_WARN,
		       "%s: %zu record(s) received after the last batch were not processed (the "
		       "run ended without a graceful stop)",
		       s->r->ops->name, lost);
	for (int i = 0; i < s->nr; i++)
		s->rs[i]->ops->free(s->rs[i]);
	sl_dealloc(src->env->mem, s->rs, (size_t)s->nr * sizeof(*s->rs));
	for (size_t i = 0; i < s->nblk; i++)
		sl_col_unref(s->blk[i].col);
	for (size_t i = 0; i < s->npend; i++)
		sl_col_unref(s->pend[i]);
	if (s->pend)
		sl_dealloc(src->env->mem, s->pend, s->cappend * sizeof(*s->pend));
	if (s->blk)
		sl_dealloc(src->env->mem, s->blk, s->capblk * sizeof(*s->blk));
	pthread_mutex_destroy(&s->mu);
	sl_dealloc(src->env->mem, s, sizeof(*s));
}

/* The source's rate (records/s, 0 = unlimited), for each of its receivers: the io threads
 * of one socketServerStream draw from one token bucket, so the rate is the stream's. */
static void set_rates(struct rsrc *s, int64_t rate)
{
	for (int i = 0; i < s->nr; i++)
		/* relaxed: a setting the io thread picks up at its next wakeup; no data rides
		 * on it */
		atomic_store_explicit(&s->rs[i]->rate_limit, rate, memory_order_relaxed);
}

/*
 * Rate control (spark-semantics.md §10): after each batch, the PID estimator turns this
 * receiver's records and the batch's delays into a new rate, capped by maxRate, which the
 * io thread reads from r->rate_limit at its next wakeup.
 */
static void r_batch_done(sl_source *src, int64_t time, int64_t records, int64_t processing_ms,
			 int64_t scheduling_ms, int64_t wall_ms)
{
	(void)time;
	struct rsrc *s = (struct rsrc *)src;
	double rate;
	if (!src->env->backpressure ||
	    sl_pid_compute(&s->pid, wall_ms, records, processing_ms, scheduling_ms, &rate) != 1)
		return;
	sl_ratelimit_update(&s->limit, rate >= 9.2e18 ? INT64_MAX : (int64_t)rate);
	set_rates(s, sl_ratelimit_rate(&s->limit));
}

static const sl_source_ops receiver_ops = {
    .name = "receiver",
    .start = r_start,
    .next = r_next,
    .stop = r_stop,
    .tick = r_tick,
    .poll = r_poll,
    .batch_done = r_batch_done,
    .free = r_free,
};

sl_source *sl_receiver_source_new(sl_env *env, sl_receiver *r, sluice_error *err)
{
	return sl_receivers_source_new(env, &r, 1, err);
}

sl_source *sl_receivers_source_new(sl_env *env, sl_receiver *const *rs, int n, sluice_error *err)
{
	struct rsrc *s = sl_calloc(env->mem, -1, sizeof(*s));
	sl_receiver **a = sl_alloc(env->mem, -1, (size_t)n * sizeof(*a));
	if (!s || !a) {
		for (int i = 0; i < n; i++)
			rs[i]->ops->free(rs[i]);
		if (s)
			sl_dealloc(env->mem, s, sizeof(*s));
		if (a)
			sl_dealloc(env->mem, a, (size_t)n * sizeof(*a));
		sl_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	memcpy(a, rs, (size_t)n * sizeof(*a));
	sl_receiver *r = rs[0];
	s->base.ops = &receiver_ops;
	s->base.type = &sl_type_str;
	s->base.env = env;
	s->base.bounded = 0;
	s->r = r;
	s->rs = a;
	s->nr = n;
	pthread_mutex_init(&s->mu, NULL);
	/* a per-source maxRate (pipeline argument, set on the first receiver) wins over the
	 * context's */
	int64_t max = atomic_load_explicit(&r->rate_limit, memory_order_relaxed);
	sl_ratelimit_init(&s->limit, max ? max : env->max_rate,
			  env->backpressure ? env->initial_rate : 0);
	sl_pid_init_default(&s->pid, env->batch_ms);
	set_rates(s, sl_ratelimit_rate(&s->limit)); /* before the io threads exist */
	return &s->base;
}

sl_receiver *sl_receiver_of(sl_source *src)
{
	return src->ops == &receiver_ops ? ((struct rsrc *)src)->r : NULL;
}

int sl_receiver_source_count(sl_source *src)
{
	return src->ops == &receiver_ops ? ((struct rsrc *)src)->nr : 0;
}

sl_receiver *sl_receiver_source_at(sl_source *src, int i)
{
	struct rsrc *s = (struct rsrc *)src;
	return src->ops == &receiver_ops && i >= 0 && i < s->nr ? s->rs[i] : NULL;
}

uint64_t sl_receiver_source_blocks(sl_source *src)
{
	/* relaxed: a statistic */
	return src->ops == &receiver_ops
		   ? atomic_load_explicit(&((struct rsrc *)src)->blocks, memory_order_relaxed)
		   : 0;
}
