/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ingest - TCP ingest throughput of the engine (socketServerStream: io_uring
 * receive, line framing into blocks, batches) against a plain blocking recv-and-discard
 * receiver, both fed by the same in-process sender over loopback in the same run.
 *
 * The sender writes `total` bytes of 64-byte lines (a prebuilt 4 MiB buffer, written
 * again and again) over `conns` connections, then closes. The baseline thread recv()s into
 * a 256 KiB buffer and discards. The engine runs a real-clock context with 100 ms batches
 * and a foreachBatch that counts records and bytes; it must count exactly the lines sent
 * (the benchmark checks its answer). Both are timed from the first connect to the last
 * byte accounted for: received by the baseline, framed by the engine's receiver (its record
 * count, polled every 1 ms; the batch that counts the last line comes up to a batch interval
 * later, engine_tail_ms). Prints TSV: GB/s and M lines/s of each and their ratio (goal: the
 * engine >= 90 % of the baseline). Sender and receiver share this machine's cores.
 *
 * Where the engine's CPU goes, without a profiler (medians over the runs): ns of CPU per
 * line in the sender threads, in the receiver's io threads (sl-srv-*) and in every other
 * thread (driver, workers: sealing blocks, the batch, the counting callback), and the
 * minor page faults per MiB received (a fresh context first-touches the memory it keeps
 * for a batch), and the tail: from the last sender's close to the last line counted (the
 * last records wait for a block tick and then for their batch time). Mode "all" adds a third
 * receiver, recv-and-retain: like the baseline, but into 256 KiB blocks that are kept for two batch
 * intervals (200 ms) and then recycled, which is the least any engine that keeps its input for a
 * batch must pay (the memory traffic and page faults of what it holds); engine / retain is the part
 * of the gap that is the engine's own work.
 *
 * "warm" (the last argument) measures the steady state of a long-running stream: one engine
 * context serves every run (the senders connect to its listening source again) and the
 * retain reference keeps its blocks across runs, after one untimed run of each. Without it
 * every run starts a fresh context, whose first touches of the memory it keeps for a batch
 * (page faults) are part of the time.
 *
 * "sink=MS" makes the engine's foreachBatch block for MS ms after counting each batch with
 * records, like an output that writes to a slow external system: receiving must go on while
 * a batch's outputs run (the block builder keeps taking what the io threads push), so with
 * MS well under the 100 ms batch interval the engine's throughput should barely move.
 *
 * usage: build/bench/bench_ingest [total_MiB] [connections] [runs]
 *                                 [both|engine|baseline|retain|all] [warm] [io=N] [sink=MS]
 * (engine or baseline alone: for profiling one side; the ratio column is then 0; io=N: the
 * engine's socketServerStream reads with ioThreads = N)
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"
#include "sluice.h"

#define LINE    64
#define SENDBUF ((size_t)4 << 20)

/* CPU seconds used by the whole process so far (every thread: sender, receivers, engine). */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct sender {
	int port, conns;
	size_t total; /* bytes over all connections (a multiple of LINE) */
	char *buf;
	atomic_llong cpu_ns;   /* CPU time of the sender threads of the current run */
	_Atomic double closed; /* when the last sender closed its connection (bench_now) */
};

static long long thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Minor page faults of the process so far. */
static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * CPU ns used so far by this process's threads, split by name: io threads of receivers
 * ("sl-srv-*", "sl-sock-*"), sender threads ("sender", left out: they count their own)
 * and every other thread. Threads that ended are missing, so this is read while the
 * engine still runs.
 */
static void task_cpu(long long *io, long long *other)
{
	*io = *other = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[320], comm[32] = "";
		long long ns = 0;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%lld", &ns) != 1)
				ns = 0;
			fclose(f);
		}
		if (!strncmp(comm, "sender", 6))
			continue;
		if (!strncmp(comm, "sl-srv", 6) || !strncmp(comm, "sl-sock", 7))
			*io += ns;
		else
			*other += ns;
	}
	if (d)
		closedir(d);
}

