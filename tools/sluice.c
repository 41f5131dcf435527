/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice - the command line: flags and pipeline text go straight to libsluice.
 *
 * Exit codes: 0 success, 2 usage error (bad flags or pipeline text), 1 runtime error
 * (a batch failed, or the context could not run).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice.h"

static const char demo_pipeline[] =
    "// word count over the built-in generator: 200k lines/s of 8 words each\n"
    "val words = generator(\"lines\", rate = 200000, keys = 1000).flatMap(_.split(\" \"))\n"
    "words.count().print()\n"
    "words.map((_, 1)).reduceByKey(_ + _).filter(_._2 > 1700).print(5)\n";

static const char usage_main[] =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  run [options] 'PIPELINE'   run a streaming job written in the pipeline language\n"
    "  run [options] -f FILE      ... read from FILE ('-' = standard input)\n"
    "  demo [options]             word count over the built-in generator (5 one-second batches)\n"
    "\n"
    "  sluice --help | --version | run --help\n"
    "\n"
    "The pipeline language is Spark Streaming's method chaining with Scala lambdas, e.g.\n"
    "  sluice run --clock manual --batches 3 \\\n"
    "    'queueStream(\"in.jsonl\").flatMap(_.split(\" \")).map((_, 1)).reduceByKey(_ + "
    "_).print()'\n"
    "See docs/pipeline-language.md and docs/cli.md.\n";

/* The option table doubles as the --help text. */
static const struct opt {
	const char *lng;
	int shrt;
	const char *arg;
	const char *help;
} opts[] = {
    {"batch", 'b', "DURATION", "batch interval (default 1s): 500ms, 1s, 2min"},
    {"block", 'k', "DURATION",
     "block interval (default: the largest divisor of the batch <= 200ms)"},
    {"workers", 'w', "N", "worker threads, the driver included (default 0 = one per core)"},
    {"clock", 'c', "real|manual",
     "real: batches follow the wall clock; manual: virtual time, as fast as possible"},
    {"batches", 'n', "N", "stop after N batches (default: run until stopped or the input ends)"},
    {"file", 'f', "FILE", "read the pipeline from FILE ('-' = standard input)"},
    {"max-rate", 'r', "N", "receivers take at most N records/s each (default: unlimited)"},
    {"backpressure", 'B', NULL,
     "adapt receiver rates to the processing speed (Spark's PID rate estimator)"},
    {"no-pin", 'P', NULL, "do not pin workers to cores"},
    {"quiet", 'q', NULL, "do not log skipped records and failed batches to standard error"},
    {"verbose", 'v', NULL,
     "also log connections and other events, and each receiver's statistics at the end"},
    {"help", 'h', NULL, "this help"},
    {NULL, 0, NULL, NULL},
};

static void run_help(FILE *f)
{
	fprintf(f, "usage: sluice run [options] 'PIPELINE'\n       sluice run [options] -f FILE\n"
		   "       sluice demo [options]\n\noptions:\n");
	for (const struct opt *o = opts; o->lng; o++) {
		char left[64];
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shrt, o->lng, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
	fprintf(f, "\nSIGINT/SIGTERM stop gracefully: the batch in progress finishes and outputs "
		   "are flushed.\n"
		   "Exit status: 0 success, 1 a batch failed or the run could not start, 2 usage "
		   "error.\n");
}

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "sluice: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\nTry 'sluice run --help'.\n");
	return 2;
}

/* "500ms", "1s", "1.5s", "2min", "1h", or a plain number of milliseconds: digits with at
 * most one '.', then the unit, in exact decimal (1.001s is 1001 ms, as in pipeline text; a
 * double would make it 1000.99...), at most 10^12 ms and a whole number of them. */
