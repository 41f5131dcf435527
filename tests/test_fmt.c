/* SPDX-License-Identifier: Apache-2.0 */
/* test_fmt.c - Scala/Java value formatting, Spark's print block, sl_sbuf, sl_error_set. */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

static sl_mem *mem;
static sl_types *types;

static void setup(void)
{
	cr_assert_eq(sl_mem_new(&mem, 0), 0);
	types = sl_types_new();
	cr_assert(types);
}

static void teardown(void)
{
	sl_types_free(types);
	sl_mem_free(mem);
}

TestSuite(fmt, .init = setup, .fini = teardown);

static void check_f64(double v, const char *want)
{
	char buf[32];
	size_t n = sl_fmt_f64(buf, v);
	cr_expect_str_eq(buf, want, "value %.17g: got %s want %s", v, buf, want);
	cr_expect_eq(n, strlen(want));
}

Test(fmt, double_java_tostring)
{
	check_f64(0.0, "0.0");
	check_f64(-0.0, "-0.0");
	check_f64(NAN, "NaN");
	check_f64(INFINITY, "Infinity");
	check_f64(-INFINITY, "-Infinity");
	check_f64(1.0, "1.0");
	check_f64(-1.0, "-1.0");
	check_f64(0.1, "0.1");
	check_f64(0.3, "0.3");
	check_f64(0.1 + 0.2, "0.30000000000000004");
	check_f64(1.0 / 3, "0.3333333333333333");
	check_f64(2.0 / 3, "0.6666666666666666");
	check_f64(100.0 / 3, "33.333333333333336");
	check_f64(1e7, "1.0E7");
	check_f64(9999999.0, "9999999.0");
	check_f64(9999999.5, "9999999.5");
	check_f64(1000000.0, "1000000.0");
	check_f64(1e-3, "0.001");
	check_f64(0.001234, "0.001234");
	check_f64(9.99e-4, "9.99E-4");
	check_f64(1e-4, "1.0E-4");
	check_f64(1.234e-5, "1.234E-5");
	check_f64(123.456, "123.456");
	check_f64(100.0, "100.0");
	check_f64(123456789.0, "1.23456789E8");
	check_f64(12345678.9, "1.23456789E7");
	check_f64(-2.5e10, "-2.5E10");
	check_f64(1e21, "1.0E21");
	check_f64(1e23, "1.0E23");
	check_f64(2e23, "2.0E23");
	check_f64(DBL_MAX, "1.7976931348623157E308");
	check_f64(DBL_MIN, "2.2250738585072014E-308");
	check_f64(5e-324, "4.9E-324");
	check_f64(2 * 4.9406564584124654e-324, "9.9E-324");
	check_f64(3.141592653589793, "3.141592653589793");
	check_f64(9007199254740993.0, "9.007199254740992E15");
	check_f64(4.35, "4.35");
	check_f64(0.5, "0.5");
	check_f64(1.5, "1.5");
	check_f64(42.0, "42.0");
	check_f64(-0.001, "-0.001");
	/* JDK 19+ picks the closest; JDK 17 printed -2.5827387087365312E25 */
	check_f64(-2.5827387087365313e25, "-2.5827387087365313E25");
	/* binade boundaries (powers of two): shortest thanks to the asymmetric interval */
	check_f64(ldexp(1.0, 378), "6.156563468186638E113");
	check_f64(ldexp(1.0, -1022), "2.2250738585072014E-308");
	check_f64(ldexp(1.0, 10), "1024.0");
	check_f64(1.0e-323, "9.9E-324");
}

/* Every output reads back as the same double, and no shorter digit string would. */
Test(fmt, double_roundtrip_random)
{
	uint64_t s = 12345;
	for (int k = 0; k < 200000; k++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t bits = s ^ (s >> 29);
		double v;
		memcpy(&v, &bits, sizeof v);
		if (k % 3 == 0)
			v = (double)(int64_t)(bits >> 20) / 1000.0;
		if (!isfinite(v))
			continue;
		char buf[32];
		sl_fmt_f64(buf, v);
		double back = strtod(buf, NULL);
		cr_assert(back == v || (v == 0 && back == 0), "%s does not read back as %.17g", buf,
			  v);
		/* significant digits used */
		int nd = 0;
		bool lead = true;
		for (const char *p = buf; *p && *p != 'E'; p++) {
			if (*p < '0' || *p > '9')
				continue;
			if (lead && *p == '0')
				continue;
			lead = false;
			nd++;
		}
		if (nd > 2) {
			char tmp[40];
			snprintf(tmp, sizeof tmp, "%.*e", nd - 2, v);
			cr_assert(strtod(tmp, NULL) != v, "%s is not the shortest for %.17g (%s)",
				  buf, v, tmp);
		}
	}
}

