/* SPDX-License-Identifier: Apache-2.0 */
/* test_save.c - saveAsTextFiles(prefix, suffix). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "io.h"
#include "testutil.h"

static sl_env env;
static char dir[64];
static sluice_error err;
static const sl_type *pair;

static void setup(void)
{
	sl_test_env_init(&env);
	pair = sl_type_pair(env.types, &sl_type_str, &sl_type_i64);
	sl_test_tmpdir(dir, "save");
	memset(&err, 0, sizeof err);
}

static void teardown(void)
{
	sl_test_rmdir(dir);
	sl_test_env_fini(&env);
}

TestSuite(save, .init = setup, .fini = teardown);

/* An rdd of (word, n) pairs: sizes[p] rows in partition p (-1: NULL slot). */
static sl_rdd *pairs(const int *sizes, size_t np, const char *word)
{
	sl_rdd *r = sl_rdd_new(env.mem, pair, 1000, np);
	int n = 1;
	for (size_t p = 0; p < np; p++) {
		if (sizes[p] < 0)
			continue;
		sl_col *c = sl_col_new(env.mem, pair, 0);
		for (int i = 0; i < sizes[p]; i++, n++) {
			sl_col_push_str(c->kid[0], word, strlen(word));
			sl_col_push_i64(c->kid[1], n);
			sl_col_commit(c);
		}
		r->part[p] = c;
	}
	return r;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	sl_sbuf b = {0};
	sl_sbuf_put(&b, "", 0);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sl_sbuf_put(&b, buf, n);
	fclose(f);
	return b.p;
}

/* Sorted names in path, "," separated (hidden ones too, without . and ..). */
static char *listing(const char *path)
{
	DIR *d = opendir(path);
	cr_assert(d, "cannot list %s", path);
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	sl_sbuf b = {0};
	sl_sbuf_put(&b, "", 0);
	for (int i = 0; i < n; i++) {
		sl_sbuf_printf(&b, "%s%s", i ? "," : "", names[i]);
		free(names[i]);
	}
	return b.p;
}

static void expect_file(const char *d, const char *name, const char *want)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", d, name);
	char *got = slurp(p);
	cr_expect_str_eq(got, want, "%s", p);
	free(got);
}

static void expect_listing(const char *d, const char *want)
{
	char *got = listing(d);
	cr_expect_str_eq(got, want, "listing of %s", d);
	free(got);
}

Test(save, content_and_layout)
{
	int sz[] = {2, 0, -1, 1};
	sl_rdd *r = pairs(sz, 4, "a");
	char prefix[256];
	snprintf(prefix, sizeof prefix, "%s/out/wc", dir);
	cr_assert_eq(sl_save_text_files(&env, r, prefix, "txt", 2000, &err), 0, "%s", err.msg);
	char out[512];
	snprintf(out, sizeof out, "%s/out/wc-2000.txt", dir);
	expect_listing(out, "_SUCCESS,part-00000,part-00001,part-00002,part-00003");
	expect_file(out, "part-00000", "(a,1)\n(a,2)\n");
	expect_file(out, "part-00001", "");
	expect_file(out, "part-00002", "");
	expect_file(out, "part-00003", "(a,3)\n");
	expect_file(out, "_SUCCESS", "");
	char parent[300];
	snprintf(parent, sizeof parent, "%s/out", dir);
	expect_listing(parent, "wc-2000.txt");
	sl_rdd_unref(r);
}

