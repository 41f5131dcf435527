/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Windows and state through the C API: the operators' results, the retained state the
 * checkpoint interface shows (and that it stays bounded as keys come and go), and the
 * API's errors. The pipeline-language paths are covered by spark_examples.py,
 * window_props.py and cli.py.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "sluice.h"
#include "state.h"
#include "testutil.h"

static char dir[64];

static void setup(void)
{
	sl_test_tmpdir(dir, "window");
}

static void teardown(void)
{
	sl_test_rmdir(dir);
}

TestSuite(window, .init = setup, .fini = teardown);

/* A queueStream file of the given lines. */
static const char *queue(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static sluice_context *ctx_new(int workers)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = SLUICE_CLOCK_MANUAL;
	cfg.workers = workers;
	cfg.no_pin = 1;
	cfg.isa = sl_test_isa();
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	cr_assert_not_null(ctx, "%s", err.msg);
	return ctx;
}

/* Sum of the Long values (the second field of pairs, or the elements) of each batch. */
struct sums {
	int64_t t[64], v[64], rows[64];
	int n;
};

static int collect(void *arg, int64_t t, const sluice_batch *b)
{
	struct sums *s = arg;
	int64_t v = 0, rows = 0;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const sluice_column *x = sluice_column_child(c, 1) ? sluice_column_child(c, 1) : c;
		const int64_t *a = sluice_column_i64(x);
		for (size_t i = 0; i < sluice_column_length(c); i++)
			v += a[i];
		rows += (int64_t)sluice_column_length(c);
	}
	cr_assert_lt(s->n, 64);
	s->t[s->n] = t;
	s->v[s->n] = v;
	s->rows[s->n++] = rows;
	return 0;
}

Test(window, api_keyed_windows_and_counts)
{
	const char *q = queue("kv.jsonl", "[[\"a\",1]]\n[[\"a\",1],[\"b\",2]]\n[]\n[]\n");
	sluice_context *ctx = ctx_new(2);
	sluice_error err = {0};
	sluice_stream *s = sluice_queue_stream(ctx, q, &err);
	cr_assert_not_null(s, "%s", err.msg);
	struct sums naive = {0}, inv = {0}, cnt = {0}, win = {0};
	sluice_stream *n =
	    sluice_stream_reduce_by_key_and_window(s, "_ + _", NULL, 2000, 1000, 0, NULL, &err);
	sluice_stream *i =
	    sluice_stream_reduce_by_key_and_window(s, "_ + _", "_ - _", 2000, 1000, 3, NULL, &err);
	sluice_stream *c = sluice_stream_count_by_window(s, 2000, 1000, &err);
	sluice_stream *w = sluice_stream_window(sluice_stream_map(s, "_._2", &err), 2000, 0, &err);
	cr_assert(n && i && c && w, "%s", err.msg);
	cr_assert_eq(sluice_stream_foreach_batch(n, collect, &naive, &err), 0);
	cr_assert_eq(sluice_stream_foreach_batch(i, collect, &inv, &err), 0);
	cr_assert_eq(sluice_stream_foreach_batch(c, collect, &cnt, &err), 0);
	cr_assert_eq(sluice_stream_foreach_batch(w, collect, &win, &err), 0);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	sluice_context_set_max_batches(ctx, 5);
	cr_assert_eq(sluice_context_advance(ctx, 5000), 5);
	/* windows (t-2s, t]: sums 1, 4, 3, 0, 0 */
	int64_t want_v[] = {1, 4, 3, 0, 0}, want_nk[] = {1, 2, 2, 0, 0},
		want_ik[] = {1, 2, 2, 2, 2};
	int64_t want_cnt[] = {1, 3, 2, 0, 0};
	for (int k = 0; k < 5; k++) {
		cr_expect_eq(naive.t[k], (k + 1) * 1000);
		cr_expect_eq(naive.v[k], want_v[k], "naive at %d", k);
		cr_expect_eq(naive.rows[k], want_nk[k], "naive keys at %d", k);
		cr_expect_eq(inv.v[k], want_v[k], "inverse at %d", k);
		cr_expect_eq(inv.rows[k], want_ik[k], "inverse keeps zero keys, at %d", k);
		cr_expect_eq(cnt.v[k], want_cnt[k], "countByWindow at %d", k);
		cr_expect_eq(cnt.rows[k], 1, "countByWindow emits 0 after data, at %d", k);
		cr_expect_eq(win.v[k], want_v[k], "window at %d", k);
	}
	sluice_context_free(ctx);
}

