/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context.c - the StreamingContext: clocks, the batch loop, outputs, start and stop.
 *
 * Time (spark-semantics.md §1): at start, startTime = (floor(now / B) + 1) * B and
 * zeroTime = startTime - B; batch k runs at zeroTime + k*B. With the real clock a driver
 * thread sleeps until each batch time (or runs back to back when the graph reads a
 * bounded input: a batch job), and with receivers a block builder thread runs the block
 * ticks beside it (see builder()). With the manual clock nothing runs until the embedder
 * (or a test) calls sluice_context_advance, which runs the due ticks and batches on its thread:
 * tests never sleep.
 *
 * A batch runs every output operation in registration order; an output whose stream
 * fails records the error (first error kept, logged) and the next outputs and batches
 * still run (spark-semantics.md §4).
 */
#define _GNU_SOURCE
#include "context.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "kernels.h"
#include "receiver.h"
#include "parse.h"

static void wake_ticker(void *arg);

void sluice_config_init_size(sluice_config *cfg, size_t size)
{
	if (!cfg || size < offsetof(sluice_config, batch_interval_ms) + sizeof(int64_t))
		return; /* not even the first fields: nothing sensible to fill */
	sluice_config c;
	memset(&c, 0, sizeof(c));
	c.batch_interval_ms = 1000;
	c.size = size < sizeof(c) ? size : sizeof(c);
	memcpy(cfg, &c, c.size);
}

void(sluice_config_init)(sluice_config *cfg)
{
	sluice_config_init_size(cfg, sizeof(*cfg));
}