static void *send_one(void *arg)
{
	struct sender *s = ((struct sender **)arg)[0];
	size_t mine = (size_t)(uintptr_t)((void **)arg)[1];
	pthread_setname_np(pthread_self(), "sender");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 2000 && connect(fd, (struct sockaddr *)&a, sizeof(a)); i++) {
		close(fd);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		usleep(1000);
	}
	size_t off = 0;
	while (mine) {
		size_t n = SENDBUF - off < mine ? SENDBUF - off : mine;
		ssize_t w = send(fd, s->buf + off, n, MSG_NOSIGNAL);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			perror("bench_ingest: send");
			exit(1);
		}
		mine -= (size_t)w;
		off = (off + (size_t)w) % SENDBUF;
	}
	close(fd);
	atomic_fetch_add(&s->cpu_ns, thread_cpu_ns());
	double t = bench_now(), c = atomic_load(&s->closed);
	while (t > c && !atomic_compare_exchange_weak(&s->closed, &c, t))
		;
	return NULL;
}

/* Start conns sender threads; each sends its share (whole lines). */
static void start_senders(struct sender *s, pthread_t *th, void *(*args)[2])
{
	size_t lines = s->total / LINE;
	atomic_store(&s->cpu_ns, 0);
	atomic_store(&s->closed, 0.0);
	for (int c = 0; c < s->conns; c++) {
		size_t share = lines / (size_t)s->conns + ((size_t)c < lines % (size_t)s->conns);
		args[c][0] = s;
		args[c][1] = (void *)(uintptr_t)(share * LINE);
		pthread_create(&th[c], NULL, send_one, args[c]);
	}
}

static int listen_on(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&a, &l)) {
		perror("bench_ingest: listen");
		exit(1);
	}
	*port = ntohs(a.sin_port);
	return fd;
}

struct sink {
	int fd;
	atomic_size_t *bytes;
};

static void *discard(void *arg)
{
	struct sink *k = arg;
	static _Thread_local char buf[256 << 10];
	ssize_t r;
	while ((r = recv(k->fd, buf, sizeof(buf), 0)) > 0)
		atomic_fetch_add_explicit(k->bytes, (size_t)r, memory_order_relaxed); /* a count */
	close(k->fd);
	return NULL;
}

#define RETAIN_BLK ((size_t)256 << 10)
#define RETAIN_NS  200000000LL /* two batch intervals */