static char *row(const sl_col *c, size_t i)
{
	static char out[4][256];
	static int k;
	sl_sbuf b = {0};
	cr_assert_eq(sl_fmt_row(&b, c, i), 0);
	char *o = out[k++ % 4];
	snprintf(o, 256, "%s", b.p);
	sl_sbuf_fini(&b);
	return o;
}

Test(fmt, scalars)
{
	sl_col *l = sl_col_new(mem, &sl_type_i64, 0);
	sl_col_push_i64(l, -42);
	sl_col_push_i64(l, INT64_MIN);
	cr_expect_str_eq(row(l, 0), "-42");
	cr_expect_str_eq(row(l, 1), "-9223372036854775808");
	sl_col *b = sl_col_new(mem, &sl_type_bool, 0);
	sl_col_push_bool(b, true);
	sl_col_push_bool(b, false);
	cr_expect_str_eq(row(b, 0), "true");
	cr_expect_str_eq(row(b, 1), "false");
	sl_col *s = sl_col_new(mem, &sl_type_str, 0);
	sl_col_push_str(s, "hello world", 11);
	sl_col_push_str(s, "", 0);
	cr_expect_str_eq(row(s, 0), "hello world");
	cr_expect_str_eq(row(s, 1), "");
	sl_col *d = sl_col_new(mem, &sl_type_f64, 0);
	sl_col_push_f64(d, 2.5);
	cr_expect_str_eq(row(d, 0), "2.5");
	sl_col_unref(l);
	sl_col_unref(b);
	sl_col_unref(s);
	sl_col_unref(d);
}

Test(fmt, string_with_nul)
{
	sl_col *s = sl_col_new(mem, &sl_type_str, 0);
	sl_col_push_str(s, "a\0b", 3);
	sl_sbuf b = {0};
	cr_assert_eq(sl_fmt_row(&b, s, 0), 0);
	cr_expect_eq(b.len, 3);
	cr_expect(memcmp(b.p, "a\0b", 3) == 0);
	sl_sbuf_fini(&b);
	sl_col_unref(s);
}

Test(fmt, tuples)
{
	const sl_type *sl = sl_type_pair(types, &sl_type_str, &sl_type_i64);
	sl_col *c = sl_col_new(mem, sl, 0);
	sl_col_push_str(c->kid[0], "a", 1);
	sl_col_push_i64(c->kid[1], 1);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "(a,1)");
	sl_col_unref(c);

	const sl_type *inner = sl_type_pair(types, &sl_type_i64, &sl_type_str);
	const sl_type *nest = sl_type_pair(types, &sl_type_str, inner);
	c = sl_col_new(mem, nest, 0);
	sl_col_push_str(c->kid[0], "a", 1);
	sl_col_push_i64(c->kid[1]->kid[0], 1);
	sl_col_push_str(c->kid[1]->kid[1], "x", 1);
	sl_col_commit(c->kid[1]);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "(a,(1,x))");
	sl_col_unref(c);

	const sl_type *k3[] = {&sl_type_f64, &sl_type_bool, &sl_type_str};
	const sl_type *t3 = sl_type_tuple(types, 3, k3);
	c = sl_col_new(mem, t3, 0);
	sl_col_push_f64(c->kid[0], 1e7);
	sl_col_push_bool(c->kid[1], true);
	sl_col_push_str(c->kid[2], "z z", 3);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "(1.0E7,true,z z)");
	sl_col_unref(c);
}

