/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_expr.c - lambda compilation and column-at-a-time evaluation: types, Scala
 * semantics (wrapping, truncating division, string concatenation, Java split), records
 * that cannot be evaluated (flagged, not crashed on), and recognised reducer shapes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expr.h"
#include "fmt.h"
#include "testutil.h"
#include "parse.h"

static sl_env env;
#define mem   (env.mem)
#define types (env.types)

static void setup(void)
{
	sl_test_env_init(&env);
}

static void teardown(void)
{
	cr_assert_eq(sl_mem_in_use(mem), 0, "leaked %zu bytes", sl_mem_in_use(mem));
	sl_test_env_fini(&env);
}

TestSuite(expr, .init = setup, .fini = teardown);

static sl_col *longs(const int64_t *v, size_t n)
{
	sl_col *c = sl_col_new(mem, &sl_type_i64, n);
	for (size_t i = 0; i < n; i++)
		sl_col_push_i64(c, v[i]);
	return c;
}

static sl_col *strs(const char *const *v, size_t n)
{
	sl_col *c = sl_col_new(mem, &sl_type_str, n);
	for (size_t i = 0; i < n; i++)
		sl_col_push_str(c, v[i], strlen(v[i]));
	return c;
}

/* When set, eval() runs with this kernel table instead of env.kern. */
static const sl_kernels *kern_over;

/* Compile fn over (one or two) columns, evaluate, and render each row with Scala toString
 * joined by '|'; bad rows render as "!". Returns a static string. */
static const char *eval(const char *fn, sl_col *a, sl_col *b, size_t *nbad)
{
	static char out[65536];
	sluice_error err = {0};
	sl_program *p = sl_parse(fn, strlen(fn), &err);
	cr_assert_not_null(p, "%s", err.msg);
	const sl_type *pt[2] = {a->type, b ? b->type : NULL};
	sl_lambda l;
	int rc = sl_lambda_compile(&l, types, p->stmt[0].expr, b ? 2 : 1, pt, &err);
	cr_assert_eq(rc, 0, "%s: %s", fn, err.msg);
	sl_col *args[2] = {a, b};
	sl_xeval ev;
	sl_xeval_init(&ev, mem);
	ev.kern = kern_over ? kern_over : env.kern; /* the ISA SLUICE_ISA names (testutil.h) */
	sl_col *r = sl_lambda_eval(&l, args, a->len, &ev);
	cr_assert_not_null(r);
	cr_assert_eq(r->len, a->len);
	sl_sbuf sb = {0};
	for (size_t i = 0; i < r->len; i++) {
		if (i)
			sl_sbuf_put(&sb, "|", 1);
		if (ev.bad && ev.bad[i])
			sl_sbuf_put(&sb, "!", 1);
		else
			sl_fmt_row(&sb, r, i);
	}
	snprintf(out, sizeof(out), "%s", sb.p ? sb.p : "");
	if (nbad)
		*nbad = ev.nbad;
	sl_sbuf_fini(&sb);
	sl_col_unref(r);
	sl_xeval_fini(&ev);
	sl_lambda_fini(&l);
	sl_program_free(p);
	return out;
}

static int compile_error(const char *fn, const sl_type *t, int nparam, sluice_error *err)
{
	sl_program *p = sl_parse(fn, strlen(fn), err);
	cr_assert_not_null(p, "%s", err->msg);
	const sl_type *pt[2] = {t, t};
	sl_lambda l;
	int rc = sl_lambda_compile(&l, types, p->stmt[0].expr, nparam, pt, err);
	if (!rc)
		sl_lambda_fini(&l);
	sl_program_free(p);
	return rc;
}

