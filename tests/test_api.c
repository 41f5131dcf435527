/* SPDX-License-Identifier: Apache-2.0 */
/* test_api.c - the C API as an embedder uses it: wrong call orders, NULL arguments, bad
 * numbers, several threads stopping one context, reused error structs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "sluice.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	sl_test_tmpdir(dir, "api");
}

static void teardown(void)
{
	sl_test_rmdir(dir);
}

TestSuite(api, .init = setup, .fini = teardown);

static void discard(void *arg, const char *p, size_t n)
{
	(void)arg, (void)p, (void)n;
}

/* The config of these tests: one worker, not pinned, printed output discarded. */
static sluice_config test_cfg(int clock, int64_t batch_ms)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = clock;
	cfg.no_pin = 1;
	cfg.workers = 1;
	cfg.batch_interval_ms = batch_ms;
	cfg.output = discard;
	return cfg;
}

static sluice_context *ctx_of(const sluice_config *cfg)
{
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(cfg, &err);
	cr_assert_not_null(ctx, "%s", err.msg);
	return ctx;
}

static sluice_context *ctx_new(int clock, int64_t batch_ms)
{
	sluice_config cfg = test_cfg(clock, batch_ms);
	return ctx_of(&cfg);
}

/* A manual-clock context printing a generator's count. */
static sluice_context *gen_ctx(sluice_stream **gen)
{
	sluice_context *ctx = ctx_new(SLUICE_CLOCK_MANUAL, 1000);
	sluice_error err = {0};
	*gen = sluice_generator(ctx, "numbers", 100, 10, &err);
	cr_assert_not_null(*gen, "%s", err.msg);
	cr_assert_eq(sluice_stream_print(sluice_stream_count(*gen, &err), 10, &err), 0, "%s",
		     err.msg);
	return ctx;
}

