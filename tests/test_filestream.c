/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_filestream.c - textFileStream(dir): Spark's file selection rules driven by batch
 * times, line framing, partitioning, and files that cannot be read.
 *
 * Batch times are small manual-clock numbers (B = 1000 ms, zero time 10000), and every
 * file gets an explicit mtime with utimensat, so no test depends on the real clock.
 * Unreadable files: chmod 000 does not stop root, so the portable case is a dangling
 * symlink (selected by the link's own mtime, then open fails with ENOENT); chmod 000 is
 * checked as well when the suite does not run as root.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filestream.h"
#include "fmt.h"
#include "testutil.h"

#define ZERO 10000

static sl_env env;
static char dir[64];
static sluice_error err;
static sl_sbuf logged; /* every log message as "<level>:<msg>\n" */

static void on_log(void *arg, int level, const char *msg)
{
	sl_sbuf *b = arg;
	sl_sbuf_printf(b, "%d:%s\n", level, msg);
}

static void setup(void)
{
	sl_test_env_init(&env);
	env.log = on_log;
	env.log_arg = &logged;
	memset(&logged, 0, sizeof logged);
	sl_test_tmpdir(dir, "fstream");
	memset(&err, 0, sizeof err);
}

static void teardown(void)
{
	sl_test_rmdir(dir);
	sl_sbuf_fini(&logged);
	sl_test_env_fini(&env);
}

TestSuite(filestream, .init = setup, .fini = teardown);

static const char *logs(void)
{
	return logged.p ? logged.p : "";
}

static char *path_of(const char *name)
{
	static char p[8][256];
	static int k;
	char *o = p[k++ % 8];
	snprintf(o, 256, "%s/%s", dir, name);
	return o;
}

/* Set name's mtime (and atime) to ms + ns nanoseconds; nofollow: the symlink itself. */
static void set_mtime_ns(const char *name, int64_t ms, long ns, int nofollow)
{
	struct timespec ts[2];
	ts[0].tv_sec = ts[1].tv_sec = ms / 1000;
	ts[0].tv_nsec = ts[1].tv_nsec = (ms % 1000) * 1000000 + ns;
	cr_assert_eq(utimensat(AT_FDCWD, path_of(name), ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0), 0,
		     "utimensat %s: %s", name, strerror(errno));
}

static void set_mtime(const char *name, int64_t ms)
{
	set_mtime_ns(name, ms, 0, 0);
}

/* Write name with data[0..n) and mtime ms. */
static void put_n(const char *name, const char *data, size_t n, int64_t ms)
{
	FILE *f = fopen(path_of(name), "wb");
	cr_assert(f, "fopen %s", name);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
	set_mtime(name, ms);
}

static void put(const char *name, const char *text, int64_t ms)
{
	put_n(name, text, strlen(text), ms);
}

static sl_source *open_stream(int new_files_only, int64_t min_remember)
{
	sl_source *s = sl_filestream_source_new(&env, dir, new_files_only, min_remember, &err);
	cr_assert(s, "textFileStream failed: %s", err.msg);
	cr_expect_eq(s->bounded, 0);
	cr_expect_eq(s->type->kind, SL_STR);
	cr_assert_eq(s->ops->start(s, ZERO, &err), 0);
	return s;
}

/* Check the contract of one rdd, then append its rows to out as "row|". */
static void collect(const sl_rdd *r, int64_t t, sl_sbuf *out)
{
	cr_assert(r, "batch %lld: no rdd", (long long)t);
	cr_expect_eq(r->time, t);
	cr_expect_eq(r->type->kind, SL_STR);
	cr_assert(r->nparts >= 1);
	for (size_t p = 0; p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		cr_assert(c, "partition %zu is NULL", p);
		cr_expect(r->nparts == 1 || c->len > 0, "partition %zu of %zu is empty", p,
			  r->nparts);
		for (size_t i = 0; i < c->len; i++) {
			int inside = 0;
			for (int k = 0; k < c->nbufs; k++)
				inside |= c->v.s[i].p >= c->bufs[k]->data &&
					  c->v.s[i].p + c->v.s[i].len <=
					      c->bufs[k]->data + c->bufs[k]->len;
			cr_assert(inside, "row %zu of partition %zu is not in its buffers", i, p);
			sl_sbuf_put(out, c->v.s[i].p, c->v.s[i].len);
			sl_sbuf_put(out, "|", 1);
		}
	}
}

/* Run batch t; return its rows as "row|row|" (static storage) and *nparts. */
static const char *batch_np(sl_source *s, int64_t t, size_t *nparts)
{
	static sl_sbuf got;
	sl_sbuf_fini(&got);
	memset(&got, 0, sizeof got);
	sl_rdd *r = NULL;
	cr_assert_eq(s->ops->next(s, t, &r, &err), 0, "batch %lld: %s", (long long)t, err.msg);
	collect(r, t, &got);
	if (nparts)
		*nparts = r->nparts;
	sl_rdd_unref(r);
	sl_sbuf_put(&got, "", 0);
	return got.p ? got.p : "";
}

static const char *batch(sl_source *s, int64_t t)
{
	return batch_np(s, t, NULL);
}

Test(filestream, threshold_is_strict_and_mtime_at_most_batch_time)
{
	sl_source *s = open_stream(1, 0);
	put("a", "at zero time\n", ZERO);         /* == initial threshold: ignored */
	put("b", "just after\n", ZERO + 1);       /* > threshold, <= 11000 */
	put("c", "at batch time\n", ZERO + 1000); /* == t: this batch */
	put("d", "after batch\n", ZERO + 1001);   /* > t: the next one */
	cr_expect_str_eq(batch(s, 11000), "just after|at batch time|");
	cr_expect_str_eq(batch(s, 12000), "after batch|");
	cr_expect_str_eq(batch(s, 13000), "");
	cr_expect_eq(sl_filestream_errors(s), 0);
	s->ops->free(s);
}

Test(filestream, mtime_is_truncated_to_milliseconds)
{
	sl_source *s = open_stream(1, 0);
	put("x", "x\n", 0);
	set_mtime_ns("x", 11000, 999999, 0); /* 11000.999999 ms is 11000 ms, as in Java */
	put("y", "y\n", 0);
	set_mtime_ns("y", 10000, 999999, 0); /* 10000 ms: not after the threshold */
	cr_expect_str_eq(batch(s, 11000), "x|");
	cr_expect_str_eq(batch(s, 12000), "");
	s->ops->free(s);
}

Test(filestream, hidden_files_directories_and_fifos_are_not_selected)
{
	sl_source *s = open_stream(1, 0);
	put(".hidden", "h\n", 10500);
	put("_underscore", "u\n", 10500); /* Spark's filter only rejects '.' */
	cr_assert_eq(mkdir(path_of("sub"), 0755), 0);
	put("sub/inner", "i\n", 10500);
	set_mtime("sub", 10500);
	cr_assert_eq(mkfifo(path_of("fifo"), 0644), 0);
	set_mtime("fifo", 10500);
	cr_expect_str_eq(batch(s, 11000), "u|"); /* and the FIFO was not opened (no hang) */
	cr_expect_eq(sl_filestream_errors(s), 0);
	s->ops->free(s);
}

Test(filestream, files_present_at_start_need_new_files_only_off)
{
	put("old", "old\n", 5000);  /* long before start */
	put("recent", "r\n", 9999); /* just before the zero time */
	sl_source *s = open_stream(1, 0);
	cr_expect_str_eq(batch(s, 11000), "");
	cr_expect_str_eq(batch(s, 12000), "");
	s->ops->free(s);

	s = open_stream(0, 0); /* threshold max(0, t - 60000) */
	cr_expect_str_eq(batch(s, 11000), "old|r|");
	cr_expect_str_eq(batch(s, 12000), "");
	s->ops->free(s);
}

Test(filestream, new_files_only_off_still_applies_the_remember_window)
{
	put("ancient", "a\n", 1000);
	put("edge", "e\n", 17000);
	put("inside", "i\n", 17001);
	sl_source *s = open_stream(0, 3000);
	cr_expect_str_eq(batch(s, 20000), "i|"); /* threshold 20000 - 3000 */
	s->ops->free(s);
	s = open_stream(0, INT64_MAX); /* a window longer than time: everything after 0 */
	cr_expect_str_eq(batch(s, 20000), "a|e|i|");
	s->ops->free(s);
}

Test(filestream, file_appearing_later_goes_to_the_first_batch_at_or_after_its_mtime)
{
	sl_source *s = open_stream(1, 0);
	cr_expect_str_eq(batch(s, 11000), "");
	put("future", "f\n", 14000); /* visible now, mtime in 3 batches */
	cr_expect_str_eq(batch(s, 12000), "");
	put("late", "l\n", 12500);
	cr_expect_str_eq(batch(s, 13000), "l|");
	cr_expect_str_eq(batch(s, 14000), "f|");
	cr_expect_str_eq(batch(s, 15000), "");
	s->ops->free(s);
}

Test(filestream, late_file_older_than_the_remember_window_is_never_read)
{
	/* minRemember 2500 rounds up to D = 3000 with B = 1000 */
	sl_source *s = open_stream(1, 2500);
	for (int64_t t = 11000; t <= 15000; t += 1000)
		cr_expect_str_eq(batch(s, t), "");
	put("too_old", "o\n", 11500);   /* <= 16000 - 3000 */
	put("at_edge", "e\n", 13000);   /* == threshold */
	put("in_window", "w\n", 13400); /* > 13000; D = 2500 would have dropped it */
	cr_expect_str_eq(batch(s, 16000), "w|");
	for (int64_t t = 17000; t <= 20000; t += 1000)
		cr_expect_str_eq(batch(s, t), "");
	s->ops->free(s);
}

Test(filestream, default_remember_window_is_60_s)
{
	sl_source *s = open_stream(0, 0);
	put("out", "o\n", 100000 - 60000);
	put("in", "i\n", 100000 - 59999);
	cr_expect_str_eq(batch(s, 100000), "i|");
	s->ops->free(s);
}

Test(filestream, selected_file_is_not_read_again_while_remembered)
{
	sl_source *s = open_stream(1, 3000); /* D = 3000 */
	put("f", "first\n", 10500);
	cr_expect_str_eq(batch(s, 11000), "first|");
	put("f", "second\n", 11500); /* rewritten with a new mtime: ignored */
	cr_expect_str_eq(batch(s, 12000), "");
	cr_expect_str_eq(batch(s, 13000), "");
	set_mtime("f", 13500);
	cr_expect_str_eq(batch(s, 14000), "");
	/* batch 11000 is forgotten after batch 15000 (11000 < 15000 - D); before that the
	 * name still blocks it although 13500 is inside the window */
	cr_expect_str_eq(batch(s, 15000), "");
	/* Spark reads it again once forgotten: its mtime is still after 16000 - D */
	cr_expect_str_eq(batch(s, 16000), "second|");
	cr_expect_str_eq(batch(s, 17000), "");
	s->ops->free(s);
}

Test(filestream, name_order_line_framing_and_one_partition_per_file)
{
	sl_source *s = open_stream(1, 0);
	put("b", "b1\r\nb2\r\n", 10500);
	put("a", "a1\na2", 10600);         /* no final terminator: a2 is a line */
	put("c", "c1\r", 10700);           /* CR at the end of a file ... */
	put("d", "\nd1\rd2\r\r\n", 10800); /* ... LF at the start of the next: an empty line */
	put("e_empty", "", 10900);
	size_t np = 0;
	cr_expect_str_eq(batch_np(s, 11000, &np), "a1|a2|b1|b2|c1||d1|d2||");
	cr_expect_eq(np, 4, "one partition per non-empty file, got %zu", np);
	cr_expect(strstr(logs(), "e_empty' has no data in it"), "log: %s", logs());
	s->ops->free(s);
}

Test(filestream, empty_batch_is_an_empty_rdd)
{
	sl_source *s = open_stream(1, 0);
	sl_rdd *r = (sl_rdd *)0x1;
	cr_assert_eq(s->ops->next(s, 11000, &r, &err), 0);
	cr_assert(r, "an empty batch is an rdd, not NULL");
	cr_expect_eq(r->time, 11000);
	cr_expect_eq(r->nparts, 1);
	cr_assert(r->part[0]);
	cr_expect_eq(sl_rdd_rows(r), 0);
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(filestream, dangling_symlink_is_skipped_logged_and_counted_once)
{
	sl_source *s = open_stream(1, 0);
	put("a", "a\n", 10500);
	cr_assert_eq(symlink("/nonexistent/sluice-target", path_of("broken")), 0);
	set_mtime_ns("broken", 10500, 0, 1);
	put("c", "c\n", 10500);
	cr_expect_str_eq(batch(s, 11000), "a|c|");
	cr_expect_eq(sl_filestream_errors(s), 1);
	char want[256];
	snprintf(want, sizeof want, "0:textFileStream '%s': batch 11000: skipping file '%s/broken'",
		 dir, dir);
	cr_expect(strstr(logs(), want), "log: %s", logs());
	cr_expect(strstr(logs(), "No such file or directory"), "log: %s", logs());
	/* it counts as selected: not retried, not logged again */
	cr_expect_str_eq(batch(s, 12000), "");
	cr_expect_eq(sl_filestream_errors(s), 1);
	s->ops->free(s);
}

Test(filestream, symlink_to_a_regular_file_is_read)
{
	sl_source *s = open_stream(1, 0);
	cr_assert_eq(mkdir(path_of("elsewhere"), 0755), 0);
	put("elsewhere/.target", "via link\n", 10500); /* the target's mtime decides */
	cr_assert_eq(symlink("elsewhere/.target", path_of("link")), 0);
	cr_expect_str_eq(batch(s, 11000), "via link|");
	s->ops->free(s);
}

Test(filestream, unreadable_file_is_skipped_when_not_root)
{
	if (geteuid() == 0)
		return; /* root reads a mode-000 file; the symlink test covers the path */
	sl_source *s = open_stream(1, 0);
	put("a", "a\n", 10500);
	put("secret", "s\n", 10500);
	cr_assert_eq(chmod(path_of("secret"), 0), 0);
	cr_expect_str_eq(batch(s, 11000), "a|");
	cr_expect_eq(sl_filestream_errors(s), 1);
	cr_expect(strstr(logs(), "secret': Permission denied"), "log: %s", logs());
	s->ops->free(s);
}

Test(filestream, directory_removed_while_running_gives_empty_batches)
{
	sl_source *s = open_stream(1, 0);
	put("a", "a\n", 10500);
	cr_expect_str_eq(batch(s, 11000), "a|");
	cr_assert_eq(unlink(path_of("a")), 0);
	cr_assert_eq(rmdir(dir), 0);
	cr_expect_str_eq(batch(s, 12000), "");
	cr_expect_eq(sl_filestream_errors(s), 1);
	cr_expect(strstr(logs(), "cannot list directory: No such file or directory"), "log: %s",
		  logs());
	cr_assert_eq(mkdir(dir, 0700), 0); /* it comes back: listing works again */
	put("b", "b\n", 12500);
	cr_expect_str_eq(batch(s, 13000), "b|");
	s->ops->free(s);
}

Test(filestream, missing_directory_is_an_error_at_creation)
{
	char missing[128];
	snprintf(missing, sizeof missing, "%s/nope", dir);
	sl_source *s = sl_filestream_source_new(&env, missing, 1, 0, &err);
	cr_expect_null(s);
	cr_expect_eq(err.code, -ENOENT);
	cr_expect(strstr(err.msg, missing), "msg: %s", err.msg);
	cr_expect(strstr(err.msg, "textFileStream"), "msg: %s", err.msg);

	put("plain", "x\n", 1000);
	memset(&err, 0, sizeof err);
	cr_expect_null(sl_filestream_source_new(&env, path_of("plain"), 1, 0, &err));
	cr_expect_eq(err.code, -ENOTDIR, "msg: %s", err.msg);

	memset(&err, 0, sizeof err);
	cr_expect_null(sl_filestream_source_new(&env, dir, 1, -1, &err));
	cr_expect_eq(err.code, -EINVAL);
	cr_expect(strstr(err.msg, "minRememberDuration"), "msg: %s", err.msg);
}

Test(filestream, next_without_start_takes_the_previous_batch_as_zero_time)
{
	sl_source *s = sl_filestream_source_new(&env, dir, 1, 0, &err);
	cr_assert(s);
	put("before", "b\n", 10000);
	put("after", "a\n", 10001);
	cr_expect_str_eq(batch(s, 11000), "a|");
	s->ops->free(s);
}

/* Lines of pseudo-random lengths (up to maxlen) and terminators, about n bytes. */
static void gen(sl_sbuf *b, size_t n, size_t maxlen, uint64_t seed)
{
	while (b->len < n) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t len = (size_t)(seed >> 33) % (maxlen + 1);
		for (size_t k = 0; k < len; k++)
			sl_sbuf_put(b, &"abcdefghij"[(b->len + k) % 10], 1);
		static const char *const term[] = {"\n", "\r\n", "\r"};
		const char *t = term[(seed >> 20) % 3];
		sl_sbuf_put(b, t, strlen(t));
	}
}

Test(filestream, big_files_split_on_line_boundaries)
{
	const size_t B = SL_FILESTREAM_BLOCK;
	sl_source *s = open_stream(1, 0);
	/* "big1": a CR as the last byte of the first read (B + 1 bytes) and its LF in the
	 * next read; "big2": the same CR followed by a plain byte; "big3": one line longer
	 * than a block; "small": a small file between them keeps its own partition */
	sl_sbuf d1 = {0}, d2 = {0}, d3 = {0}, want = {0};
	gen(&d1, B - 10, 200, 1);
	while (d1.len < B)
		sl_sbuf_put(&d1, "x", 1);
	sl_sbuf_put(&d1, "\r\n", 2);
	gen(&d1, 2 * B + 12345, 300, 2);
	gen(&d2, B - 10, 50, 3);
	while (d2.len < B)
		sl_sbuf_put(&d2, "y", 1);
	sl_sbuf_put(&d2, "\rz", 2);
	gen(&d2, B + 777, 50, 4);
	sl_sbuf_put(&d3, "short\n", 6);
	for (size_t i = 0; i < B + B / 2; i++)
		sl_sbuf_put(&d3, &"0123456789"[i % 10], 1);
	sl_sbuf_put(&d3, "\r\nend", 5);
	cr_assert_eq(d1.p[B], '\r');
	cr_assert_eq(d1.p[B + 1], '\n');
	cr_assert_eq(d2.p[B], '\r');
	put_n("big1", d1.p, d1.len, 10500);
	put_n("big2", d2.p, d2.len, 10500);
	put_n("big3", d3.p, d3.len, 10500);
	put("big2_small", "s1\ns2\n", 10500);
	sl_test_ref_lines(d1.p, d1.len, "|", &want);
	sl_test_ref_lines(d2.p, d2.len, "|", &want);
	sl_sbuf_put(&want, "s1|s2|", 6);
	sl_test_ref_lines(d3.p, d3.len, "|", &want);
	sl_sbuf_put(&want, "", 0);

	sl_rdd *r = NULL;
	cr_assert_eq(s->ops->next(s, 11000, &r, &err), 0, "%s", err.msg);
	sl_sbuf got = {0};
	collect(r, 11000, &got);
	sl_sbuf_put(&got, "", 0);
	cr_expect_eq(got.len, want.len);
	cr_expect(got.len == want.len && memcmp(got.p, want.p, got.len) == 0,
		  "lines differ from the readLine reference");
	/* big1: 3 chunks, big2: 2, small: 1, big3: at least 1 */
	cr_expect_geq(r->nparts, 7, "got %zu partitions", r->nparts);
	int small_seen = 0;
	for (size_t p = 0; p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		size_t bytes = 0;
		for (size_t i = 0; i < c->len; i++)
			bytes += c->v.s[i].len;
		if (c->len == 2 && !memcmp(c->v.s[0].p, "s1", 2))
			small_seen = 1;
		if (c->len > 2) /* the 6 MiB line of big3 is alone */
			cr_expect_leq(bytes, B + 300, "partition %zu holds %zu bytes", p, bytes);
	}
	cr_expect(small_seen, "the small file is a partition of its own");
	sl_rdd_unref(r);
	/* (compared by length: a failing message of megabytes would stall Criterion) */
	cr_expect_eq(strlen(batch(s, 12000)), 0, "the big files were read again");
	sl_sbuf_fini(&d1);
	sl_sbuf_fini(&d2);
	sl_sbuf_fini(&d3);
	sl_sbuf_fini(&want);
	sl_sbuf_fini(&got);
	s->ops->free(s);
}

Test(filestream, many_small_files_share_buffers)
{
	sl_source *s = open_stream(1, 0);
	sl_sbuf want = {0};
	char name[32], text[64];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "f%04d", i);
		int n = snprintf(text, sizeof text, "line %d\r\nsecond %d", i, i);
		put_n(name, text, (size_t)n, 10500);
		sl_sbuf_printf(&want, "line %d|second %d|", i, i);
	}
	sl_rdd *r = NULL;
	cr_assert_eq(s->ops->next(s, 11000, &r, &err), 0, "%s", err.msg);
	sl_sbuf got = {0};
	collect(r, 11000, &got);
	sl_sbuf_put(&got, "", 0);
	cr_expect_str_eq(got.p, want.p);
	cr_expect_eq(r->nparts, 300);
	/* 300 files of ~20 bytes: a few 64 KiB buffers in all, not one per file */
	size_t bytes = 0;
	for (size_t p = 0; p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		cr_expect_eq(c->len, 2);
		for (int k = 0; k < c->nbufs; k++) {
			int first = 1;
			for (size_t q = 0; q < p && first; q++)
				for (int j = 0; j < r->part[q]->nbufs; j++)
					first &= r->part[q]->bufs[j] != c->bufs[k];
			if (first)
				bytes += c->bufs[k]->cap;
		}
	}
	cr_expect_leq(bytes, (size_t)256 << 10, "the batch holds %zu buffer bytes", bytes);
	sl_rdd_unref(r);
	sl_sbuf_fini(&want);
	sl_sbuf_fini(&got);
	s->ops->free(s);
}