static void default_out(void *arg, const char *text, size_t len)
{
	(void)arg;
	while (len) {
		ssize_t w = write(STDOUT_FILENO, text, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		text += w;
		len -= (size_t)w;
	}
}

/* The smallest divisor of n (1 <= n <= SL_BATCH_MS_MAX) that is >= lo (1 <= lo <= n): by
 * the divisor pairs (i, n / i) up to sqrt(n), at most 10^6 steps (counting up from lo could
 * take as many as n). */
static int64_t divisor_from(int64_t n, int64_t lo)
{
	int64_t best = n;
	for (int64_t i = 1; i <= n / i; i++) {
		if (n % i)
			continue;
		if (i >= lo && i < best)
			best = i;
		if (n / i >= lo && n / i < best)
			best = n / i;
	}
	return best;
}

sluice_context *sluice_context_new(const sluice_config *cfg, sluice_error *err)
{
	sluice_config c;
	sluice_config_init(&c);
	if (cfg) {
		/* an embedder built against an older, shorter config keeps our defaults for
		 * the fields it does not know */
		size_t n = cfg->size && cfg->size < sizeof(c) ? cfg->size : sizeof(c);
		memcpy(&c, cfg, n);
		c.size = sizeof(c);
	}
	if (c.batch_interval_ms <= 0 || c.batch_interval_ms > SL_BATCH_MS_MAX) {
		sl_error_set(err, -EINVAL,
			     "batch interval must be from 1 ms to %lld ms (about 31 years), found "
			     "%lld ms",
			     (long long)SL_BATCH_MS_MAX, (long long)c.batch_interval_ms);
		return NULL;
	}
	if (!c.block_interval_ms && c.batch_interval_ms > 0) {
		/* Spark's 200 ms, or the largest divisor of the batch interval below it */
		int64_t b = c.batch_interval_ms < 200 ? c.batch_interval_ms : 200;
		while (c.batch_interval_ms % b)
			b--;
		/* a batch of more than 2^20 such blocks (over ~58 h, or no divisor near 200 ms):
		 * the smallest divisor that keeps it at 2^20 blocks */
		if (c.batch_interval_ms / b > (1 << 20))
			b = divisor_from(c.batch_interval_ms,
					 (c.batch_interval_ms + (1 << 20) - 1) >> 20);
		c.block_interval_ms = b;
	}
	if (c.block_interval_ms <= 0 || c.block_interval_ms > c.batch_interval_ms ||
	    c.batch_interval_ms % c.block_interval_ms) {
		sl_error_set(err, -EINVAL,
			     "batch interval (%lld ms) must be a positive multiple of the block "
			     "interval (%lld ms)",
			     (long long)c.batch_interval_ms, (long long)c.block_interval_ms);
		return NULL;
	}
	if (c.batch_interval_ms / c.block_interval_ms > (1 << 20)) {
		/* every block interval may make a partition (queueStream's default cut, the
		 * generator's, a receiver's blocks): millions of them per batch exhaust memory */
		sl_error_set(err, -EINVAL,
			     "batch interval (%lld ms) is more than %d block intervals (%lld ms); "
			     "choose a longer block interval, or leave it to the default",
			     (long long)c.batch_interval_ms, 1 << 20,
			     (long long)c.block_interval_ms);
		return NULL;
	}
	if (c.workers < 0 || c.workers > 1024) {
		sl_error_set(err, -EINVAL,
			     "workers must be between 0 (one per core) and 1024, found %d",
			     c.workers);
		return NULL;
	}
	if (c.clock != SLUICE_CLOCK_REAL && c.clock != SLUICE_CLOCK_MANUAL) {
		sl_error_set(err, -EINVAL, "unknown clock %d", c.clock);
		return NULL;
	}
	sluice_context *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		goto oom;
	ctx->cfg = c;
	pthread_mutex_init(&ctx->mu, NULL);
	pthread_mutex_init(&ctx->stop_mu, NULL);
	pthread_cond_init(&ctx->cv, NULL);
	pthread_cond_init(&ctx->bcv, NULL);
	sl_env *env = &ctx->env;
	env->batch_ms = c.batch_interval_ms;
	env->block_ms = c.block_interval_ms;
	env->log = c.log;
	env->log_arg = c.log_arg;
	env->out = c.output ? c.output : default_out;
	env->out_arg = c.output_arg;
	if (c.receiver_max_rate < 0 || c.backpressure_initial_rate < 0) {
		sl_error_set(err, -EINVAL, "receiver rates must be >= 0 records/s");
		free(ctx);
		return NULL;
	}
	int kerr = 0;
	env->kern = sl_kernels_select(c.isa, &kerr);
	if (!env->kern) {
		sl_error_set(err, kerr,
			     kerr == -ENOTSUP ? "kernel ISA '%s' is not supported by this CPU"
					      : "unknown kernel ISA '%s' (scalar, avx2 or avx512)",
			     c.isa);
		free(ctx);
		return NULL;
	}
	env->wake = c.clock == SLUICE_CLOCK_REAL ? wake_ticker : NULL;
	env->wake_arg = ctx;
	env->max_rate = c.receiver_max_rate;
	env->backpressure = c.backpressure != 0;
	env->initial_rate = c.backpressure_initial_rate;
	int rc = sl_mem_new(&env->mem, 1);
	if (rc)
		goto fail;
	env->types = sl_types_new();
	if (!env->types)
		goto fail_oom;
	rc = sl_workers_new(&env->workers, c.workers, !c.no_pin, env->mem);
	if (rc)
		goto fail;
	sl_graph_init(&ctx->g, env);
	ctx->clock_ms = c.manual_start_ms;
	return ctx;
fail_oom:
	rc = -ENOMEM;
fail:
	sl_error_set(err, rc, "cannot create the context: %s", strerror(-rc));
	sluice_context_free(ctx);
	return NULL;
oom:
	sl_error_set(err, -ENOMEM, "out of memory");
	return NULL;
}

void sluice_context_free(sluice_context *ctx)
{
	if (!ctx)
		return;
	/* a driver that ended the run itself (batch limit, bounded input) is joined too; not
	 * gracefully, even after a graceful stop request (no last batch inside free) */
	atomic_store_explicit(&ctx->graceful, 0, memory_order_relaxed);
	if (ctx->has_driver || ctx->state == 1)
		sluice_context_stop(ctx, 0);
	sl_graph_fini(&ctx->g);
	for (int i = 0; i < ctx->nnames; i++)
		free(ctx->names[i].name);
	free(ctx->names);
	free(ctx->name_ix);
	for (int i = 0; i < ctx->ntfs; i++)
		free(ctx->tfs[i]);
	free(ctx->tfs);
	sl_workers_free(ctx->env.workers);
	sl_types_free(ctx->env.types);
	sl_mem_free(ctx->env.mem);
	pthread_mutex_destroy(&ctx->mu);
	pthread_mutex_destroy(&ctx->stop_mu);
	pthread_cond_destroy(&ctx->cv);
	pthread_cond_destroy(&ctx->bcv);
	free(ctx);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An output operation on a batch. */
static int run_output(sluice_context *ctx, sl_output *o, int64_t t, sluice_error *err)
{
	sl_rdd *r = NULL;
	int rc = sl_ds_compute(o->s, t, &r, err);
	if (rc || !r)
		return rc; /* no RDD at this time: no job (spark-semantics.md §1.3) */
	switch (o->kind) {
	case SL_OUT_PRINT: {
		sl_sbuf b = {0};
		rc = sl_fmt_print(&b, r, t, o->num);
		if (!rc)
			ctx->env.out(ctx->env.out_arg, b.p, b.len);
		else
			sl_error_set(err, rc, "out of memory formatting print()");
		sl_sbuf_fini(&b);
		break;
	}
	case SL_OUT_SAVE_TEXT:
		rc = sl_save_text_files(&ctx->env, r, o->prefix, o->suffix, t, err);
		break;
	case SL_OUT_FOREACH:
		rc = o->fn(o->arg, t, r, err);
		if (rc && !err->code)
			sl_error_set(err, rc < 0 ? rc : -EINVAL,
				     "foreachBatch callback failed with %d", rc);
		break;
	}
	sl_rdd_unref(r);
	return rc;
}

/* Run batch t. Returns 1 if the run should end after it (a bounded input ended). */
static int64_t now_ms(void);

/* After a batch: feed rate control with each source's records and the batch's delays. */
static void batch_done(sluice_context *ctx, int64_t t, int64_t start_ms)
{
	int64_t end = now_ms();
	/* the manual clock has no scheduling delay: time is the caller's */
	int64_t sched = ctx->cfg.clock == SLUICE_CLOCK_REAL && start_ms > t ? start_ms - t : 0;
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind != SL_DS_SOURCE || !d->used || !d->src->ops->batch_done)
			continue;
		int64_t n = d->memo_time == t && d->memo ? (int64_t)sl_rdd_rows(d->memo) : 0;
		d->src->ops->batch_done(d->src, t, n, end - start_ms, sched, end);
	}
}