static int parse_duration(const char *s, int64_t *ms)
{
	size_t digits = strspn(s, "0123456789"), fd = 0;
	if (!digits)
		return -1;
	const char *frac = s + digits + 1, *unit = s + digits;
	if (*unit == '.') {
		fd = strspn(frac, "0123456789");
		if (!fd)
			return -1;
		unit = frac + fd;
	}
	int64_t mul;
	if (!*unit || !strcmp(unit, "ms"))
		mul = 1;
	else if (!strcmp(unit, "s") || !strcmp(unit, "sec"))
		mul = 1000;
	else if (!strcmp(unit, "m") || !strcmp(unit, "min"))
		mul = 60000;
	else if (!strcmp(unit, "h"))
		mul = 3600000;
	else
		return -1;
	const int64_t max = 1000000000000;
	int64_t whole = 0, f = 0, pow = 1;
	for (size_t i = 0; i < digits; i++)
		if ((whole = whole * 10 + (s[i] - '0')) > max)
			return -1;
	while (fd && frac[fd - 1] == '0') /* trailing zeros change nothing */
		fd--;
	if (fd > 9) /* no unit divides 10^10 into whole milliseconds (3600000 = 2^7 3^2 5^5) */
		return -1;
	for (size_t i = 0; i < fd; i++)
		f = f * 10 + (frac[i] - '0'), pow *= 10;
	if (whole > max / mul || f * mul % pow)
		return -1;
	int64_t r = whole * mul + f * mul / pow;
	if (r < 1 || r > max)
		return -1;
	*ms = r;
	return 0;
}

static int parse_count(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
		return -1; /* no " 2" or "+2" */
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end || errno || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
		cap *= 2;
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

/* arg: 0 normal (errors and warnings), 1 quiet (nothing), 2 verbose (everything) */
static void log_stderr(void *arg, int level, const char *msg)
{
	static const char *lv[] = {"error", "warning", "info", "debug"};
	int mode = *(int *)arg;
	if (mode == 0 && level > SLUICE_LOG_WARN)
		return;
	if (mode != 1)
		fprintf(stderr, "sluice: %s: %s\n", lv[level & 3], msg);
}

static int out_failed; /* a write to standard output failed (reported once) */

/* A failed write to standard output (a full disk, a closed pipe) is an error, reported
 * once when it happens; the run goes on and exits 1 (see main). */
static void check_stdout(void)
{
	if (!out_failed && (fflush(stdout) || ferror(stdout))) {
		out_failed = 1;
		fprintf(stderr, "sluice: error: cannot write standard output: %s\n",
			strerror(errno));
	}
}

static void out_stdout(void *arg, const char *text, size_t len)
{
	(void)arg;
	fwrite(text, 1, len, stdout);
	check_stdout();
}

static void print_error(const char *what, const sluice_error *e)
{
	if (e->line)
		fprintf(stderr, "sluice: %s:%d:%d: %s\n", what, e->line, e->col, e->msg);
	else
		fprintf(stderr, "sluice: %s: %s\n", what, e->msg);
	if (e->context[0])
		fprintf(stderr, "%s\n", e->context);
}

static sluice_context *volatile g_ctx;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_ctx)
		sluice_context_request_stop(g_ctx); /* an atomic store: async-signal-safe */
}