Test(expr, long_arithmetic_wraps_and_truncates)
{
	int64_t v[] = {7, -7, INT64_MAX, INT64_MIN, 0};
	sl_col *a = longs(v, 5);
	cr_assert_str_eq(eval("_ + 1", a, NULL, NULL),
			 "8|-6|-9223372036854775808|-9223372036854775807|1");
	cr_assert_str_eq(eval("x => x / 2", a, NULL, NULL),
			 "3|-3|4611686018427387903|-4611686018427387904|0");
	cr_assert_str_eq(eval("x => x % 3", a, NULL, NULL), "1|-1|1|-2|0");
	cr_assert_str_eq(eval("x => x * 2 - x", a, NULL, NULL),
			 "7|-7|9223372036854775807|-9223372036854775808|0");
	cr_assert_str_eq(eval("x => x / -1", a, NULL, NULL),
			 "-7|7|-9223372036854775807|-9223372036854775808|0");
	size_t bad;
	cr_assert_str_eq(eval("x => 10 / x", a, NULL, &bad), "1|-1|0|0|!");
	cr_assert_eq(bad, 1);
	cr_assert_str_eq(eval("x => -x", a, NULL, NULL),
			 "-7|7|-9223372036854775807|-9223372036854775808|0");
	cr_assert_str_eq(eval("math.abs(_)", a, NULL, NULL),
			 "7|7|9223372036854775807|-9223372036854775808|0");
	sl_col_unref(a);
}

Test(expr, double_promotion_and_ieee)
{
	int64_t v[] = {1, 0, -3};
	sl_col *a = longs(v, 3);
	cr_assert_str_eq(eval("_ * 0.5", a, NULL, NULL), "0.5|0.0|-1.5");
	cr_assert_str_eq(eval("x => x.toDouble / 0", a, NULL, NULL), "Infinity|NaN|-Infinity");
	cr_assert_str_eq(eval("x => x / 4.0 > 0.1", a, NULL, NULL), "true|false|false");
	cr_assert_str_eq(eval("x => (x * 1e7).toLong", a, NULL, NULL), "10000000|0|-30000000");
	cr_assert_str_eq(eval("x => math.max(x, 0.5)", a, NULL, NULL), "1.0|0.5|0.5");
	/* Java's Math.max/min order the zeros; Double.toInt saturates at the Int range */
	cr_assert_str_eq(eval("x => (x * -0.0).max(0.0)", a, NULL, NULL), "0.0|0.0|0.0");
	cr_assert_str_eq(eval("x => math.min(x * 0.0, -0.0)", a, NULL, NULL), "-0.0|-0.0|-0.0");
	cr_assert_str_eq(eval("x => (x * 1e300).toInt", a, NULL, NULL), "2147483647|0|-2147483648");
	cr_assert_str_eq(eval("x => (x * 1e300).toLong", a, NULL, NULL),
			 "9223372036854775807|0|-9223372036854775808");
	sl_col_unref(a);
}

Test(expr, comparisons_logic_and_if)
{
	int64_t v[] = {1, 5, 10};
	sl_col *a = longs(v, 3);
	cr_assert_str_eq(eval("x => x > 2 && x < 10", a, NULL, NULL), "false|true|false");
	cr_assert_str_eq(eval("x => x == 1 || !(x != 10)", a, NULL, NULL), "true|false|true");
	cr_assert_str_eq(eval("x => if (x >= 5) \"big\" else \"small\"", a, NULL, NULL),
			 "small|big|big");
	cr_assert_str_eq(eval("x => if (x > 1) x else 0.5", a, NULL, NULL), "0.5|5.0|10.0");
	/* only the branch if selects counts: 10 / 0 in the branch not taken is not an error */
	size_t nb;
	cr_assert_str_eq(eval("x => if (x == 5) 0 else 10 / (x - 5)", a, NULL, &nb), "-2|0|2");
	cr_assert_eq(nb, 0);
	cr_assert_str_eq(eval("x => if (x == 5) 10 / (x - 5) else x", a, NULL, &nb), "1|!|10");
	cr_assert_eq(nb, 1);
	/* a row the left side decides is not bad even if the right side fails on it */
	size_t bad;
	cr_assert_str_eq(eval("x => x > 4 && 10 / (x - 1) > 0", a, NULL, &bad), "false|true|true");
	cr_assert_eq(bad, 0);
	sl_col_unref(a);
}