/* The first failure of the run, for sluice_context_first_error (which reads it from any
 * thread, under mu). */
static void keep_first_error(sluice_context *ctx, const sluice_error *e)
{
	pthread_mutex_lock(&ctx->mu);
	if (!ctx->first_err.code)
		ctx->first_err = *e;
	pthread_mutex_unlock(&ctx->mu);
}

static int run_batch(sluice_context *ctx, int64_t t)
{
	int failed = 0;
	int64_t start_ms = now_ms();
	sluice_error ae = {0};
	if (sl_graph_advance(&ctx->g, t, &ae)) {
		/* a window or state operator failed on this batch: its outputs fail too */
		char where[48] = "";
		if (ae.line)
			snprintf(where, sizeof(where), "%d:%d: ", ae.line, ae.col);
		sl_log(&ctx->env, SL_LOG_ERROR, "batch %lld ms: %s%s", (long long)t, where, ae.msg);
		keep_first_error(ctx, &ae);
		failed = 1;
	}
	for (int i = 0; i < ctx->g.nout; i++) {
		sluice_error e = {0};
		int rc = run_output(ctx, &ctx->g.out[i], t, &e);
		if (rc) {
			static const char *outname[] = {[SL_OUT_PRINT] = "print",
							[SL_OUT_SAVE_TEXT] = "saveAsTextFiles",
							[SL_OUT_FOREACH] = "foreachBatch"};
			failed = 1;
			if (!e.code) { /* keep the position the stream put on e */
				int line = e.line, col = e.col;
				sl_error_set(&e, rc, "%s", strerror(-rc));
				sl_error_at(&e, line, col);
			}
			char where[48] = "";
			if (e.line)
				snprintf(where, sizeof(where), "%d:%d: ", e.line, e.col);
			sl_log(&ctx->env, SL_LOG_ERROR, "batch %lld ms: %s: %s%s", (long long)t,
			       outname[ctx->g.out[i].kind], where, e.msg);
			keep_first_error(ctx, &e);
		}
	}
	batch_done(ctx, t, start_ms);
	sl_graph_clear_memo(&ctx->g);
	pthread_mutex_lock(&ctx->mu);
	ctx->batches++;
	ctx->failed += failed;
	ctx->last_batch = t;
	int64_t max_batches = ctx->max_batches;
	pthread_mutex_unlock(&ctx->mu);
	int ended = 0, bounded_end = 0, all_sources_ended = 1, nsrc = 0;
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind != SL_DS_SOURCE || !d->used)
			continue; /* a source no output reads never runs, so it cannot end */
		nsrc++;
		if (d->source_ended && d->src->bounded)
			bounded_end = 1;
		if (!d->source_ended)
			all_sources_ended = 0;
	}
	/* A batch job ends with its input; a manual-clock run without a batch limit ends
	 * when every source has served all it has (queueStream's last line). */
	if (bounded_end)
		ended = 1;
	else if (nsrc && all_sources_ended && ctx->cfg.clock == SLUICE_CLOCK_MANUAL && !max_batches)
		ended = 1;
	if (max_batches && ctx->batches >= max_batches)
		ended = 1;
	return ended;
}