static sl_col *long_list(enum sl_list_style st, int n)
{
	const sl_type *t = sl_type_list(types, &sl_type_i64, st);
	sl_col *c = sl_col_new(mem, t, 0);
	for (int i = 1; i <= n; i++)
		sl_col_push_i64(c->kid[0], i);
	sl_col_commit(c);
	sl_col_commit(c); /* an empty second row */
	return c;
}

Test(fmt, sequences)
{
	sl_col *c = long_list(SL_LIST_SEQ, 2);
	cr_expect_str_eq(row(c, 0), "List(1, 2)");
	cr_expect_str_eq(row(c, 1), "List()");
	sl_col_unref(c);
	c = long_list(SL_LIST_BUFFER, 3);
	cr_expect_str_eq(row(c, 0), "CompactBuffer(1, 2, 3)");
	cr_expect_str_eq(row(c, 1), "CompactBuffer()");
	sl_col_unref(c);

	const sl_type *t = sl_type_list(types, &sl_type_str, SL_LIST_ARRAY);
	c = sl_col_new(mem, t, 0);
	sl_col_push_str(c->kid[0], "a", 1);
	sl_col_push_str(c->kid[0], "b", 1);
	sl_col_commit(c);
	sl_col_push_str(c->kid[0], "c", 1);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "Array(a, b)");
	cr_expect_str_eq(row(c, 1), "Array(c)");
	sl_col_unref(c);

	/* (k, CompactBuffer((a,1), (b,2))) as groupByKey of pairs would print */
	const sl_type *pr = sl_type_pair(types, &sl_type_str, &sl_type_i64);
	const sl_type *lt = sl_type_list(types, pr, SL_LIST_BUFFER);
	const sl_type *kt = sl_type_pair(types, &sl_type_str, lt);
	c = sl_col_new(mem, kt, 0);
	sl_col_push_str(c->kid[0], "k", 1);
	sl_col *el = c->kid[1]->kid[0];
	sl_col_push_str(el->kid[0], "a", 1);
	sl_col_push_i64(el->kid[1], 1);
	sl_col_commit(el);
	sl_col_push_str(el->kid[0], "b", 1);
	sl_col_push_i64(el->kid[1], 2);
	sl_col_commit(el);
	sl_col_commit(c->kid[1]);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "(k,CompactBuffer((a,1), (b,2)))");
	sl_col_unref(c);
}

Test(fmt, options)
{
	const sl_type *t = sl_type_opt(types, &sl_type_i64);
	sl_col *c = sl_col_new(mem, t, 0);
	sl_col_push_i64(c->kid[0], 1);
	sl_col_commit(c);
	sl_col_push_none(c);
	cr_expect_str_eq(row(c, 0), "Some(1)");
	cr_expect_str_eq(row(c, 1), "None");
	sl_col_unref(c);

	const sl_type *pr = sl_type_pair(types, &sl_type_str, &sl_type_i64);
	t = sl_type_opt(types, pr);
	c = sl_col_new(mem, t, 0);
	sl_col_push_str(c->kid[0]->kid[0], "a", 1);
	sl_col_push_i64(c->kid[0]->kid[1], 1);
	sl_col_commit(c->kid[0]);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "Some((a,1))");
	sl_col_unref(c);

	/* leftOuterJoin shape: (k,(1,None)) */
	const sl_type *o = sl_type_opt(types, &sl_type_str);
	const sl_type *v = sl_type_pair(types, &sl_type_i64, o);
	const sl_type *kv = sl_type_pair(types, &sl_type_str, v);
	c = sl_col_new(mem, kv, 0);
	sl_col_push_str(c->kid[0], "k", 1);
	sl_col_push_i64(c->kid[1]->kid[0], 1);
	sl_col_push_none(c->kid[1]->kid[1]);
	sl_col_commit(c->kid[1]);
	sl_col_commit(c);
	cr_expect_str_eq(row(c, 0), "(k,(1,None))");
	sl_col_unref(c);
}

static sl_rdd *longs_rdd(const int *sizes, size_t np)
{
	sl_rdd *r = sl_rdd_new(mem, &sl_type_i64, 1000, np);
	int64_t v = 1;
	for (size_t p = 0; p < np; p++) {
		if (sizes[p] < 0)
			continue; /* NULL slot */
		r->part[p] = sl_col_new(mem, &sl_type_i64, 0);
		for (int i = 0; i < sizes[p]; i++)
			sl_col_push_i64(r->part[p], v++);
	}
	return r;
}