/* Every stream function refuses to add to a started context (the driver reads the graph). */
Test(api, nothing_is_added_after_start)
{
	sluice_stream *g;
	sluice_context *ctx = gen_ctx(&g);
	sluice_error err = {0};
	sluice_stream *kv = sluice_stream_map(g, "x => (x, 1L)", &err);
	cr_assert_not_null(kv, "%s", err.msg);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	const char *why = "streams and outputs can only be added before the context starts";
#define REFUSED(call)                                                                              \
	do {                                                                                       \
		memset(&err, 0, sizeof(err));                                                      \
		cr_assert_null(call, #call);                                                       \
		cr_assert_eq(err.code, -EINVAL, #call);                                            \
		cr_assert_str_eq(err.msg, why, #call);                                             \
	} while (0)
	REFUSED(sluice_stream_count(g, &err));
	REFUSED(sluice_stream_count_by_value(g, 0, &err));
	REFUSED(sluice_stream_group_by_key(kv, 0, &err));
	REFUSED(sluice_stream_repartition(g, 2, &err));
	REFUSED(sluice_stream_union(g, g, &err));
	REFUSED(sluice_stream_join(kv, kv, SLUICE_JOIN_INNER, 0, &err));
	REFUSED(sluice_stream_cogroup(kv, kv, 0, &err));
	REFUSED(sluice_stream_map(g, "x => x", &err));
	REFUSED(sluice_stream_window(g, 2000, 1000, &err));
#undef REFUSED
	cr_assert_eq(sluice_stream_print(g, 10, &err), -EINVAL);
	cr_assert_eq(sluice_context_advance(ctx, 3000), 3);
	sluice_context_free(ctx);
}

/* Streams of two contexts cannot meet; partition counts are checked as in the pipeline
 * language (0 is the default). */
Test(api, streams_and_partitions_are_checked)
{
	sluice_stream *a, *b;
	sluice_context *c1 = gen_ctx(&a), *c2 = gen_ctx(&b);
	sluice_error err = {0};
	cr_assert_null(sluice_stream_union(a, b, &err));
	cr_assert_str_eq(err.msg, "the two streams belong to different contexts");
	sluice_stream *kv = sluice_stream_map(a, "x => (x, 1L)", &err);
	sluice_stream *kv2 = sluice_stream_map(b, "x => (x, 1L)", &err);
	cr_assert_null(sluice_stream_join(kv, kv2, SLUICE_JOIN_INNER, 0, &err));
	cr_assert_null(sluice_stream_cogroup(kv, kv2, 0, &err));
	const int bad[] = {-1, (1 << 20) + 1, 100000000};
	for (int i = 0; i < 3; i++) {
		memset(&err, 0, sizeof(err));
		cr_assert_null(sluice_stream_count_by_value(a, bad[i], &err));
		cr_assert(strstr(err.msg, "numPartitions must be 0 (the default) or from 1 to "
					  "1048576"),
			  "%s", err.msg);
		cr_assert_null(sluice_stream_reduce_by_key(kv, "_ + _", bad[i], &err));
		cr_assert_null(sluice_stream_join(kv, kv, SLUICE_JOIN_INNER, bad[i], &err));
	}
	cr_assert_not_null(sluice_stream_count_by_value(a, 1 << 20, &err), "%s", err.msg);
	sluice_context_free(c1);
	sluice_context_free(c2);
}

/* err may be NULL on every error path, type errors of functions included. */
Test(api, null_error_structs_and_contexts)
{
	sluice_stream *g;
	sluice_context *ctx = gen_ctx(&g);
	sluice_stream *kv = sluice_stream_map(g, "x => (x, 1L)", NULL);
	cr_assert_not_null(kv);
	cr_assert_null(sluice_stream_filter(g, "x => 1", NULL));
	cr_assert_null(sluice_stream_reduce_by_key(kv, "(a, b) => a > b", 0, NULL));
	cr_assert_null(sluice_stream_map_with_state(kv, "StateSpec.function(x => x)", NULL));
	cr_assert_null(sluice_stream_update_state_by_key(kv, "(a, b, c) => a", NULL, 0, NULL));
	cr_assert_null(sluice_stream_count(NULL, NULL));
	cr_assert_eq(sluice_context_start(NULL, NULL), -EINVAL);
	cr_assert_eq(sluice_context_advance(NULL, 1), -EINVAL);
	cr_assert_eq(sluice_context_await(NULL, 1), -EINVAL);
	cr_assert_eq(sluice_context_stop(NULL, 1), -EINVAL);
	cr_assert_eq(sluice_context_stats(NULL, NULL), -EINVAL);
	cr_assert_eq(sluice_context_stats(ctx, NULL), -EINVAL);
	cr_assert_eq(sluice_context_first_error(NULL, NULL), -EINVAL);
	cr_assert_eq(sluice_context_receiver_count(NULL), -EINVAL);
	cr_assert_null(sluice_context_isa(NULL));
	cr_assert_eq(sluice_context_pipeline(NULL, "x", 1, NULL), -EINVAL);
	cr_assert_null(sluice_context_stream(NULL, "x"));
	cr_assert_null(sluice_queue_stream(NULL, "q", NULL));
	cr_assert_null(sluice_generator(NULL, "numbers", 1, 1, NULL));
	sluice_context_request_stop(NULL);
	sluice_context_set_max_batches(NULL, 1);
	sluice_context_free(ctx);
}

/* A reused error struct carries no position or source line of an earlier error. */
Test(api, a_reused_error_has_no_stale_position)
{
	sluice_stream *g;
	sluice_context *ctx = gen_ctx(&g);
	sluice_error err = {0};
	const char *bad = "val a = generator(\"numbers\")\nval b = a.fliter(_ > 1)\n";
	cr_assert_neq(sluice_context_pipeline(ctx, bad, strlen(bad), &err), 0);
	cr_assert_eq(err.line, 2);
	cr_assert_neq(err.context[0], 0);
	cr_assert_null(sluice_stream_union(g, NULL, &err));
	cr_assert_eq(err.line, 0);
	cr_assert_eq(err.col, 0);
	cr_assert_str_eq(err.context, "");
	/* an argument's value refused by a source, after a pipeline error */
	cr_assert_neq(sluice_context_pipeline(ctx, bad, strlen(bad), &err), 0);
	cr_assert_null(sluice_generator(ctx, "numbers", 100, 0, &err));
	cr_assert(strstr(err.msg, "keys must be >= 1"), "%s", err.msg);
	cr_assert_eq(err.line, 0);
	cr_assert_str_eq(err.context, "");
	sluice_context_free(ctx);
}

/* A batch interval with no divisor near 200 ms gets its default block interval at once
 * (the divisor search used to count up to it); past 10^12 ms it is refused. */
Test(api, long_batch_intervals, .timeout = 20)
{
	const int64_t ok[] = {2147483647, 999999999989, 999999999999, 1000000000000};
	for (int i = 0; i < 4; i++) {
		sluice_context *ctx = ctx_new(SLUICE_CLOCK_MANUAL, ok[i]);
		cr_assert_eq(ctx->env.batch_ms % ctx->env.block_ms, 0);
		cr_assert_leq(ctx->env.batch_ms / ctx->env.block_ms, 1 << 20);
		sluice_context_free(ctx);
	}
	const int64_t bad[] = {1000000000001, INT64_MAX, 0, -5};
	for (int i = 0; i < 4; i++) {
		sluice_config cfg;
		sluice_config_init(&cfg);
		cfg.batch_interval_ms = bad[i];
		sluice_error err = {0};
		cr_assert_null(sluice_context_new(&cfg, &err));
		cr_assert(strstr(err.msg, "batch interval must be from 1 ms to 1000000000000 ms"),
			  "%s", err.msg);
	}
}

struct stopper {
	sluice_context *ctx;
	int graceful, rc;
};

static void *stop_thread(void *arg)
{
	struct stopper *s = arg;
	s->rc = sluice_context_stop(s->ctx, s->graceful);
	return NULL;
}

/* Two threads stopping one running context at once both return (each used to join the
 * driver). */
Test(api, concurrent_stops_both_return, .timeout = 60)
{
	for (int round = 0; round < 20; round++) {
		sluice_context *ctx = ctx_new(SLUICE_CLOCK_REAL, 50);
		sluice_error err = {0};
		sluice_stream *g = sluice_generator(ctx, "numbers", 1000, 10, &err);
		cr_assert_not_null(g, "%s", err.msg);
		cr_assert_eq(sluice_stream_print(sluice_stream_count(g, &err), 10, &err), 0);
		cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
		usleep((useconds_t)(round * 7000)); /* before, during and after batches */
		struct stopper a = {ctx, round & 1, -1}, b = {ctx, 0, -1};
		pthread_t ta, tb;
		pthread_create(&ta, NULL, stop_thread, &a);
		pthread_create(&tb, NULL, stop_thread, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		cr_assert(a.rc == 0 && b.rc == 0);
		cr_assert_eq(sluice_context_await(ctx, 0), 0);
		sluice_context_free(ctx);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A stop request (only a flag, for signal handlers) is seen within a fraction of a second
 * even when the next batch is seconds away and no receiver wakes the driver. */
Test(api, request_stop_acts_within_a_long_batch, .timeout = 30)
{
	sluice_context *ctx = ctx_new(SLUICE_CLOCK_REAL, 5000);
	sluice_error err = {0};
	sluice_stream *g = sluice_generator(ctx, "numbers", 1000, 10, &err);
	cr_assert_eq(sluice_stream_print(g, 1, &err), 0);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	usleep(100000);
	int64_t t0 = mono_ms();
	sluice_context_request_stop(ctx);
	cr_assert_eq(sluice_context_await(ctx, 3000), 0, "still running");
	cr_assert_lt(mono_ms() - t0, 2000);
	sluice_context_free(ctx);
}

/* After a stop request the manual clock runs no more batches, and advance says so. */
Test(api, advance_counts_only_batches_run)
{
	sluice_stream *g;
	sluice_context *ctx = gen_ctx(&g);
	sluice_error err = {0};
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_advance(ctx, 1000), 1);
	sluice_context_request_stop(ctx);
	cr_assert_eq(sluice_context_advance(ctx, 1000), 0);
	sluice_stats st = {.size = sizeof(st)};
	cr_assert_eq(sluice_context_stats(ctx, &st), 0);
	cr_assert_eq(st.batches, 1);
	sluice_context_free(ctx);
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A source that fails to start stops the ones started before it (their io threads end),
 * and the context is stopped: a second start says so rather than "already started". The
 * failure is made by a limit on open files that lets fewer than all of the receivers'
 * rings open; every limit up to the one that lets them all start is tried. */
Test(api, a_failed_start_stops_what_started, .timeout = 120)
{
	struct rlimit old;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	const char *p = "socketServerStream(\"127.0.0.1:0\").count().print()\n"
			"socketServerStream(\"127.0.0.1:0\").count().print()\n"
			"socketServerStream(\"127.0.0.1:0\").count().print()\n";
	int failed = 0, started = 0;
	for (int extra = 0; extra < 64 && !started; extra++) {
		sluice_context *ctx = ctx_new(SLUICE_CLOCK_REAL, 100);
		sluice_error err = {0};
		cr_assert_eq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0, "%s", err.msg);
		int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
		struct rlimit lim = {(rlim_t)(fds + extra), old.rlim_max};
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
		int rc = sluice_context_start(ctx, &err);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (rc == 0) {
			started = 1;
		} else {
			failed++;
			cr_assert_eq(count_dir("/proc/self/task"), threads,
				     "limit +%d: io threads left running after a failed start",
				     extra);
			memset(&err, 0, sizeof(err));
			cr_assert_eq(sluice_context_start(ctx, &err), -EALREADY);
			cr_assert_str_eq(err.msg, "a stopped context cannot be restarted");
		}
		sluice_context_free(ctx);
	}
	cr_assert(failed > 1 && started, "failed %d times, started %d", failed, started);
}

/* The incremental reduceByKeyAndWindow with slide 0 slides by the parent's interval (Spark's
 * default), and a filter needs the inverse function. */
Test(api, reduce_by_key_and_window_defaults)
{
	sluice_stream *g;
	sluice_context *ctx = gen_ctx(&g);
	sluice_error err = {0};
	sluice_stream *kv = sluice_stream_map(g, "x => (x % 3, 1L)", &err);
	cr_assert_not_null(kv, "%s", err.msg);
	sluice_stream *w =
	    sluice_stream_reduce_by_key_and_window(kv, "_ + _", "_ - _", 3000, 0, 0, NULL, &err);
	cr_assert_not_null(w, "%s", err.msg);
	cr_assert_eq(((sl_dstream *)w)->slide, 1000);
	cr_assert_null(sluice_stream_reduce_by_key_and_window(kv, "_ + _", NULL, 3000, 0, 0,
							      "kv => kv._2 > 1", &err));
	cr_assert(strstr(err.msg, "filter_fn needs inv_fn"), "%s", err.msg);
	sluice_context_free(ctx);
}

/* An embedder built against a shorter config (an older header) gets its own size filled, and
 * nothing past it; a stream made with the C API warns without a position. */
Test(api, config_init_fills_the_callers_size)
{
	union {
		sluice_config c;
		unsigned char b[sizeof(sluice_config) + 16];
	} u;
	size_t old = offsetof(sluice_config, block_interval_ms);
	memset(&u, 0xa5, sizeof(u));
	sluice_config_init_size(&u.c, old);
	cr_assert_eq(u.c.size, old);
	cr_assert_eq(u.c.batch_interval_ms, 1000);
	for (size_t i = old; i < sizeof(u.b); i++)
		cr_assert_eq(u.b[i], 0xa5, "byte %zu written", i);
	memset(&u, 0xa5, sizeof(u));
	sluice_config_init(&u.c);
	cr_assert_eq(u.c.size, sizeof(sluice_config));
	for (size_t i = sizeof(sluice_config); i < sizeof(u.b); i++)
		cr_assert_eq(u.b[i], 0xa5);
	memset(&u, 0xa5, sizeof(u));
	(sluice_config_init)(&u.c); /* the function, for binaries built before the macro */
	cr_assert_eq(u.c.size, sizeof(sluice_config));
	cr_assert_eq(u.c.batch_interval_ms, 1000);
	sluice_config_init_size(&u.c, 3); /* too short to hold anything: untouched */
	cr_assert_eq(u.c.size, sizeof(sluice_config));
	sluice_config_init_size(NULL, sizeof(sluice_config));
}

struct logged {
	char text[4096];
	size_t len;
};

static void keep_log(void *arg, int level, const char *msg)
{
	struct logged *l = arg;
	(void)level;
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
	if (n > 0 && l->len + (size_t)n < sizeof(l->text))
		l->len += (size_t)n;
}

Test(api, positions_of_c_api_streams)
{
	struct logged l = {0};
	sluice_config cfg = test_cfg(SLUICE_CLOCK_MANUAL, 1000);
	cfg.log = keep_log;
	cfg.log_arg = &l;
	sluice_context *ctx = ctx_of(&cfg);
	sluice_error err = {0};
	const char *f = "[\"7\", \"x\"]\n";
	char path[128];
	snprintf(path, sizeof(path), "%s/q.jsonl", dir);
	FILE *fp = fopen(path, "w");
	fputs(f, fp);
	fclose(fp);
	sluice_stream *q = sluice_queue_stream(ctx, path, &err);
	cr_assert_not_null(q, "%s", err.msg);
	sluice_stream *m = sluice_stream_map(q, "s => s.toLong", &err);
	cr_assert_eq(sluice_stream_print(m, 10, &err), 0);
	/* an error in an applied call is placed in the caller's text, not ours */
	cr_assert_null(sluice_stream_apply(m, "windw(2s)", &err));
	cr_assert_eq(err.line, 1);
	cr_assert_eq(err.col, 1, "col %d: %s", err.col, err.msg);
	cr_assert(strstr(err.context, "windw(2s)") && !strstr(err.context, "__api_self"), "%s",
		  err.context);
	cr_assert_null(sluice_stream_apply(m, "window(2s, 3)", &err));
	cr_assert_eq(err.col, 12, "col %d: %s", err.col, err.msg);
	/* a pipeline val named like the applied stream does not replace it */
	const char *p = "val __api_self = generator(\"numbers\", rate = 5)\n";
	cr_assert_eq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0, "%s", err.msg);
	sluice_stream *w = sluice_stream_window(m, 2000, 1000, &err);
	cr_assert_not_null(w, "%s", err.msg);
	cr_assert_eq(((sl_dstream *)w)->parent[0], (sl_dstream *)m);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_advance(ctx, 1000), 1);
	cr_assert(strstr(l.text, "map skipped 1 record(s) in batch 1000 ms"), "%s", l.text);
	sluice_context_free(ctx);
}

struct seen {
	int batches;
	char text[1024];
	size_t len;
};

#define SEEN(...)                                                                                  \
	(s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, __VA_ARGS__))

/* groupByKey's (String, Seq[Long]) and leftOuterJoin's (String, (Long, Option[Long])) read
 * through the column accessors: Seq rows by offsets, Option rows by valid flags. */
static int read_nested(void *arg, int64_t time_ms, const sluice_batch *b)
{
	struct seen *s = arg;
	(void)time_ms;
	s->batches++;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const sluice_column *k = sluice_column_child(c, 0), *v = sluice_column_child(c, 1);
		for (size_t i = 0; i < sluice_column_length(c); i++) {
			size_t kl;
			const char *kp = sluice_column_str(k, i, &kl);
			if (sluice_column_kind(v) == SLUICE_SEQ) {
				const uint32_t *off = sluice_column_offsets(v);
				const int64_t *e = sluice_column_i64(sluice_column_child(v, 0));
				cr_assert(off && e && !sluice_column_valid(v));
				int64_t sum = 0;
				for (uint32_t j = off[i]; j < off[i + 1]; j++)
					sum += e[j];
				SEEN("%.*s:%u:%lld ", (int)kl, kp, off[i + 1] - off[i],
				     (long long)sum);
			} else {
				const sluice_column *o = sluice_column_child(v, 1);
				const uint8_t *valid = sluice_column_valid(o);
				const int64_t *x = sluice_column_i64(sluice_column_child(o, 0));
				cr_assert(valid && x && !sluice_column_offsets(o));
				if (valid[i])
					SEEN("%.*s:Some(%lld) ", (int)kl, kp, (long long)x[i]);
				else
					SEEN("%.*s:None ", (int)kl, kp);
			}
		}
	}
	return 0;
}

Test(api, seq_and_option_columns)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/kv.jsonl", dir);
	FILE *fp = fopen(path, "w");
	fputs("[[\"a\", 1], [\"b\", 2], [\"a\", 3], [\"a\", 5]]\n", fp);
	fclose(fp);
	sluice_stream *unused;
	sluice_context *ctx = gen_ctx(&unused);
	sluice_error err = {0};
	sluice_stream *q = sluice_queue_stream(ctx, path, &err);
	cr_assert_not_null(q, "%s", err.msg);
	sluice_stream *bs = sluice_stream_filter(q, "kv => kv._1 == \"b\"", &err);
	struct seen g = {0}, j = {0};
	cr_assert_eq(sluice_stream_foreach_batch(sluice_stream_group_by_key(q, 1, &err),
						 read_nested, &g, &err),
		     0, "%s", err.msg);
	cr_assert_eq(
	    sluice_stream_foreach_batch(sluice_stream_join(q, bs, SLUICE_JOIN_LEFT_OUTER, 1, &err),
					read_nested, &j, &err),
	    0, "%s", err.msg);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_advance(ctx, 1000), 1);
	cr_assert(strstr(g.text, "a:3:9 ") && strstr(g.text, "b:1:2 "), "%s", g.text);
	cr_assert(strstr(j.text, "a:None ") && strstr(j.text, "b:Some(2) "), "%s", j.text);
	cr_assert_eq(sluice_column_offsets(NULL), NULL);
	cr_assert_eq(sluice_column_valid(NULL), NULL);
	cr_assert_eq(sluice_column_kind(NULL), -EINVAL);
	sluice_context_free(ctx);
}

