/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ingest.c - receivers inside a running context, over real loopback TCP: a slow
 * pipeline fed by a fast sender keeps memory bounded (the receiver stops reading, TCP
 * pushes back on the sender) and loses nothing; a graceful stop drains what was received
 * into a last batch; receiving goes on while a batch's output blocks; receiver statistics are
 * reachable through the API.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes. */
static size_t rss(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

struct sender {
	int port;
	size_t lines;       /* to send */
	atomic_size_t sent; /* bytes fully written so far */
	atomic_int done;
};

#define LINE 100

static void *send_lines(void *arg)
{
	struct sender *s = arg;
	int fd = -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 5000; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(fd);
		fd = -1;
		usleep(1000);
	}
	if (fd < 0)
		return NULL;
	char *buf = malloc(LINE * 1000); /* one per sender: several may run at once */
	if (!buf)
		goto out;
	size_t k = 0;
	while (k < s->lines) {
		size_t n = 0;
		for (; n < 1000 && k < s->lines; n++, k++) {
			/* 12 digits, then filler to LINE - 1 bytes, then the newline */
			char *l = buf + n * LINE;
			char num[16];
			snprintf(num, sizeof(num), "%012zu", k % 1000000000000);
			memcpy(l, num, 12);
			memset(l + 12, 'x', LINE - 13);
			l[LINE - 1] = '\n';
		}
		size_t off = 0;
		while (off < n * LINE) {
			ssize_t w = send(fd, buf + off, n * LINE - off, MSG_NOSIGNAL);
			if (w <= 0)
				goto out;
			off += (size_t)w;
			/* relaxed: progress for the test's observer */
			atomic_fetch_add_explicit(&s->sent, (size_t)w, memory_order_relaxed);
		}
	}
out:
	free(buf);
	close(fd);
	atomic_store(&s->done, 1);
	return NULL;
}

struct slow {
	atomic_int sleep_ms;
	atomic_size_t lines;
	atomic_int bad;
	size_t next;            /* lines must arrive in order on one connection */
	size_t nbatches;        /* batches with records while the pipeline was slow ... */
	atomic_size_t late_max; /* ... and the most records in one of them after the second */
};

static int slow_count(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct slow *s = arg;
	size_t n = 0;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		for (size_t i = 0; i < sluice_column_length(c); i++) {
			size_t len;
			const char *str = sluice_column_str(c, i, &len);
			if (len != LINE - 1 || strtoull(str, NULL, 10) != s->next)
				atomic_store(&s->bad, 1);
			s->next++;
		}
		atomic_fetch_add(&s->lines, sluice_column_length(c));
		n += sluice_column_length(c);
	}
	int ms = atomic_load(&s->sleep_ms);
	if (ms && n && atomic_fetch_add(&s->nbatches, 1) >= 2 && n > atomic_load(&s->late_max))
		atomic_store(&s->late_max, n);
	if (ms)
		usleep((useconds_t)ms * 1000);
	return 0;
}

/* A context (not started) reading socketServerStream on port as stream "s", each batch
 * handed to fn(arg). */
static sluice_context *server_context(int port, int64_t batch_ms, int64_t block_ms,
				      sluice_foreach_fn fn, void *arg)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.batch_interval_ms = batch_ms;
	cfg.block_interval_ms = block_ms;
	cfg.no_pin = 1;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	cr_assert_not_null(ctx, "%s", err.msg);
	char p[128];
	snprintf(p, sizeof(p), "val s = socketServerStream(\"127.0.0.1:%d\")", port);
	cr_assert_eq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_stream_foreach_batch(sluice_context_stream(ctx, "s"), fn, arg, &err), 0,
		     "%s", err.msg);
	return ctx;
}