#define HDR                                                                                        \
	"-------------------------------------------\nTime: 2000 "                                 \
	"ms\n-------------------------------------------\n"

static void check_print(const sl_rdd *r, long num, const char *want)
{
	sl_sbuf b = {0};
	cr_assert_eq(sl_fmt_print(&b, r, 2000, num), 0);
	cr_expect_str_eq(b.p, want);
	sl_sbuf_fini(&b);
}

Test(fmt, print_block)
{
	int sz[] = {2, 0, -1, 2};
	sl_rdd *r = longs_rdd(sz, 4);
	check_print(r, 10, HDR "1\n2\n3\n4\n\n");
	check_print(r, 4, HDR "1\n2\n3\n4\n\n");
	check_print(r, 3, HDR "1\n2\n3\n...\n\n");
	check_print(r, 2, HDR "1\n2\n...\n\n");
	check_print(r, 0, HDR "...\n\n");
	sl_rdd_unref(r);

	int none[] = {0, -1};
	r = longs_rdd(none, 2);
	check_print(r, 10, HDR "\n");
	check_print(r, 0, HDR "\n");
	sl_rdd_unref(r);
	check_print(NULL, 10, HDR "\n");
}

Test(fmt, print_negative_time_and_strings)
{
	sl_rdd *r = sl_rdd_new(mem, &sl_type_str, -5, 1);
	r->part[0] = sl_col_new(mem, &sl_type_str, 0);
	sl_col_push_str(r->part[0], "x y", 3);
	sl_sbuf b = {0};
	cr_assert_eq(sl_fmt_print(&b, r, -5, 10), 0);
	cr_expect_str_eq(b.p, "-------------------------------------------\nTime: -5 ms\n"
			      "-------------------------------------------\nx y\n\n");
	/* appends */
	cr_assert_eq(sl_fmt_print(&b, r, 7, 1), 0);
	cr_expect(strstr(b.p, "Time: 7 ms\n"));
	sl_sbuf_fini(&b);
	sl_rdd_unref(r);
}

Test(fmt, sbuf)
{
	sl_sbuf b = {0};
	cr_assert_eq(sl_sbuf_put(&b, "", 0), 0);
	cr_expect_str_eq(b.p, "");
	cr_assert_eq(sl_sbuf_printf(&b, "%d-%s", 7, "x"), 0);
	cr_expect_str_eq(b.p, "7-x");
	char big[1000];
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cr_assert_eq(sl_sbuf_printf(&b, "[%s]", big), 0);
	cr_expect_eq(b.len, 3 + 2 + 999);
	cr_expect_eq(b.p[b.len], '\0');
	cr_expect_eq(b.p[b.len - 1], ']');
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(sl_sbuf_put(&b, "ab", 2), 0);
	cr_expect_eq(b.len, 1004 + 20000);
	cr_expect(b.len < b.cap);
	sl_sbuf_fini(&b);
	cr_expect_null(b.p);
	cr_expect_eq(b.len, 0);
}

Test(fmt, error_fill)
{
	sluice_error e;
	memset(&e, 'x', sizeof e);
	cr_expect_eq(sl_error_set(&e, -ENOENT, "cannot open '%s': %s", "f", "No such file"),
		     -ENOENT);
	cr_expect_eq(e.code, -ENOENT);
	/* a new error has no position or context of an earlier one (the caller sets its own) */
	cr_expect_eq(e.line, 0);
	cr_expect_eq(e.col, 0);
	cr_expect_str_eq(e.context, "");
	sl_error_at(&e, 3, 4);
	cr_expect(e.line == 3 && e.col == 4);
	sl_error_at(NULL, 3, 4);
	cr_expect_str_eq(e.msg, "cannot open 'f': No such file");
	cr_expect_eq(sl_error_set(NULL, -5, "x"), -5);
	char longs[2000];
	memset(longs, 'a', sizeof longs - 1);
	longs[sizeof longs - 1] = 0;
	sl_error_set(&e, -1, "%s", longs);
	cr_expect_eq(strlen(e.msg), sizeof e.msg - 1);
}