static int cmd_run(int argc, char **argv, int demo)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	int64_t batches = 0, v;
	const char *file = NULL;
	int quiet = 0;
	static const struct option lo[] = {
	    {"batch", required_argument, 0, 'b'},
	    {"block", required_argument, 0, 'k'},
	    {"workers", required_argument, 0, 'w'},
	    {"clock", required_argument, 0, 'c'},
	    {"batches", required_argument, 0, 'n'},
	    {"file", required_argument, 0, 'f'},
	    {"max-rate", required_argument, 0, 'r'},
	    {"backpressure", no_argument, 0, 'B'},
	    {"no-pin", no_argument, 0, 'P'},
	    {"quiet", no_argument, 0, 'q'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	if (demo)
		batches = 5;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:b:k:w:c:n:f:r:BPqvh", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_duration(optarg, &cfg.batch_interval_ms))
				return usage_error(
				    "bad --batch duration '%s' (examples: 500ms, 1s, 2min)",
				    optarg);
			break;
		case 'k':
			if (parse_duration(optarg, &cfg.block_interval_ms))
				return usage_error(
				    "bad --block duration '%s' (examples: 50ms, 200ms)", optarg);
			break;
		case 'w':
			if (parse_count(optarg, 0, 1024, &v))
				return usage_error("bad --workers '%s' (0 to 1024)", optarg);
			cfg.workers = (int)v;
			break;
		case 'c':
			if (!strcmp(optarg, "real"))
				cfg.clock = SLUICE_CLOCK_REAL;
			else if (!strcmp(optarg, "manual"))
				cfg.clock = SLUICE_CLOCK_MANUAL;
			else
				return usage_error("bad --clock '%s' (real or manual)", optarg);
			break;
		case 'n':
			if (parse_count(optarg, 1, INT64_MAX, &batches))
				return usage_error("bad --batches '%s' (a positive integer)",
						   optarg);
			break;
		case 'f': file = optarg; break;
		case 'r':
			if (parse_count(optarg, 1, INT64_MAX, &cfg.receiver_max_rate))
				return usage_error("bad --max-rate '%s' (records per second, >= 1)",
						   optarg);
			break;
		case 'B': cfg.backpressure = 1; break;
		case 'P': cfg.no_pin = 1; break;
		case 'q': quiet = 1; break;
		case 'v': quiet = 2; break;
		case 'h': run_help(stdout); return 0;
		default:
			for (const struct opt *o = opts; optopt && o->lng; o++) {
				if (o->shrt != optopt)
					continue;
				if (o->arg)
					return usage_error("option --%s needs a value", o->lng);
				/* getopt_long's "--quiet=1": optopt is the option's letter */
				if (!strncmp(argv[optind - 1], "--", 2))
					return usage_error("option --%s takes no value", o->lng);
			}
			if (optopt)
				return usage_error("unknown option '-%s'",
						   (char[2]){(char)optopt, 0});
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	char *text = NULL;
	size_t len = 0;
	if (demo) {
		if (optind < argc || file)
			return usage_error("demo takes no pipeline (found '%s')",
					   optind < argc ? argv[optind] : file);
		text = strdup(demo_pipeline);
		len = strlen(demo_pipeline);
	} else if (file) {
		if (optind < argc)
			return usage_error(
			    "give the pipeline either as text or with -f, not both (found '%s')",
			    argv[optind]);
		text = read_all(file, &len);
		if (!text) {
			fprintf(stderr, "sluice: cannot read '%s': %s\n", file,
				strerror(errno ? errno : EIO));
			return 2;
		}
		if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte-order mark */
			memmove(text, text + 3, len - 3);
			len -= 3;
		}
	} else {
		if (optind >= argc)
			return usage_error("%s", "missing the pipeline text");
		if (optind + 1 < argc)
			return usage_error(
			    "unexpected argument '%s' after the pipeline (quote the pipeline)",
			    argv[optind + 1]);
		text = strdup(argv[optind]);
		len = strlen(argv[optind]);
	}
	if (!text) {
		fprintf(stderr, "sluice: out of memory\n");
		return 1;
	}
	cfg.isa = getenv("SLUICE_ISA"); /* the library reads no environment; the CLI does */
	cfg.log = log_stderr;
	cfg.log_arg = &quiet;
	cfg.output = out_stdout;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	if (!ctx) {
		/* name the flag or variable behind a bad setting */
		const char *from = strstr(err.msg, "kernel ISA")       ? "SLUICE_ISA"
				   : strstr(err.msg, "block interval") ? "--batch/--block"
				   : strstr(err.msg, "workers")        ? "--workers"
				   : strstr(err.msg, "rate")           ? "--max-rate/--backpressure"
								       : NULL;
		if (from && (err.code == -EINVAL || err.code == -ENOTSUP))
			fprintf(stderr, "sluice: %s: %s\n", from, err.msg);
		else
			print_error("error", &err);
		free(text);
		return err.code == -EINVAL ? 2 : 1;
	}
	int rc = sluice_context_pipeline(ctx, text, len, &err);
	free(text);
	if (rc) {
		print_error(file ? file : "pipeline", &err);
		sluice_context_free(ctx);
		return 2;
	}
	if (batches)
		sluice_context_set_max_batches(ctx, batches);
	g_ctx = ctx;
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = sluice_context_start(ctx, &err);
	if (rc) {
		print_error(err.line ? (file ? file : "pipeline") : "error", &err);
		g_ctx = NULL;
		sluice_context_free(ctx);
		return rc == -EINVAL ? 2 : 1;
	}
	if (cfg.clock == SLUICE_CLOCK_MANUAL) {
		while (!g_stop && sluice_context_await(ctx, 0))
			if (sluice_context_advance(ctx, cfg.batch_interval_ms) < 0)
				break;
	} else {
		while (sluice_context_await(ctx, 100))
			if (g_stop)
				break;
	}
	sluice_context_stop(ctx, 1);
	g_ctx = NULL;
	sluice_stats st = {.size = sizeof(st)};
	sluice_context_stats(ctx, &st);
	int status = 0;
	if (st.failed_batches) {
		sluice_error first;
		sluice_context_first_error(ctx, &first);
		fprintf(stderr, "sluice: %lld of %lld batch(es) failed; first error: %s\n",
			(long long)st.failed_batches, (long long)st.batches, first.msg);
		status = 1;
	}
	/* records operators skipped, and those receivers skipped (too long) */
	uint64_t skipped = st.skipped_records;
	for (int i = 0; i < sluice_context_receiver_count(ctx); i++) {
		sluice_receiver_stats rs = {.size = sizeof(rs)};
		if (sluice_context_receiver_stats(ctx, i, &rs))
			break;
		skipped += rs.skipped;
	}
	if (skipped && quiet != 1)
		fprintf(stderr, "sluice: %llu record(s) skipped (see the warnings above)\n",
			(unsigned long long)skipped);
	for (int i = 0; quiet == 2 && i < sluice_context_receiver_count(ctx); i++) {
		sluice_receiver_stats rs = {.size = sizeof(rs)};
		if (sluice_context_receiver_stats(ctx, i, &rs))
			break;
		fprintf(stderr,
			"sluice: %s at %d:%d: %llu records, %llu bytes, %llu blocks, %llu skipped, "
			"%llu connections, %llu restarts, rate limit %lld/s\n",
			rs.name, rs.line, rs.col, (unsigned long long)rs.records,
			(unsigned long long)rs.bytes, (unsigned long long)rs.blocks,
			(unsigned long long)rs.skipped, (unsigned long long)rs.connections,
			(unsigned long long)rs.restarts, (long long)rs.rate_limit);
	}
	sluice_context_free(ctx);
	return status;
}

static int run_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		int err = 0;
		const char *isa = sluice_isa(getenv("SLUICE_ISA"), &err);
		printf("sluice %s (kernels: %s)\n", sluice_version(), isa ? isa : "unavailable");
		if (!isa)
			fprintf(stderr, "sluice: SLUICE_ISA=%s: %s\n", getenv("SLUICE_ISA"),
				err == -ENOTSUP ? "not supported by this CPU"
						: "unknown (scalar, avx2 or avx512)");
		return isa ? 0 : 2;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1, 0);
	if (!strcmp(cmd, "demo"))
		return cmd_run(argc - 1, argv + 1, 1);
	fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
	fputs(usage_main, stderr);
	return 2;
}

int main(int argc, char **argv)
{
	int rc = run_main(argc, argv);
	check_stdout();
	return out_failed && !rc ? 1 : rc;
}