struct held {
	struct held *next;
	long long t; /* when it was filled (ns) */
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Blocks a retain thread gives back when its connection ends, for the next run's threads
 * (in warm mode the retain reference, like the engine, runs on memory it touched before). */
static struct held *retain_pool;
static pthread_mutex_t retain_mu = PTHREAD_MUTEX_INITIALIZER;
static bool warm;

static struct held *pool_get(void)
{
	pthread_mutex_lock(&retain_mu);
	struct held *b = retain_pool;
	if (b)
		retain_pool = b->next;
	pthread_mutex_unlock(&retain_mu);
	return b ? b : malloc(RETAIN_BLK);
}

/* recv-and-retain (see the top): blocks kept RETAIN_NS, then reused from a free list. */
static void *retain(void *arg)
{
	struct sink *k = arg;
	struct held *head = NULL, **tail = &head, *free_list = NULL;
	ssize_t r;
	for (;;) {
		struct held *b = free_list;
		if (b)
			free_list = b->next;
		else if (!(b = pool_get()))
			break;
		r = recv(k->fd, (char *)(b + 1), RETAIN_BLK - sizeof(*b), 0);
		if (r <= 0) {
			b->next = free_list;
			free_list = b;
			break;
		}
		atomic_fetch_add_explicit(k->bytes, (size_t)r, memory_order_relaxed); /* a count */
		b->t = now_ns();
		b->next = NULL;
		*tail = b;
		tail = &b->next;
		while (head && b->t - head->t > RETAIN_NS) {
			struct held *o = head;
			head = o->next;
			o->next = free_list;
			free_list = o;
		}
		if (!head)
			tail = &head;
	}
	for (struct held *lists[2] = {head, free_list}, **l = lists; l < lists + 2; l++)
		while (*l) {
			struct held *o = *l;
			*l = o->next;
			if (warm) {
				pthread_mutex_lock(&retain_mu);
				o->next = retain_pool;
				retain_pool = o;
				pthread_mutex_unlock(&retain_mu);
			} else {
				free(o);
			}
		}
	close(k->fd);
	return NULL;
}

/* Baseline: accept conns connections, recv-and-discard each on its own thread (or
 * recv-and-retain, with fn = retain). */
static double baseline_with(struct sender *s, double *cores, void *(*fn)(void *))
{
	int lfd = listen_on(&s->port);
	pthread_t snd[64], rcv[64];
	void *args[64][2];
	struct sink sinks[64];
	atomic_size_t bytes = 0;
	double t0 = bench_now(), c0 = cpu_now();
	start_senders(s, snd, args);
	for (int c = 0; c < s->conns; c++) {
		sinks[c] = (struct sink){accept(lfd, NULL, NULL), &bytes};
		pthread_create(&rcv[c], NULL, fn, &sinks[c]);
	}
	for (int c = 0; c < s->conns; c++)
		pthread_join(rcv[c], NULL);
	double dt = bench_now() - t0;
	*cores = (cpu_now() - c0) / dt;
	for (int c = 0; c < s->conns; c++)
		pthread_join(snd[c], NULL);
	close(lfd);
	if (atomic_load(&bytes) != s->total) {
		fprintf(stderr, "bench_ingest: baseline got %zu bytes of %zu\n",
			atomic_load(&bytes), s->total);
		exit(1);
	}
	return dt;
}

static double baseline(struct sender *s, double *cores)
{
	return baseline_with(s, cores, discard);
}

struct counted {
	atomic_size_t lines, bytes;
	size_t want;        /* lines sent */
	double done;        /* when the last line was counted (under mu) */
	pthread_mutex_t mu; /* the main thread sleeps on cv until done is set */
	pthread_cond_t cv;
};

static int sink_ms; /* the output blocks this long per batch with records (sink=MS) */

static int count(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct counted *c = arg;
	size_t n = 0, by = 0;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *col = sluice_batch_partition(b, p);
		size_t len = sluice_column_length(col);
		const sluice_str *v = sluice_column_strs(col);
		for (size_t i = 0; i < len; i++)
			by += v[i].len + 1;
		n += len;
	}
	/* relaxed: the main thread reads the totals after joining (stop), or under mu */
	size_t total = atomic_fetch_add_explicit(&c->lines, n, memory_order_relaxed) + n;
	atomic_fetch_add_explicit(&c->bytes, by, memory_order_relaxed);
	if (n && total >= c->want) {
		/* the main thread sleeps instead of polling, so it takes no CPU from the run */
		double now = bench_now();
		pthread_mutex_lock(&c->mu);
		c->done = now;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	if (n && sink_ms) {
		struct timespec ts = {sink_ms / 1000, (long)(sink_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* What an engine run used: CPU ns per line by thread kind, page faults per MiB. */
struct split {
	double sender, io, other, faults;
	double tail_ms; /* from the last sender's close to the last line counted */
};

/* The engine's context: a fresh one per run, or in warm mode one for the whole benchmark
 * (senders connect to its listening source again each run). */
static sluice_context *ctx;
static struct counted c;
static int ctx_port;
static int io_threads = 1; /* the engine's socketServerStream ioThreads */

static void engine_start(struct sender *s)
{
	int lfd = listen_on(&ctx_port); /* reserve a free port, then hand it to the engine */
	close(lfd);
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.batch_interval_ms = 100;
	cfg.block_interval_ms = 20;
	sluice_error err = {0};
	ctx = sluice_context_new(&cfg, &err);
	char p[256];
	snprintf(p, sizeof(p), "val lines = socketServerStream(\"127.0.0.1:%d\", ioThreads = %d)",
		 ctx_port, io_threads);
	c = (struct counted){.want = s->total / LINE};
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	if (!ctx || sluice_context_pipeline(ctx, p, strlen(p), &err) ||
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, "lines"), count, &c, &err) ||
	    sluice_context_start(ctx, &err)) {
		fprintf(stderr, "bench_ingest: %s\n", err.msg);
		exit(1);
	}
}

static void engine_stop(void)
{
	sluice_context_stop(ctx, 1);
	sluice_context_free(ctx);
	ctx = NULL;
	pthread_cond_destroy(&c.cv);
	pthread_mutex_destroy(&c.mu);
}

static double engine(struct sender *s, double *cores, struct split *sp)
{
	if (!ctx)
		engine_start(s);
	/* a warm context between runs: every line of the last run was counted, later
	 * batches are empty, so the counters can start again */
	pthread_mutex_lock(&c.mu);
	atomic_store(&c.lines, 0);
	atomic_store(&c.bytes, 0);
	c.done = 0;
	pthread_mutex_unlock(&c.mu);
	s->port = ctx_port;
	pthread_t snd[64];
	void *args[64][2];
	long long io0, other0;
	task_cpu(&io0, &other0);
	long f0 = minflt();
	sluice_receiver_stats st = {.size = sizeof(st)};
	sluice_context_receiver_stats(ctx, 0, &st);
	uint64_t r0 = st.records; /* a warm context counts on from the last run */
	double t0 = bench_now(), c0 = cpu_now();
	start_senders(s, snd, args);
	size_t want = c.want;
	/* the time to frame every line (the receiver's record count; polled every 1 ms, a
	 * sleep in between), not to the batch that counts the last line: batch times would
	 * round the run up to the next 100 ms */
	double framed = 0, framed_cpu = 0;
	while (!framed && bench_now() - t0 < 120) {
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
		sluice_context_receiver_stats(ctx, 0, &st);
		if (st.records - r0 >= want)
			framed = bench_now(), framed_cpu = cpu_now();
	}
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 120;
	pthread_mutex_lock(&c.mu);
	while (c.done == 0 && pthread_cond_timedwait(&c.cv, &c.mu, &limit) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c.mu);
	double dt = (framed ? framed : bench_now()) - t0;
	*cores = ((framed ? framed_cpu : cpu_now()) - c0) / dt;
	long long io1, other1;
	task_cpu(&io1, &other1);
	long f1 = minflt();
	for (int k = 0; k < s->conns; k++)
		pthread_join(snd[k], NULL);
	double lines = (double)want;
	sp->sender = (double)atomic_load(&s->cpu_ns) / lines;
	sp->io = (double)(io1 - io0) / lines;
	sp->other = (double)(other1 - other0) / lines;
	sp->faults = (double)(f1 - f0) / ((double)s->total / (1 << 20));
	sp->tail_ms = ((c.done ? c.done : bench_now()) - atomic_load(&s->closed)) * 1e3;
	if (!warm)
		engine_stop();
	if (atomic_load(&c.lines) != want || atomic_load(&c.bytes) != s->total) {
		fprintf(stderr,
			"bench_ingest: engine counted %zu lines / %zu bytes, sent %zu / %zu\n",
			atomic_load(&c.lines), atomic_load(&c.bytes), want, s->total);
		exit(1);
	}
	return dt;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 2048;
	int conns = argc > 2 ? atoi(argv[2]) : 1;
	int runs = argc > 3 ? atoi(argv[3]) : 3;
	const char *mode = argc > 4 ? argv[4] : "both";
	bool all = !strcmp(mode, "all");
	bool do_base = all || !strcmp(mode, "both") || !strcmp(mode, "baseline");
	bool do_eng = all || !strcmp(mode, "both") || !strcmp(mode, "engine");
	bool do_ret = all || !strcmp(mode, "retain");
	bool bad = false;
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "warm"))
			warm = true;
		else if (!strncmp(argv[i], "io=", 3))
			io_threads = atoi(argv[i] + 3);
		else if (!strncmp(argv[i], "sink=", 5))
			sink_ms = atoi(argv[i] + 5);
		else
			bad = true;
	}
	if (conns < 1 || conns > 64 || runs < 1 || runs > 15 || !mib ||
	    (!do_base && !do_eng && !do_ret) || bad || io_threads < 1 || io_threads > 64 ||
	    sink_ms < 0 || sink_ms > 10000) {
		fprintf(stderr, "usage: bench_ingest [total_MiB] [connections 1..64] [runs 1..15] "
				"[both|engine|baseline|retain|all] [warm] [io=N] [sink=MS]\n");
		return 2;
	}
	struct sender s = {.conns = conns};
	s.total = mib * ((size_t)1 << 20) / LINE * LINE;
	s.buf = malloc(SENDBUF + 1); /* snprintf writes a NUL past the last line */
	for (size_t i = 0; i < SENDBUF; i += LINE) {
		snprintf(s.buf + i, LINE + 1,
			 "%010zu the quick brown fox jumps over the lazy dog %08zu", i / LINE,
			 i % 99991);
		s.buf[i + LINE - 1] = '\n';
	}
	double tb[15], te[15], tr[15], cb[15], ce[15], cr[15];
	double ss[15], si[15], so[15], sf[15], st[15];
	if (warm) { /* one untimed run of each receiver that keeps memory */
		struct split sp;
		if (do_ret)
			baseline_with(&s, &cr[0], retain);
		if (do_eng)
			engine(&s, &ce[0], &sp);
	}
	for (int r = 0; r < runs; r++) {
		tb[r] = do_base ? baseline(&s, &cb[r]) : 0;
		tr[r] = do_ret ? baseline_with(&s, &cr[r], retain) : 0;
		struct split sp = {0};
		te[r] = do_eng ? engine(&s, &ce[r], &sp) : 0;
		ss[r] = sp.sender, si[r] = sp.io, so[r] = sp.other, sf[r] = sp.faults;
		st[r] = sp.tail_ms;
	}
	double b = bench_median(tb, runs), e = bench_median(te, runs), t = bench_median(tr, runs);
	double bc = bench_median(cb, runs), ec = bench_median(ce, runs),
	       rc = bench_median(cr, runs);
	double lines = (double)(s.total / LINE);
	printf("benchmark\tconnections\tMiB\tbaseline_GBps\tbaseline_Mlines_s\tengine_GBps\t"
	       "engine_Mlines_s\tratio\tgoal\tbaseline_cores\tengine_cores\t"
	       "engine_ns_line_sender\tengine_ns_line_io\tengine_ns_line_other\t"
	       "engine_faults_MiB\tretain_GBps\tretain_cores\tengine_to_retain\t"
	       "engine_tail_ms\n");
	double gb = (double)s.total / 1e9;
	printf("ingest\t%d\t%zu\t%.2f\t%.1f\t%.2f\t%.1f\t%.3f\t0.90\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t"
	       "%.0f\t%.2f\t%.2f\t%.3f\t%.0f\n",
	       conns, mib, do_base ? gb / b : 0, do_base ? lines / b / 1e6 : 0, do_eng ? gb / e : 0,
	       do_eng ? lines / e / 1e6 : 0, do_base && do_eng ? b / e : 0, do_base ? bc : 0,
	       do_eng ? ec : 0, bench_median(ss, runs), bench_median(si, runs),
	       bench_median(so, runs), bench_median(sf, runs), do_ret ? gb / t : 0, do_ret ? rc : 0,
	       do_ret && do_eng ? t / e : 0, bench_median(st, runs));
	if (ctx)
		engine_stop();
	while (retain_pool) {
		struct held *o = retain_pool;
		retain_pool = o->next;
		free(o);
	}
	free(s.buf);
	return 0;
}
