/* SPDX-License-Identifier: Apache-2.0 */
/* test_queue.c - the JSON parser and queueStream("file.jsonl"). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "io.h"
#include "testutil.h"
#include "json.h"

static sl_env env;
static char dir[64];
static sluice_error err;

static void setup(void)
{
	sl_test_env_init(&env);
	sl_test_tmpdir(dir, "queue");
	memset(&err, 0, sizeof err);
}

static void teardown(void)
{
	sl_test_rmdir(dir);
	sl_test_env_fini(&env);
}

TestSuite(queue, .init = setup, .fini = teardown);
TestSuite(json);

/* ---- JSON ---- */

static sl_json *parse(sl_json_doc *d, const char *s, sl_json_error *e)
{
	sl_json *v = NULL;
	int rc = sl_json_parse(d, s, strlen(s), 1, 1, &v, e);
	return rc ? NULL : v;
}

Test(json, values)
{
	sl_json_doc *d = sl_json_doc_new();
	sl_json_error e;
	sl_json *v =
	    parse(d, " [1, -2, 3.5, 1e3, \"x\", true, false, null, {\"a\": [], \"b\": {}}]\n", &e);
	cr_assert(v, "%s", e.msg);
	cr_assert_eq(v->kind, SL_JSON_ARR);
	cr_assert_eq(v->len, 9);
	cr_expect(v->kid[0]->is_int && v->kid[0]->i == 1);
	cr_expect(v->kid[1]->is_int && v->kid[1]->i == -2);
	cr_expect(!v->kid[2]->is_int && v->kid[2]->d == 3.5);
	cr_expect(!v->kid[3]->is_int && v->kid[3]->d == 1000);
	cr_expect_str_eq(v->kid[4]->s, "x");
	cr_expect(v->kid[5]->kind == SL_JSON_BOOL && v->kid[5]->b == 1);
	cr_expect(v->kid[6]->kind == SL_JSON_BOOL && v->kid[6]->b == 0);
	cr_expect_eq(v->kid[7]->kind, SL_JSON_NULL);
	const sl_json *o = v->kid[8];
	cr_expect_eq(o->kind, SL_JSON_OBJ);
	cr_expect_eq(o->len, 2);
	cr_expect_str_eq(o->key[1], "b");
	cr_expect_eq(sl_json_get(o, "a")->kind, SL_JSON_ARR);
	cr_expect_eq(sl_json_get(o, "a")->len, 0);
	cr_expect_null(sl_json_get(o, "c"));
	/* positions */
	cr_expect_eq(v->line, 1);
	cr_expect_eq(v->col, 2);
	cr_expect_eq(v->kid[1]->col, 6);
	cr_expect_eq(o->col, 44);
	sl_json_doc_free(d);
}

Test(json, integers)
{
	sl_json_doc *d = sl_json_doc_new();
	sl_json_error e;
	sl_json *v = parse(d, "[9223372036854775807, -9223372036854775808, 0, -0, 1e19]", &e);
	cr_assert(v, "%s", e.msg);
	cr_expect(v->kid[0]->is_int && v->kid[0]->i == INT64_MAX);
	cr_expect(v->kid[1]->is_int && v->kid[1]->i == INT64_MIN);
	cr_expect(v->kid[2]->is_int && v->kid[2]->i == 0);
	cr_expect(v->kid[3]->is_int && v->kid[3]->i == 0);
	cr_expect(!v->kid[4]->is_int && v->kid[4]->d == 1e19); /* a Double when written so */
	/* an integer past the Long range is an error with its position, as in pipeline text,
	 * not a Double that would turn its whole column into Doubles */
	const char *big[] = {"[1, 9223372036854775808]", "[1, -9223372036854775809]",
			     "[1, 12345678901234567890123]"};
	for (int i = 0; i < 3; i++) {
		cr_assert_null(parse(d, big[i], &e), "%s", big[i]);
		cr_expect(strstr(e.msg, "is out of the Long range"), "%s", e.msg);
		cr_expect_eq(e.col, 5, "%s: col %d", big[i], e.col);
	}
	sl_json_doc_free(d);
}