Test(expr, tuples_fields_and_sharing)
{
	int64_t v[] = {1, 2};
	sl_col *a = longs(v, 2);
	cr_assert_str_eq(eval("(_, 1)", a, NULL, NULL), "(1,1)|(2,1)");
	cr_assert_str_eq(eval("x => (x, (x * 2, \"k\" + x))", a, NULL, NULL),
			 "(1,(2,k1))|(2,(4,k2))");
	cr_assert_str_eq(eval("x => (x, (x, 3))._2._1", a, NULL, NULL), "1|2");
	cr_assert_str_eq(eval("x => Seq(x, x * 2)", a, NULL, NULL), "List(1, 2)|List(2, 4)");
	cr_assert_str_eq(eval("x => Some(x).getOrElse(0)", a, NULL, NULL), "1|2");
	sl_col_unref(a);
}

Test(expr, strings_and_java_split)
{
	const char *v[] = {"a b", "  x  y ", "", " ", "a,,b,,", "A-b_C"};
	sl_col *a = strs(v, 6);
	cr_assert_str_eq(
	    eval("_.split(\" \")", a, NULL, NULL),
	    "Array(a, b)|Array(, , x, , y)|Array()|Array()|Array(a,,b,,)|Array(A-b_C)");
	cr_assert_str_eq(eval("_.split(\",\").length", a, NULL, NULL), "1|1|1|1|3|1");
	cr_assert_str_eq(eval("_.split(\" +\")", a, NULL, NULL),
			 "Array(a, b)|Array(, x, y)|Array()|Array()|Array(a,,b,,)|Array(A-b_C)");
	cr_assert_str_eq(eval("_.split(\",,b,,\")", a, NULL, NULL),
			 "Array(a b)|Array(  x  y )|Array()|Array( )|Array(a)|Array(A-b_C)");
	cr_assert_str_eq(eval("_.split(\"\\\\s+\")", a, NULL, NULL),
			 "Array(a, b)|Array(, x, y)|Array()|Array()|Array(a,,b,,)|Array(A-b_C)");
	cr_assert_str_eq(eval("_.split(\"\\\\W+\")", a, NULL, NULL),
			 "Array(a, b)|Array(, x, y)|Array()|Array()|Array(a, b)|Array(A, b_C)");
	cr_assert_str_eq(eval("_.trim.toUpperCase", a, NULL, NULL), "A B|X  Y|||A,,B,,|A-B_C");
	cr_assert_str_eq(eval("_.toLowerCase + \"!\"", a, NULL, NULL),
			 "a b!|  x  y !|!| !|a,,b,,!|a-b_c!");
	cr_assert_str_eq(eval("s => s.length", a, NULL, NULL), "3|7|0|1|6|5");
	cr_assert_str_eq(eval("s => s.contains(\"b\") || s.startsWith(\" \") || s.endsWith(\"C\")",
			      a, NULL, NULL),
			 "true|true|false|true|true|true");
	cr_assert_str_eq(eval("_.isEmpty", a, NULL, NULL), "false|false|true|false|false|false");
	sl_col_unref(a);
}

Test(expr, java_split_edge_cases)
{
	/* "".split(x) is [""]; a separator-only string is []; leading empties kept */
	const char *v[] = {"", ",", ",a", "a,", "a"};
	sl_col *a = strs(v, 5);
	cr_assert_str_eq(eval("_.split(\",\").length", a, NULL, NULL), "1|0|2|1|1");
	sl_col_unref(a);
}

Test(expr, number_parsing_flags_bad_records)
{
	const char *v[] = {"42", "-7", "x", "2147483648", "", "+3", "1.5"};
	sl_col *a = strs(v, 7);
	size_t bad;
	cr_assert_str_eq(eval("_.toInt", a, NULL, &bad), "42|-7|!|!|!|3|!");
	cr_assert_eq(bad, 4);
	cr_assert_str_eq(eval("_.toLong", a, NULL, &bad), "42|-7|!|2147483648|!|3|!");
	cr_assert_eq(bad, 3);
	cr_assert_str_eq(eval("_.toDouble", a, NULL, &bad), "42.0|-7.0|!|2.147483648E9|!|3.0|1.5");
	cr_assert_eq(bad, 2);
	sl_col_unref(a);
}

/* The parse kernels take the plain forms; Java's other rules (blanks trimmed by parseDouble,
 * NaN, Infinity, d/f suffixes) still hold; the exact Int and Long bounds; long digit strings. */