static void terminate(sluice_context *ctx)
{
	pthread_mutex_lock(&ctx->mu);
	ctx->terminated = 1;
	ctx->state = 2;
	pthread_cond_broadcast(&ctx->cv);
	pthread_mutex_unlock(&ctx->mu);
	for (int i = 0; i < ctx->g.nds; i++)
		if (ctx->g.ds[i]->src && ctx->g.ds[i]->src->ops->stop)
			ctx->g.ds[i]->src->ops->stop(ctx->g.ds[i]->src);
}

static struct timespec abs_ms(int64_t when)
{
	return (struct timespec){.tv_sec = when / 1000, .tv_nsec = (when % 1000) * 1000000};
}

/* Sleep on the context's condition until wall time `when` (ms) and, with a block builder,
 * until it has sealed the tick at `when`; or a stop request, or a receiver's wake (without
 * a builder). Returns 0 at `when`, 1 if a stop was requested, 2 to poll receivers. A stop
 * request only sets a flag (sluice_context_request_stop is async-signal-safe), so each
 * sleep is at most a block interval and at most SL_STOP_POLL_MS. */
#define SL_STOP_POLL_MS 50
static int wait_until(sluice_context *ctx, int64_t when)
{
	int r = 0;
	pthread_mutex_lock(&ctx->mu);
	/* acquire: pairs with the release store in stop/request_stop */
	while (!atomic_load_explicit(&ctx->stop_req, memory_order_acquire)) {
		if (!ctx->has_builder && ctx->io_wake) {
			ctx->io_wake = 0;
			r = 2;
			break;
		}
		int64_t now = now_ms();
		if (now >= when && (!ctx->has_builder || ctx->sealed >= when))
			break;
		/* with a builder: at most a block interval (its tick, or a stop request); and
		 * at most SL_STOP_POLL_MS in any case, since a stop request from a signal handler
		 * only sets the flag (a long batch interval would keep it waiting) */
		int64_t until = when;
		if (ctx->has_builder && (now >= when || when - now > ctx->env.block_ms))
			until = now + ctx->env.block_ms;
		if (until - now > SL_STOP_POLL_MS)
			until = now + SL_STOP_POLL_MS;
		struct timespec ts = abs_ms(until);
		pthread_cond_timedwait(&ctx->cv, &ctx->mu, &ts);
	}
	pthread_mutex_unlock(&ctx->mu);
	return atomic_load_explicit(&ctx->stop_req, memory_order_acquire) ? 1 : r;
}

/* env->wake: a receiver's ring is half full; whoever ticks (the block builder, else the
 * driver) polls before the next tick. */
static void wake_ticker(void *arg)
{
	sluice_context *ctx = arg;
	pthread_mutex_lock(&ctx->mu);
	ctx->io_wake = 1;
	pthread_cond_broadcast(ctx->has_builder ? &ctx->bcv : &ctx->cv);
	pthread_mutex_unlock(&ctx->mu);
}

static void poll_receivers(sluice_context *ctx)
{
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind == SL_DS_SOURCE && d->used && d->src->ops->poll)
			d->src->ops->poll(d->src);
	}
}

/* Block ticks: every block interval, receivers seal what arrived into a block. */
static void tick(sluice_context *ctx, int64_t now)
{
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind == SL_DS_SOURCE && d->used && d->src->ops->tick)
			d->src->ops->tick(d->src, now);
	}
}

/*
 * The block builder (real clock, receivers, no bounded source): a thread that runs the
 * block ticks on time and polls the receivers' rings when they ask (env->wake), so the io
 * threads keep receiving while the driver computes a batch and runs its outputs (Spark's
 * BlockGenerator runs beside the job scheduler the same way). It runs at most one batch
 * ahead of the driver: it seals the ticks up to the next batch time the driver has not
 * started (next_time), then waits without taking from the rings until the driver starts
 * that batch. So at most one batch interval of sealed blocks waits for the driver, plus
 * what the rings hold. A pipeline slower than its input leaves the builder behind: the
 * ticks up to the next batch time are already past when the driver starts that batch, and
 * the builder runs them as one tick at the batch time, one block of what the rings held
 * (ticking them one by one would let the io threads refill the rings between them). So a
 * late batch holds what the rings held while the last batch ran, and the io threads stop
 * reading (backpressure through TCP). The driver waits for the tick at a batch time
 * (sealed) before it takes the batch's blocks. Both sleep under ctx->mu: the builder on
 * bcv (woken by a new next_time, a receiver's wake, a stop), the driver on cv (woken by
 * the tick at a batch time). The sources order their own blocks against the driver
 * (core/receiver.c).
 */