struct tally {
	int64_t panes, windows, states, rows, max_time;
};

static int visit(void *arg, const char *kind, int part, int64_t time, const sl_col *keys,
		 const sl_col *vals, const int64_t *times, size_t n)
{
	(void)part;
	(void)time;
	struct tally *t = arg;
	cr_assert(keys || !strcmp(kind, "rdd"));
	cr_assert(!vals || vals->len == n);
	if (!strcmp(kind, "pane"))
		t->panes++;
	else if (!strcmp(kind, "window"))
		t->windows++;
	else if (!strcmp(kind, "state"))
		t->states++;
	t->rows += (int64_t)n;
	for (size_t i = 0; times && i < n; i++)
		if (times[i] > t->max_time)
			t->max_time = times[i];
	return 0;
}

/* Keys that come and go: the state and the panes hold only the live ones. */
Test(window, retained_state_is_bounded_and_visible)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/churn.jsonl", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int b = 0; b < 30; b++) {
		fputc('[', f);
		for (int k = 0; k < 2000; k++)
			fprintf(f, "%s[\"k%d\",1]", k ? "," : "", b * 2000 + k);
		fputs("]\n", f);
	}
	fclose(f);
	sluice_context *ctx = ctx_new(2);
	sluice_error err = {0};
	sluice_stream *s = sluice_queue_stream(ctx, path, &err);
	cr_assert_not_null(s, "%s", err.msg);
	/* a key lives for one batch: its state is removed the batch after it had data */
	sluice_stream *st = sluice_stream_update_state_by_key(
	    s, "(vs, st) => if (vs.size == 0) None else Some(vs.sum + st.getOrElse(0))", NULL, 0,
	    &err);
	sluice_stream *w = sluice_stream_reduce_by_key_and_window(s, "_ + _", "_ - _", 3000, 1000,
								  0, "_._2 != 0", &err);
	sluice_stream *m = sluice_stream_map_with_state(
	    s,
	    "StateSpec.function((k, v, st) => { if (!st.isTimingOut) st.update(1); k })"
	    ".timeout(2s).timeoutEveryBatch()",
	    &err);
	cr_assert(st && w && m, "%s", err.msg);
	struct sums a = {0}, b = {0}, c = {0};
	cr_assert_eq(sluice_stream_foreach_batch(st, collect, &a, &err), 0);
	cr_assert_eq(sluice_stream_foreach_batch(w, collect, &b, &err), 0);
	cr_assert_eq(
	    sluice_stream_foreach_batch(sluice_stream_state_snapshots(m, &err), collect, &c, &err),
	    0);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	cr_assert_eq(sluice_context_advance(ctx, 30000), 30);
	/* updateStateByKey: only this batch's keys; the window: the last 3 batches' keys */
	cr_expect_eq(a.rows[29], 2000);
	cr_expect_eq(b.rows[29], 6000);
	cr_expect_eq(b.v[29], 6000);
	/* mapWithState: keys idle for more than 2 s time out every batch (opt-in) */
	cr_expect_eq(c.rows[29], 3 * 2000, "%lld %lld %lld", (long long)c.rows[27],
		     (long long)c.rows[28], (long long)c.rows[29]);

	struct tally t = {0};
	cr_assert_eq(sl_ds_visit_state((sl_dstream *)st, visit, &t), 0);
	cr_expect_eq(t.states, 2);
	cr_expect_eq(t.rows, 2000, "updateStateByKey holds %lld states", (long long)t.rows);
	memset(&t, 0, sizeof(t));
	cr_assert_eq(sl_ds_visit_state((sl_dstream *)w, visit, &t), 0);
	/* inverse form: panes of (t - W - S, t] and the previous window, per partition */
	cr_expect_leq(t.panes, 2 * 4);
	cr_expect_eq(t.windows, 2);
	cr_expect_leq(t.rows, 2 * 6000 + 4 * 2000);
	memset(&t, 0, sizeof(t));
	cr_assert_eq(sl_ds_visit_state((sl_dstream *)m, visit, &t), 0);
	cr_expect_eq(t.rows, 3 * 2000);
	cr_expect_eq(t.max_time, 30000, "%lld", (long long)t.max_time);
	sluice_context_free(ctx);
}