Test(json, strings)
{
	sl_json_doc *d = sl_json_doc_new();
	sl_json_error e;
	sl_json *v =
	    parse(d,
		  "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\", "
		  "\"\\u0000x\", \"h\xc3\xa9\"]",
		  &e);
	cr_assert(v, "%s", e.msg);
	cr_expect_str_eq(v->kid[0]->s, "a\"b\\c/d\b\f\n\r\t");
	cr_expect_str_eq(v->kid[1]->s, "\xc3\xa9\xe2\x82\xac");
	cr_expect_str_eq(v->kid[2]->s, "\xf0\x9f\x98\x80");
	cr_expect_eq(v->kid[3]->len, 2);
	cr_expect(memcmp(v->kid[3]->s, "\0x", 2) == 0);
	cr_expect_str_eq(v->kid[4]->s, "h\xc3\xa9");
	sl_json_doc_free(d);
}

static void bad(const char *text, int line, int col, const char *msg)
{
	sl_json_doc *d = sl_json_doc_new();
	sl_json_error e;
	sl_json *v = NULL;
	int rc = sl_json_parse(d, text, strlen(text), 1, 1, &v, &e);
	cr_expect_eq(rc, -EINVAL, "'%s' parsed", text);
	cr_expect_null(v);
	if (rc) {
		cr_expect_eq(e.line, line, "'%s': line %d", text, e.line);
		cr_expect_eq(e.col, col, "'%s': col %d", text, e.col);
		cr_expect(strstr(e.msg, msg), "'%s': message '%s' lacks '%s'", text, e.msg, msg);
		/* limit: valid JSON past the parser's range or depth limits, not a syntax error */
		int limit = strstr(msg, "out of range") || strstr(msg, "Long range");
		cr_expect_eq(e.limit, limit, "'%s': limit %d", text, e.limit);
	}
	sl_json_doc_free(d);
}

Test(json, errors)
{
	bad("", 1, 1, "expected a value, found end of input");
	bad("   ", 1, 4, "expected a value");
	bad("[1,]", 1, 4, "expected a value, found ']'");
	bad("[1 2]", 1, 4, "expected ',' or ']', found '2'");
	bad("[1,\n 2,\n x]", 3, 2, "expected a value, found 'x'");
	bad("{\"a\" 1}", 1, 6, "expected ':'");
	bad("{1: 2}", 1, 2, "expected a string (member name)");
	bad("{\"a\": 1,}", 1, 9, "member name");
	bad("[1] x", 1, 5, "unexpected 'x' after the JSON value");
	bad("[\"abc", 1, 2, "unterminated string");
	bad("[\"a\tb\"]", 1, 4, "control character");
	bad("[\"\\q\"]", 1, 3, "invalid escape");
	bad("[\"\\u12G4\"]", 1, 7, "hex digit");
	bad("[\"\\ud83d\"]", 1, 3, "unpaired high surrogate");
	bad("[\"\\ud83d\\u0041\"]", 1, 3, "unpaired high surrogate");
	bad("[\"\\ude00\"]", 1, 3, "unpaired low surrogate");
	bad("[01]", 1, 2, "leading zeros");
	bad("[1.]", 1, 4, "after the decimal point");
	bad("[1e]", 1, 4, "exponent");
	bad("[-]", 1, 3, "expected a digit");
	bad("[tru]", 1, 2, "invalid literal (expected true)");
	bad("[1e999]", 1, 2, "out of range");
	bad("[+1]", 1, 2, "expected a value, found '+'");
	bad("[\x01]", 1, 2, "byte 0x01");
}