static void *builder(void *arg)
{
	sluice_context *ctx = arg;
	pthread_mutex_lock(&ctx->mu);
	while (!ctx->builder_stop) {
		int64_t tt = ctx->next_tick;
		if (tt > ctx->next_time) { /* a batch ahead: wait for the driver to start it */
			pthread_cond_wait(&ctx->bcv, &ctx->mu);
			continue;
		}
		if (ctx->io_wake) {
			ctx->io_wake = 0;
			pthread_mutex_unlock(&ctx->mu);
			poll_receivers(ctx);
			pthread_mutex_lock(&ctx->mu);
			continue;
		}
		int64_t now = now_ms();
		if (now < tt) {
			struct timespec ts = abs_ms(tt);
			pthread_cond_timedwait(&ctx->bcv, &ctx->mu, &ts);
			continue;
		}
		if (now >= ctx->next_time)
			tt = ctx->next_time; /* behind: the past ticks are one, at the batch time */
		ctx->next_tick = tt + ctx->env.block_ms;
		pthread_mutex_unlock(&ctx->mu);
		tick(ctx, tt);
		pthread_mutex_lock(&ctx->mu);
		ctx->sealed = tt;
		if (tt == ctx->next_time)
			pthread_cond_broadcast(&ctx->cv);
	}
	pthread_mutex_unlock(&ctx->mu);
	return NULL;
}

/* Stop and join the block builder (driver thread); afterwards the driver ticks, if at
 * all (graceful stop seals what the receivers drain itself). */
static void stop_builder(sluice_context *ctx)
{
	if (!ctx->has_builder)
		return;
	pthread_mutex_lock(&ctx->mu);
	ctx->builder_stop = 1;
	pthread_cond_broadcast(&ctx->bcv);
	pthread_mutex_unlock(&ctx->mu);
	pthread_join(ctx->builder, NULL);
	pthread_mutex_lock(&ctx->mu); /* wake_ticker reads it */
	ctx->has_builder = 0;
	pthread_mutex_unlock(&ctx->mu);
}

/*
 * The next event at or before `limit`: a block tick (unless a block builder ticks) or a
 * batch (a batch time is also a tick; the tick runs first so the batch sees the block
 * sealed at its time). Returns 0 if nothing is due, 1 after a tick, 2 after a batch that
 * asks to keep going, 3 after a batch that ended the run.
 */
static int step(sluice_context *ctx, int64_t limit)
{
	if (ctx->ticking && !ctx->has_builder && ctx->next_tick <= ctx->next_time) {
		if (ctx->next_tick > limit)
			return 0;
		int64_t tt = ctx->next_tick;
		ctx->next_tick += ctx->env.block_ms;
		tick(ctx, tt);
		if (tt < ctx->next_time)
			return 1;
	}
	if (ctx->next_time > limit)
		return 0;
	int64_t t = ctx->next_time;
	if (ctx->has_builder) { /* the builder may now seal the next batch's ticks */
		pthread_mutex_lock(&ctx->mu);
		assert(ctx->sealed >= t); /* every block up to t is sealed: wait_until */
		ctx->next_time = t + ctx->env.batch_ms;
		pthread_cond_broadcast(&ctx->bcv);
		pthread_mutex_unlock(&ctx->mu);
	} else {
		ctx->next_time = t + ctx->env.batch_ms;
	}
	return run_batch(ctx, t) ? 3 : 2;
}

/* Graceful stop: stop the sources (receivers push what they hold), then run one last
 * batch with everything received (spark-semantics.md §7). Driver side only. */
/* Returns 1 if it ran a last batch (there were receivers), else 0. */
static int drain(sluice_context *ctx)
{
	int receivers = 0;
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind != SL_DS_SOURCE || !d->used || !d->src->ops->tick)
			continue;
		receivers = 1;
		if (d->src->ops->stop)
			d->src->ops->stop(d->src);
	}
	if (receivers) {
		int64_t t = ctx->next_time;
		ctx->next_time += ctx->env.batch_ms;
		run_batch(ctx, t);
	}
	return receivers;
}

