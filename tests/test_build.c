/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_build.c - building pipeline text into streams (core/build.c): how operator arguments
 * bind to Spark's parameter names (core/args.c, shared with the sources), checked by what the
 * built pipeline prints or writes on the manual clock and by the errors' messages and
 * positions. Nothing sleeps.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice.h"
#include "testutil.h"

static char dir[64];

/* Each test runs in a fresh directory holding the queue file "x" (one batch: [1]). */
static void setup(void)
{
	sl_test_tmpdir(dir, "build");
	cr_assert_eq(chdir(dir), 0);
	FILE *f = fopen("x", "w");
	cr_assert_not_null(f);
	fputs("[1]\n", f);
	fclose(f);
}

static void teardown(void)
{
	sl_test_rmdir(dir);
}

TestSuite(build, .init = setup, .fini = teardown);

struct capture {
	char *buf;
	size_t len;
};

static void cap_out(void *arg, const char *text, size_t len)
{
	struct capture *c = arg;
	c->buf = realloc(c->buf, c->len + len + 1);
	cr_assert_not_null(c->buf);
	memcpy(c->buf + c->len, text, len);
	c->len += len;
	c->buf[c->len] = 0;
}

/* Write a queueStream file in the test's directory; returns its name. */
static const char *qfile(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return name;
}

static sluice_context *ctx_new(struct capture *c)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = SLUICE_CLOCK_MANUAL;
	cfg.workers = 2;
	cfg.no_pin = 1;
	cfg.isa = sl_test_isa();
	cfg.output = cap_out;
	cfg.output_arg = c;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	cr_assert_not_null(ctx, "%s", err.msg);
	return ctx;
}

/* Build the pipeline and run it for n batches; returns what it printed (caller frees). */
static char *run(int64_t n, const char *pipeline)
{
	struct capture c = {0};
	sluice_context *ctx = ctx_new(&c);
	sluice_error err = {0};
	int rc = sluice_context_pipeline(ctx, pipeline, strlen(pipeline), &err);
	cr_assert_eq(rc, 0, "<%s>: %s\n%s", pipeline, err.msg, err.context);
	sluice_context_set_max_batches(ctx, n);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_advance(ctx, n * 1000), n);
	sluice_context_free(ctx);
	return c.buf ? c.buf : strdup("");
}

/* The pipeline must fail to build with code, msg containing want, at line 1, column col. */
static void refused_with(int code, const char *pipeline, int col, const char *want)
{
	struct capture c = {0};
	sluice_context *ctx = ctx_new(&c);
	sluice_error err = {0};
	int rc = sluice_context_pipeline(ctx, pipeline, strlen(pipeline), &err);
	cr_assert_eq(rc, code, "<%s>: rc %d (%s)", pipeline, rc, err.msg);
	cr_assert(strstr(err.msg, want), "<%s>:\n got  %s\n want %s", pipeline, err.msg, want);
	cr_assert_eq(err.line, 1, "<%s>: line %d", pipeline, err.line);
	cr_assert_eq(err.col, col, "<%s>: col %d, want %d (%s)", pipeline, err.col, col, err.msg);
	sluice_context_free(ctx);
	free(c.buf);
}

static void refused(const char *pipeline, int col, const char *want)
{
	refused_with(-EINVAL, pipeline, col, want);
}

/* Both pipelines print the same, and not nothing. */
static void same_output(int64_t n, const char *a, const char *b)
{
	char *x = run(n, a), *y = run(n, b);
	cr_assert(strstr(x, "Time: "), "<%s> printed nothing", a);
	cr_assert_str_eq(x, y, "<%s> and <%s> differ", a, b);
	free(x);
	free(y);
}

/* printf into one of 4 rotating buffers: pipeline text naming the test's files. */
static const char *PIPE(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *PIPE(const char *fmt, ...)
{
	static char bufs[4][2048];
	static int next;
	char *b = bufs[next++ % 4];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(bufs[0]));
	return b;
}

/* ---- named arguments bind by name ----------------------------------------------------- */

