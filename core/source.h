/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source.h - the interface between the engine and its input streams.
 *
 * core/ defines it, io/ implements it (queueStream, textFile, generator, sockets...).
 * The driver calls next() once per batch time, in increasing time order, from one
 * thread. A source decides its element type when it is created, so the graph can be
 * type-checked before anything runs.
 */
#ifndef SL_SOURCE_H
#define SL_SOURCE_H

#include "env.h"
#include "rdd.h"

/* next() returns this (>0) when the source is bounded and has nothing more after *out. */
#define SL_SOURCE_END 1

typedef struct sl_source sl_source;
typedef struct sl_source_ops {
	const char *name;
	/* Called once before the first batch; zero_time is Spark's zeroTime. 0 or -errno. */
	int (*start)(sl_source *s, int64_t zero_time, sluice_error *err);
	/* Produce batch `time`: *out = new rdd (caller owns the reference) or NULL for "no
	 * RDD at this time". Returns 0, SL_SOURCE_END (this was the last batch with data; *out
	 * may still be set), or -errno with err filled (the batch fails; later ones still run). */
	int (*next)(sl_source *s, int64_t time, sl_rdd **out, sluice_error *err);
	/* Stop receiving (may be NULL). After it returns, what was received is still served
	 * by later next() calls (graceful stop drains it into a last batch). */
	void (*stop)(sl_source *s);
	/* Every block interval (may be NULL): receivers seal what arrived since the last tick
	 * into a block. now is the tick's time on the context clock. With the real clock it
	 * runs on the block builder's thread, at the same time as next() on the driver's (for
	 * another batch time, later than next()'s); the source orders the two itself. With the
	 * manual clock the driver calls it. */
	void (*tick)(sl_source *s, int64_t now);
	/* Between ticks, when a receiver asked (env->wake), from the thread that ticks (may be
	 * NULL): take what arrived off the ring, to be sealed into the block at the next tick. */
	void (*poll)(sl_source *s);
	/* After each batch, from the driver (may be NULL): this source's records in the batch
	 * and the batch's delays, for rate control (Spark's RateController.onBatchCompleted). */
	void (*batch_done)(sl_source *s, int64_t time, int64_t records, int64_t processing_ms,
			   int64_t scheduling_ms, int64_t wall_ms);
	void (*free)(sl_source *s);
} sl_source_ops;

struct sl_source {
	const sl_source_ops *ops;
	const sl_type *type; /* element type of the stream */
	sl_env *env;
	int bounded;   /* 1: a batch job (textFile); the run ends after SL_SOURCE_END */
	int line, col; /* its stream's place in the pipeline text (0: the C API), for warnings;
			* set at start */
};

/*
 * A constant argument of a source call (pipeline text or API), already evaluated; core/build.c
 * also describes operator arguments this way for binding (core/args.h), where an argument
 * may be a function or another expression.
 */
enum sl_arg_kind {
	SL_ARG_STR,
	SL_ARG_INT,
	SL_ARG_FLOAT,
	SL_ARG_DURATION,
	SL_ARG_BOOL,
	SL_ARG_FN,   /* operators: a lambda or a placeholder expression (_ + _) */
	SL_ARG_EXPR, /* operators: any other expression (a stream, a Seq); as a parameter
		      * kind, any argument */
};
typedef struct sl_arg {
	const char *name; /* NULL for positional */
	int kind;
	int64_t i; /* INT, DURATION (ms), BOOL */
	double f;
	const char *s; /* STR, NUL-terminated */
	int line, col;
} sl_arg;

/* How the pipeline language makes a source by name. io/ defines the table. */
typedef sl_source *(*sl_source_make)(sl_env *env, const sl_arg *args, int nargs, sluice_error *err);
typedef struct sl_source_def {
	const char *name; /* Spark's name: queueStream, textFile, ... */
	sl_source_make make;
	const char *usage; /* one line for errors and --help */
} sl_source_def;
extern const sl_source_def sl_source_defs[]; /* terminated by {NULL} */

/* Sinks core's output operations call; io/ implements them. */
int sl_save_text_files(sl_env *env, const sl_rdd *r, const char *prefix, const char *suffix,
		       int64_t time_ms, sluice_error *err);

#endif