Test(json, depth_limit)
{
	char s[2 * 600 + 1];
	for (int n = 512; n <= 513; n++) {
		memset(s, '[', (size_t)n);
		memset(s + n, ']', (size_t)n);
		s[2 * n] = 0;
		sl_json_doc *d = sl_json_doc_new();
		sl_json_error e;
		sl_json *v;
		int rc = sl_json_parse(d, s, strlen(s), 1, 1, &v, &e);
		if (n == 512) {
			cr_expect_eq(rc, 0, "%s", e.msg);
		} else {
			cr_expect_eq(rc, -EINVAL);
			cr_expect(strstr(e.msg, "nesting deeper than 512"));
			cr_expect_eq(e.limit, 1);
			cr_expect_eq(e.col, 513);
		}
		sl_json_doc_free(d);
	}
}

Test(json, position_offset_and_big)
{
	sl_json_doc *d = sl_json_doc_new();
	sl_json_error e;
	sl_json *v;
	cr_expect_eq(sl_json_parse(d, "  x", 3, 7, 10, &v, &e), -EINVAL);
	cr_expect_eq(e.line, 7);
	cr_expect_eq(e.col, 12);
	/* not NUL-terminated input */
	cr_expect_eq(sl_json_parse(d, "[1]]", 3, 1, 1, &v, &e), 0);
	/* many values: several arena chunks, a big string */
	size_t n = 200000;
	char *big = malloc(n * 4 + 16);
	size_t o = 0;
	big[o++] = '[';
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(big + o, "%s%zu", i ? "," : "", i % 10);
	big[o++] = ']';
	cr_assert_eq(sl_json_parse(d, big, o, 1, 1, &v, &e), 0);
	cr_expect_eq(v->len, n);
	cr_expect_eq(v->kid[n - 1]->i, (int64_t)((n - 1) % 10));
	memset(big, 'a', n);
	big[0] = '"';
	big[n - 1] = '"';
	cr_assert_eq(sl_json_parse(d, big, n, 1, 1, &v, &e), 0);
	cr_expect_eq(v->len, n - 2);
	free(big);
	sl_json_doc_free(d);
	sl_json_doc_free(NULL);
}

/* ---- queueStream ---- */

