/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmt.c - Scala/Java text forms of values (see fmt.h for the formats).
 *
 * Double.toString follows the JDK 19+ specification (Raffaello Giulietti's algorithm):
 * among the decimals that round to v, take those of minimal length m (when m == 1,
 * those of length 1 or 2), pick the one closest to v. We find m by trying the correctly
 * rounded m-digit decimals (derived from one %.16e printf) for a binary-searched m and
 * checking that strtod reads them back as v; the correctly rounded m-digit decimal is
 * the closest m-digit one, so when it round-trips it is Java's choice (at a binade
 * boundary its neighbour on the other side may round-trip instead; we check that one
 * too). Layout: plain decimal for 1e-3 <= |v| < 1e7 with at least one fraction digit,
 * else d.dddE<exp>. Checked against JDK 17 on 300k values: equal except where JDK 17's
 * old algorithm is not shortest/closest (e.g. it prints 1.0E-323 and
 * 9.999999999999999E22 where JDK 19+ prints 9.9E-324 and 1.0E23).
 */
#include "fmt.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sbuf_grow(sl_sbuf *b, size_t need)
{
	if (need < b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap <= need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Contract: see fmt.h. */
int sl_sbuf_put(sl_sbuf *b, const char *s, size_t n)
{
	if (n > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	int rc = sbuf_grow(b, b->len + n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Contract: see fmt.h. */
int sl_sbuf_printf(sl_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof small)
		return sl_sbuf_put(b, small, (size_t)n);
	int rc = sbuf_grow(b, b->len + (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Contract: see fmt.h. */
void sl_sbuf_fini(sl_sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- Double.toString ---- */

/* Split "d.ddde[+-]xx" (as printed by %.*e) into digits and the decimal exponent. */
static int split_e(const char *s, char *dig, int *exp10)
{
	int n = 0;
	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9')
			dig[n++] = *s;
	dig[n] = '\0';
	*exp10 = *s == 'e' ? atoi(s + 1) : 0;
	return n;
}

static double join_e(const char *dig, int n, int exp10)
{
	char tmp[48], *p = tmp;
	*p++ = dig[0];
	*p++ = '.';
	memcpy(p, dig + 1, (size_t)n - 1);
	p += n - 1;
	*p++ = 'e';
	if (exp10 < 0) {
		*p++ = '-';
		exp10 = -exp10;
	}
	if (exp10 >= 100)
		*p++ = (char)('0' + exp10 / 100);
	if (exp10 >= 10)
		*p++ = (char)('0' + exp10 / 10 % 10);
	*p++ = (char)('0' + exp10 % 10);
	*p = '\0';
	return strtod(tmp, NULL);
}

/* dig (n digits) += 1 unit in the last place (dir > 0) or -= 1 (dir < 0). Returns 0 if
 * the result is not an n-digit decimal of the same layout (decade change downwards). */
static int step_digits(char *dig, int n, int *exp10, int dir)
{
	int i = n - 1;
	if (dir > 0) {
		while (i >= 0 && dig[i] == '9')
			dig[i--] = '0';
		if (i < 0) {
			dig[0] = '1';
			(*exp10)++;
			return 1;
		}
		dig[i]++;
		return 1;
	}
	while (i >= 0 && dig[i] == '0')
		dig[i--] = '9';
	if (i < 0 || (i == 0 && dig[0] == '1'))
		return 0;
	dig[i]--;
	return 1;
}

/* The correctly rounded p-digit decimal of v (p < 17), from its 17-digit rounding d17:
 * rounding d17 again gives the same digits unless d17 ends in a tie (5 then zeros) -
 * x < tie implies d17 <= tie and x > tie implies d17 >= tie, as ties have fewer than
 * 17 digits - and only then do we ask printf. */
static void round_digits(double v, const char *d17, int e17, int p, char *dig, int *exp10)
{
	int tail = 0;
	for (int i = p + 1; i < 17; i++)
		tail |= d17[i] != '0';
	if (d17[p] == '5' && !tail) {
		char tmp[48];
		snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
		split_e(tmp, dig, exp10);
		return;
	}
	memcpy(dig, d17, (size_t)p);
	dig[p] = '\0';
	*exp10 = e17;
	if (d17[p] >= '5') {
		int i = p - 1;
		while (i >= 0 && dig[i] == '9')
			dig[i--] = '0';
		if (i >= 0) {
			dig[i]++;
		} else {
			dig[0] = '1';
			(*exp10)++;
		}
	}
}

/* If some p-digit decimal reads back as v, store the one Java picks at length p (the
 * correctly rounded one, or at a binade boundary, where the rounding interval is
 * asymmetric, possibly its neighbour on the other side) and return p; else 0. Since a
 * p-digit decimal that rounds to v is also a (p+1)-digit one, success is monotonic in
 * p, which lets the caller binary-search. */
static int try_digits(double v, const char *d17, int e17, int p, char dig[24], int *exp10)
{
	if (p >= 17) {
		memcpy(dig, d17, 18);
		*exp10 = e17;
		return 17;
	}
	round_digits(v, d17, e17, p, dig, exp10);
	double back = join_e(dig, p, *exp10);
	if (back == v)
		return p;
	int ae = *exp10;
	if (step_digits(dig, p, &ae, back < v ? 1 : -1) && join_e(dig, p, ae) == v) {
		*exp10 = ae;
		return p;
	}
	return 0;
}

/* Shortest digits of finite v > 0 (Java's choice): dig gets n digits without trailing
 * zeros, v ~ d.ddd x 10^exp10. Returns n. One printf for 17 digits, then a binary
 * search over the length with strtod checks. */
static int shortest(double v, char dig[24], int *exp10)
{
	char tmp[48], d17[24], cand[24];
	snprintf(tmp, sizeof tmp, "%.16e", v);
	int e17, ce, lo = 1, hi = 17, best = 0;
	split_e(tmp, d17, &e17);
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (try_digits(v, d17, e17, mid, cand, &ce)) {
			hi = best = mid;
			memcpy(dig, cand, sizeof cand);
			*exp10 = ce;
		} else {
			lo = mid + 1;
		}
	}
	if (best != lo)
		try_digits(v, d17, e17, lo, dig, exp10); /* lo == 17 here: always succeeds */
	int n = lo;
	if (n == 1 && try_digits(v, d17, e17, 2, cand, &ce)) {
		/* Lengths 1 and 2 compete; the correctly rounded 2-digit one is the closest. */
		memcpy(dig, cand, sizeof cand);
		*exp10 = ce;
		n = 2;
	}
	while (n > 1 && dig[n - 1] == '0')
		dig[--n] = '\0';
	return n;
}

/* Contract: see fmt.h. */
size_t sl_fmt_f64(char buf[32], double v)
{
	if (isnan(v))
		return (size_t)snprintf(buf, 32, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, 32, v < 0 ? "-Infinity" : "Infinity");
	if (v == 0)
		return (size_t)snprintf(buf, 32, signbit(v) ? "-0.0" : "0.0");
	size_t o = 0;
	if (v < 0) {
		buf[o++] = '-';
		v = -v;
	}
	char dig[24];
	int e;
	int n = shortest(v, dig, &e);
	if (e >= -3 && e < 7) {
		if (e >= 0) {
			for (int i = 0; i <= e; i++)
				buf[o++] = i < n ? dig[i] : '0';
			buf[o++] = '.';
			if (n > e + 1)
				for (int i = e + 1; i < n; i++)
					buf[o++] = dig[i];
			else
				buf[o++] = '0';
		} else {
			buf[o++] = '0';
			buf[o++] = '.';
			for (int i = 0; i < -e - 1; i++)
				buf[o++] = '0';
			for (int i = 0; i < n; i++)
				buf[o++] = dig[i];
		}
		buf[o] = '\0';
		return o;
	}
	buf[o++] = dig[0];
	buf[o++] = '.';
	if (n > 1)
		for (int i = 1; i < n; i++)
			buf[o++] = dig[i];
	else
		buf[o++] = '0';
	o += (size_t)snprintf(buf + o, 32 - o, "E%d", e);
	return o;
}

/* ---- rows ---- */

/* Contract: see fmt.h. */
int sl_fmt_row(sl_sbuf *b, const sl_col *c, size_t i)
{
	const sl_type *t = c->type;
	char tmp[32];
	int rc = 0;
	switch (t->kind) {
	case SL_I64: {
		int64_t v = c->v.i64[i];
		uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
		char *e = tmp + sizeof tmp, *p = e;
		do
			*--p = (char)('0' + u % 10);
		while (u /= 10);
		if (v < 0)
			*--p = '-';
		return sl_sbuf_put(b, p, (size_t)(e - p));
	}
	case SL_F64: return sl_sbuf_put(b, tmp, sl_fmt_f64(tmp, c->v.f64[i]));
	case SL_BOOL: return c->v.b[i] ? sl_sbuf_put(b, "true", 4) : sl_sbuf_put(b, "false", 5);
	case SL_STR: return sl_sbuf_put(b, c->v.s[i].p, (size_t)c->v.s[i].len);
	case SL_TUPLE:
		rc = sl_sbuf_put(b, "(", 1);
		for (int k = 0; !rc && k < t->n; k++) {
			if (k)
				rc = sl_sbuf_put(b, ",", 1);
			if (!rc)
				rc = sl_fmt_row(b, c->kid[k], i);
		}
		return rc ? rc : sl_sbuf_put(b, ")", 1);
	case SL_LIST: {
		static const char *const name[] = {"List(", "Array(", "CompactBuffer("};
		const char *open = t->style <= SL_LIST_BUFFER ? name[t->style] : name[0];
		rc = sl_sbuf_put(b, open, strlen(open));
		for (uint32_t k = c->v.off[i]; !rc && k < c->v.off[i + 1]; k++) {
			if (k > c->v.off[i])
				rc = sl_sbuf_put(b, ", ", 2);
			if (!rc)
				rc = sl_fmt_row(b, c->kid[0], k);
		}
		return rc ? rc : sl_sbuf_put(b, ")", 1);
	}
	case SL_OPT:
		if (!c->valid[i])
			return sl_sbuf_put(b, "None", 4);
		rc = sl_sbuf_put(b, "Some(", 5);
		if (!rc)
			rc = sl_fmt_row(b, c->kid[0], i);
		return rc ? rc : sl_sbuf_put(b, ")", 1);
	}
	return sl_sbuf_put(b, "?", 1);
}

/* Contract: see fmt.h. */
int sl_fmt_print(sl_sbuf *b, const sl_rdd *r, int64_t time_ms, long num)
{
	static const char dashes[] = "-------------------------------------------\n";
	int rc = sl_sbuf_put(b, dashes, sizeof dashes - 1);
	if (!rc)
		rc = sl_sbuf_printf(b, "Time: %" PRId64 " ms\n", time_ms);
	if (!rc)
		rc = sl_sbuf_put(b, dashes, sizeof dashes - 1);
	if (num < 0)
		num = 0;
	size_t left = (size_t)num;
	int more = 0;
	for (size_t p = 0; r && !rc && !more && p < r->nparts; p++) {
		const sl_col *c = r->part[p];
		if (!c)
			continue;
		for (size_t i = 0; !rc && i < c->len; i++) {
			if (!left) {
				more = 1;
				break;
			}
			rc = sl_fmt_row(b, c, i);
			if (!rc)
				rc = sl_sbuf_put(b, "\n", 1);
			left--;
		}
	}
	if (!rc && more)
		rc = sl_sbuf_put(b, "...\n", 4);
	return rc ? rc : sl_sbuf_put(b, "\n", 1);
}