Test(window, api_errors_name_what_is_wrong)
{
	sluice_context *ctx = ctx_new(1);
	sluice_error err = {0};
	const char *q = queue("e.jsonl", "[[\"a\",1]]\n");
	sluice_stream *s = sluice_queue_stream(ctx, q, &err);
	cr_assert_not_null(s);
	cr_expect_null(sluice_stream_window(s, 1500, 1000, &err));
	cr_expect(strstr(err.msg, "window duration (1500 ms) must be a positive multiple"), "%s",
		  err.msg);
	cr_expect_null(sluice_stream_reduce_by_key_and_window(s, "_ + _", "_ - _", 2000, 1000, 0,
							      "_._2", &err));
	cr_expect(strstr(err.msg, "filterFunc must return Boolean"), "%s", err.msg);
	cr_expect_null(sluice_stream_update_state_by_key(s, "(v, st) => v.sum", NULL, 0, &err));
	cr_expect(strstr(err.msg, "must return an Option"), "%s", err.msg);
	cr_expect_null(sluice_stream_apply(s, "print()", &err));
	cr_expect(strstr(err.msg, "output operation"), "%s", err.msg);
	cr_expect_null(sluice_stream_apply(s, "window(2s, 1s) window", &err));
	cr_expect_neq(err.code, 0);
	cr_expect_neq(sluice_stream_checkpoint(s, 1500, &err), 0);
	cr_expect(strstr(err.msg, "checkpoint interval (1500 ms)"), "%s", err.msg);
	cr_expect_null(sluice_stream_state_snapshots(s, &err));
	sluice_context_free(ctx);
}

/* A key whose state was removed starts again from nothing when it comes back; mapWithState
 * the same after a timeout. */
Test(window, removed_keys_come_back_fresh)
{
	const char *q =
	    queue("back.jsonl", "[[\"a\",1]]\n[]\n[[\"a\",5]]\n[]\n[]\n[]\n[[\"a\",7]]\n");
	sluice_context *ctx = ctx_new(1);
	sluice_error err = {0};
	sluice_stream *s = sluice_queue_stream(ctx, q, &err);
	sluice_stream *st = sluice_stream_update_state_by_key(
	    s, "(vs, st) => if (vs.size == 0) None else Some(vs.sum + st.getOrElse(0))", NULL, 0,
	    &err);
	sluice_stream *m = sluice_stream_map_with_state(
	    s,
	    "StateSpec.function((k, v, st) => { if (!st.isTimingOut) st.update(v.get + "
	    "st.getOption.getOrElse(0)); k }).timeout(1s).timeoutEveryBatch()",
	    &err);
	cr_assert(st && m, "%s", err.msg);
	struct sums a = {0}, b = {0};
	cr_assert_eq(sluice_stream_foreach_batch(st, collect, &a, &err), 0);
	cr_assert_eq(
	    sluice_stream_foreach_batch(sluice_stream_state_snapshots(m, &err), collect, &b, &err),
	    0);
	cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
	sluice_context_set_max_batches(ctx, 7);
	cr_assert_eq(sluice_context_advance(ctx, 7000), 7);
	/* updateStateByKey: 1, removed, 5 (not 6), removed, -, -, 7 */
	int64_t uv[] = {1, 0, 5, 0, 0, 0, 7}, ur[] = {1, 0, 1, 0, 0, 0, 1};
	/* mapWithState, timeout 1 s checked every batch: idle for more than 1 s times out */
	for (int k = 0; k < 7; k++) {
		cr_expect_eq(a.v[k], uv[k], "updateStateByKey at %d", k);
		cr_expect_eq(a.rows[k], ur[k], "updateStateByKey keys at %d", k);
	}
	/* a updated at 3 s; 4 s: 3000 < 4000 - 1000 is false; 5 s: 3000 < 4000 times out */
	int64_t mv[] = {1, 1, 6, 6, 0, 0, 7};
	for (int k = 0; k < 7; k++)
		cr_expect_eq(b.v[k], mv[k], "mapWithState snapshot at %d: %lld", k,
			     (long long)b.v[k]);
	sluice_context_free(ctx);
}