Test(expr, number_parsing_kernels_keep_java_rules)
{
	const char *v[] = {" 1.5 ",
			   "NaN",
			   "-Infinity",
			   "1e400",
			   "1.5d",
			   ".5",
			   "5.",
			   "-0",
			   "2147483647",
			   "-2147483648",
			   "-2147483649",
			   "9223372036854775807",
			   "-9223372036854775808",
			   "9223372036854775808",
			   "1e-400",
			   "0x10",
			   "1 "};
	sl_col *a = strs(v, 17);
	size_t bad;
	cr_assert_str_eq(eval("_.toInt", a, NULL, &bad),
			 "!|!|!|!|!|!|!|0|2147483647|-2147483648|!|!|!|!|!|!|!");
	cr_assert_eq(bad, 14);
	cr_assert_str_eq(eval("_.toLong", a, NULL, &bad),
			 "!|!|!|!|!|!|!|0|2147483647|-2147483648|-2147483649|9223372036854775807|"
			 "-9223372036854775808|!|!|!|!");
	cr_assert_eq(bad, 11);
	cr_assert_str_eq(eval("_.toDouble", a, NULL, &bad),
			 "1.5|NaN|-Infinity|Infinity|1.5|0.5|5.0|-0.0|2.147483647E9|-2.147483648E9|"
			 "-2.147483649E9|9.223372036854776E18|-9.223372036854776E18|"
			 "9.223372036854776E18|0.0|!|1.0");
	cr_assert_eq(bad, 1);
	sl_col_unref(a);
	/* 80 significant digits: correctly rounded, not rejected for its length */
	const char *big[] = {"1234567890123456789012345678901234567890"
			     "1234567890123456789012345678901234567890e-79"};
	a = strs(big, 1);
	cr_assert_str_eq(eval("_.toDouble", a, NULL, &bad), "1.2345678901234567");
	cr_assert_eq(bad, 0);
	sl_col_unref(a);
}

/* split(",") through the delimiter kernel: strings longer than a vector block and with more
 * separators than one kernel call returns (256), empty pieces inside, trailing ones dropped. */
Test(expr, split_long_strings_through_the_kernel)
{
	static char s1[4000], s2[4000];
	size_t n1 = 0, n2 = 0;
	for (int i = 0; i < 700; i++) /* 700 pieces, every 3rd empty */
		n1 += (size_t)snprintf(s1 + n1, sizeof(s1) - n1, "%s%s", i ? "," : "",
				       i % 3 == 1 ? "" : "ab");
	for (int i = 0; i < 300; i++) /* 300 pieces then 5 trailing empties */
		n2 += (size_t)snprintf(s2 + n2, sizeof(s2) - n2, "x%d,", i);
	memcpy(s2 + n2, ",,,,", 5);
	const char *v[] = {s1, s2};
	sl_col *a = strs(v, 2);
	cr_assert_str_eq(eval("_.split(\",\").length", a, NULL, NULL), "700|300");
	cr_assert_str_eq(eval("_.split(\",\").max", a, NULL, NULL), "ab|x99");
	cr_assert_str_eq(eval("_.split(\",\").min", a, NULL, NULL), "|x0");
	sl_col_unref(a);
}

/* + - * / through the map kernels, column with column and with a constant, on lengths that
 * cross the vector width: Long wraps, Double is IEEE. */
Test(expr, arithmetic_kernels_wrap_and_ieee)
{
	int64_t v[37];
	for (int i = 0; i < 37; i++)
		v[i] = i == 0 ? INT64_MAX : i == 1 ? INT64_MIN : (int64_t)i * 1000003 - 17;
	sl_col *a = longs(v, 37);
	size_t bad;
	const char *r = eval("_ * 3 + 1", a, NULL, &bad);
	cr_assert_eq(bad, 0);
	cr_assert(!strncmp(r, "9223372036854775806|-9223372036854775807|", 41), "%s", r);
	r = eval("(x, y) => x * y - x", a, a, &bad);
	/* MAX * MAX = 1 (mod 2^64), 1 - MAX; MIN * MIN - MIN = MIN */
	cr_assert(!strncmp(r, "-9223372036854775806|-9223372036854775808|", 42), "%s", r);
	cr_assert(strstr(r, "|1296006516008190") != NULL, "%s", r); /* 36000091 * 36000090 */
	r = eval("_.toDouble / 0.0 - 1.0", a, NULL, &bad);
	cr_assert(!strncmp(r, "Infinity|-Infinity|", 19), "%s", r);
	sl_col_unref(a);
}

