/* SPDX-License-Identifier: Apache-2.0 */
/* context.h - the context's insides, shared by context.c, build.c and api.c. */
#ifndef SL_CONTEXT_H
#define SL_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>

#include "../include/sluice.h"
#include "dstream.h"

/* The longest batch interval (about 31 years; the CLI's and the pipeline language's
 * durations stop there too). */
#define SL_BATCH_MS_MAX ((int64_t)1000000000000)

struct sl_name {
	char *name;
	sl_dstream *s;
};

struct sluice_context {
	sluice_config cfg;
	sl_env env;
	sl_graph g;
	struct sl_name *names;
	int nnames, capnames;
	int *name_ix;      /* hash index of names: slot -> index + 1, 0 empty (build.c) */
	size_t name_ixcap; /* slots, a power of two > 2 * nnames, or 0 */
	atomic_int state;  /* 0 initialized, 1 active, 2 stopped (read from any thread) */
	pthread_t driver;
	atomic_int has_driver; /* stop reads it on any thread to spot a callback's call */
	pthread_t builder;     /* the block builder (real clock with receivers: see context.c) */
	int has_builder;
	pthread_mutex_t mu;
	pthread_mutex_t stop_mu; /* serializes sluice_context_stop */
	pthread_cond_t cv;       /* the driver and await() sleep on it */
	pthread_cond_t bcv;      /* the block builder sleeps on it */
	atomic_int stop_req; /* set by stop/request_stop; read by the driver (acquire/release) */
	int terminated;      /* under mu */
	int64_t max_batches, batches, failed, last_batch;
	int64_t clock_ms;  /* manual clock */
	int64_t next_time; /* next batch time (written under mu while a builder runs) */
	int bounded;       /* the graph has a bounded source: run as fast as possible */
	int ticking;       /* a source wants block ticks (receivers) */
	int64_t next_tick; /* next block tick time (under mu while a builder runs) */
	int64_t sealed;   /* under mu: the builder's last tick time (every block up to it sealed) */
	int builder_stop; /* under mu: the builder returns */
	atomic_int graceful;  /* stop drains receivers into a last batch; set before stop_req */
	atomic_int requested; /* a stop was requested (the first request sets graceful) */
	int io_wake;          /* under mu: a receiver asked for a poll before the next tick */
	sluice_error first_err;
	/* transform callbacks registered through the API */
	struct sl_tf **tfs;
	int ntfs;
};

/* Build streams from pipeline text (build.c). */
int sl_build(sluice_context *ctx, const char *text, size_t len, sluice_error *err);
/* One operator call in the pipeline language applied to s (the C API's window and state
 * operators, sluice_stream_apply). */
sl_dstream *sl_build_apply(sluice_context *ctx, sl_dstream *s, const char *call, sluice_error *err);

#endif
