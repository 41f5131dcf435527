/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stress_threads - the engine's threaded paths without a test framework, so it also runs
 * under ThreadSanitizer (Criterion's forking runner does not start under TSan here).
 * Keyed operators on 1-4 workers must agree with each other and with the rows generated;
 * a real-clock context is stopped from two other threads at once while batches run and a
 * third reads its statistics.
 * Prints "N passed, M failed".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"

static int passed, failed;

#define CHECK(c, ...)                                                                              \
	do {                                                                                       \
		if (c) {                                                                           \
			passed++;                                                                  \
		} else {                                                                           \
			failed++;                                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

struct sums {
	long long rows, keys, groups, grouped, joined, mapped;
};

static int sum_counts(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct sums *s = arg;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const int64_t *v = sluice_column_i64(sluice_column_child(c, 1));
		for (size_t i = 0; i < sluice_column_length(c); i++)
			s->rows += v[i];
		s->keys += (long long)sluice_column_length(c);
	}
	return 0;
}

static int count_groups(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct sums *s = arg;
	s->groups += (long long)sluice_batch_count(b);
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const sluice_column *seq = sluice_column_child(c, 1);
		s->grouped += (long long)sluice_column_length(sluice_column_child(seq, 0));
	}
	return 0;
}

static int count_rows(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	((struct sums *)arg)->joined += (long long)sluice_batch_count(b);
	return 0;
}

/* mapPartitions callback: runs on several workers at once */
static int keep_counts(void *arg, int64_t t, size_t p, const sluice_column *in, sluice_out *out)
{
	(void)t;
	(void)p;
	atomic_fetch_add_explicit((atomic_llong *)arg, (long long)sluice_column_length(in),
				  memory_order_relaxed); /* relaxed: a statistic read at the end */
	const int64_t *v = sluice_column_i64(sluice_column_child(in, 1));
	for (size_t i = 0; i < sluice_column_length(in); i++)
		if (sluice_out_i64(out, v[i]) || sluice_out_end(out))
			return -1;
	return 0;
}

static atomic_llong mp_rows;

static int count_mapped(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	((struct sums *)arg)->mapped += (long long)sluice_batch_count(b);
	return 0;
}

static struct sums run(int workers)
{
	struct sums s = {0};
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = SLUICE_CLOCK_MANUAL;
	cfg.workers = workers;
	cfg.no_pin = 1;
	cfg.block_interval_ms = 100;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	sluice_stream *mp = NULL;
	const char *p = "val kv = generator(\"kv\", rate = 20000, keys = 300)\n"
			"val counts = kv.map(x => (x._1, 1)).reduceByKey(_ + _)\n"
			"val groups = kv.groupByKey()\n"
			"val joined = counts.join(kv.reduceByKey((a, b) => if (a > b) a else b))\n";
	if (!ctx || sluice_context_pipeline(ctx, p, strlen(p), &err) ||
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, "counts"), sum_counts, &s,
					&err) ||
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, "groups"), count_groups, &s,
					&err) ||
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, "joined"), count_rows, &s,
					&err) ||
	    !(mp = sluice_stream_map_partitions(sluice_context_stream(ctx, "kv"), "Long",
						keep_counts, &mp_rows, &err)) ||
	    sluice_stream_foreach_batch(mp, count_mapped, &s, &err) ||
	    sluice_context_start(ctx, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		exit(1);
	}
	sluice_context_advance(ctx, 5000);
	sluice_context_free(ctx);
	return s;
}

static void *stopper(void *arg)
{
	struct timespec ts = {0, 150 * 1000 * 1000};
	nanosleep(&ts, NULL);
	sluice_context_stop(arg, 1);
	return NULL;
}

/* At the same time as stopper: a stop request and a plain stop (serialized with it). */
static void *other_stopper(void *arg)
{
	struct timespec ts = {0, 150 * 1000 * 1000};
	nanosleep(&ts, NULL);
	sluice_context_request_stop(arg);
	sluice_context_stop(arg, 0);
	return NULL;
}

static atomic_int watching;

/* What an embedder's monitoring thread reads while batches run. */
static void *watcher(void *arg)
{
	sluice_error e;
	while (atomic_load(&watching)) {
		sluice_stats st = {.size = sizeof(st)};
		sluice_context_stats(arg, &st);
		sluice_context_first_error(arg, &e);
		sluice_context_set_max_batches(arg, 0);
		sched_yield();
	}
	return NULL;
}

/* A real-clock context with a socketServerStream and a sender thread: the io thread,
 * the SPSC ring, the block builder's ticks and batches all run at once (the point under
 * TSan); with slow_ms, each batch's output blocks that long, so the builder seals blocks
 * while the driver takes a batch and then waits for the driver, a batch ahead. */