Test(expr, two_parameter_functions_and_reducer_shapes)
{
	int64_t x[] = {1, 9}, y[] = {5, 3};
	sl_col *a = longs(x, 2), *b = longs(y, 2);
	cr_assert_str_eq(eval("_ + _", a, b, NULL), "6|12");
	cr_assert_str_eq(eval("(p, q) => p - q", a, b, NULL), "-4|6");
	cr_assert_str_eq(eval("_ max _", a, b, NULL), "5|9");
	cr_assert_str_eq(eval("math.min(_, _)", a, b, NULL), "1|3");
	sl_col_unref(a);
	sl_col_unref(b);
	struct {
		const char *fn;
		int red;
	} shapes[] = {{"_ + _", SL_RED_SUM},
		      {"(a, b) => a + b", SL_RED_SUM},
		      {"math.max(_, _)", SL_RED_MAX},
		      {"_ min _", SL_RED_MIN},
		      {"(a, b) => b + a", SL_RED_NONE},
		      {"_ - _", SL_RED_NONE},
		      {"(a, b) => a + b + 0", SL_RED_NONE}};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		sluice_error err = {0};
		sl_program *p = sl_parse(shapes[i].fn, strlen(shapes[i].fn), &err);
		const sl_type *pt[2] = {&sl_type_i64, &sl_type_i64};
		sl_lambda l;
		cr_assert_eq(sl_lambda_compile(&l, types, p->stmt[0].expr, 2, pt, &err), 0);
		cr_assert_eq(l.reducer, shapes[i].red, "%s", shapes[i].fn);
		sl_lambda_fini(&l);
		sl_program_free(p);
	}
}

/* csvField / jsonField run the ISA's field kernels: views into the line, quoted CSV fields,
 * members found wherever they are, YSB events; a missing field fails its record. */
Test(expr, csv_and_json_fields)
{
	const char *v[] = {"a,1,2.5", "b,\"x,y\",-3", "c", ",,", "\"open,1,2"};
	sl_col *a = strs(v, 5);
	size_t bad;
	cr_assert_str_eq(eval("_.csvField(0)", a, NULL, &bad), "a|b|c||!");
	cr_assert_eq(bad, 1);
	cr_assert_str_eq(eval("_.csvField(1)", a, NULL, &bad), "1|x,y|!||!");
	cr_assert_eq(bad, 2);
	cr_assert_str_eq(eval("_.csvField(2).toDouble", a, NULL, &bad), "2.5|-3.0|!|!|!");
	cr_assert_eq(bad, 3);
	sl_col_unref(a);
	const char *j[] = {
	    "{\"user_id\": \"u1\", \"page_id\": \"p\", \"ad_id\": \"ad-7\", \"ad_type\": "
	    "\"banner\", "
	    "\"event_type\": \"view\", \"event_time\": 1700000000123, \"ip_address\": \"1.2.3.4\"}",
	    " {\"event_type\":\"click\",\"nested\":{\"event_time\":1},\"event_time\":-5} ",
	    "{\"ad_id\": \"a\\\"b\"}", "{\"event_type\": }", "not json"};
	a = strs(j, 5);
	cr_assert_str_eq(eval("_.jsonField(\"event_type\")", a, NULL, &bad), "view|click|!|!|!");
	cr_assert_eq(bad, 3);
	cr_assert_str_eq(eval("_.jsonField(\"event_time\").toLong", a, NULL, &bad),
			 "1700000000123|-5|!|!|!");
	cr_assert_eq(bad, 3);
	cr_assert_str_eq(eval("_.jsonField(\"ad_id\")", a, NULL, &bad), "ad-7|!|a\\\"b|!|!");
	cr_assert_eq(bad, 3);
	/* a nested object comes whole, with its brackets */
	const char *f = eval("x => x.jsonField(\"nested\")", a, NULL, &bad);
	cr_assert_str_eq(f, "!|{\"event_time\":1}|!|!|!");
	sl_col_unref(a);
	sluice_error err = {0};
	cr_assert_neq(compile_error("x => x.csvField(x.length)", &sl_type_str, 1, &err), 0);
	cr_assert(strstr(err.msg, "constant column number"), "%s", err.msg);
	cr_assert_neq(compile_error("_.csvField(-1)", &sl_type_str, 1, &err), 0);
	cr_assert(strstr(err.msg, "0..65535"), "%s", err.msg);
	cr_assert_neq(compile_error("x => x.jsonField(x)", &sl_type_str, 1, &err), 0);
	cr_assert(strstr(err.msg, "constant String key"), "%s", err.msg);
}