Test(save, naming)
{
	int sz[] = {1};
	sl_rdd *r = pairs(sz, 1, "x");
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(sl_save_text_files(&env, r, "", "", 1000, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_save_text_files(&env, r, NULL, NULL, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_save_text_files(&env, r, "p", "", 3000, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_save_text_files(&env, r, "", "s", 4000, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_save_text_files(&env, r, "p", "s", 5000, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_save_text_files(&env, r, "deep/er/q", NULL, -1, &err), 0, "%s", err.msg);
	cr_assert_eq(sl_save_text_files(&env, r, "./rel", "out", 6000, &err), 0, "%s", err.msg);
	expect_listing(".", "1000,2000,4000.s,deep,p-3000,p-5000.s,rel-6000.out");
	expect_listing("deep/er", "q--1");
	expect_file("p-5000.s", "part-00000", "(x,1)\n");
	/* absolute prefix */
	char prefix[256];
	snprintf(prefix, sizeof prefix, "%s/abs/z", dir);
	cr_assert_eq(sl_save_text_files(&env, r, prefix, "", 7, &err), 0, "%s", err.msg);
	snprintf(prefix, sizeof prefix, "%s/abs", dir);
	expect_listing(prefix, "z-7");
	sl_rdd_unref(r);
}

Test(save, rerun_overwrites)
{
	char prefix[256], out[300];
	snprintf(prefix, sizeof prefix, "%s/wc", dir);
	snprintf(out, sizeof out, "%s/wc-1000", dir);
	int a[] = {1, 1, 1, 1};
	sl_rdd *r = pairs(a, 4, "old");
	cr_assert_eq(sl_save_text_files(&env, r, prefix, NULL, 1000, &err), 0, "%s", err.msg);
	sl_rdd_unref(r);
	expect_listing(out, "_SUCCESS,part-00000,part-00001,part-00002,part-00003");
	/* a stray file in the old output disappears too */
	char stray[400];
	snprintf(stray, sizeof stray, "%s/stray", out);
	FILE *f = fopen(stray, "w");
	fclose(f);
	int b[] = {2, 0};
	r = pairs(b, 2, "new");
	cr_assert_eq(sl_save_text_files(&env, r, prefix, NULL, 1000, &err), 0, "%s", err.msg);
	sl_rdd_unref(r);
	expect_listing(out, "_SUCCESS,part-00000,part-00001");
	expect_file(out, "part-00000", "(new,1)\n(new,2)\n");
	expect_file(out, "part-00001", "");
	expect_listing(dir, "wc-1000");
}

Test(save, big_partition_buffered)
{
	int sz[] = {50000, 3};
	sl_rdd *r = pairs(sz, 2, "word");
	char prefix[256], out[300], p0[400];
	snprintf(prefix, sizeof prefix, "%s/big", dir);
	cr_assert_eq(sl_save_text_files(&env, r, prefix, NULL, 1, &err), 0, "%s", err.msg);
	snprintf(out, sizeof out, "%s/big-1", dir);
	snprintf(p0, sizeof p0, "%s/part-00000", out);
	char *got = slurp(p0);
	sl_sbuf want = {0};
	for (int i = 1; i <= 50000; i++)
		sl_sbuf_printf(&want, "(word,%d)\n", i);
	cr_expect_eq(strlen(got), want.len);
	cr_expect_str_eq(got, want.p);
	free(got);
	sl_sbuf_fini(&want);
	expect_file(out, "part-00001", "(word,50001)\n(word,50002)\n(word,50003)\n");
	sl_rdd_unref(r);
}

Test(save, null_rdd_writes_nothing)
{
	char prefix[256];
	snprintf(prefix, sizeof prefix, "%s/none", dir);
	cr_expect_eq(sl_save_text_files(&env, NULL, prefix, NULL, 1000, &err), 0);
	expect_listing(dir, "");
}

Test(save, error_under_a_file_leaves_nothing)
{
	char file[256], prefix[300];
	snprintf(file, sizeof file, "%s/plain", dir);
	FILE *f = fopen(file, "w");
	fclose(f);
	snprintf(prefix, sizeof prefix, "%s/plain/sub/out", dir);
	int sz[] = {1};
	sl_rdd *r = pairs(sz, 1, "x");
	cr_expect_eq(sl_save_text_files(&env, r, prefix, NULL, 1000, &err), -ENOTDIR);
	char want[512];
	snprintf(want, sizeof want, "cannot create directory '%s': Not a directory", file);
	cr_expect_str_eq(err.msg, want);
	cr_expect_eq(err.code, -ENOTDIR);
	expect_listing(dir, "plain");

	/* the final name exists as a plain file, or as a link to a directory: somebody
	 * else's, left alone (Hadoop's output committer fails there too), and no temporary
	 * directory stays behind */
	snprintf(file, sizeof file, "%s/plain-5", dir);
	f = fopen(file, "w");
	fputs("precious\n", f);
	fclose(f);
	snprintf(prefix, sizeof prefix, "%s/plain", dir);
	cr_expect_eq(sl_save_text_files(&env, r, prefix, NULL, 5, &err), -EEXIST);
	snprintf(want, sizeof want, "cannot write '%s': it exists and is not a directory", file);
	cr_expect_str_eq(err.msg, want);
	expect_listing(dir, "plain,plain-5");
	expect_file(dir, "plain-5", "precious\n");
	char link[300], target[300];
	snprintf(target, sizeof target, "%s/target", dir);
	cr_assert_eq(mkdir(target, 0755), 0);
	snprintf(link, sizeof link, "%s/plain-6", dir);
	cr_assert_eq(symlink(target, link), 0);
	cr_expect_eq(sl_save_text_files(&env, r, prefix, NULL, 6, &err), -EEXIST);
	expect_listing(dir, "plain,plain-5,plain-6,target");
	expect_listing(link, "");
	sl_rdd_unref(r);
}

Test(save, error_read_only_parent)
{
	if (geteuid() == 0) {
		teardown(); /* a skipped test does not run .fini */
		cr_skip_test("root ignores directory permissions");
	}
	char ro[256], prefix[300];
	snprintf(ro, sizeof ro, "%s/ro", dir);
	cr_assert_eq(mkdir(ro, 0555), 0);
	snprintf(prefix, sizeof prefix, "%s/out", ro);
	int sz[] = {1};
	sl_rdd *r = pairs(sz, 1, "x");
	cr_expect_eq(sl_save_text_files(&env, r, prefix, NULL, 1000, &err), -EACCES);
	cr_expect(strstr(err.msg, "Permission denied"), "%s", err.msg);
	expect_listing(ro, "");
	sl_rdd_unref(r);
}

Test(save, write_error_leaves_old_output_and_no_temp)
{
	char prefix[256], out[300];
	snprintf(prefix, sizeof prefix, "%s/wc", dir);
	snprintf(out, sizeof out, "%s/wc-9", dir);
	int small[] = {1};
	sl_rdd *r = pairs(small, 1, "keep");
	cr_assert_eq(sl_save_text_files(&env, r, prefix, NULL, 9, &err), 0, "%s", err.msg);
	sl_rdd_unref(r);
	/* files may not grow past 4 KiB now: the next save fails with EFBIG mid-write */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = {4096, 4096};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int big[] = {1, 20000};
	r = pairs(big, 2, "lost");
	int rc = sl_save_text_files(&env, r, prefix, NULL, 9, &err);
	sl_rdd_unref(r);
	cr_expect_eq(rc, -EFBIG);
	cr_expect(strstr(err.msg, "cannot write '"), "%s", err.msg);
	cr_expect(strstr(err.msg, "part-00001': File too large"), "%s", err.msg);
	expect_listing(dir, "wc-9");
	expect_listing(out, "_SUCCESS,part-00000");
	expect_file(out, "part-00000", "(keep,1)\n");
}