Test(build, named_window_durations_bind_by_name)
{
	const char *q = qfile("t4.jsonl", "[1]\n[2]\n[3]\n[4]\n");
	char *out = run(4, PIPE("queueStream(\"%s\").window(slideDuration = 1s, "
				"windowDuration = 3s).print()",
				q));
	/* a 3 s window sliding every second: output every batch, [1] first, [2, 3, 4] last */
	cr_assert(strstr(out, "Time: 1000 ms\n-------------------------------------------\n1\n\n"),
		  "%s", out);
	cr_assert(
	    strstr(out, "Time: 4000 ms\n-------------------------------------------\n2\n3\n4\n"),
	    "%s", out);
	free(out);
	same_output(4, PIPE("queueStream(\"%s\").window(3s, 1s).print()", q),
		    PIPE("queueStream(\"%s\").window(slideDuration = 1s, windowDuration = 3s)."
			 "print()",
			 q));
	same_output(4, PIPE("queueStream(\"%s\").window(3s, 2s).print()", q),
		    PIPE("queueStream(\"%s\").window(3s, slideDuration = Seconds(2)).print()", q));
	same_output(4, PIPE("queueStream(\"%s\").countByWindow(3s, 1s).print()", q),
		    PIPE("queueStream(\"%s\").countByWindow(slideDuration = 1s, windowDuration = "
			 "3s).print()",
			 q));
	same_output(4,
		    PIPE("queueStream(\"%s\").map((_, 1)).groupByKeyAndWindow(2s, 1s).print()", q),
		    PIPE("queueStream(\"%s\").map((_, 1)).groupByKeyAndWindow(slideDuration = 1s, "
			 "windowDuration = 2s).print()",
			 q));
	same_output(4, PIPE("queueStream(\"%s\").countByValueAndWindow(3s, 1s, 2).print()", q),
		    PIPE("queueStream(\"%s\").countByValueAndWindow(numPartitions = 2, "
			 "slideDuration = 1s, windowDuration = 3s).print()",
			 q));
}

Test(build, named_reduce_functions_bind_by_name)
{
	const char *q = qfile("clicks.jsonl", "[\"a\", \"b\", \"a\"]\n[\"b\"]\n[\"c\", \"a\"]\n");
	/* swapped, _ - _ would reduce and _ + _ undo: (a,0) at 1000 ms instead of (a,2) */
	same_output(5,
		    PIPE("queueStream(\"%s\").map((_, 1)).reduceByKeyAndWindow(_ + _, _ - _, 2s, "
			 "1s).print()",
			 q),
		    PIPE("queueStream(\"%s\").map((_, 1)).reduceByKeyAndWindow(invReduceFunc = _ - "
			 "_, reduceFunc = _ + _, windowDuration = 2s, slideDuration = 1s).print()",
			 q));
	same_output(5,
		    PIPE("queueStream(\"%s\").map((_, 1)).reduceByKeyAndWindow(_ + _, _ - _, 2s, "
			 "1s, 2, _._2 > 0).print()",
			 q),
		    PIPE("queueStream(\"%s\").map((_, 1)).reduceByKeyAndWindow(_ + _, _ - _, "
			 "filterFunc = _._2 > 0, numPartitions = 2, slideDuration = 1s, "
			 "windowDuration = 2s).print()",
			 q));
	same_output(
	    5,
	    PIPE("queueStream(\"%s\").map(_.length * 2).reduceByWindow(_ + _, _ - _, 2s, "
		 "1s).print()",
		 q),
	    PIPE("queueStream(\"%s\").map(_.length * 2).reduceByWindow(windowDuration = "
		 "2s, invReduceFunc = _ - _, slideDuration = 1s, reduceFunc = _ + _).print()",
		 q));
	same_output(3, PIPE("queueStream(\"%s\").map((_, 1)).reduceByKey(_ + _, 2).print()", q),
		    PIPE("queueStream(\"%s\").map((_, 1)).reduceByKey(numPartitions = 2, "
			 "reduceFunc = _ + _).print()",
			 q));
	same_output(
	    3,
	    PIPE("queueStream(\"%s\").map((_, 1)).updateStateByKey((v: Seq[Int], s: "
		 "Option[Int]) => Some(v.sum + s.getOrElse(0)), 2, Seq((\"z\", 5))).print()",
		 q),
	    PIPE("queueStream(\"%s\").map((_, 1)).updateStateByKey(initialRDD = "
		 "Seq((\"z\", 5)), numPartitions = 2, updateFunc = (v: Seq[Int], s: "
		 "Option[Int]) => Some(v.sum + s.getOrElse(0))).print()",
		 q));
}

Test(build, named_print_and_join_arguments_bind_by_name)
{
	const char *q = qfile("clicks.jsonl", "[\"a\", \"b\", \"a\"]\n[\"b\"]\n");
	same_output(2, PIPE("queueStream(\"%s\").map(_ + \"!\").print(1)", q),
		    PIPE("queueStream(\"%s\").map(mapFunc = _ + \"!\").print(num = 1)", q));
	same_output(2, PIPE("val p = queueStream(\"%s\").map((_, 1)); p.join(p, 3).print()", q),
		    PIPE("val p = queueStream(\"%s\").map((_, 1)); p.join(numPartitions = 3, other "
			 "= p).print()",
			 q));
}