static void *driver(void *arg)
{
	sluice_context *ctx = arg;
	int ended = 0;
	while (!ended) {
		/* acquire: pairs with the release store in stop/request_stop */
		if (atomic_load_explicit(&ctx->stop_req, memory_order_acquire))
			break;
		int64_t when = ctx->ticking && !ctx->has_builder && ctx->next_tick < ctx->next_time
				   ? ctx->next_tick
				   : ctx->next_time;
		int w = ctx->bounded ? 0 : wait_until(ctx, when);
		if (w == 1)
			break;
		if (w == 2) {
			poll_receivers(ctx);
			continue;
		}
		ended = step(ctx, when) == 3;
	}
	stop_builder(ctx);
	if (!ended && ctx->graceful)
		drain(ctx);
	terminate(ctx);
	return NULL;
}

/* A batch computes a stream by computing its parents first, recursively, on the driver's
 * stack: a graph deeper than this (a chain of thousands of vals) is refused at start
 * instead of overflowing that stack. (An expression nested as deep is refused by the
 * parser.) */
#define SL_MAX_GRAPH_DEPTH 1000

static int check_depth(sluice_context *ctx, sluice_error *err)
{
	for (int i = 0; i < ctx->g.nds; i++) { /* ds[] is in topological order */
		sl_dstream *d = ctx->g.ds[i];
		d->depth = 1;
		for (int k = 0; k < d->nparent; k++)
			if (d->parent[k]->depth + 1 > d->depth)
				d->depth = d->parent[k]->depth + 1;
		if (d->depth > SL_MAX_GRAPH_DEPTH) {
			sl_error_set(err, -EINVAL,
				     "the stream graph is more than %d streams deep here (%s); "
				     "shorten the chain of vals",
				     SL_MAX_GRAPH_DEPTH, d->opname);
			if (err) {
				err->line = d->line;
				err->col = d->col;
			}
			return -EINVAL;
		}
	}
	return 0;
}

int sluice_context_start(sluice_context *ctx, sluice_error *err)
{
	if (!ctx)
		return sl_error_set(err, -EINVAL, "NULL context");
	if (ctx->state != 0) {
		sl_error_set(err, -EALREADY,
			     ctx->state == 1 ? "the context is already started"
					     : "a stopped context cannot be restarted");
		return -EALREADY;
	}
	if (!ctx->g.nout) {
		sl_error_set(err, -EINVAL,
			     "No output operations registered, so nothing to execute");
		return -EINVAL;
	}
	int drc = check_depth(ctx, err);
	if (drc)
		return drc;
	int64_t now = ctx->cfg.clock == SLUICE_CLOCK_MANUAL ? ctx->clock_ms : now_ms();
	int64_t B = ctx->env.batch_ms;
	int64_t start = (now >= 0 ? now / B : (now - B + 1) / B) * B + B;
	ctx->g.zero_time = start - B;
	ctx->next_time = start;
	/* Streams no output reads are never computed (Spark's lazy graph): mark the rest.
	 * ds[] is in topological order, so one backward pass suffices. */
	for (int i = 0; i < ctx->g.nout; i++)
		ctx->g.out[i].s->used = 1;
	for (int i = ctx->g.nds - 1; i >= 0; i--)
		for (int k = 0; ctx->g.ds[i]->used && k < ctx->g.ds[i]->nparent; k++)
			ctx->g.ds[i]->parent[k]->used = 1;
	if (sl_graph_unfuse_shared(&ctx->g))
		return sl_error_set(err, -ENOMEM, "out of memory starting the context");
	/* receivers' chunks live on the NUMA node of a worker that will process them: spread
	 * the receivers over the workers' nodes (a no-op on one node, but the path runs) */
	int nrecv = 0, nw = sl_workers_count(ctx->env.workers);
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind == SL_DS_SOURCE)
			d->src->line = d->line, d->src->col = d->col;
		int nr = d->kind == SL_DS_SOURCE && d->used ? sl_receiver_source_count(d->src) : 0;
		if (!nr)
			continue;
		/* the io threads of one stream share a node: its blocks mix their chunks */
		int node = sl_workers_node(ctx->env.workers, nrecv++ % (nw > 0 ? nw : 1));
		for (int k = 0; k < nr; k++)
			sl_receiver_source_at(d->src, k)->node = node;
	}
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind != SL_DS_SOURCE || !d->used)
			continue;
		if (d->src->bounded)
			ctx->bounded = 1;
		if (d->src->ops->start) {
			int rc = d->src->ops->start(d->src, ctx->g.zero_time, err);
			if (rc) {
				/* the sources started before it stop (their io threads end);
				 * receivers cannot start twice, so the context is stopped */
				terminate(ctx);
				return rc;
			}
		}
	}
	for (int i = 0; i < ctx->g.nds; i++) {
		sl_dstream *d = ctx->g.ds[i];
		if (d->kind == SL_DS_SOURCE && d->used && d->src->ops->tick)
			ctx->ticking = 1;
	}
	ctx->next_tick = ctx->g.zero_time + ctx->env.block_ms;
	ctx->state = 1;
	if (ctx->cfg.clock == SLUICE_CLOCK_REAL) {
		int rc = 0;
		if (ctx->ticking && !ctx->bounded) {
			ctx->builder_stop = 0;
			ctx->sealed = INT64_MIN;
			rc = pthread_create(&ctx->builder, NULL, builder, ctx);
			pthread_mutex_lock(&ctx->mu); /* the receivers' wake_ticker reads it */
			ctx->has_builder = !rc;
			pthread_mutex_unlock(&ctx->mu);
		}
		if (!rc)
			rc = pthread_create(&ctx->driver, NULL, driver, ctx);
		if (rc) {
			stop_builder(ctx);
			terminate(ctx); /* the sources have started: stop them and the context */
			sl_error_set(err, -rc,
				     "cannot start the driver or block builder thread: %s",
				     strerror(rc));
			return -rc;
		}
		ctx->has_driver = 1;
	}
	return 0;
}

