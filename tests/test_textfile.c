/* SPDX-License-Identifier: Apache-2.0 */
/* test_textfile.c - textFile(path): line splitting, directories, block partitioning. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "io.h"
#include "testutil.h"

static sl_env env;
static char dir[64];
static sluice_error err;

static void setup(void)
{
	sl_test_env_init(&env);
	sl_test_tmpdir(dir, "text");
	memset(&err, 0, sizeof err);
}

static void teardown(void)
{
	sl_test_rmdir(dir);
	sl_test_env_fini(&env);
}

TestSuite(textfile, .init = setup, .fini = teardown);

static char *path_of(const char *name)
{
	static char p[8][256];
	static int k;
	char *o = p[k++ % 8];
	snprintf(o, 256, "%s/%s", dir, name);
	return o;
}

static char *put(const char *name, const char *data, size_t n)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "wb");
	cr_assert(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	return p;
}

/* Read path with textFile(block); return every row as "row\x1f" in order, check the
 * source's contract along the way. *nparts gets the partition count. */
static void read_all(const char *path, size_t block, sl_sbuf *out, size_t *nparts, size_t maxline)
{
	sl_source *s = sl_textfile_source_new(&env, path, block, &err);
	cr_assert(s, "textFile failed: %s", err.msg);
	cr_expect_eq(s->bounded, 1);
	cr_expect_eq(s->type->kind, SL_STR);
	cr_assert_eq(s->ops->start(s, 0, &err), 0);
	sl_rdd *r = NULL;
	cr_assert_eq(s->ops->next(s, 1000, &r, &err), SL_SOURCE_END, "%s", err.msg);
	cr_assert(r);
	cr_expect_eq(r->time, 1000);
	cr_assert(r->nparts >= 1);
	for (size_t p = 0; p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		cr_assert(c);
		cr_expect(p == 0 || c->len > 0, "only the first partition may be empty");
		size_t bytes = 0;
		for (size_t i = 0; i < c->len; i++) {
			sl_sbuf_put(out, c->v.s[i].p, c->v.s[i].len);
			sl_sbuf_put(out, "\x1f", 1);
			bytes += c->v.s[i].len;
			/* every view points into a buffer the column holds */
			int inside = 0;
			for (int k = 0; k < c->nbufs; k++)
				inside |= c->v.s[i].p >= c->bufs[k]->data &&
					  c->v.s[i].p + c->v.s[i].len <=
					      c->bufs[k]->data + c->bufs[k]->len;
			cr_assert(inside, "row %zu of partition %zu is not a view into its buffers",
				  i, p);
		}
		if (block && maxline && maxline < block) {
			cr_expect(bytes <= 2 * block + maxline, "partition %zu holds %zu bytes", p,
				  bytes);
			cr_expect_eq(c->nbufs, 1, "partition %zu: its bytes are in one buffer", p);
		}
	}
	*nparts = r->nparts;
	sl_rdd_unref(r);
	r = (sl_rdd *)0x1;
	cr_expect_eq(s->ops->next(s, 2000, &r, &err), SL_SOURCE_END);
	cr_expect_null(r);
	s->ops->free(s);
}

static void check_text(const char *data, size_t n, size_t block)
{
	char *p = put("f.txt", data, n);
	sl_sbuf got = {0}, want = {0};
	size_t np;
	read_all(p, block, &got, &np, 0);
	sl_test_ref_lines(data, n, "\x1f", &want);
	cr_expect_eq(got.len, want.len, "block %zu", block);
	cr_expect(got.len == want.len && (got.len == 0 || memcmp(got.p, want.p, got.len) == 0),
		  "block %zu: got '%s' want '%s'", block, got.p ? got.p : "", want.p ? want.p : "");
	sl_sbuf_fini(&got);
	sl_sbuf_fini(&want);
}

#define S(x) x, sizeof(x) - 1

Test(textfile, terminators)
{
	check_text(S("a\nb\n"), 0);
	check_text(S("a\r\nb\r\n"), 0);
	check_text(S("a\rb\r"), 0);
	check_text(S("a\nb\r\nc\rd"), 0);
	check_text(S("\n\n"), 0);
	check_text(S("\r\r\n"), 0);
	check_text(S("\n\r"), 0);
	check_text(S("x"), 0);
	check_text(S("one line without newline"), 0);
	check_text(S("\r\n"), 0);
}

Test(textfile, exact_lines)
{
	char *p = put("f.txt", S("a\nb\r\nc\rd\r\n\ne"));
	sl_sbuf got = {0};
	size_t np;
	read_all(p, 0, &got, &np, 0);
	cr_expect_str_eq(got.p, "a\x1f"
				"b\x1f"
				"c\x1f"
				"d\x1f"
				"\x1f"
				"e\x1f");
	cr_expect_eq(np, 1);
	sl_sbuf_fini(&got);
}