Test(ingest, slow_pipeline_bounds_memory_and_loses_nothing, .timeout = 120)
{
	int port = free_port();
	struct slow sl = {0};
	atomic_store(&sl.sleep_ms, 400); /* the pipeline is 4x slower than the batch interval */
	sluice_context *ctx = server_context(port, 100, 20, slow_count, &sl);
	sluice_error err = {0};
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	struct sender snd = {.port = port, .lines = 8000000}; /* 800 MB */
	pthread_t th;
	pthread_create(&th, NULL, send_lines, &snd);
	/*
	 * For 3 s the sender could push all of it at loopback speed; it must be held back.
	 * The first batches may hold a whole batch interval of data at full speed (the block
	 * builder receives one batch ahead of the driver); once the pipeline is behind, each
	 * batch holds at most what the ring and the io thread's buffers held while the last
	 * one ran, so memory stops growing and the sender slows to the pipeline's pace.
	 */
	size_t rss_mid = 0, peak = 0, sent_mid = 0;
	for (double t0 = now_s(); now_s() - t0 < 3;) {
		size_t r = rss();
		if (!rss_mid && now_s() - t0 >= 1.5)
			rss_mid = r, sent_mid = atomic_load(&snd.sent);
		peak = rss_mid && r > peak ? r : peak;
		usleep(20000);
	}
	size_t sent = atomic_load(&snd.sent) - sent_mid;
	size_t late = atomic_load(&sl.late_max) * LINE;
	cr_log_info("from 1.5 s to 3 s: %zu MiB sent, RSS grew by %zu MiB; the largest batch "
		    "after the second: %zu MiB",
		    sent >> 20, (peak - rss_mid) >> 20, late >> 20);
	cr_assert(atomic_load(&sl.nbatches) > 3, "%zu batches with records in 3 s",
		  atomic_load(&sl.nbatches));
	cr_assert(late < (size_t)24 << 20, "a batch held %zu MiB once the pipeline was behind",
		  late >> 20);
	cr_assert(sent < (size_t)160 << 20, "the sender was not held back: %zu MiB in 1.5 s",
		  sent >> 20);
	cr_assert(peak < rss_mid + ((size_t)64 << 20), "memory grew by %zu MiB in 1.5 s",
		  (peak - rss_mid) >> 20);
	sluice_receiver_stats st = {.size = sizeof(st)};
	cr_assert_eq(sluice_context_receiver_stats(ctx, 0, &st), 0);
	cr_assert_str_eq(st.name, "socketServerStream");
	cr_assert_eq(st.connections, 1);
	cr_assert(st.blocks > 0);
	/* speed up: everything arrives, in order, exactly once */
	atomic_store(&sl.sleep_ms, 0);
	for (double t0 = now_s(); atomic_load(&sl.lines) < snd.lines && now_s() - t0 < 90;)
		usleep(10000);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&sl.lines), snd.lines);
	cr_assert_eq(atomic_load(&sl.bad), 0, "a line arrived out of order or damaged");
	cr_assert_eq(sluice_context_receiver_stats(ctx, 0, &st), 0);
	cr_assert_eq(st.records, snd.lines);
	cr_assert_eq(st.bytes, snd.lines * LINE);
	cr_assert_eq(sluice_context_stop(ctx, 1), 0);
	sluice_context_free(ctx);
}

/* The context's log, kept for the test to search. */
struct logbuf {
	pthread_mutex_t mu;
	char text[8192];
	size_t len;
};

static void keep_log(void *arg, int level, const char *msg)
{
	(void)level;
	struct logbuf *l = arg;
	pthread_mutex_lock(&l->mu);
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
	if (n > 0)
		l->len +=
		    (size_t)n < sizeof(l->text) - l->len ? (size_t)n : sizeof(l->text) - l->len - 1;
	pthread_mutex_unlock(&l->mu);
}

static bool log_has(struct logbuf *l, const char *what)
{
	pthread_mutex_lock(&l->mu);
	bool r = strstr(l->text, what) != NULL;
	pthread_mutex_unlock(&l->mu);
	return r;
}

static void discard_output(void *arg, const char *text, size_t len)
{
	(void)arg, (void)text, (void)len;
}

static sluice_context *logged_context(struct logbuf *l, int64_t batch_ms, const char *pipeline)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.batch_interval_ms = batch_ms;
	cfg.block_interval_ms = 100;
	cfg.no_pin = 1;
	cfg.log = keep_log;
	cfg.log_arg = l;
	cfg.output = discard_output;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	cr_assert_not_null(ctx, "%s", err.msg);
	cr_assert_eq(sluice_context_pipeline(ctx, pipeline, strlen(pipeline), &err), 0, "%s",
		     err.msg);
	return ctx;
}

/* Records a receiver skips (longer than maxRecord) are reported as a warning, as skipped
 * records of an operator are; records received but never batched because the run ended
 * without a graceful stop are counted in a warning, not dropped silently. */
