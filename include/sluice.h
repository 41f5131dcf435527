/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice.h - the whole public contract of libsluice.
 *
 * sluice runs Spark Streaming's DStream model (batch interval, block interval, per-batch
 * operators, outputs) in one process over columnar blocks. A context is built either from
 * pipeline text (sluice_context_pipeline) or with the stream functions below, then started.
 *
 * Conventions: functions return 0 (or a count) on success and a negative errno on failure;
 * constructors return NULL and fill a sluice_error (err may be NULL everywhere; a new error
 * clears the line, column and context of an earlier one in the same struct). The library
 * never exits, reads no environment variable of its own (hwloc, which it uses to find the
 * machine's cores and NUMA nodes, honours its HWLOC_* variables) and writes nothing except
 * what the print() output operation is asked to write (to the output callback of the
 * config, or standard output if there is none). Every *_free(NULL) is a no-op, and the
 * context functions return -EINVAL (or do nothing) for a NULL context.
 * Functions are not thread-safe on one context unless they say otherwise.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_VERSION "0.1.0"

/*
 * sluice_error - what went wrong and where.
 * code is a negative errno. line/col are 1-based positions in the pipeline text (0 when
 * the error has no position); col counts characters (UTF-8 sequences), not bytes. msg is
 * one line naming the cause; context holds the offending source line and a caret line under
 * the column ("" if none).
 */
typedef struct sluice_error {
	int code;
	int line, col;
	char msg[512];
	char context[512];
} sluice_error;

typedef struct sluice_context sluice_context;
typedef struct sluice_stream sluice_stream; /* owned by its context */
typedef struct sluice_batch sluice_batch;   /* borrowed, valid during a callback only */
typedef struct sluice_column sluice_column; /* borrowed, as its batch */

enum sluice_clock { SLUICE_CLOCK_REAL = 0, SLUICE_CLOCK_MANUAL = 1 };
enum sluice_log_level {
	SLUICE_LOG_ERROR = 0,
	SLUICE_LOG_WARN = 1,
	SLUICE_LOG_INFO = 2,
	SLUICE_LOG_DEBUG = 3
};

/*
 * sluice_config - how a context runs. Fill with sluice_config_init, then change fields.
 * size must be sizeof(sluice_config) of the header the embedder compiled against, so
 * fields can be added later without breaking it.
 */
typedef struct sluice_config {
	size_t size;
	int64_t batch_interval_ms; /* 1 to 10^12; default 1000 */
	int64_t block_interval_ms; /* > 0, divides the batch interval; default: the largest divisor
				    * of the batch interval <= 200 ms (Spark's default is 200 ms) */
	int workers;               /* worker threads incl. the driver; 0 = one per core */
	int no_pin;                /* 1: do not pin workers to cores */
	int clock;                 /* enum sluice_clock */
	int64_t manual_start_ms;   /* manual clock's time at start (default 0) */
	/* Diagnostics (skipped records, failed batches, connections). NULL: none. Called from
	 * the driver and from receivers' io threads, several at once: it must be thread-safe. */
	void (*log)(void *arg, int level, const char *msg);
	void *log_arg;
	/* print() output, whole batches at a time. NULL: write(2) to standard output. */
	void (*output)(void *arg, const char *text, size_t len);
	void *output_arg;
	/* Receivers (Spark's spark.streaming.receiver.maxRate, backpressure.*): */
	int64_t receiver_max_rate;         /* records/s per receiver, 0 = unlimited */
	int backpressure;                  /* 1: a PID estimator adapts each receiver's rate */
	int64_t backpressure_initial_rate; /* records/s until the first estimate, 0 = none */
	/* Kernel instruction set: "scalar", "avx2", "avx512", or NULL for the best this CPU
	 * runs (the CLI takes it from SLUICE_ISA). Copied. */
	const char *isa;
} sluice_config;

/* sluice_config_init - defaults into *cfg (size set). A macro that passes the size of the
 * embedder's sluice_config, so a library with a longer one never writes past it: the
 * library fills the first `size` bytes and sets cfg->size to what it filled. */
void sluice_config_init_size(sluice_config *cfg, size_t size);
#define sluice_config_init(cfg) sluice_config_init_size((cfg), sizeof(*(cfg)))
/* The same for a config of this header's size (kept for binaries built before the macro). */
void(sluice_config_init)(sluice_config *cfg);

/*
 * sluice_context_new - a context (Spark's StreamingContext).
 *   Returns the context, or NULL with err: -EINVAL for a bad interval (the batch interval
 *   must be a multiple of the block interval), -ENOMEM. Ownership: cfg is copied.
 */
sluice_context *sluice_context_new(const sluice_config *cfg, sluice_error *err);
/* sluice_context_free - stop (not gracefully) if running, then free everything. */
void sluice_context_free(sluice_context *ctx);

/*
 * sluice_context_pipeline - add the streams and outputs of a pipeline program.
 *   text is the pipeline language (docs/pipeline-language.md); `val` names become
 *   streams reachable with sluice_context_stream. May be called several times before
 *   start. Returns 0, or a negative errno with err naming the line and column (and, for
 *   an unknown operator, the nearest valid name): -EINVAL for the text, or the error of a
 *   source that cannot be made (-ENOENT for a missing queue file, -EADDRINUSE for a
 *   listening address in use, ...). Streams and outputs of the statements before the one
 *   that failed stay in the context. Ownership: text is copied as needed.
 */
int sluice_context_pipeline(sluice_context *ctx, const char *text, size_t len, sluice_error *err);
/* The stream a pipeline named with `val name = ...`, or NULL. */
sluice_stream *sluice_context_stream(sluice_context *ctx, const char *name);

/* ---- sources: return a stream owned by ctx, or NULL with err ---- */
/* queueStream: one JSON array of records per line, one line per batch (docs/sources.md). */
sluice_stream *sluice_queue_stream(sluice_context *ctx, const char *path, sluice_error *err);
/* textFile: a file or directory read once as one batch; the run ends after it. */
sluice_stream *sluice_text_file(sluice_context *ctx, const char *path, sluice_error *err);
/* generator: kind "lines", "words", "kv" or "numbers" at rate records/s over keys keys. */
sluice_stream *sluice_generator(sluice_context *ctx, const char *kind, int64_t rate, int64_t keys,
				sluice_error *err);

/* ---- operators: fn is a function in the pipeline language ("x => x * 2", "_ + _").
 * Each returns a new stream or NULL with err (type errors name the types). nparts 0 =
 * one output partition per worker. ---- */
sluice_stream *sluice_stream_map(sluice_stream *s, const char *fn, sluice_error *err);
sluice_stream *sluice_stream_flat_map(sluice_stream *s, const char *fn, sluice_error *err);
sluice_stream *sluice_stream_filter(sluice_stream *s, const char *fn, sluice_error *err);
sluice_stream *sluice_stream_map_values(sluice_stream *s, const char *fn, sluice_error *err);
sluice_stream *sluice_stream_flat_map_values(sluice_stream *s, const char *fn, sluice_error *err);
sluice_stream *sluice_stream_reduce(sluice_stream *s, const char *fn, sluice_error *err);
sluice_stream *sluice_stream_reduce_by_key(sluice_stream *s, const char *fn, int nparts,
					   sluice_error *err);
sluice_stream *sluice_stream_count(sluice_stream *s, sluice_error *err);
sluice_stream *sluice_stream_count_by_value(sluice_stream *s, int nparts, sluice_error *err);
sluice_stream *sluice_stream_group_by_key(sluice_stream *s, int nparts, sluice_error *err);
sluice_stream *sluice_stream_repartition(sluice_stream *s, int nparts, sluice_error *err);
sluice_stream *sluice_stream_union(sluice_stream *a, sluice_stream *b, sluice_error *err);

/* ---- windows and state (docs/pipeline-language.md, "Windows and state"). Durations in ms;
 * window and slide must be multiples of the parent's slide; slide_ms 0 = the parent's slide
 * where Spark allows omitting it. inv_fn and filter_fn may be NULL (the naive form / no
 * filter). ---- */
sluice_stream *sluice_stream_window(sluice_stream *s, int64_t window_ms, int64_t slide_ms,
				    sluice_error *err);
sluice_stream *sluice_stream_count_by_window(sluice_stream *s, int64_t window_ms, int64_t slide_ms,
					     sluice_error *err);
sluice_stream *sluice_stream_reduce_by_window(sluice_stream *s, const char *fn, const char *inv_fn,
					      int64_t window_ms, int64_t slide_ms,
					      sluice_error *err);
sluice_stream *sluice_stream_reduce_by_key_and_window(sluice_stream *s, const char *fn,
						      const char *inv_fn, int64_t window_ms,
						      int64_t slide_ms, int nparts,
						      const char *filter_fn, sluice_error *err);
sluice_stream *sluice_stream_count_by_value_and_window(sluice_stream *s, int64_t window_ms,
						       int64_t slide_ms, int nparts,
						       sluice_error *err);
sluice_stream *sluice_stream_group_by_key_and_window(sluice_stream *s, int64_t window_ms,
						     int64_t slide_ms, int nparts,
						     sluice_error *err);
/* fn: "(values, state) => Option[S]" or "(time, key, values, state) => ..."; initial: a
 * Seq of (key, state) pairs in the pipeline language, e.g. "Seq((\"a\", 1))", or NULL. */
sluice_stream *sluice_stream_update_state_by_key(sluice_stream *s, const char *fn,
						 const char *initial, int nparts,
						 sluice_error *err);
/* spec: "StateSpec.function((key, value, state) => ...).timeout(3s)..." */
sluice_stream *sluice_stream_map_with_state(sluice_stream *s, const char *spec, sluice_error *err);
sluice_stream *sluice_stream_state_snapshots(sluice_stream *s, sluice_error *err);
/* checkpoint(interval): today it sets mapWithState's timeout scan interval. */
int sluice_stream_checkpoint(sluice_stream *s, int64_t interval_ms, sluice_error *err);
/* Any operator of the pipeline language applied to s: "reduceByKeyAndWindow(_ + _, 5s, 1s)". */
sluice_stream *sluice_stream_apply(sluice_stream *s, const char *call, sluice_error *err);
enum sluice_join {
	SLUICE_JOIN_INNER,
	SLUICE_JOIN_LEFT_OUTER,
	SLUICE_JOIN_RIGHT_OUTER,
	SLUICE_JOIN_FULL_OUTER
};
sluice_stream *sluice_stream_join(sluice_stream *a, sluice_stream *b, int how, int nparts,
				  sluice_error *err);
sluice_stream *sluice_stream_cogroup(sluice_stream *a, sluice_stream *b, int nparts,
				     sluice_error *err);

/*
 * sluice_stream_transform - C code over each whole batch (Spark's transform).
 *   out_type names the element type of the result ("Long", "(String, Long)", ...). fn is
 *   called on the driver once per batch with the input batch (borrowed) and a builder
 *   for the output (sluice_out_*); it returns 0 or a negative errno, which fails that
 *   batch (later batches still run). Threads: fn runs on the context's driver thread.
 */
typedef struct sluice_out sluice_out;
typedef int (*sluice_transform_fn)(void *arg, int64_t time_ms, const sluice_batch *in,
				   sluice_out *out);
sluice_stream *sluice_stream_transform(sluice_stream *s, const char *out_type,
				       sluice_transform_fn fn, void *arg, sluice_error *err);
/*
 * sluice_stream_map_partitions - C code over each partition, in parallel (Spark's
 *   mapPartitions). fn(arg, time, p, in, out) reads partition p's column and appends
 *   records to out exactly as a transform does; the output has one partition per input
 *   partition, in order. A batch without an RDD gives no RDD (fn is not called). A
 *   non-zero return or a malformed record fails that batch only.
 *   Threads: fn runs on the worker threads, several partitions at once: it must be safe
 *   to call concurrently (arg is shared).
 */
typedef int (*sluice_partition_fn)(void *arg, int64_t time_ms, size_t partition,
				   const sluice_column *in, sluice_out *out);
sluice_stream *sluice_stream_map_partitions(sluice_stream *s, const char *out_type,
					    sluice_partition_fn fn, void *arg, sluice_error *err);
/* Appending to a transform's output: the leaves of one record in order, then end the
 * record. For (String, Long): out_str, out_i64, out_end. Return 0, -EINVAL on a type
 * mismatch, -ENOMEM. */
int sluice_out_i64(sluice_out *o, int64_t v);
int sluice_out_f64(sluice_out *o, double v);
int sluice_out_bool(sluice_out *o, int v);
int sluice_out_str(sluice_out *o, const char *p, size_t n);
int sluice_out_end(sluice_out *o);
/* Copy record i of in to the output (same type). */
int sluice_out_record(sluice_out *o, const sluice_batch *in, size_t i);

/* ---- output operations ---- */
/* print(num): Spark's print format to the output callback. */
int sluice_stream_print(sluice_stream *s, long num, sluice_error *err);
/* saveAsTextFiles: a directory prefix-<time>[.suffix] per batch, written atomically. */
int sluice_stream_save_as_text_files(sluice_stream *s, const char *prefix, const char *suffix,
				     sluice_error *err);
/* foreachBatch (Spark's foreachRDD): fn gets each batch the stream has (also empty ones).
 * A non-zero return fails the batch. Threads: the driver thread. */
typedef int (*sluice_foreach_fn)(void *arg, int64_t time_ms, const sluice_batch *batch);
int sluice_stream_foreach_batch(sluice_stream *s, sluice_foreach_fn fn, void *arg,
				sluice_error *err);

/* ---- reading a batch (zero copy; pointers valid during the callback) ---- */
enum sluice_kind {
	SLUICE_I64,
	SLUICE_F64,
	SLUICE_BOOL,
	SLUICE_STR,
	SLUICE_TUPLE,
	SLUICE_SEQ,
	SLUICE_OPTION
};
size_t sluice_batch_count(const sluice_batch *b);
size_t sluice_batch_partitions(const sluice_batch *b);
/* The column of partition p (its rows are the partition's records). */
const sluice_column *sluice_batch_partition(const sluice_batch *b, size_t p);
/* Record i (across partitions) as text, Scala toString; returns the full length (may be
 * >= n, output truncated and NUL-terminated like snprintf). */
size_t sluice_batch_format(const sluice_batch *b, size_t i, char *buf, size_t n);
int sluice_column_kind(const sluice_column *c); /* SLUICE_*, or -EINVAL for NULL */
size_t sluice_column_length(const sluice_column *c);
const int64_t *sluice_column_i64(const sluice_column *c);  /* NULL unless SLUICE_I64 */
const double *sluice_column_f64(const sluice_column *c);   /* NULL unless SLUICE_F64 */
const uint8_t *sluice_column_bool(const sluice_column *c); /* NULL unless SLUICE_BOOL */
/* String i (not NUL-terminated); NULL unless SLUICE_STR. */
const char *sluice_column_str(const sluice_column *c, size_t i, size_t *len);
/* All strings at once, for loops over many rows: views[i] is string i (its bytes belong to
 * the column, valid while the batch is); NULL unless SLUICE_STR or when empty. */
typedef struct sluice_str {
	const char *p; /* not NUL-terminated */
	uint64_t len;
} sluice_str;
const sluice_str *sluice_column_strs(const sluice_column *c);
/* Field k of a tuple column (same length), the elements of a Seq, the values of an
 * Option; NULL if none. */
const sluice_column *sluice_column_child(const sluice_column *c, int k);
/* A Seq column: row i's elements are child 0's rows offsets[i] .. offsets[i + 1] - 1
 * (length + 1 entries); NULL unless SLUICE_SEQ. */
const uint32_t *sluice_column_offsets(const sluice_column *c);
/* An Option column: valid[i] is 1 for Some (its value is child 0's row i), 0 for None;
 * NULL unless SLUICE_OPTION. */
const uint8_t *sluice_column_valid(const sluice_column *c);

/* ---- running ---- */
/*
 * sluice_context_start - start the batch clock.
 *   Returns 0, -EINVAL if there is no output operation ("No output operations
 *   registered, so nothing to execute"), -EALREADY if started or stopped, or the error
 *   of a source that cannot start (a receiver's, e.g. -EMFILE); then the sources started
 *   before it are stopped and so is the context (free it). With the real clock a driver
 *   thread runs the batches; with the manual clock no batch runs until
 *   sluice_context_advance (the worker threads exist from sluice_context_new).
 *   Threads: call from one thread.
 */
int sluice_context_start(sluice_context *ctx, sluice_error *err);
/*
 * sluice_context_advance - manual clock: move time forward by ms and run every batch
 *   that became due, on the calling thread. Returns the number of batches run, or
 *   -EINVAL (not a manual-clock context, or not started).
 */
int64_t sluice_context_advance(sluice_context *ctx, int64_t ms);
/* Stop after n more batches (0 = no limit). Applies to both clocks. */
void sluice_context_set_max_batches(sluice_context *ctx, int64_t n);
/*
 * sluice_context_await - wait for the context to terminate (stop, the batch limit, or
 *   the end of a bounded input). timeout_ms < 0 waits forever. Returns 0 if terminated,
 *   1 on timeout. Threads: any thread.
 */
int sluice_context_await(sluice_context *ctx, int64_t timeout_ms);
/*
 * sluice_context_stop - stop the batch clock. graceful: the batch in progress and the
 *   data already received are processed and outputs flushed before it returns;
 *   otherwise only the batch in progress finishes. Returns 0. Threads: any thread but a
 *   callback's (from a callback on the driver it only requests the stop and returns
 *   -EDEADLK; the run ends after that batch); concurrent calls are serialized (the later
 *   ones return when the first has stopped the context, and the first call or stop
 *   request decides whether it is graceful). sluice_context_free never stops gracefully.
 */
int sluice_context_stop(sluice_context *ctx, int graceful);
/* Thread-safe request to stop gracefully (e.g. from a signal handler: it only sets an
 * atomic flag; the driver sees it within 50 ms, or at the end of the batch running). */
void sluice_context_request_stop(sluice_context *ctx);

/* Statistics of a context. */
typedef struct sluice_stats {
	size_t size;
	int64_t batches;          /* batches run */
	int64_t failed_batches;   /* batches in which an output operation failed */
	int64_t last_batch_ms;    /* time of the last batch run */
	uint64_t skipped_records; /* records functions could not evaluate (logged, dropped) */
	int64_t zero_time_ms;
} sluice_stats;
int sluice_context_stats(const sluice_context *ctx, sluice_stats *st);
/* Statistics of one receiver (socketTextStream, socketServerStream, ...). Counters are
 * updated by the receiver's io thread and read without stopping it. */
typedef struct sluice_receiver_stats {
	size_t size;
	const char *name;     /* the source's name, e.g. "socketServerStream" (static) */
	int line, col;        /* where the pipeline defined it (0 from the C API) */
	uint64_t records;     /* records received (framed) */
	uint64_t bytes;       /* bytes received */
	uint64_t blocks;      /* blocks sealed */
	uint64_t skipped;     /* records skipped (longer than the maximum record size) */
	uint64_t restarts;    /* reconnects (socketTextStream) */
	uint64_t connections; /* connections made or accepted */
	int64_t rate_limit;   /* records/s in force, 0 = unlimited */
	int last_errno;       /* the last connection error (0 if none; with several io
			       * threads, that of the first that has one) */
	int io_threads;       /* io threads (socketServerStream ioThreads; else 1); the
			       * counters above are their sums, rate_limit the stream's */
} sluice_receiver_stats;
/* Number of receivers in the context (in definition order). */
int sluice_context_receiver_count(const sluice_context *ctx);
/* Statistics of receiver i. 0, or -ENOENT when i is out of range. Threads: any. */
int sluice_context_receiver_stats(const sluice_context *ctx, int i, sluice_receiver_stats *st);

/* The first batch failure (code 0 if none). */
int sluice_context_first_error(const sluice_context *ctx, sluice_error *err);

/* Version string. */
const char *sluice_version(void);
/*
 * sluice_isa - the kernel instruction set a context would use: `force` ("scalar",
 *   "avx2", "avx512") if this CPU runs it, the best one if force is NULL or "". Returns
 *   the name, or NULL with *err = -EINVAL (unknown name) or -ENOTSUP (the CPU lacks it).
 */
const char *sluice_isa(const char *force, int *err);
/* The kernel instruction set a context runs. */
const char *sluice_context_isa(const sluice_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