Test(textfile, empty_file)
{
	char *p = put("empty.txt", "", 0);
	sl_source *s = sl_textfile_source_new(&env, p, 0, &err);
	cr_assert(s);
	sl_rdd *r = NULL;
	cr_assert_eq(s->ops->next(s, 1000, &r, &err), SL_SOURCE_END);
	cr_assert(r);
	cr_expect_eq(sl_rdd_rows(r), 0);
	cr_expect_eq(r->nparts, 1);
	cr_expect(r->part[0]);
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(textfile, every_block_size)
{
	const char text[] = "alpha\r\nbeta\rgamma\n\n\r\ndelta epsilon\r\r\nzeta\n"
			    "a much longer line that is longer than most blocks here\r\nend";
	for (size_t b = 1; b <= sizeof text + 2; b++)
		check_text(S(text), b);
}

Test(textfile, directory_order_hidden_and_boundaries)
{
	put("b.txt", S("b1\nb2\n"));
	put("a.txt", S("a1\na2")); /* no final newline: a2 is a line of its own */
	put("c.txt", S("c1\r"));   /* CR at the end of a file ... */
	put("d.txt", S("\nd1\n")); /* ... LF at the start of the next: an empty line */
	put(".hidden", S("h\n"));
	put("_SUCCESS", S("s\n"));
	put("e.empty", "", 0);
	char sub[256];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	put("sub/x.txt", S("x\n"));
	for (size_t block = 0; block < 12; block++) {
		sl_sbuf got = {0};
		size_t np;
		char d2[80];
		snprintf(d2, sizeof d2, "%s%s", dir, block % 2 ? "/" : "");
		read_all(d2, block, &got, &np, 0);
		cr_expect_str_eq(got.p,
				 "a1\x1f"
				 "a2\x1f"
				 "b1\x1f"
				 "b2\x1f"
				 "c1\x1f"
				 "\x1f"
				 "d1\x1f",
				 "block %zu", block);
		if (block == 0)
			cr_expect_eq(np, 1, "small files pack into one partition");
		sl_sbuf_fini(&got);
	}
}

Test(textfile, empty_directory)
{
	sl_sbuf got = {0};
	size_t np;
	read_all(dir, 0, &got, &np, 0);
	cr_expect_eq(got.len, 0);
	cr_expect_eq(np, 1);
	sl_sbuf_fini(&got);
}

static size_t gen_lines(sl_sbuf *b, size_t nlines, size_t maxlen, uint64_t seed)
{
	size_t longest = 0;
	for (size_t i = 0; i < nlines; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t len = (size_t)(seed >> 33) % (maxlen + 1);
		if (len > longest)
			longest = len;
		for (size_t k = 0; k < len; k++)
			sl_sbuf_put(b, &"abcdefghij"[(i + k) % 10], 1);
		static const char *const term[] = {"\n", "\r\n", "\r"};
		const char *t = term[(seed >> 20) % 3];
		sl_sbuf_put(b, t, strlen(t));
	}
	return longest;
}

Test(textfile, block_splitting_never_splits_lines)
{
	sl_sbuf data = {0};
	size_t longest = gen_lines(&data, 3000, 60, 7);
	char *p = put("big.txt", data.p, data.len);
	sl_sbuf want = {0};
	sl_test_ref_lines(data.p, data.len, "\x1f", &want);
	size_t blocks[] = {64, 100, 1000, 4096, 65536};
	size_t last_np = 0;
	for (size_t k = 0; k < sizeof blocks / sizeof *blocks; k++) {
		sl_sbuf got = {0};
		size_t np;
		read_all(p, blocks[k], &got, &np, longest + 2);
		cr_expect_eq(got.len, want.len);
		cr_expect(got.len == want.len && memcmp(got.p, want.p, got.len) == 0, "block %zu",
			  blocks[k]);
		size_t expect_np = data.len / blocks[k];
		cr_expect(np + 1 >= expect_np / 2 && np <= expect_np + 2,
			  "block %zu: %zu partitions for %zu bytes", blocks[k], np, data.len);
		if (k)
			cr_expect(np <= last_np);
		last_np = np;
		sl_sbuf_fini(&got);
	}
	sl_sbuf_fini(&want);
	sl_sbuf_fini(&data);
}

Test(textfile, lines_longer_than_blocks)
{
	sl_sbuf data = {0};
	for (int i = 0; i < 20; i++) {
		size_t len = (size_t)(i % 4 == 0 ? 5000 : i % 4 == 1 ? 3 : 700);
		for (size_t k = 0; k < len; k++)
			sl_sbuf_put(&data, &"xyz"[(size_t)i % 3], 1);
		sl_sbuf_put(&data, i % 2 ? "\r\n" : "\n", i % 2 ? 2 : 1);
	}
	char *p = put("long.txt", data.p, data.len);
	sl_sbuf want = {0};
	sl_test_ref_lines(data.p, data.len, "\x1f", &want);
	size_t blocks[] = {1, 10, 512, 4999, 5000, 5001};
	for (size_t k = 0; k < sizeof blocks / sizeof *blocks; k++) {
		sl_sbuf got = {0};
		size_t np;
		read_all(p, blocks[k], &got, &np, 0);
		cr_expect(got.len == want.len && memcmp(got.p, want.p, got.len) == 0, "block %zu",
			  blocks[k]);
		if (blocks[k] == 1)
			cr_expect_eq(np, 20, "block 1: one line per partition");
		if (blocks[k] == 10)
			cr_expect(np >= 15 && np <= 20, "block 10: %zu partitions", np);
		sl_sbuf_fini(&got);
	}
	sl_sbuf_fini(&want);
	sl_sbuf_fini(&data);
}

Test(textfile, default_block_is_4mib)
{
	sl_sbuf data = {0};
	gen_lines(&data, 200000, 80, 3); /* about 8 MiB */
	char *p = put("huge.txt", data.p, data.len);
	sl_sbuf got = {0};
	size_t np;
	read_all(p, 0, &got, &np, 0);
	size_t mib4 = (size_t)4 << 20;
	cr_expect_eq(np, (data.len + mib4 - 1) / mib4, "%zu bytes in %zu partitions", data.len, np);
	sl_sbuf want = {0};
	sl_test_ref_lines(data.p, data.len, "\x1f", &want);
	cr_expect(got.len == want.len && memcmp(got.p, want.p, got.len) == 0);
	sl_sbuf_fini(&got);
	sl_sbuf_fini(&want);
	sl_sbuf_fini(&data);
}

Test(textfile, errors)
{
	char *p = path_of("missing");
	sl_source *s = sl_textfile_source_new(&env, p, 0, &err);
	cr_expect_null(s);
	cr_expect_eq(err.code, -ENOENT);
	char want[512];
	snprintf(want, sizeof want, "cannot open '%s': No such file or directory", p);
	cr_expect_str_eq(err.msg, want);

	s = sl_textfile_source_new(&env, "/dev/null", 0, &err);
	cr_expect_null(s);
	cr_expect_eq(err.code, -EINVAL);
	cr_expect_str_eq(err.msg, "cannot read '/dev/null': not a regular file or directory");

	put("f", S("x"));
	snprintf(want, sizeof want, "%s/f/g", dir);
	s = sl_textfile_source_new(&env, want, 0, &err);
	cr_expect_null(s);
	cr_expect_eq(err.code, -ENOTDIR);
	cr_expect(strstr(err.msg, "Not a directory"));

	if (geteuid() != 0) {
		char *q = put("secret", S("x\n"));
		chmod(q, 0);
		s = sl_textfile_source_new(&env, q, 0, &err);
		cr_expect_null(s);
		cr_expect_eq(err.code, -EACCES);
		cr_expect(strstr(err.msg, "Permission denied"));
	}
}

Test(textfile, out_of_memory)
{
	sl_sbuf data = {0};
	gen_lines(&data, 2000, 40, 9);
	char *p = put("oom.txt", data.p, data.len);
	sl_sbuf want = {0};
	sl_test_ref_lines(data.p, data.len, "\x1f", &want);
	size_t nlines = 0;
	for (size_t i = 0; i < want.len; i++)
		nlines += want.p[i] == '\x1f';
	sl_sbuf_fini(&want);
	int failed = 0;
	for (long n = 0; n < 400; n++) {
		sl_source *s = sl_textfile_source_new(&env, p, 1000, &err);
		cr_assert(s);
		sl_mem_fail_after(env.mem, n);
		sl_rdd *r = (sl_rdd *)0x1;
		int rc = s->ops->next(s, 1000, &r, &err);
		sl_mem_fail_after(env.mem, -1);
		s->ops->free(s);
		if (rc < 0) {
			cr_expect_eq(rc, -ENOMEM);
			cr_expect_null(r);
			cr_expect(strstr(err.msg, "out of memory"), "%s", err.msg);
			failed++;
			continue;
		}
		cr_expect_eq(rc, SL_SOURCE_END);
		cr_expect_eq(sl_rdd_rows(r), nlines, "n %ld: %zu rows", n, sl_rdd_rows(r));
		sl_rdd_unref(r);
		break;
	}
	cr_expect(failed > 10);
	sl_sbuf_fini(&data);
}