static void to_file(void *arg, const char *text, size_t len)
{
	fwrite(text, 1, len, arg);
}

/* The typed combiners of keyed windows run the ISA's pane kernels (and panes with the same
 * keys skip the merge plan): Java's Math.max/min on Doubles (NaN wins, -0.0 < 0.0) and
 * wrapping Long sums agree on every ISA, with the same keys in both panes and without. */
Test(window, typed_combiners_agree_on_every_isa)
{
	const char *q =
	    queue("comb.jsonl",
		  "[[\"a\", -0.0, 9223372036854775807], [\"b\", 1.0, 1], [\"n\", 999.0, 2]]\n"
		  "[[\"a\", 0.0, 1], [\"b\", 2.0, 2], [\"n\", 1.0, 3]]\n"
		  "[[\"a\", -0.0, 5], [\"c\", 5.0, 6]]\n");
	char p[1024];
	snprintf(p, sizeof(p),
		 "val s = queueStream(\"%s\").map(x => (x._1, if (x._2 == 999.0) x._2 * 1e308 * "
		 "0.0 else x._2, x._3))\n"
		 "s.map(x => (x._1, x._2)).reduceByKeyAndWindow(math.max(_, _), 2s, 1s).print()\n"
		 "s.map(x => (x._1, x._2)).reduceByKeyAndWindow(math.min(_, _), 2s, 1s).print()\n"
		 "s.map(x => (x._1, x._3)).reduceByKeyAndWindow(_ + _, _ - _, 2s, 1s).print()\n",
		 q);
	/* clang-format off */
	static const char *want =
	    "(a,-0.0)\n(b,1.0)\n(n,NaN)\n|(a,-0.0)\n(b,1.0)\n(n,NaN)\n|"
	    "(a,9223372036854775807)\n(b,1)\n(n,2)\n|"
	    "(a,0.0)\n(b,2.0)\n(n,NaN)\n|(a,-0.0)\n(b,1.0)\n(n,NaN)\n|"
	    "(a,-9223372036854775808)\n(b,3)\n(n,5)\n|"
	    "(a,0.0)\n(b,2.0)\n(n,1.0)\n(c,5.0)\n|(a,-0.0)\n(b,2.0)\n(n,1.0)\n(c,5.0)\n|"
	    "(a,6)\n(b,2)\n(n,3)\n(c,6)\n|";
	/* clang-format on */
	const char *isas[] = {"scalar", "avx2", "avx512"};
	for (int k = 0; k < 3; k++) {
		int e = 0;
		if (!sluice_isa(isas[k], &e))
			continue; /* this CPU lacks it */
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		sluice_config cfg;
		sluice_config_init(&cfg);
		cfg.clock = SLUICE_CLOCK_MANUAL;
		cfg.workers = 1;
		cfg.no_pin = 1;
		cfg.isa = isas[k];
		cfg.output = to_file;
		cfg.output_arg = f;
		sluice_error err = {0};
		sluice_context *ctx = sluice_context_new(&cfg, &err);
		cr_assert_not_null(ctx, "%s", err.msg);
		cr_assert_eq(sluice_context_pipeline(ctx, p, strlen(p), &err), 0, "%s", err.msg);
		cr_assert_eq(sluice_context_start(ctx, &err), 0, "%s", err.msg);
		cr_assert_eq(sluice_context_advance(ctx, 3000), 3);
		sluice_context_free(ctx);
		fclose(f);
		/* the rows of each print, each ended by '|' */
		char got[1024] = "";
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
			if (l[0] == '(') {
				strcat(got, l);
				strcat(got, "\n");
			} else if (!strncmp(l, "Time:", 5) && got[0]) {
				strcat(got, "|");
			}
		}
		strcat(got, "|");
		cr_assert_str_eq(got, want, "isa %s", isas[k]);
		free(buf);
	}
}