/* rows[0..n) laid out in one buffer as textFile lays out lines, row i followed by sep[i]:
 * a column of views into it. */
static sl_col *lines(const char *const *rows, const char *const *sep, size_t n)
{
	size_t cap = 0;
	for (size_t i = 0; i < n; i++)
		cap += strlen(rows[i]) + strlen(sep[i]);
	sl_col *c = sl_col_new(mem, &sl_type_str, n);
	char *b = sl_col_str_space(c, cap + 1);
	cr_assert_not_null(b);
	for (size_t i = 0, at = 0; i < n; i++) {
		size_t l = strlen(rows[i]), m = strlen(sep[i]);
		memcpy(b + at, rows[i], l);
		memcpy(b + at + l, sep[i], m);
		cr_assert_eq(sl_col_push_view(c, b + at, l), 0);
		at += l + m;
	}
	return c;
}

/* csvField(i).toLong / .toInt / .toDouble over rows lying back to back in one buffer run the
 * bulk column kernels; every row must come out as the row-by-row path gives it (same values,
 * same bad rows): blanks, quotes, NaN, overflow, a missing column, a row ending in '\r', a
 * row holding a '\n', a lone '\r' terminator and an empty row in the middle of runs. */
static const sl_kernels *kern_real;
static int bulk_calls;

static size_t count_col_i64(const char *buf, size_t n, unsigned col, int64_t *vals, uint8_t *ok,
			    size_t max, size_t *used)
{
	bulk_calls++;
	return kern_real->csv_column_i64(buf, n, col, vals, ok, max, used);
}

static size_t count_col_f64(const char *buf, size_t n, unsigned col, double *vals, uint8_t *ok,
			    size_t max, size_t *used)
{
	bulk_calls++;
	return kern_real->csv_column_f64(buf, n, col, vals, ok, max, used);
}