Test(build, named_save_prefix_and_suffix_bind_by_name)
{
	const char *q = qfile("one.jsonl", "[\"x\"]\n");
	free(
	    run(1, PIPE("queueStream(\"%s\").saveAsTextFiles(suffix = \"txt\", prefix = \"out/n\")",
			q)));
	struct stat st;
	cr_assert_eq(stat("out/n-1000.txt", &st), 0, "out/n-1000.txt not written");
	cr_assert_eq(stat("txt-1000.out", &st), -1, "written as prefix txt, suffix out/n");
}

/* ---- argument errors name the parameter and point at the argument ----------------------- */

Test(build, unknown_parameter_names_are_refused)
{
	refused("queueStream(\"x\").window(bogus = 3s).print()", 25,
		"window has no parameter named 'bogus'; its parameters: windowDuration, "
		"slideDuration (usage: window(windowDuration[, slideDuration]))");
	refused("queueStream(\"x\").print(bogus = 2)", 24,
		"print has no parameter named 'bogus'; its parameters: num (usage: print([num]))");
	refused("queueStream(\"x\").map((_, 1)).reduceByKey(_ + _, bogus = 2).print()", 49,
		"reduceByKey has no parameter named 'bogus'");
	refused("queueStream(\"x\").window(slideDuraton = 1s).print()", 25,
		"did you mean 'slideDuration'?");
	refused("queueStream(\"x\").map(f = _ + 1).print()", 22,
		"map has no parameter named 'f'; its parameters: mapFunc");
	refused("queueStream(\"x\").stateSnapshots(x = 1).print()", 33,
		"stateSnapshots has no parameter named 'x'; it takes none");
}

Test(build, parameter_given_twice_is_refused)
{
	refused("queueStream(\"x\").window(2s, windowDuration = 3s).print()", 29,
		"window: parameter 'windowDuration' given twice");
	refused("queueStream(\"x\").window(windowDuration = 2s, windowDuration = 3s).print()", 46,
		"window: parameter 'windowDuration' given twice");
	refused("queueStream(\"x\").saveAsTextFiles(\"a\", prefix = \"b\")", 39,
		"saveAsTextFiles: parameter 'prefix' given twice (usage: "
		"saveAsTextFiles(prefix[, suffix]))");
}

Test(build, positional_after_named_is_refused)
{
	refused("queueStream(\"x\").saveAsTextFiles(prefix = \"a\", \"txt\")", 48,
		"saveAsTextFiles: a positional argument cannot follow the named argument 'prefix'");
	refused("queueStream(\"x\").window(windowDuration = 2s, 1s).print()", 46,
		"window: a positional argument cannot follow the named argument 'windowDuration'");
	/* the sources share the rule */
	refused("queueStream(partitions = 2, \"x\").print()", 29,
		"queueStream: a positional argument cannot follow the named argument 'partitions'");
	/* an overload's parameter a positional argument passed over cannot be named after it */
	refused("queueStream(\"x\").map((_, 1)).reduceByKeyAndWindow(_ + _, 2s, invReduceFunc = _ "
		"- _).print()",
		62, "parameter 'invReduceFunc' comes before the positional arguments");
}

Test(build, missing_required_parameter_is_refused)
{
	refused("queueStream(\"x\").countByWindow(windowDuration = 2s).print()", 18,
		"countByWindow needs the parameter 'slideDuration' (usage: "
		"countByWindow(windowDuration, slideDuration))");
	refused("queueStream(\"x\").saveAsTextFiles(suffix = \"txt\")", 18,
		"saveAsTextFiles needs the parameter 'prefix'");
	refused("queueStream(\"x\").map((_, 1)).reduceByKeyAndWindow(reduceFunc = _ + _, "
		"slideDuration = 1s).print()",
		30, "reduceByKeyAndWindow needs the parameter 'windowDuration'");
}