Test(filestream, small_file_partitions_pin_few_buffers)
{
	/* 40 files of 30 KB: about 19 of col.c's 64 KiB buffers for the whole batch */
	sl_source *s = open_stream(1, 0);
	static char text[30001];
	memset(text, 'q', sizeof text - 1);
	text[sizeof text - 2] = '\n';
	char name[32];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "s%02d", i);
		put_n(name, text, sizeof text - 1, 10500);
	}
	sl_rdd *r = NULL;
	cr_assert_eq(s->ops->next(s, 11000, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r->nparts, 40);
	for (size_t p = 0; p < r->nparts; p++) {
		cr_expect_eq(r->part[p]->len, 1);
		cr_expect_eq(r->part[p]->v.s[0].len, sizeof text - 2);
		cr_expect_leq(r->part[p]->nbufs, 10, "partition %zu holds %d buffers", p,
			      r->part[p]->nbufs);
	}
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(filestream, read_error_is_skipped_logged_and_counted)
{
	/* /proc/self/mem is a regular file whose read at offset 0 fails with EIO; its mtime
	 * is the real clock, so this batch runs at real epoch times */
	cr_assert_eq(symlink("/proc/self/mem", path_of("mem")), 0);
	struct stat st;
	cr_assert_eq(stat(path_of("mem"), &st), 0);
	int64_t m = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	int64_t t = (m / 1000 + 2) * 1000;
	put("a", "a\n", t - 500);
	put("z", "z\n", t - 500);
	sl_source *s = open_stream(0, 0);
	cr_expect_str_eq(batch(s, t), "a|z|");
	cr_expect_eq(sl_filestream_errors(s), 1);
	cr_expect(strstr(logs(), "/mem': Input/output error"), "log: %s", logs());
	s->ops->free(s);
}

Test(filestream, out_of_memory_fails_the_batch_and_the_next_one_retries)
{
	static char big[200000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = i % 100 == 99 ? '\n' : 'b';
	put("a_small", "a1\na2\n", 10500);
	put_n("b_big", big, sizeof big, 10500);
	put("c_small", "c1\n", 10500);
	size_t want_rows = 2 + sizeof big / 100 + 1;
	size_t base = sl_mem_in_use(env.mem);
	int succeeded = 0;
	for (long k = 0; k < 10000 && !succeeded; k++) {
		sl_source *s = open_stream(1, 0);
		sl_rdd *r = NULL;
		memset(&err, 0, sizeof err);
		sl_mem_fail_after(env.mem, k);
		int rc = s->ops->next(s, 11000, &r, &err);
		sl_mem_fail_after(env.mem, -1);
		if (rc == 0) {
			succeeded = 1;
			cr_assert(r);
			cr_expect_eq(sl_rdd_rows(r), want_rows);
		} else {
			cr_expect_eq(rc, -ENOMEM, "k %ld: %s", k, err.msg);
			cr_expect_null(r);
			cr_expect(strstr(err.msg, "out of memory") && strstr(err.msg, dir),
				  "k %ld: %s", k, err.msg);
			/* the failed batch did not mark its files as read */
			cr_assert_eq(s->ops->next(s, 12000, &r, &err), 0, "%s", err.msg);
			cr_expect_eq(sl_rdd_rows(r), want_rows, "k %ld", k);
		}
		sl_rdd_unref(r);
		s->ops->free(s);
		cr_expect_eq(sl_mem_in_use(env.mem), base, "k %ld: leaked %zu bytes", k,
			     sl_mem_in_use(env.mem) - base);
	}
	cr_expect(succeeded);
}

/* Spark's InputStreamsSuite.testFileStream with its manual clock: B = 2 s, a file "0" with
 * mtime 10000, the clock at 12000 when the stream is made and started (zeroTime 12000,
 * first batch 14000), then file i written at 13000 + 2000 (i - 1) and batch i run. Spark
 * expects every file, and "0" too only when newFilesOnly is false. A threshold of
 * startTime (14000) instead of zeroTime would lose file 1. */
static void spark_file_stream(int new_files_only)
{
	env.batch_ms = 2000;
	put("0", "0\n", 10000);
	sl_source *s = sl_filestream_source_new(&env, dir, new_files_only, 0, &err);
	cr_assert(s, "%s", err.msg);
	cr_assert_eq(s->ops->start(s, 12000, &err), 0);
	char name[8], text[8], want[16];
	for (int i = 1; i <= 5; i++) {
		snprintf(name, sizeof name, "%d", i);
		snprintf(text, sizeof text, "%d\n", i);
		put(name, text, 13000 + 2000 * (i - 1));
		snprintf(want, sizeof want, "%s%d|", i == 1 && !new_files_only ? "0|" : "", i);
		cr_expect_str_eq(batch(s, 12000 + 2000 * i), want, "batch %d", i);
	}
	s->ops->free(s);
}

Test(filestream, spark_input_streams_suite_new_files_only)
{
	spark_file_stream(1);
}

Test(filestream, spark_input_streams_suite_all_files)
{
	spark_file_stream(0);
}