int64_t sluice_context_advance(sluice_context *ctx, int64_t ms)
{
	if (!ctx || ctx->cfg.clock != SLUICE_CLOCK_MANUAL || ctx->state == 0 || ms < 0)
		return -EINVAL;
	if (ctx->state == 2)
		return 0;
	ctx->clock_ms += ms;
	int64_t n = 0;
	while (ctx->state == 1) {
		if (atomic_load_explicit(&ctx->stop_req, memory_order_acquire)) {
			if (ctx->graceful)
				n += drain(ctx);
			terminate(ctx);
			break;
		}
		int r = step(ctx, ctx->clock_ms);
		if (!r)
			break;
		n += r >= 2;
		if (r == 3) {
			terminate(ctx);
			break;
		}
	}
	return n;
}

void sluice_context_set_max_batches(sluice_context *ctx, int64_t n)
{
	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->mu); /* the driver reads both under mu */
	ctx->max_batches = n > 0 ? ctx->batches + n : 0;
	pthread_mutex_unlock(&ctx->mu);
}

int sluice_context_await(sluice_context *ctx, int64_t timeout_ms)
{
	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->mu);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	if (timeout_ms >= 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000)
			until.tv_sec++, until.tv_nsec -= 1000000000;
	}
	int timed_out = 0;
	while (!ctx->terminated && !timed_out) {
		if (timeout_ms < 0)
			pthread_cond_wait(&ctx->cv, &ctx->mu);
		else
			timed_out = pthread_cond_timedwait(&ctx->cv, &ctx->mu, &until) == ETIMEDOUT;
	}
	int r = ctx->terminated ? 0 : 1;
	pthread_mutex_unlock(&ctx->mu);
	return r;
}

static void request(sluice_context *ctx, int graceful)
{
	/* the first request decides how the run stops (relaxed: only this exchange orders
	 * requests; a later request_stop cannot turn a stop(ctx, 0) into a graceful one) */
	if (atomic_exchange_explicit(&ctx->requested, 1, memory_order_relaxed))
		return;
	atomic_store_explicit(&ctx->graceful, graceful,
			      memory_order_relaxed); /* published by
						      * the release below */
	/* release: the driver's acquire load sees everything before the request */
	atomic_store_explicit(&ctx->stop_req, 1, memory_order_release);
}

void sluice_context_request_stop(sluice_context *ctx)
{
	if (ctx)
		request(ctx, 1);
}

static int stop_locked(sluice_context *ctx, int graceful)
{
	/* a batch is never cut mid-way; graceful also stops the receivers and runs one last
	 * batch with what they received (drain) */
	if (!atomic_load_explicit(&ctx->stop_req, memory_order_acquire))
		request(ctx, graceful != 0);
	pthread_mutex_lock(&ctx->mu);
	pthread_cond_broadcast(&ctx->cv);
	pthread_mutex_unlock(&ctx->mu);
	if (ctx->has_driver) {
		pthread_join(ctx->driver, NULL);
		ctx->has_driver = 0;
	} else if (ctx->state == 1 && ctx->graceful) {
		drain(ctx); /* manual clock: the caller's thread is the driver */
	}
	if (ctx->state != 2)
		terminate(ctx);
	return 0;
}