struct feed {
	int port;
	int lines;
};

static void *feed_lines(void *arg)
{
	struct feed *f = arg;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = -1;
	for (int i = 0; i < 2000 && fd < 0; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			fd = -1;
			usleep(1000);
		}
	}
	char line[32];
	for (int i = 0; fd >= 0 && i < f->lines; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
			break;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int slow_ms;

static int count_rows_slowly(void *arg, int64_t t, const sluice_batch *b)
{
	count_rows(arg, t, b);
	usleep((useconds_t)slow_ms * 1000);
	return 0;
}

static void receiver_under_threads(int ms)
{
	slow_ms = ms;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	getsockname(lfd, (struct sockaddr *)&a, &l);
	close(lfd);
	struct feed f = {.port = ntohs(a.sin_port), .lines = 50000};
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.batch_interval_ms = 20;
	cfg.block_interval_ms = 5;
	cfg.workers = 2;
	cfg.no_pin = 1;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	char p[128];
	snprintf(p, sizeof(p), "val s = socketServerStream(\"127.0.0.1:%d\").map(_.length)",
		 f.port);
	struct sums s = {0};
	CHECK(ctx && !sluice_context_pipeline(ctx, p, strlen(p), &err) &&
		  !sluice_stream_foreach_batch(sluice_context_stream(ctx, "s"), count_rows_slowly,
					       &s, &err) &&
		  !sluice_context_start(ctx, &err),
	      "%s", err.msg);
	pthread_t th;
	pthread_create(&th, NULL, feed_lines, &f);
	pthread_join(th, NULL);
	sluice_receiver_stats st = {.size = sizeof(st)};
	for (int i = 0; i < 2000; i++) {
		sluice_context_receiver_stats(ctx, 0, &st);
		if (st.records == (uint64_t)f.lines)
			break;
		usleep(5000);
	}
	sluice_context_stop(ctx, 1); /* graceful: drains into a last batch */
	CHECK(s.joined == f.lines, "received %lld of %d lines", s.joined, f.lines);
	sluice_context_free(ctx);
}

int main(void)
{
	struct sums ref = run(1);
	CHECK(ref.mapped == 5 * 20000 && atomic_load(&mp_rows) == 5 * 20000,
	      "mapPartitions %lld %lld", ref.mapped, (long long)atomic_load(&mp_rows));
	CHECK(ref.rows == 5 * 20000, "rows %lld", ref.rows);
	CHECK(ref.keys > 0 && ref.keys <= 5 * 300, "keys %lld", ref.keys);
	CHECK(ref.grouped == 5 * 20000 && ref.groups == ref.keys, "groups %lld grouped %lld",
	      ref.groups, ref.grouped);
	CHECK(ref.joined == ref.keys, "joined %lld", ref.joined);
	for (int w = 2; w <= 4; w++) {
		struct sums s = run(w);
		CHECK(!memcmp(&s, &ref, sizeof(s)),
		      "workers %d disagree: rows %lld keys %lld joined %lld", w, s.rows, s.keys,
		      s.joined);
	}
	/* real clock, stopped from another thread while running */
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.batch_interval_ms = 10;
	cfg.block_interval_ms = 5;
	cfg.workers = 3;
	cfg.no_pin = 1;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	struct sums s = {0};
	const char *p = "val c = generator(\"kv\", rate = 100000, keys = 50).reduceByKey(_ + _)";
	CHECK(ctx && !sluice_context_pipeline(ctx, p, strlen(p), &err) &&
		  !sluice_stream_foreach_batch(sluice_context_stream(ctx, "c"), count_rows, &s,
					       &err) &&
		  !sluice_context_start(ctx, &err),
	      "%s", err.msg);
	/* two threads stop it at once while a third reads its statistics */
	pthread_t th, th2, tw;
	atomic_store(&watching, 1);
	pthread_create(&tw, NULL, watcher, ctx);
	pthread_create(&th, NULL, stopper, ctx);
	pthread_create(&th2, NULL, other_stopper, ctx);
	CHECK(sluice_context_await(ctx, 10000) == 0, "await did not see the stop");
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	atomic_store(&watching, 0);
	pthread_join(tw, NULL);
	sluice_stats st = {.size = sizeof(st)};
	sluice_context_stats(ctx, &st);
	CHECK(st.batches >= 1 && st.failed_batches == 0, "batches %lld failed %lld",
	      (long long)st.batches, (long long)st.failed_batches);
	sluice_context_free(ctx);
	receiver_under_threads(0);
	receiver_under_threads(30); /* longer than the batch interval */
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