struct cb_stop {
	sluice_context *ctx;
	int rc, calls;
};

static int stop_from_callback(void *arg, int64_t time_ms, const sluice_batch *b)
{
	struct cb_stop *c = arg;
	(void)time_ms, (void)b;
	if (!c->calls++)
		c->rc = sluice_context_stop(c->ctx, 0);
	return 0;
}

static int count_outputs(void *arg, int64_t time_ms, const sluice_batch *b)
{
	(void)time_ms, (void)b;
	++*(int *)arg;
	return 0;
}

/* stop from a callback on the driver cannot join the driver: it says so (-EDEADLK) and the
 * run ends after that batch; free after a graceful stop request does not run a last batch
 * inside free (it stops "not gracefully"). */
Test(api, stops_from_callbacks_and_free_after_request, .timeout = 60)
{
	sluice_config cfg = test_cfg(SLUICE_CLOCK_REAL, 50);
	sluice_context *ctx = ctx_of(&cfg);
	sluice_error err = {0};
	struct cb_stop c = {ctx, 1, 0};
	sluice_stream *g = sluice_generator(ctx, "numbers", 1000, 10, &err);
	cr_assert_eq(sluice_stream_foreach_batch(g, stop_from_callback, &c, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_await(ctx, 10000), 0, "the run did not end");
	cr_assert_eq(c.rc, -EDEADLK);
	cr_assert_eq(c.calls, 1);
	sluice_context_free(ctx);

	cfg.clock = SLUICE_CLOCK_MANUAL;
	ctx = ctx_of(&cfg);
	const char *val = "val s = socketServerStream(\"127.0.0.1:0\")";
	int outputs = 0;
	cr_assert_eq(sluice_context_pipeline(ctx, val, strlen(val), &err), 0, "%s", err.msg);
	sluice_stream *s = sluice_context_stream(ctx, "s");
	cr_assert_eq(sluice_stream_foreach_batch(s, count_outputs, &outputs, &err), 0);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	sluice_context_request_stop(ctx);
	sluice_context_free(ctx);
	cr_assert_eq(outputs, 0, "free ran a last batch");
}