int sluice_context_stop(sluice_context *ctx, int graceful)
{
	if (!ctx)
		return -EINVAL;
	/* from a callback on the driver: it cannot join itself (and a stop of another thread
	 * would hold stop_mu while joining it); the request is made, the driver ends after
	 * this batch */
	if (ctx->has_driver && pthread_equal(pthread_self(), ctx->driver)) {
		request(ctx, graceful != 0);
		return -EDEADLK;
	}
	/* one stop at a time: a second caller waits for the first to finish, then finds
	 * nothing left to join */
	pthread_mutex_lock(&ctx->stop_mu);
	int rc = stop_locked(ctx, graceful);
	pthread_mutex_unlock(&ctx->stop_mu);
	return rc;
}

int sluice_context_stats(const sluice_context *ctx, sluice_stats *st)
{
	if (!ctx || !st)
		return -EINVAL;
	sluice_stats s = {.size = sizeof(s)};
	pthread_mutex_lock((pthread_mutex_t *)&ctx->mu);
	s.batches = ctx->batches;
	s.failed_batches = ctx->failed;
	s.last_batch_ms = ctx->last_batch;
	pthread_mutex_unlock((pthread_mutex_t *)&ctx->mu);
	s.zero_time_ms = ctx->g.zero_time;
	for (int i = 0; i < ctx->g.nds; i++)
		s.skipped_records += ctx->g.ds[i]->skipped;
	size_t n = st->size && st->size < sizeof(s) ? st->size : sizeof(s);
	memcpy(st, &s, n);
	st->size = n;
	return 0;
}

int sluice_context_first_error(const sluice_context *ctx, sluice_error *err)
{
	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock((pthread_mutex_t *)&ctx->mu);
	sluice_error e = ctx->first_err;
	pthread_mutex_unlock((pthread_mutex_t *)&ctx->mu);
	if (err)
		*err = e;
	return e.code;
}

/* The i-th used-or-not receiver source stream, or NULL. */
static sl_dstream *receiver_stream(const sluice_context *ctx, int i)
{
	for (int k = 0; k < ctx->g.nds; k++) {
		sl_dstream *d = ctx->g.ds[k];
		if (d->kind == SL_DS_SOURCE && sl_receiver_of(d->src) && i-- == 0)
			return d;
	}
	return NULL;
}

int sluice_context_receiver_count(const sluice_context *ctx)
{
	if (!ctx)
		return -EINVAL;
	int n = 0;
	while (receiver_stream(ctx, n))
		n++;
	return n;
}

int sluice_context_receiver_stats(const sluice_context *ctx, int i, sluice_receiver_stats *st)
{
	sl_dstream *d = ctx && st && i >= 0 ? receiver_stream(ctx, i) : NULL;
	if (!d)
		return -ENOENT;
	sl_receiver *r = sl_receiver_of(d->src);
	sluice_receiver_stats x = {
	    .size = sizeof(x),
	    .name = r->ops->name,
	    .line = d->line,
	    .col = d->col,
	    .blocks = sl_receiver_source_blocks(d->src),
	    /* relaxed: a setting; the stream's (its io threads share one token bucket) */
	    .rate_limit = atomic_load_explicit(&r->rate_limit, memory_order_relaxed),
	    .io_threads = sl_receiver_source_count(d->src),
	};
	/* one source over several io threads: the sums of their counters; last_errno is the
	 * first io thread's that has one */
	for (int k = 0; k < x.io_threads; k++) {
		sl_receiver *q = sl_receiver_source_at(d->src, k);
		/* relaxed throughout: statistics, each counter on its own */
		x.records += atomic_load_explicit(&q->records, memory_order_relaxed);
		x.bytes += atomic_load_explicit(&q->bytes, memory_order_relaxed);
		x.skipped += atomic_load_explicit(&q->skipped, memory_order_relaxed);
		x.restarts += atomic_load_explicit(&q->restarts, memory_order_relaxed);
		x.connections += atomic_load_explicit(&q->connections, memory_order_relaxed);
		if (!x.last_errno)
			x.last_errno = atomic_load_explicit(&q->last_errno, memory_order_relaxed);
	}
	size_t n = st->size && st->size < sizeof(x) ? st->size : sizeof(x);
	memcpy(st, &x, n);
	st->size = n;
	return 0;
}

const char *sluice_isa(const char *force, int *err)
{
	const sl_kernels *k = sl_kernels_select(force, err);
	return k ? k->isa : NULL;
}

const char *sluice_context_isa(const sluice_context *ctx)
{
	return ctx ? ctx->env.kern->isa : NULL;
}

const char *sluice_version(void)
{
	return SLUICE_VERSION;
}
