/* SPDX-License-Identifier: Apache-2.0 */
/*
 * env.h - what operators, sources and sinks may use from their context.
 *
 * A context owns exactly one sl_env; everything reachable from it is per context (the
 * library has no global state). Sources and sinks in io/ get a pointer to it.
 */
#ifndef SL_ENV_H
#define SL_ENV_H

#include <stdint.h>

#include "../include/sluice.h"
#include "mem.h"
#include "pool.h"
#include "type.h"

enum sl_log_level { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 };

typedef struct sl_env {
	sl_mem *mem;
	sl_types *types;
	sl_workers *workers;
	int64_t batch_ms; /* batch interval */
	int64_t block_ms; /* block interval; batch_ms is a multiple of it */
	void (*log)(void *arg, int level, const char *msg);
	void *log_arg;
	/* print() output: called with whole formatted batches. */
	void (*out)(void *arg, const char *text, size_t len);
	void *out_arg;
	/* receivers */
	int64_t max_rate;     /* per receiver, records/s, 0 = unlimited */
	int backpressure;     /* PID rate estimator on */
	int64_t initial_rate; /* backpressure.initialRate, 0 = none */
	/* Any thread may call wake(wake_arg) to have the receivers polled before the next
	 * block tick (an io thread whose ring is half full), by the block builder or, without
	 * one, the driver. NULL: nobody to wake. */
	void (*wake)(void *arg);
	void *wake_arg;
	/* the kernel table chosen once for this context (kernels/kernels.h) */
	const struct sl_kernels *kern;
} sl_env;

/*
 * sl_error_set - record an error where it starts: err->code = code, err->msg = the
 * formatted one-line message (newlines become spaces); line, col and context are cleared
 * (callers that know a position set them after, e.g. with sl_error_at). err may be NULL.
 * Returns code, so `return sl_error_set(err, -EINVAL, ...)` works.
 */
int sl_error_set(sluice_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err->line, err->col = line, col; err may be NULL. */
void sl_error_at(sluice_error *err, int line, int col);

/* Log through the embedder's callback (no-op without one). printf-style. */
void sl_log(const sl_env *env, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