Test(ingest, skipped_and_unbatched_records_are_reported, .timeout = 60)
{
	struct logbuf l = {.mu = PTHREAD_MUTEX_INITIALIZER};
	int port = free_port();
	char p[160];
	snprintf(p, sizeof(p),
		 "socketServerStream(\"127.0.0.1:%d\", maxRecord = 50).count().print()", port);
	sluice_context *ctx = logged_context(&l, 200, p);
	sluice_error err = {0};
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	struct sender snd = {.port = port, .lines = 3}; /* lines of 100 bytes: all too long */
	pthread_t th;
	pthread_create(&th, NULL, send_lines, &snd);
	pthread_join(th, NULL);
	for (double t0 = now_s(); !log_has(&l, "skipped 3 record(s)") && now_s() - t0 < 10;)
		usleep(10000);
	cr_assert(log_has(&l, "socketServerStream at 1:1 skipped 3 record(s) by batch") &&
		      log_has(&l, "longer than maxRecord (50 bytes)"),
		  "%s", l.text);
	sluice_context_free(ctx);

	port = free_port();
	snprintf(p, sizeof(p), "socketServerStream(\"127.0.0.1:%d\").count().print()", port);
	ctx = logged_context(&l, 60000, p); /* no batch runs before the stop */
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	snd = (struct sender){.port = port, .lines = 20000};
	pthread_create(&th, NULL, send_lines, &snd);
	pthread_join(th, NULL);
	sluice_receiver_stats st = {.size = sizeof(st)};
	for (double t0 = now_s(); st.records < snd.lines && now_s() - t0 < 10;) {
		sluice_context_receiver_stats(ctx, 0, &st);
		usleep(5000);
	}
	cr_assert_eq(st.records, snd.lines);
	cr_assert_eq(sluice_context_stop(ctx, 0), 0);
	sluice_context_free(ctx);
	cr_assert(log_has(&l, "socketServerStream: 20000 record(s) received after the last batch "
			      "were not processed"),
		  "%s", l.text);
}

/* An output that blocks, like a slow external sink, on the first batch with records. */
struct blocking {
	sluice_context *ctx;
	struct slow sl; /* order and count of what the batches hold */
	atomic_int blocked;
	sluice_receiver_stats before, after; /* the receiver, as the output blocks and resumes */
};

static int block_once(void *arg, int64_t t, const sluice_batch *b)
{
	struct blocking *k = arg;
	slow_count(&k->sl, t, b);
	if (atomic_load(&k->blocked) || !atomic_load(&k->sl.lines))
		return 0;
	k->before.size = k->after.size = sizeof(k->before);
	sluice_context_receiver_stats(k->ctx, 0, &k->before);
	usleep(400 * 1000);
	sluice_context_receiver_stats(k->ctx, 0, &k->after);
	atomic_store(&k->blocked, 1);
	return 0;
}

/* While a batch's output runs, receiving goes on: the block builder keeps sealing blocks
 * every block interval (up to the next batch time) and keeps taking what the io thread
 * pushes, so it receives far more than its ring holds; nothing is lost or reordered. */
Test(ingest, receiving_goes_on_while_an_output_blocks, .timeout = 120)
{
	int port = free_port();
	struct blocking k = {0};
	sluice_context *ctx = server_context(port, 500, 20, block_once, &k);
	k.ctx = ctx; /* before start: the first batch reads it */
	sluice_error err = {0};
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	/* sends until the stop closes the connection */
	struct sender snd = {.port = port, .lines = (size_t)1 << 40};
	pthread_t th;
	pthread_create(&th, NULL, send_lines, &snd);
	for (double t0 = now_s(); !atomic_load(&k.blocked) && now_s() - t0 < 60;)
		usleep(10000);
	cr_assert(atomic_load(&k.blocked), "no batch with records in 60 s");
	cr_assert_eq(sluice_context_stop(ctx, 1), 0);
	pthread_join(th, NULL);
	uint64_t blocks = k.after.blocks - k.before.blocks;
	uint64_t records = k.after.records - k.before.records;
	cr_log_info("while the output blocked: %llu blocks, %llu records",
		    (unsigned long long)blocks, (unsigned long long)records);
	/* 400 ms of 20 ms ticks; the ring holds 16 chunks of 1 MiB */
	cr_assert(blocks >= 3, "%llu blocks sealed while the output blocked",
		  (unsigned long long)blocks);
	cr_assert(records * LINE > ((size_t)17 << 20), "%llu records received while it blocked",
		  (unsigned long long)records);
	sluice_receiver_stats st = {.size = sizeof(st)};
	cr_assert_eq(sluice_context_receiver_stats(ctx, 0, &st), 0);
	cr_assert_eq(atomic_load(&k.sl.lines), st.records, "graceful stop lost %llu lines",
		     (unsigned long long)(st.records - atomic_load(&k.sl.lines)));
	cr_assert_eq(atomic_load(&k.sl.bad), 0, "a line arrived out of order or damaged");
	sluice_context_free(ctx);
}