Test(build, argument_kinds_are_checked_by_parameter)
{
	refused("queueStream(\"x\").window(30, 10).print()", 25,
		"window: parameter 'windowDuration' must be a duration: a duration needs a unit");
	refused("queueStream(\"x\").window(2s, slideDuration = 10).print()", 29,
		"window: parameter 'slideDuration' must be a duration: a duration needs a unit");
	refused("queueStream(\"x\").saveAsTextFiles(prefix = 1)", 34,
		"saveAsTextFiles: parameter 'prefix' must be a string");
	refused("queueStream(\"x\").map((_, 1)).reduceByKeyAndWindow(_ + _, invReduceFunc = 2s, "
		"windowDuration = 2s, slideDuration = 1s).print()",
		58, "reduceByKeyAndWindow: parameter 'invReduceFunc' must be a function");
	refused("queueStream(\"x\").window(windowDuration = -2s).print()", 42,
		"window: a duration must be positive");
	refused("queueStream(\"x\").map((_, 1)).reduceByKey(_ + _, numPartitions = 0).print()", 65,
		"numPartitions must be an integer from 1 to 1048576");
}

Test(build, nul_byte_in_an_operator_string_is_named)
{
	static const char p1[] = "queueStream(\"x\").saveAsTextFiles(\"o1/a\\0b\")";
	static const char p2[] = "queueStream(\"x\").saveAsTextFiles(\"o1/a\", suffix = \"t\\0\")";
	refused(p1, 34, "a NUL byte in a string argument is not allowed");
	refused(p2, 51, "a NUL byte in a string argument is not allowed");
	/* as for a source's string */
	refused("queueStream(\"a\\0b\").print()", 13,
		"a NUL byte in a string argument is not allowed");
}

/* ---- lambdas -------------------------------------------------------------------------- */

/* Scala's `_ =>` ignores its argument; `_` in the body still belongs to no lambda. */
Test(build, underscore_lambda_parameter_is_ignored)
{
	char *out = run(1, "queueStream(\"x\").map(_ => 7).print()");
	cr_assert(strstr(out, "\n7\n"), "%s", out);
	free(out);
	qfile("two", "[1, 2]\n");
	out = run(1, "queueStream(\"two\").reduce((_, _) => 5).print()");
	cr_assert(strstr(out, "\n5\n"), "%s", out);
	free(out);
	out = run(1, "queueStream(\"two\").map(x => (x, 3)).reduceByKey((_: Long, b: Long) => b)"
		     ".filter(_._1 == 2).print()");
	cr_assert(strstr(out, "\n(2,3)\n"), "%s", out);
	free(out);
	refused("queueStream(\"x\").map(_ => _ + 1).print()", 27,
		"'_' cannot be used inside an explicit lambda");
}

/* ---- Spark's driver lines --------------------------------------------------------------- */

/* Lines of a Spark program that drive the context say what sluice does instead. */
Test(build, spark_context_lines_say_what_to_do)
{
	refused_with(
	    -ENOTSUP, "ssc.checkpoint(\"cp\")", 5,
	    "ssc.checkpoint(directory): checkpointing to a directory is not supported: no "
	    "checkpoint files are written, so a run cannot be recovered from one (stateful "
	    "operators work without it); remove this line");
	refused_with(-ENOTSUP, "streamingContext.checkpoint(\"cp\")", 18,
		     "streamingContext.checkpoint(directory): checkpointing");
	refused("queueStream(\"x\").print(); ssc.start()", 31,
		"ssc.start() is not needed: the pipeline starts once the whole text is built and "
		"runs until --batches N, the end of its input or a stop signal; remove ssc.start() "
		"and ssc.awaitTermination()");
	refused("ssc.awaitTermination()", 5, "ssc.awaitTermination() is not needed");
	refused("ssc.awaitTerminationOrTimeout(1000)", 5,
		"ssc.awaitTerminationOrTimeout(timeout): bound the run with --batches N instead");
	refused("ssc.stop(true)", 5, "ssc.stop(): the run stops after --batches N");
	refused("ssc.remember(Minutes(1))", 5,
		"ssc.remember(duration): each stream keeps what its windows and state need");
	refused("ssc.sparkContext.setLogLevel(\"WARN\")", 18,
		"ssc.sparkContext.setLogLevel(level): the CLI's -q and -v choose what is logged");
	refused("sc.setLogLevel(\"WARN\")", 4, "sc.setLogLevel(level)");
	/* a source is still a source, and a val named ssc is a stream */
	char *out = run(1, "ssc.queueStream(\"x\").print()");
	cr_assert(strstr(out, "\n1\n"), "%s", out);
	free(out);
	out = run(1, "val ssc = queueStream(\"x\"); ssc.checkpoint(1s).print()");
	cr_assert(strstr(out, "\n1\n"), "%s", out);
	free(out);
}