Test(expr, csv_numbers_in_one_buffer_equal_row_by_row)
{
	/* the ISA's table, its bulk CSV kernels counted */
	static sl_kernels counted;
	kern_real = env.kern;
	counted = *env.kern;
	counted.csv_column_i64 = count_col_i64;
	counted.csv_column_f64 = count_col_f64;
	kern_over = &counted;
	/* runs: rows 0-8 (one call), 9-10 (a row holding '\n': one call, then row by row),
	 * 12-13 (one call); row 11 is empty */
	const char *rows[] = {"a,1,2.5",
			      "b,-7,1e3",
			      "c, 8, 9 ",
			      "d",
			      "e,2147483648,NaN",
			      "f,\"5\",-0",
			      "g,12,3\r",
			      "h,99999999999999999999,1e400",
			      "m,4,4",
			      "k,1\nl,2",
			      "n,-2147483648,-1.5",
			      "",
			      "o,6,x",
			      "p,7,7"};
	const char *sep[] = {"\n", "\r\n", "\n", "\n", "\n", "\n", "\r\n",
			     "\n", "\r",   "\n", "\n", "\n", "\n", ""};
	size_t n = sizeof(rows) / sizeof(rows[0]);
	sl_col *bulk = lines(rows, sep, n), *each = strs(rows, n);
	const char *fns[] = {"_.csvField(1).toLong", "_.csvField(1).toInt",
			     "_.csvField(2).toDouble", "x => x.csvField(0).toLong"};
	for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
		size_t nb1, nb2;
		bulk_calls = 0;
		char *want = strdup(eval(fns[f], each, NULL, &nb1));
		cr_assert_eq(bulk_calls, 0, "%s: rows in separate strings are not one buffer",
			     fns[f]);
		cr_assert_str_eq(eval(fns[f], bulk, NULL, &nb2), want, "%s", fns[f]);
		cr_assert_eq(bulk_calls, 3, "%s: one bulk call per run", fns[f]);
		cr_assert_eq(nb1, nb2, "%s", fns[f]);
		free(want);
	}
	cr_assert_str_eq(eval("_.csvField(1).toLong", bulk, NULL, NULL),
			 "1|-7|!|!|2147483648|5|12|!|4|!|-2147483648|!|6|7");
	cr_assert_str_eq(eval("_.csvField(2).toDouble", bulk, NULL, NULL),
			 "2.5|1000.0|9.0|!|NaN|-0.0|3.0|Infinity|4.0|2.0|-1.5|!|!|7.0");
	sl_col_unref(bulk);
	sl_col_unref(each);

	/* runs longer than one kernel call (1024 rows), every 500th row bad */
	enum { N = 3000 };
	char *text = malloc(N * 16), *rv[N];
	const char *sv[N];
	for (size_t i = 0, at = 0; i < N; i++) {
		rv[i] = text + at;
		at += (size_t)sprintf(text + at, i % 500 == 7 ? "%zu,x%zu" : "%zu,%zu", i, i % 10) +
		      1;
		sv[i] = i % 3 ? "\n" : "\r\n";
	}
	bulk = lines((const char *const *)rv, sv, N);
	each = strs((const char *const *)rv, N);
	size_t nb1, nb2;
	char *want = strdup(eval("_.csvField(1).toLong", each, NULL, &nb1));
	bulk_calls = 0;
	cr_assert_str_eq(eval("_.csvField(1).toLong", bulk, NULL, &nb2), want);
	cr_assert_eq(bulk_calls, 3, "3000 rows: three calls of at most 1024");
	kern_over = NULL;
	cr_assert_eq(nb1, 6);
	cr_assert_eq(nb2, 6);
	free(want);
	free(text);
	sl_col_unref(bulk);
	sl_col_unref(each);
}

Test(expr, type_errors_name_types_and_positions)
{
	sluice_error err = {0};
	cr_assert_neq(compile_error("x => x * \"a\"", &sl_type_i64, 1, &err), 0);
	cr_assert(strstr(err.msg, "not defined for Long and String"), "%s", err.msg);
	cr_assert_eq(err.col, 6);
	cr_assert_neq(compile_error("_ + _", &sl_type_i64, 1, &err), 0);
	cr_assert(strstr(err.msg, "1 argument"), "%s", err.msg);
	cr_assert_neq(
	    compile_error("x => x._3", sl_type_pair(types, &sl_type_str, &sl_type_i64), 1, &err),
	    0);
	cr_assert(strstr(err.msg, "_3 is not a member of (String, Long)"), "%s", err.msg);
	cr_assert_neq(compile_error("x => y + 1", &sl_type_i64, 1, &err), 0);
	cr_assert(strstr(err.msg, "unknown name 'y'"), "%s", err.msg);
	cr_assert_neq(compile_error("x => if (x) 1 else 2", &sl_type_i64, 1, &err), 0);
	cr_assert(strstr(err.msg, "Boolean"), "%s", err.msg);
	cr_assert_neq(compile_error("x => x.split(y)", &sl_type_str, 1, &err), 0);
	cr_assert_neq(compile_error("_.split(\"[a-z]+\")", &sl_type_str, 1, &err), 0);
	cr_assert(strstr(err.msg, "regex"), "%s", err.msg);
	cr_assert_neq(compile_error("x => Seq(x, \"a\")", &sl_type_i64, 1, &err), 0);
	cr_assert(strstr(err.msg, "one type"), "%s", err.msg);
	cr_assert_neq(compile_error("(a, b) => a", &sl_type_i64, 1, &err), 0);
	cr_assert(strstr(err.msg, "lambda has 2"), "%s", err.msg);
}