static char *write_file(const char *name, const char *text)
{
	static char path[4][256];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 256, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static sl_source *open_q(const char *text, int nparts, uint64_t seed)
{
	char *p = write_file("q.jsonl", text);
	sl_source *s = sl_queue_source_new(&env, p, nparts, seed, &err);
	cr_assert(s, "queue failed: %s", err.msg);
	cr_assert_eq(s->ops->start(s, 0, &err), 0);
	return s;
}

/* Rows of r as "a|b|c" and partition sizes as "2,1". */
static void dump(const sl_rdd *r, char *rows, size_t nrows, char *sizes, size_t nsizes)
{
	sl_sbuf b = {0}, z = {0};
	for (size_t p = 0; p < r->nparts; p++) {
		cr_assert(r->part[p], "NULL partition slot");
		cr_assert(sl_type_eq(r->part[p]->type, r->type));
		sl_sbuf_printf(&z, "%s%zu", p ? "," : "", r->part[p]->len);
		for (size_t i = 0; i < r->part[p]->len; i++) {
			if (b.len)
				sl_sbuf_put(&b, "|", 1);
			sl_fmt_row(&b, r->part[p], i);
		}
	}
	snprintf(rows, nrows, "%s", b.p ? b.p : "");
	snprintf(sizes, nsizes, "%s", z.p ? z.p : "");
	sl_sbuf_fini(&b);
	sl_sbuf_fini(&z);
}

/* next() at call k (1-based): expect rc and rows (NULL: no rdd). */
static void expect_batch(sl_source *s, int k, int rc_want, const char *rows_want,
			 const char *sizes_want)
{
	sl_rdd *r = (sl_rdd *)0x1;
	int rc = s->ops->next(s, 1000 * k, &r, &err);
	cr_assert_eq(rc, rc_want, "call %d: rc %d (%s)", k, rc, err.msg);
	if (!rows_want) {
		cr_expect_null(r, "call %d: expected no rdd", k);
		return;
	}
	cr_assert(r, "call %d: no rdd", k);
	cr_expect_eq(r->time, 1000 * k);
	char rows[4096], sizes[256];
	dump(r, rows, sizeof rows, sizes, sizeof sizes);
	cr_expect_str_eq(rows, rows_want, "call %d", k);
	if (sizes_want)
		cr_expect_str_eq(sizes, sizes_want, "call %d", k);
	sl_rdd_unref(r);
}

static char *tname(const sl_source *s)
{
	static char b[128];
	return sl_type_name(s->type, b, sizeof b);
}

Test(queue, strings_and_end)
{
	sl_source *s = open_q("[\"a b\", \"c\"]\n[\"d\"]\n", 1, 0);
	cr_expect_str_eq(tname(s), "String");
	cr_expect_eq(s->bounded, 0);
	expect_batch(s, 1, 0, "a b|c", "2");
	expect_batch(s, 2, SL_SOURCE_END, "d", "1");
	expect_batch(s, 3, SL_SOURCE_END, "", "0");
	expect_batch(s, 4, SL_SOURCE_END, "", "0");
	s->ops->free(s);
}

Test(queue, types)
{
	sl_source *s = open_q("[[\"a\", 1], [\"b\", 2]]\n", 1, 0);
	cr_expect_str_eq(tname(s), "(String, Long)");
	expect_batch(s, 1, SL_SOURCE_END, "(a,1)|(b,2)", NULL);
	s->ops->free(s);

	s = open_q("[[\"a\", [1, [true, 2.5]]]]", 1, 0);
	cr_expect_str_eq(tname(s), "(String, (Long, (Boolean, Double)))");
	expect_batch(s, 1, SL_SOURCE_END, "(a,(1,(true,2.5)))", NULL);
	s->ops->free(s);
}

Test(queue, scalar_types)
{
	sl_source *s = open_q("[5, 6]", 1, 0);
	cr_expect_str_eq(tname(s), "Long");
	expect_batch(s, 1, SL_SOURCE_END, "5|6", NULL);
	s->ops->free(s);
	s = open_q("[1.5, 1e7]", 1, 0);
	cr_expect_str_eq(tname(s), "Double");
	expect_batch(s, 1, SL_SOURCE_END, "1.5|1.0E7", NULL);
	s->ops->free(s);
	s = open_q("[false]", 1, 0);
	cr_expect_str_eq(tname(s), "Boolean");
	expect_batch(s, 1, SL_SOURCE_END, "false", NULL);
	s->ops->free(s);
	s = open_q("[\"\\u00e9\\n\"]", 1, 0);
	expect_batch(s, 1, SL_SOURCE_END, "\xc3\xa9\n", NULL);
	s->ops->free(s);
}

Test(queue, long_double_promotion)
{
	sl_source *s = open_q("[1, 2]\n[2.5]\n[3]\n", 1, 0);
	cr_expect_str_eq(tname(s), "Double");
	expect_batch(s, 1, 0, "1.0|2.0", NULL);
	expect_batch(s, 2, 0, "2.5", NULL);
	expect_batch(s, 3, SL_SOURCE_END, "3.0", NULL);
	s->ops->free(s);

	s = open_q("[[\"a\", 1, 2]]\n[[\"b\", 1.5, 3]]\n[[\"c\", 2, 4.0]]\n", 1, 0);
	cr_expect_str_eq(tname(s), "(String, Double, Double)");
	expect_batch(s, 1, 0, "(a,1.0,2.0)", NULL);
	expect_batch(s, 2, 0, "(b,1.5,3.0)", NULL);
	expect_batch(s, 3, SL_SOURCE_END, "(c,2.0,4.0)", NULL);
	s->ops->free(s);

	/* a Double first then ints stays Double */
	s = open_q("[0.5, 1]", 1, 0);
	cr_expect_str_eq(tname(s), "Double");
	expect_batch(s, 1, SL_SOURCE_END, "0.5|1.0", NULL);
	s->ops->free(s);
}

Test(queue, null_and_blank_lines)
{
	sl_source *s = open_q("[\"a\"]\nnull\n\n   \t\r\n [ ] \n[\"b\"]\r\nnull\n", 1, 0);
	expect_batch(s, 1, 0, "a", "1");
	expect_batch(s, 2, 0, NULL, NULL);
	expect_batch(s, 3, 0, "", "0");
	expect_batch(s, 4, 0, "", "0");
	expect_batch(s, 5, 0, "", "0");
	expect_batch(s, 6, 0, "b", "1");
	expect_batch(s, 7, SL_SOURCE_END, NULL, NULL);
	expect_batch(s, 8, SL_SOURCE_END, "", "0");
	s->ops->free(s);
}

Test(queue, no_trailing_newline_and_empty_file)
{
	sl_source *s = open_q("[\"a\"]\n[\"b\"]", 1, 0);
	expect_batch(s, 1, 0, "a", NULL);
	expect_batch(s, 2, SL_SOURCE_END, "b", NULL);
	s->ops->free(s);

	s = open_q("", 1, 0);
	cr_expect_str_eq(tname(s), "String");
	expect_batch(s, 1, SL_SOURCE_END, "", "0");
	expect_batch(s, 2, SL_SOURCE_END, "", "0");
	s->ops->free(s);

	s = open_q("null\n[]\n", 3, 0);
	cr_expect_str_eq(tname(s), "String");
	expect_batch(s, 1, 0, NULL, NULL);
	expect_batch(s, 2, SL_SOURCE_END, "", "0,0,0");
	s->ops->free(s);

	/* a lone newline is one blank line: one empty batch */
	s = open_q("\n", 2, 0);
	expect_batch(s, 1, SL_SOURCE_END, "", "0,0");
	s->ops->free(s);
}

Test(queue, partitions_fixed_and_default)
{
	const char *text = "[1,2,3,4,5,6,7]\n[1]\n";
	sl_source *s = open_q(text, 3, 0);
	expect_batch(s, 1, 0, "1|2|3|4|5|6|7", "2,2,3");
	expect_batch(s, 2, SL_SOURCE_END, "1", "0,0,1");
	s->ops->free(s);

	s = open_q(text, 0, 0); /* batch 1000 / block 200 = 5 */
	expect_batch(s, 1, 0, "1|2|3|4|5|6|7", "1,1,2,1,2");
	s->ops->free(s);

	env.block_ms = 0;
	s = open_q(text, 0, 0);
	expect_batch(s, 1, 0, "1|2|3|4|5|6|7", "7");
	s->ops->free(s);
	env.block_ms = 1000;
	s = open_q(text, 0, 0);
	expect_batch(s, 1, 0, "1|2|3|4|5|6|7", "7");
	s->ops->free(s);

	s = open_q(text, 20, 0);
	expect_batch(s, 1, 0, "1|2|3|4|5|6|7", "0,0,1,0,0,1,0,0,1,0,0,1,0,0,1,0,0,1,0,1");
	s->ops->free(s);
}

Test(queue, partitions_random_deterministic)
{
	char text[4096] = "";
	for (int k = 0; k < 20; k++) {
		strcat(text, "[");
		for (int i = 0; i < 30; i++)
			sprintf(text + strlen(text), "%s%d", i ? "," : "", k * 100 + i);
		strcat(text, "]\n");
	}
	char sizes1[20][256], sizes2[20][256], rows[4096];
	int distinct_counts = 0, empty_parts = 0, last_np = -1;
	for (int run = 0; run < 2; run++) {
		sl_source *s = open_q(text, -1, 99);
		for (int k = 0; k < 20; k++) {
			sl_rdd *r;
			int rc = s->ops->next(s, 1000 * (k + 1), &r, &err);
			cr_assert(rc >= 0);
			char *sz = run ? sizes2[k] : sizes1[k];
			dump(r, rows, sizeof rows, sz, 256);
			cr_assert(r->nparts >= 1 && r->nparts <= 8);
			char want[4096] = "";
			for (int i = 0; i < 30; i++)
				sprintf(want + strlen(want), "%s%d", i ? "|" : "", k * 100 + i);
			cr_expect_str_eq(rows, want, "content and order are kept");
			if (run == 0) {
				if ((int)r->nparts != last_np)
					distinct_counts++;
				last_np = (int)r->nparts;
				for (size_t p = 0; p < r->nparts; p++)
					empty_parts += r->part[p]->len == 0;
			}
			sl_rdd_unref(r);
		}
		s->ops->free(s);
	}
	for (int k = 0; k < 20; k++)
		cr_expect_str_eq(sizes1[k], sizes2[k], "same seed, same split");
	cr_expect(distinct_counts > 3, "partition counts vary");
	(void)empty_parts;
	/* another seed splits differently */
	sl_source *s = open_q(text, -1, 100);
	int same = 0;
	for (int k = 0; k < 20; k++) {
		sl_rdd *r;
		s->ops->next(s, 1000 * (k + 1), &r, &err);
		char sz[256];
		dump(r, rows, sizeof rows, sz, sizeof sz);
		same += !strcmp(sz, sizes1[k]);
		sl_rdd_unref(r);
	}
	cr_expect(same < 20);
	s->ops->free(s);
}

static void q_err(const char *text, int code, const char *msg_after_path)
{
	char *p = write_file("bad.jsonl", text);
	memset(&err, 0, sizeof err);
	sl_source *s = sl_queue_source_new(&env, p, 1, 0, &err);
	cr_expect_null(s, "'%s' accepted", text);
	if (s) {
		s->ops->free(s);
		return;
	}
	char want[1024];
	snprintf(want, sizeof want, "%s:%s", p, msg_after_path);
	cr_expect_eq(err.code, code);
	cr_expect_str_eq(err.msg, want);
	cr_expect_eq(err.line, 0);
	cr_expect_str_eq(err.context, "");
}

Test(queue, type_errors)
{
	q_err("[[\"a\", \"b\"]]\n[[\"c\", 1]]\n", -EINVAL,
	      "2:2: record has type (String, Long) but the stream's type is (String, String) (from "
	      "line 1)");
	q_err("\n[\"x\", \"y\"]\n[\"z\",  3]\n", -EINVAL,
	      "3:8: record has type Long but the stream's type is String (from line 2)");
	q_err("[1, 2.5, true]", -EINVAL,
	      "1:10: record has type Boolean but the stream's type is Double (from line 1)");
	q_err("[[1, 2]]\n[[1, 2, 3]]", -EINVAL,
	      "2:2: record has type (Long, Long, Long) but the stream's type is (Long, Long) (from "
	      "line 1)");
	q_err("[[1, [2, 3]]]\n[[1, 2]]", -EINVAL,
	      "2:2: record has type (Long, Long) but the stream's type is (Long, (Long, Long)) "
	      "(from line 1)");
	q_err("[\"a\", {\"k\": 1}]", -EINVAL,
	      "1:7: a record must be a string, a number, a boolean or an array of 2 to 22 of those "
	      "(a tuple), found an object");
	q_err("[[1]]", -EINVAL,
	      "1:2: a record must be a string, a number, a boolean or an array of 2 to 22 of those "
	      "(a tuple), found an array of 1 value");
	q_err("[[]]", -EINVAL,
	      "1:2: a record must be a string, a number, a boolean or an array of 2 to 22 of those "
	      "(a tuple), found an array of 0 values");
	q_err("[null]", -EINVAL,
	      "1:2: a record must be a string, a number, a boolean or an array of 2 to 22 of those "
	      "(a tuple), found null");
	q_err(
	    "[[\"a\", [1, null]]]", -EINVAL,
	    "1:12: a record must be a string, a number, a boolean or an array of 2 to 22 of those "
	    "(a tuple), found null");
	q_err("[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23]]", -EINVAL,
	      "1:2: a record must be a string, a number, a boolean or an array of 2 to 22 of those "
	      "(a tuple), found an array of 23 values");
	q_err("[1]\n\"x\"\n", -EINVAL,
	      "2:1: a line must be a JSON array of records or null, found a string");
	q_err("  {}", -EINVAL,
	      "1:3: a line must be a JSON array of records or null, found an object");
}

Test(queue, syntax_errors)
{
	q_err("[1]\n[1, 2\n", -EINVAL, "2:6: expected ',' or ']', found end of input");
	q_err("[1]\n[1] [2]\n", -EINVAL, "2:5: unexpected '[' after the JSON value");
	q_err("[\"a\",\n\"b\"]\n", -EINVAL, "1:6: expected a value, found end of input");
	q_err("[\"a\\x\"]", -EINVAL,
	      "1:4: invalid escape: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, "
	      "found 'x' after '\\'");
}

Test(queue, tuple_max_arity_ok)
{
	sl_source *s = open_q("[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22]]", 1, 0);
	expect_batch(s, 1, SL_SOURCE_END,
		     "(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22)", NULL);
	s->ops->free(s);
}

Test(queue, missing_file)
{
	char p[256];
	snprintf(p, sizeof p, "%s/nope.jsonl", dir);
	sl_source *s = sl_queue_source_new(&env, p, 1, 0, &err);
	cr_expect_null(s);
	cr_expect_eq(err.code, -ENOENT);
	char want[512];
	snprintf(want, sizeof want, "cannot open '%s': No such file or directory", p);
	cr_expect_str_eq(err.msg, want);

	s = sl_queue_source_new(&env, dir, 1, 0, &err);
	cr_expect_null(s);
	cr_expect_eq(err.code, -EISDIR);
}

Test(queue, many_records)
{
	/* a line with 100k records, strings that need several column buffers */
	size_t n = 100000;
	char *text = malloc(n * 16 + 8);
	size_t o = 0;
	text[o++] = '[';
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(text + o, "%s\"w%zu\"", i ? "," : "", i);
	text[o++] = ']';
	text[o] = 0;
	sl_source *s = open_q(text, 4, 0);
	free(text);
	sl_rdd *r;
	cr_assert_eq(s->ops->next(s, 1000, &r, &err), SL_SOURCE_END);
	cr_assert_eq(r->nparts, 4);
	cr_expect_eq(sl_rdd_rows(r), n);
	const sl_col *c = r->part[3];
	cr_expect_eq(c->len, n / 4);
	cr_expect_eq(c->v.s[c->len - 1].len, 6);
	cr_expect(memcmp(c->v.s[c->len - 1].p, "w99999", 6) == 0);
	sl_rdd_unref(r);
	s->ops->free(s);
}

Test(queue, out_of_memory_while_building)
{
	sl_source *s = open_q("[[\"a\", 1], [\"b\", 2], [\"c\", 3]]\n", 2, 0);
	int failed = 0;
	for (long k = 0; k < 40; k++) {
		sl_mem_fail_after(env.mem, k);
		sl_rdd *r = (sl_rdd *)0x1;
		int rc = s->ops->next(s, 1000, &r, &err);
		sl_mem_fail_after(env.mem, -1);
		if (rc == -ENOMEM) {
			failed++;
			cr_expect_null(r);
			cr_expect(strstr(err.msg, "out of memory"));
		} else {
			cr_assert_eq(rc, SL_SOURCE_END);
			char rows[256], sizes[64];
			dump(r, rows, sizeof rows, sizes, sizeof sizes);
			cr_expect_str_eq(rows, "(a,1)|(b,2)|(c,3)");
			sl_rdd_unref(r);
		}
		/* rebuild the source so the first line is served again */
		s->ops->free(s);
		s = open_q("[[\"a\", 1], [\"b\", 2], [\"c\", 3]]\n", 2, 0);
		if (rc == SL_SOURCE_END && k > 5)
			break;
	}
	cr_expect(failed > 3);
	s->ops->free(s);
}