Test(ingest, graceful_stop_drains_received_data_into_a_last_batch, .timeout = 60)
{
	int port = free_port();
	struct slow sl = {0};
	/* long batches: the data is still unbatched at stop */
	sluice_context *ctx = server_context(port, 2000, 1000, slow_count, &sl);
	sluice_error err = {0};
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	struct sender snd = {.port = port, .lines = 20000};
	pthread_t th;
	pthread_create(&th, NULL, send_lines, &snd);
	pthread_join(th, NULL);
	sluice_receiver_stats st = {.size = sizeof(st)};
	for (double t0 = now_s(); now_s() - t0 < 10;) {
		sluice_context_receiver_stats(ctx, 0, &st);
		if (st.records == snd.lines)
			break;
		usleep(5000);
	}
	cr_assert_eq(st.records, snd.lines);
	cr_assert_eq(sluice_context_stop(ctx, 1), 0);
	cr_assert_eq(atomic_load(&sl.lines), snd.lines, "graceful stop lost %zu lines",
		     snd.lines - atomic_load(&sl.lines));
	cr_assert_eq(atomic_load(&sl.bad), 0);
	sluice_context_free(ctx);
}

struct summed {
	atomic_size_t lines;
	atomic_ullong sum;
	atomic_int bad;
};

static int sum_lines(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct summed *s = arg;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const sluice_str *v = sluice_column_strs(c); /* all views at once ... */
		unsigned long long sum = 0;
		for (size_t i = 0; i < sluice_column_length(c); i++) {
			size_t len;
			const char *str = sluice_column_str(c, i, &len); /* ... or one by one */
			if (len != LINE - 1 || !v || v[i].p != str || v[i].len != len)
				atomic_store(&s->bad, 1);
			sum += strtoull(str, NULL, 10);
		}
		atomic_fetch_add(&s->sum, sum);
		atomic_fetch_add(&s->lines, sluice_column_length(c));
	}
	return 0;
}

/* socketServerStream(..., ioThreads = 2): four producers dealt to two io threads, one
 * stream; the statistics are the sums over the io threads; a graceful stop keeps all. */
Test(ingest, server_io_threads_one_stream, .timeout = 60)
{
	enum { NS = 4, NL = 20000 };
	int port = free_port();
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.batch_interval_ms = 100;
	cfg.block_interval_ms = 50;
	cfg.no_pin = 1;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	char p[160];
	snprintf(p, sizeof(p), "val s = socketServerStream(\"127.0.0.1:%d\", ioThreads = 2)", port);
	struct summed sm = {0};
	cr_assert_eq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0, "%s", err.msg);
	cr_assert_eq(
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, "s"), sum_lines, &sm, &err), 0);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	struct sender snd[NS];
	pthread_t th[NS];
	for (int i = 0; i < NS; i++) {
		snd[i] = (struct sender){.port = port, .lines = NL};
		pthread_create(&th[i], NULL, send_lines, &snd[i]);
	}
	for (int i = 0; i < NS; i++)
		pthread_join(th[i], NULL);
	sluice_receiver_stats st = {.size = sizeof(st)};
	for (double t0 = now_s(); now_s() - t0 < 10;) {
		sluice_context_receiver_stats(ctx, 0, &st);
		if (st.records == (uint64_t)NS * NL)
			break;
		usleep(5000);
	}
	cr_assert_eq(sluice_context_receiver_count(ctx), 1, "one stream, whatever its threads");
	cr_assert_eq(st.io_threads, 2);
	cr_assert_eq(st.connections, NS);
	cr_assert_eq(st.records, (uint64_t)NS * NL);
	cr_assert_eq(st.bytes, (uint64_t)NS * NL * LINE);
	cr_assert_eq(sluice_context_stop(ctx, 1), 0);
	cr_assert_eq(atomic_load(&sm.lines), (size_t)NS * NL);
	cr_assert_eq(atomic_load(&sm.sum), (unsigned long long)NS * NL * (NL - 1) / 2, "sum %llu",
		     (unsigned long long)atomic_load(&sm.sum));
	cr_assert_eq(atomic_load(&sm.bad), 0);
	sluice_context_free(ctx);

	/* maxRate is the stream's, whatever its io threads */
	ctx = sluice_context_new(&cfg, &err);
	snprintf(p, sizeof(p),
		 "val s = socketServerStream(\"127.0.0.1:%d\", ioThreads = 2, maxRate = 1001)\n"
		 "s.count().print()",
		 free_port());
	cr_assert_eq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_receiver_stats(ctx, 0, &st), 0);
	cr_assert_eq(st.rate_limit, 1001);
	cr_assert_eq(sluice_context_stop(ctx, 0), 0);
	sluice_context_free(ctx);

	/* ioThreads out of range: a clear error */
	ctx = sluice_context_new(&cfg, &err);
	snprintf(p, sizeof(p), "val s = socketServerStream(\"127.0.0.1:0\", ioThreads = 65)");
	cr_assert_neq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0);
	cr_assert(strstr(err.msg, "ioThreads must be in 1..64, got 65"), "%s", err.msg);
	sluice_context_free(ctx);
}
