/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_text_kernels.c - the text kernels (kernels/text.h) of every runnable ISA against
 * independent byte-at-a-time reference implementations written here (so a bug in the generic
 * algorithm shared by all ISAs is caught too), and against the scalar build. Inputs sit at the
 * very end of their allocation, at every misalignment, so any read past p[n - 1] is caught under
 * ASan; data is seeded random, including NULs and high bytes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* --- the ISAs under test -----------------------------------------------------------------------
 */

typedef struct isa {
	const char *name;
	size_t (*find_eol)(const char *, size_t);
	size_t (*split)(const char *, size_t, char, uint32_t *, size_t);
	int (*i64)(const char *, size_t, int64_t *);
	int (*f64)(const char *, size_t, double *);
	size_t (*csv)(const char *, size_t, unsigned, const char **);
	size_t (*csv_i64)(const char *, size_t, unsigned, int64_t *, uint8_t *, size_t, size_t *);
	size_t (*csv_f64)(const char *, size_t, unsigned, double *, uint8_t *, size_t, size_t *);
	size_t (*json)(const char *, size_t, const char *, size_t, const char **);
} isa;

#define ISA(x)                                                                                     \
	{                                                                                          \
#x, sl_find_eol_##x, sl_split_offsets_##x, sl_parse_i64_##x, sl_parse_f64_##x,     \
		    sl_csv_field_##x, sl_csv_column_i64_##x, sl_csv_column_f64_##x,                \
		    sl_json_field_##x                                                              \
	}

static const isa isas[] = {ISA(scalar), ISA(avx2), ISA(avx512)};
#define NISA (sizeof(isas) / sizeof(isas[0]))

static int runnable(size_t k)
{
	__builtin_cpu_init();
	if (k == 1)
		return __builtin_cpu_supports("avx2");
	if (k == 2)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
	return 1;
}

#define FOR_ISA(v)                                                                                 \
	for (size_t v##_k = 0; v##_k < NISA; v##_k++)                                              \
		for (const isa *v = &isas[v##_k]; v && runnable(v##_k); v = NULL)

/* --- seeded data and placement -----------------------------------------------------------------
 */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

typedef struct placed {
	char *mem;
	char *p;
} placed;

/* A copy of s[0..n-1] at p, off bytes into a fresh allocation that ends at p + n. */
static placed place_tight(const char *s, size_t n, size_t off)
{
	placed pl;
	pl.mem = malloc(off + n ? off + n : 1);
	cr_assert_not_null(pl.mem);
	pl.p = pl.mem + off;
	if (n)
		memcpy(pl.p, s, n);
	return pl;
}

static const size_t big_lens[] = {4096, 4097, 4098, 4099, 4100, 4103, 4104, 4111, 4112, 4127,
				  4128, 4129, 4159, 4160, 4161, 4191, 4192, 4223, 4224, 4225};
#define NBIG (sizeof(big_lens) / sizeof(big_lens[0]))

/* Lengths 0..130 and 4096+k. */
static size_t test_len(size_t i)
{
	return i <= 130 ? i : big_lens[i - 131];
}
#define NLEN (131 + NBIG)

/* Random bytes where about one in `rate` is one of the specials. */
static void fill(char *b, size_t n, const char *specials, unsigned rate)
{
	size_t ns = strlen(specials);
	for (size_t i = 0; i < n; i++) {
		if (ns && rndn(rate) == 0)
			b[i] = specials[rndn((unsigned)ns)];
		else
			b[i] = (char)rnd();
	}
}

/* --- reference implementations, one byte at a time ------------------------------------------ */

static size_t ref_eol(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' || p[i] == '\r')
			return i;
	return n;
}

static size_t ref_split(const char *p, size_t n, char d, uint32_t *o, size_t max)
{
	size_t c = 0;
	for (size_t i = 0; i < n && c < max; i++)
		if (p[i] == d)
			o[c++] = (uint32_t)i;
	return c;
}

static int ref_i64(const char *p, size_t n, int64_t *out)
{
	size_t i = 0;
	if (n && (p[0] == '+' || p[0] == '-'))
		i = 1;
	if (i == n)
		return -EINVAL;
	for (size_t j = i; j < n; j++)
		if (p[j] < '0' || p[j] > '9')
			return -EINVAL;
	/* strtoll on the sign and the digits after the leading zeros */
	char buf[32];
	size_t j = i, k = 0;
	while (j < n && p[j] == '0')
		j++;
	if (n - j > 19)
		return -ERANGE;
	if (i)
		buf[k++] = p[0];
	buf[k++] = '0';
	memcpy(buf + k, p + j, n - j);
	buf[k + n - j] = 0;
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

/* The grammar of sl_parse_f64, then strtod. */
static int ref_f64(const char *p, size_t n, double *out)
{
	size_t i = 0, d = 0;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++, d++;
	if (i < n && p[i] == '.') {
		i++;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++, d++;
	}
	if (!d)
		return -EINVAL;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t e = 0;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++, e++;
		if (!e)
			return -EINVAL;
	}
	if (i != n)
		return -EINVAL;
	char *buf = malloc(n + 1);
	memcpy(buf, p, n);
	buf[n] = 0;
	double v = strtod(buf, NULL);
	free(buf);
	*out = v;
	return isinf(v) ? -ERANGE : 0;
}

static size_t ref_csv(const char *s, size_t n, unsigned col, const char **f)
{
	size_t pos = 0;
	for (unsigned k = 0;; k++) {
		size_t fs, fl, next;
		if (pos < n && s[pos] == '"') {
			size_t j = pos + 1;
			for (;;) {
				while (j < n && s[j] != '"')
					j++;
				if (j >= n)
					return SIZE_MAX;
				if (j + 1 < n && s[j + 1] == '"') {
					j += 2;
					continue;
				}
				break;
			}
			if (j + 1 < n && s[j + 1] != ',')
				return SIZE_MAX;
			fs = pos + 1;
			fl = j - pos - 1;
			next = j + 1 < n ? j + 2 : SIZE_MAX;
		} else {
			size_t j = pos;
			while (j < n && s[j] != ',')
				j++;
			fs = pos;
			fl = j - pos;
			next = j < n ? j + 1 : SIZE_MAX;
		}
		if (k == col) {
			*f = s + fs;
			return fl;
		}
		if (next == SIZE_MAX)
			return SIZE_MAX;
		pos = next;
	}
}

static int jws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* i just past an opening quote: index of the closing one, or >= n. */
static size_t ref_strend(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] != '"')
		i += s[i] == '\\' ? 2 : 1;
	return i;
}

/* A JSON literal or number, checked as RFC 8259 spells it: strtod would take more ("inf",
 * "0x1", "+1", "1.", ".5", leading zeros), so each piece is checked by hand. */
static int ref_token_str_ok(const char *b);

static int ref_token_ok(const char *t, size_t n)
{
	char *b = strndup(t, n);
	cr_assert_not_null(b);
	int ok = strlen(b) == n && ref_token_str_ok(b);
	free(b);
	return ok;
}

static int ref_token_str_ok(const char *b)
{
	if (!strcmp(b, "true") || !strcmp(b, "false") || !strcmp(b, "null"))
		return 1;
	const char *p = b + (b[0] == '-');
	size_t d = strspn(p, "0123456789");
	if (d == 0 || (p[0] == '0' && d > 1))
		return 0;
	p += d;
	if (*p == '.') {
		d = strspn(++p, "0123456789");
		if (!d)
			return 0;
		p += d;
	}
	if (*p == 'e' || *p == 'E') {
		p += p[1] == '+' || p[1] == '-' ? 2 : 1;
		d = strspn(p, "0123456789");
		if (!d)
			return 0;
		p += d;
	}
	return *p == 0;
}

static size_t ref_json(const char *s, size_t n, const char *key, size_t kl, const char **val)
{
	size_t i = 0;
	while (i < n && jws(s[i]))
		i++;
	if (i >= n || s[i] != '{')
		return SIZE_MAX;
	i++;
	for (;;) {
		while (i < n && jws(s[i]))
			i++;
		if (i >= n || s[i] != '"')
			return SIZE_MAX;
		size_t ks = i + 1, ke = ref_strend(s, n, ks);
		if (ke >= n)
			return SIZE_MAX;
		i = ke + 1;
		while (i < n && jws(s[i]))
			i++;
		if (i >= n || s[i] != ':')
			return SIZE_MAX;
		i++;
		while (i < n && jws(s[i]))
			i++;
		if (i >= n)
			return SIZE_MAX;
		size_t vs, ve;
		if (s[i] == '"') {
			vs = i + 1;
			ve = ref_strend(s, n, vs);
			if (ve >= n)
				return SIZE_MAX;
			i = ve + 1;
		} else if (s[i] == '{' || s[i] == '[') {
			size_t depth = 0, j = i;
			for (;; j++) {
				if (j >= n)
					return SIZE_MAX;
				if (s[j] == '"') {
					j = ref_strend(s, n, j + 1);
					if (j >= n)
						return SIZE_MAX;
				} else if (s[j] == '{' || s[j] == '[') {
					depth++;
				} else if (s[j] == '}' || s[j] == ']') {
					if (--depth == 0)
						break;
				}
			}
			vs = i;
			ve = j + 1;
			i = j + 1;
		} else {
			size_t j = i;
			while (j < n && !jws(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']')
				j++;
			if (!ref_token_ok(s + i, j - i))
				return SIZE_MAX;
			vs = i;
			ve = j;
			i = j;
		}
		if (ke - ks == kl && memcmp(s + ks, key, kl) == 0) {
			*val = s + vs;
			return ve - vs;
		}
		while (i < n && jws(s[i]))
			i++;
		if (i >= n || s[i] != ',')
			return SIZE_MAX;
		i++;
	}
}

/* --- line and delimiter search -----------------------------------------------------------------
 */

static void check_lines(const char *p, size_t n, const char *what)
{
	size_t want = ref_eol(p, n);
	uint32_t *ro = malloc((n + 1) * sizeof(uint32_t)), *o = malloc((n + 1) * sizeof(uint32_t));
	/* '\n' and '\r' take the sparse flatten in the AVX-512 build, the others the dense one */
	static const char delims[] = {' ', '\n', '\r', '\0', (char)0xff};
	FOR_ISA(t)
	{
		size_t got = t->find_eol(p, n);
		if (got != want)
			cr_assert_fail("%s find_eol %s n=%zu: %zu != %zu", t->name, what, n, got,
				       want);
		for (size_t d = 0; d < sizeof(delims); d++) {
			size_t all = ref_split(p, n, delims[d], ro, n);
			size_t maxes[] = {n, all, all ? all - 1 : 0, all / 2, 1, 0, all + 70};
			for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
				size_t max = maxes[m];
				size_t wc = ref_split(p, n, delims[d], ro, max);
				/* room for the kernel's documented contract only: max slots */
				uint32_t *out = malloc((max + 1) * sizeof(uint32_t));
				size_t gc = t->split(p, n, delims[d], out, max);
				if (gc != wc || (wc && memcmp(out, ro, wc * sizeof(uint32_t))))
					cr_assert_fail(
					    "%s split %s n=%zu delim=%d max=%zu: %zu != %zu",
					    t->name, what, n, delims[d], max, gc, wc);
				free(out);
			}
		}
	}
	free(ro);
	free(o);
}

Test(text_lines, random_every_length_and_misalignment)
{
	rng_state = 0x9E3779B97F4A7C15u;
	char *src = malloc(5000);
	for (size_t li = 0; li < NLEN; li++) {
		size_t n = test_len(li);
		for (size_t off = 1; off < 64; off += (n > 130 ? 7 : 1)) {
			unsigned rate = 1 + rndn(n > 130 ? 300 : 40);
			fill(src, n, "\n\r \0", rate);
			placed pl = place_tight(src, n, off);
			check_lines(pl.p, n, "random");
			free(pl.mem);
		}
	}
	free(src);
}

Test(text_lines, delimiter_at_every_position)
{
	char *src = malloc(5000);
	static const size_t lens[] = {1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 130, 4096, 4161};
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t n = lens[li];
		for (size_t pos = 0; pos < n; pos++) {
			memset(src, 'a', n);
			src[pos] = pos & 1 ? '\r' : '\n';
			placed pl = place_tight(src, n, 1 + pos % 63);
			size_t want = pos;
			FOR_ISA(t)
			{
				if (t->find_eol(pl.p, n) != want)
					cr_assert_fail("%s find_eol n=%zu pos=%zu", t->name, n,
						       pos);
			}
			if (n <= 130 || pos % 61 == 0)
				check_lines(pl.p, n, "one delimiter");
			free(pl.mem);
		}
		/* every byte a delimiter: the densest masks, for the sparse flatten too */
		memset(src, ' ', n);
		placed pl = place_tight(src, n, 5);
		check_lines(pl.p, n, "all delimiters");
		free(pl.mem);
		memset(src, '\n', n);
		pl = place_tight(src, n, 3);
		check_lines(pl.p, n, "all newlines");
		free(pl.mem);
	}
	free(src);
}

/* --- numbers -----------------------------------------------------------------------------------
 */

typedef struct i64_case {
	const char *s;
	int rc;
	int64_t v;
} i64_case;

static const i64_case i64_cases[] = {
    {"0", 0, 0},
    {"-0", 0, 0},
    {"+0", 0, 0},
    {"+5", 0, 5},
    {"-5", 0, -5},
    {"", -EINVAL, 0},
    {"-", -EINVAL, 0},
    {"+", -EINVAL, 0},
    {"--1", -EINVAL, 0},
    {"+-1", -EINVAL, 0},
    {" 1", -EINVAL, 0},
    {"1 ", -EINVAL, 0},
    {"1a", -EINVAL, 0},
    {"0x10", -EINVAL, 0},
    {"1.0", -EINVAL, 0},
    {"007", 0, 7},
    {"-00000000000000000000000000000000000042", 0, -42},
    {"00000000000000000000000000009223372036854775807", 0, INT64_MAX},
    {"9223372036854775807", 0, INT64_MAX},
    {"-9223372036854775808", 0, INT64_MIN},
    {"9223372036854775808", -ERANGE, 0},
    {"-9223372036854775809", -ERANGE, 0},
    {"18446744073709551615", -ERANGE, 0},
    {"18446744073709551616", -ERANGE, 0},
    {"99999999999999999999", -ERANGE, 0},
    {"999999999999999999999999999999999999999", -ERANGE, 0},
    {"99999999999999999999x", -EINVAL, 0},
    {"1234567890123456", 0, 1234567890123456},
    {"12345678901234567", 0, 12345678901234567},
    {"123456789012345678", 0, 123456789012345678},
    {"1234567890123456789", 0, 1234567890123456789},
    {"12345678/", -EINVAL, 0},
    {"1234567:", -EINVAL, 0},
    {"1234567\0", -EINVAL, 0},
};

Test(text_numbers, i64_edges)
{
	for (size_t c = 0; c < sizeof(i64_cases) / sizeof(i64_cases[0]); c++) {
		const i64_case *k = &i64_cases[c];
		size_t n = strlen(k->s) + (strcmp(k->s, "1234567") == 0);
		for (size_t off = 1; off < 64; off += 9) {
			placed pl = place_tight(k->s, n, off);
			FOR_ISA(t)
			{
				int64_t v = 77;
				int rc = t->i64(pl.p, n, &v);
				if (rc != k->rc || (rc == 0 && v != k->v) || (rc && v != 77))
					cr_assert_fail("%s i64 \"%s\": rc %d v %lld", t->name, k->s,
						       rc, (long long)v);
			}
			free(pl.mem);
		}
	}
}

Test(text_numbers, i64_random)
{
	rng_state = 42;
	char s[64];
	static const char pal[] = "0123456789-+ a";
	for (int it = 0; it < 300000; it++) {
		size_t n = rndn(26);
		int kind = rndn(4);
		for (size_t i = 0; i < n; i++) {
			if (kind == 0)
				s[i] = pal[rndn(sizeof(pal) - 1)];
			else
				s[i] = (char)('0' + rndn(10));
		}
		if (kind == 2 && n)
			s[0] = rndn(2) ? '-' : '+';
		if (kind == 3 && n > 2)
			s[rndn((unsigned)n)] = (char)rnd();
		placed pl = place_tight(s, n, 1 + rndn(63));
		int64_t want = 0;
		int wrc = ref_i64(pl.p, n, &want);
		FOR_ISA(t)
		{
			int64_t v = 0;
			int rc = t->i64(pl.p, n, &v);
			if (rc != wrc || (rc == 0 && v != want))
				cr_assert_fail("%s i64 \"%.*s\": rc %d/%d", t->name, (int)n, pl.p,
					       rc, wrc);
		}
		free(pl.mem);
	}
}

typedef struct f64_case {
	const char *s;
	int rc;
	double v;
} f64_case;

static const f64_case f64_cases[] = {
    {"0", 0, 0.0},
    {"-0", 0, -0.0},
    {"-0.0e5", 0, -0.0},
    {"0e999999999999", 0, 0.0},
    {"+5", 0, 5.0},
    {".5", 0, 0.5},
    {"5.", 0, 5.0},
    {"-.5e1", 0, -5.0},
    {"1e308", 0, 1e308},
    {"1.7976931348623157e308", 0, 1.7976931348623157e308},
    {"1.7976931348623159e308", -ERANGE, HUGE_VAL},
    {"1e400", -ERANGE, HUGE_VAL},
    {"-1e400", -ERANGE, -HUGE_VAL},
    {"4.9e-324", 0, 4.9e-324},
    {"2e-324", 0, 0.0},
    {"1e-400", 0, 0.0},
    {"2.2250738585072014e-308", 0, 2.2250738585072014e-308},
    {"9007199254740993", 0, 9007199254740992.0},
    {"9007199254740995", 0, 9007199254740996.0},
    {"0.1", 0, 0.1},
    {"3.14159", 0, 3.14159},
    {"123456789012345678901234567890", 0, 123456789012345678901234567890.0},
    {"0.1000000000000000055511151231257827021181583404541015625", 0, 0.1},
    {"0.000000000000000000000000000000000000001", 0, 1e-39},
    {"1E5", 0, 1e5},
    {"1e+5", 0, 1e5},
    {"1e-5", 0, 1e-5},
    {"", -EINVAL, 0},
    {"-", -EINVAL, 0},
    {".", -EINVAL, 0},
    {"-.", -EINVAL, 0},
    {"e5", -EINVAL, 0},
    {".e5", -EINVAL, 0},
    {"1e", -EINVAL, 0},
    {"1e+", -EINVAL, 0},
    {"1e5.", -EINVAL, 0},
    {"1.2.3", -EINVAL, 0},
    {"0x10", -EINVAL, 0},
    {"inf", -EINVAL, 0},
    {"nan", -EINVAL, 0},
    {" 1", -EINVAL, 0},
    {"1 ", -EINVAL, 0},
    {"1,5", -EINVAL, 0},
};

static int same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

Test(text_numbers, f64_edges)
{
	for (size_t c = 0; c < sizeof(f64_cases) / sizeof(f64_cases[0]); c++) {
		const f64_case *k = &f64_cases[c];
		size_t n = strlen(k->s);
		for (size_t off = 1; off < 64; off += 13) {
			placed pl = place_tight(k->s, n, off);
			FOR_ISA(t)
			{
				double v = 77;
				int rc = t->f64(pl.p, n, &v);
				int good =
				    rc == k->rc && (rc == -EINVAL ? v == 77 : same_double(v, k->v));
				if (!good)
					cr_assert_fail("%s f64 \"%s\": rc %d v %.17g", t->name,
						       k->s, rc, v);
			}
			free(pl.mem);
		}
	}
}

Test(text_numbers, f64_random_against_strtod)
{
	rng_state = 7;
	char s[400];
	for (int it = 0; it < 300000; it++) {
		size_t n = 0;
		int kind = rndn(6);
		if (kind == 0) { /* junk from the number alphabet */
			static const char pal[] = "0123456789.eE+-";
			n = rndn(30);
			for (size_t i = 0; i < n; i++)
				s[i] = pal[rndn(sizeof(pal) - 1)];
		} else {
			if (rndn(3) == 0)
				s[n++] = rndn(2) ? '-' : '+';
			size_t id = rndn(kind == 5 ? 300 : 22), fd = rndn(kind == 5 ? 40 : 20);
			for (size_t i = 0; i < id; i++)
				s[n++] = (char)('0' + (i || rndn(4) ? rndn(10) : 0));
			if (fd || !id || rndn(2)) {
				s[n++] = '.';
				for (size_t i = 0; i < fd; i++)
					s[n++] = (char)('0' + rndn(10));
			}
			if (kind >= 3) {
				s[n++] = rndn(2) ? 'e' : 'E';
				if (rndn(2))
					s[n++] = rndn(2) ? '-' : '+';
				n += (size_t)sprintf(s + n, "%u", rndn(kind == 4 ? 700 : 30));
			}
		}
		placed pl = place_tight(s, n, 1 + rndn(63));
		double want = 0;
		int wrc = ref_f64(pl.p, n, &want);
		FOR_ISA(t)
		{
			double v = 0;
			int rc = t->f64(pl.p, n, &v);
			if (rc != wrc || (rc != -EINVAL && !same_double(v, want)))
				cr_assert_fail("%s f64 \"%.*s\": rc %d/%d v %.17g want %.17g",
					       t->name, (int)n, pl.p, rc, wrc, v, want);
		}
		free(pl.mem);
	}
}

/* The one-step paths cover 1..16 digits with the '.' anywhere: try every split. */
Test(text_numbers, every_length_and_dot_position)
{
	rng_state = 2024;
	char s[40];
	for (int sign = 0; sign < 3; sign++) {
		for (size_t digits = 0; digits <= 20; digits++) {
			for (int dot = -1; dot <= (int)digits; dot++) {
				for (int rep = 0; rep < 20; rep++) {
					size_t n = 0;
					if (sign)
						s[n++] = sign == 1 ? '-' : '+';
					for (size_t d = 0; d < digits; d++) {
						if ((int)d == dot)
							s[n++] = '.';
						s[n++] = (char)('0' + rndn(10));
					}
					if (dot == (int)digits)
						s[n++] = '.';
					if (rep == 19 && n) /* one corrupted byte */
						s[rndn((unsigned)n)] = "e.x-+ 9"[rndn(7)];
					placed pl = place_tight(s, n, 1 + rndn(63));
					double wd = 0;
					int64_t wi = 0;
					int rd = ref_f64(pl.p, n, &wd), ri = ref_i64(pl.p, n, &wi);
					FOR_ISA(t)
					{
						double v = 0;
						int64_t iv = 0;
						int rc = t->f64(pl.p, n, &v),
						    ric = t->i64(pl.p, n, &iv);
						if (rc != rd ||
						    (rc != -EINVAL && !same_double(v, wd)))
							cr_assert_fail("%s f64 \"%.*s\"", t->name,
								       (int)n, pl.p);
						if (ric != ri || (ric == 0 && iv != wi))
							cr_assert_fail("%s i64 \"%.*s\"", t->name,
								       (int)n, pl.p);
					}
					free(pl.mem);
				}
			}
		}
	}
}

Test(text_numbers, f64_long_input_uses_heap)
{
	size_t n = 5000;
	char *s = malloc(n);
	memset(s, '0', n);
	s[0] = '1';
	s[1] = '.';
	s[n - 1] = '1';
	FOR_ISA(t)
	{
		double v = 0;
		cr_assert_eq(t->f64(s, n, &v), 0, "%s", t->name);
		cr_assert(same_double(v, 1.0), "%s", t->name);
	}
	free(s);
}

/* --- CSV ---------------------------------------------------------------------------------------
 */

static void check_csv(const char *line, size_t n, unsigned maxcol)
{
	for (unsigned col = 0; col <= maxcol; col++) {
		const char *wf = NULL;
		size_t wl = ref_csv(line, n, col, &wf);
		FOR_ISA(t)
		{
			const char *f = NULL;
			size_t l = t->csv(line, n, col, &f);
			if (l != wl || (l != SIZE_MAX && f != wf))
				cr_assert_fail("%s csv \"%.*s\" col %u: %zu != %zu", t->name,
					       (int)n, line, col, l, wl);
		}
	}
}

static size_t csv_one(const isa *t, const char *s, unsigned col, const char **f)
{
	return t->csv(s, strlen(s), col, f);
}

Test(text_csv, edges)
{
	const char *f;
	FOR_ISA(t)
	{
		cr_assert_eq(csv_one(t, "", 0, &f), 0);
		cr_assert_eq(csv_one(t, "", 1, &f), SIZE_MAX);
		cr_assert_eq(csv_one(t, "a,", 1, &f), 0);
		cr_assert_eq(csv_one(t, "a,", 2, &f), SIZE_MAX);
		cr_assert_eq(csv_one(t, "a,,c", 1, &f), 0);
		cr_assert_eq(csv_one(t, "a,,c", 2, &f), 1);
		cr_assert_eq(*f, 'c');
		cr_assert_eq(csv_one(t, "\"x,y\",z", 1, &f), 1);
		cr_assert_eq(*f, 'z');
		cr_assert_eq(csv_one(t, "\"x,y\",z", 0, &f), 3);
		cr_assert_eq(memcmp(f, "x,y", 3), 0);
		cr_assert_eq(csv_one(t, "\"a\"\"b\",c", 0, &f), 4);
		cr_assert_eq(memcmp(f, "a\"\"b", 4), 0);
		cr_assert_eq(csv_one(t, "\"a\"\",b\",c", 1, &f), 1);
		cr_assert_eq(*f, 'c');
		cr_assert_eq(csv_one(t, "\"unterminated,a", 1, &f), SIZE_MAX);
		cr_assert_eq(csv_one(t, "\"x\"y,a", 1, &f), SIZE_MAX);
		cr_assert_eq(csv_one(t, "ab\"c,d", 1, &f), 1);
		cr_assert_eq(*f, 'd');
		cr_assert_eq(csv_one(t, "\"\",d", 0, &f), 0);
		cr_assert_eq(csv_one(t, "1,2,3,4,5,6,7,8,9,10,11,12", 11, &f), 2);
		cr_assert_eq(memcmp(f, "12", 2), 0);
	}
}

Test(text_csv, random_lines)
{
	rng_state = 99;
	char *src = malloc(5000);
	static const char pal[] = ",,,,\"\"a1 \r\0";
	for (size_t li = 0; li < NLEN; li++) {
		size_t n = test_len(li);
		for (size_t off = 1; off < 64; off += (n > 130 ? 11 : 3)) {
			int quotes = rndn(3);
			for (size_t i = 0; i < n; i++) {
				unsigned r = rndn(100);
				src[i] = r < 10                          ? ','
					 : r < 10 + 2 * (unsigned)quotes ? '"'
					 : r < 80                        ? 'a' + (char)rndn(3)
						  : pal[rndn(sizeof(pal) - 1)];
			}
			placed pl = place_tight(src, n, off);
			check_csv(pl.p, n, n > 130 ? 40 : 14);
			free(pl.mem);
			if (n > 130) { /* a far column across many blocks */
				placed p2 = place_tight(src, n, off);
				unsigned far = (unsigned)(n / 12);
				for (unsigned col = far - 3; col < far + 3; col++) {
					const char *wf, *f;
					size_t wl = ref_csv(p2.p, n, col, &wf);
					FOR_ISA(t)
					{
						size_t l = t->csv(p2.p, n, col, &f);
						if (l != wl || (l != SIZE_MAX && f != wf))
							cr_assert_fail("%s far col %u n %zu",
								       t->name, col, n);
					}
				}
				free(p2.mem);
			}
		}
	}
	free(src);
}

/* Bulk column parse against a line loop over the references. */
static void check_bulk(const char *buf, size_t n, unsigned col, size_t max)
{
	size_t cap = max + 1;
	int64_t *wi = calloc(cap, 8), *gi = calloc(cap, 8);
	double *wd = calloc(cap, 8), *gd = calloc(cap, 8);
	uint8_t *wo = calloc(cap, 1), *wod = calloc(cap, 1), *go = calloc(cap, 1);
	size_t rows = 0, start = 0, wused = 0;
	while (rows < max && start < n) {
		const char *nl = memchr(buf + start, '\n', n - start);
		size_t e = nl ? (size_t)(nl - buf) : n;
		size_t len = e - start;
		if (len && buf[start + len - 1] == '\r')
			len--;
		const char *f;
		size_t fl = ref_csv(buf + start, len, col, &f);
		int64_t v = 0;
		double d = 0;
		int ri = fl == SIZE_MAX ? -EINVAL : ref_i64(f, fl, &v);
		int rd = fl == SIZE_MAX ? -EINVAL : ref_f64(f, fl, &d);
		wi[rows] = ri ? 0 : v;
		wo[rows] = ri == 0;
		wd[rows] = rd ? 0 : d;
		wod[rows] = rd == 0;
		rows++;
		start = nl ? e + 1 : n;
	}
	wused = start;
	FOR_ISA(t)
	{
		size_t used = 12345;
		size_t r = t->csv_i64(buf, n, col, gi, go, max, &used);
		if (r != rows || used != wused || memcmp(gi, wi, rows * 8) || memcmp(go, wo, rows))
			cr_assert_fail("%s csv_i64 n=%zu col=%u max=%zu: rows %zu/%zu used %zu/%zu",
				       t->name, n, col, max, r, rows, used, wused);
		r = t->csv_f64(buf, n, col, gd, go, max, &used);
		if (r != rows || used != wused || memcmp(gd, wd, rows * 8) || memcmp(go, wod, rows))
			cr_assert_fail("%s csv_f64 n=%zu col=%u max=%zu", t->name, n, col, max);
	}
	free(wi);
	free(gi);
	free(wd);
	free(gd);
	free(wo);
	free(wod);
	free(go);
}

Test(text_csv, bulk_columns)
{
	rng_state = 1234;
	size_t cap = 1 << 16;
	char *src = malloc(cap);
	for (int it = 0; it < 200; it++) {
		size_t n = 0;
		size_t lines = rndn(it < 20 ? 4 : 300);
		for (size_t l = 0; l < lines && n + 200 < cap; l++) {
			unsigned cols = rndn(5);
			for (unsigned c = 0; c < cols; c++) {
				if (c)
					src[n++] = ',';
				switch (rndn(7)) {
				case 0: break; /* empty */
				case 1:
					n += (size_t)sprintf(src + n, "\"%d\"", (int)rndn(1000));
					break;
				case 2:
					n += (size_t)sprintf(src + n, "%lld",
							     (long long)rnd() >> rndn(64));
					break;
				case 3: n += (size_t)sprintf(src + n, "x%u", rndn(9)); break;
				default:
					n += (size_t)sprintf(src + n, "%.*g", (int)rndn(18) + 1,
							     (double)(int64_t)rnd() /
								 (double)(1 + rndn(100000)));
				}
			}
			if (rndn(5) == 0)
				src[n++] = '\r';
			if (l + 1 < lines || rndn(2))
				src[n++] = '\n';
		}
		placed pl = place_tight(src, n, 1 + rndn(63));
		for (unsigned col = 0; col < 4; col++) {
			check_bulk(pl.p, n, col, lines + 2);
			check_bulk(pl.p, n, col, rndn((unsigned)lines + 1));
		}
		free(pl.mem);
	}
	free(src);
}

/* One generated number for the bulk tests: any sign, 0..20 digits, the '.' anywhere or absent,
 * sometimes an exponent or one corrupted byte (never a CSV separator). */
static size_t gen_number(char *s)
{
	size_t n = 0;
	unsigned sign = rndn(3), digits = rndn(21);
	int dot = (int)rndn(digits + 2) - 1;
	if (sign)
		s[n++] = sign == 1 ? '-' : '+';
	for (unsigned d = 0; d < digits; d++) {
		if ((int)d == dot)
			s[n++] = '.';
		s[n++] = (char)('0' + (rndn(4) ? rndn(10) : 0));
	}
	if (dot == (int)digits)
		s[n++] = '.';
	if (rndn(12) == 0)
		n += (size_t)sprintf(s + n, "e%d", (int)rndn(60) - 30);
	if (rndn(15) == 0 && n)
		s[rndn((unsigned)n)] = "e.x-+ 9\0"[rndn(8)];
	return n;
}

/*
 * Every number form the fast column parse handles or declines, at every field position and
 * length in rows short enough to share a window, after prefix fields of random widths; with
 * '\r\n' endings, empty lines, missing columns, quoted fields, rows longer than a window, the
 * field near the buffer start (too close for a 16-byte load) and every max.
 */
Test(text_csv, bulk_number_fields)
{
	rng_state = 4321;
	size_t cap = 1 << 16;
	char *src = malloc(cap);
	static const char *fixed[] = {"0",
				      "-0",
				      "+0",
				      "-0.0",
				      "0.0",
				      ".5",
				      "5.",
				      ".",
				      "-.",
				      "-",
				      "+",
				      "",
				      "9223372036854775807",
				      "-9223372036854775808",
				      "9223372036854775808",
				      "-9223372036854775809",
				      "9007199254740992",
				      "9007199254740993",
				      "9999999999999999",
				      "10000000000000000",
				      "1234567890123456",
				      "123456789012345.6",
				      ".123456789012345",
				      "1.2.3",
				      "1e5",
				      "1E-5",
				      "inf",
				      "nan",
				      "0000000000000000000000000001",
				      "00000000000000.1"};
	for (int it = 0; it < 300; it++) {
		unsigned col = rndn(4);
		size_t n = 0, lines = 1 + rndn(400);
		for (size_t l = 0; l < lines && n + 300 < cap; l++) {
			unsigned kind = rndn(40);
			if (kind == 0) { /* empty line */
				src[n++] = '\n';
				continue;
			}
			unsigned pre = kind == 1 ? rndn(col + 1) : col; /* kind 1: maybe missing */
			for (unsigned c = 0; c < pre; c++) {
				if (kind == 2 && c == 0) {
					n += (size_t)sprintf(src + n, "\"q,%u\",", rndn(100));
					continue;
				}
				size_t w = rndn(kind == 3 ? 60 : 6);
				for (size_t i = 0; i < w; i++)
					src[n++] = (char)('a' + rndn(26));
				src[n++] = ',';
			}
			if (pre == col) {
				if (rndn(4) == 0) {
					const char *f =
					    fixed[rndn(sizeof(fixed) / sizeof(fixed[0]))];
					memcpy(src + n, f, strlen(f));
					n += strlen(f);
				} else {
					n += gen_number(src + n);
				}
				if (rndn(3) == 0)
					n += (size_t)sprintf(src + n, ",%u", rndn(1000));
			} else if (n && src[n - 1] == ',') {
				n--; /* "a,b" with col 2: the column is missing */
			}
			if (rndn(6) == 0)
				src[n++] = '\r';
			if (l + 1 < lines || rndn(2))
				src[n++] = '\n';
		}
		placed pl = place_tight(src, n, 1 + rndn(63));
		check_bulk(pl.p, n, col, lines + 1);
		check_bulk(pl.p, n, col, rndn((unsigned)lines + 1));
		check_bulk(pl.p, n, col, 1 + 2 * rndn((unsigned)lines / 2 + 1)); /* odd */
		free(pl.mem);
	}
	free(src);
}

/* Numeric CSV cut at every length 0..130 and 4096+k, at every misalignment: the window and batch
 * edges of the fast path, and the hand-over to the block loop near the end of the buffer. */
Test(text_csv, bulk_every_length_and_misalignment)
{
	rng_state = 777;
	char *src = malloc(5000);
	size_t n = 0;
	while (n < 4300) {
		n += (size_t)sprintf(src + n, "%lld,", (long long)(int64_t)rnd() >> rndn(64));
		n += gen_number(src + n);
		n += (size_t)sprintf(src + n, ",w%u%s\n", rndn(100), rndn(8) ? "" : "\r");
	}
	for (size_t li = 0; li < NLEN; li++) {
		size_t len = test_len(li);
		for (size_t off = 1; off < 64; off += (len > 130 ? 13 : 5)) {
			placed pl = place_tight(src, len, off);
			for (unsigned col = 0; col < 3; col++)
				check_bulk(pl.p, len, col, len + 1);
			free(pl.mem);
		}
	}
	free(src);
}

/*
 * The AVX-512 structural pass (columns 0..8; farther ones go row by row): fields straddling
 * every block edge, rows and fields far longer than a block, quotes in some blocks, NUL bytes,
 * '\r' endings, empty lines and fields, missing columns, the number forms around the four-rows
 * parse's limits (15 bytes of field), spellings the reference rejects (inf, nan), huge and tiny
 * exponents, -0, many rows in one block and every small max (the room check per block).
 */
static size_t put_field(char *s)
{
	static const char *forms[] = {"1e400",
				      "-1e400",
				      "4.9e-324",
				      "2.2250738585072014e-308",
				      "2e-324",
				      "-0.0",
				      "-0",
				      "0e999",
				      "inf",
				      "nan",
				      "Infinity",
				      "-Infinity",
				      "NaN",
				      "123456789012345",
				      "-123456789012345",
				      "+12345678901234.",
				      "1234567890123456",
				      "-1234567890123456",
				      "12345678901234.5",
				      "1.23456789012345",
				      "-.5",
				      "5.",
				      "",
				      "-",
				      "+",
				      ".",
				      "..5",
				      "1.2.3",
				      "9007199254740993",
				      "000000000000000000001.5"};
	size_t n = 0;
	switch (rndn(10)) {
	case 0: {
		const char *f = forms[rndn(sizeof(forms) / sizeof(forms[0]))];
		n = strlen(f);
		memcpy(s, f, n);
		break;
	}
	case 1: /* a long digit string */
		for (size_t k = 20 + rndn(60); k; k--)
			s[n++] = (char)('0' + rndn(10));
		break;
	case 2: /* a field longer than a block or two */
		for (size_t k = 50 + rndn(150); k; k--)
			s[n++] = (char)('a' + rndn(26));
		break;
	case 3: n = (size_t)sprintf(s, "\"%u,%u\"", rndn(100), rndn(100)); break;
	case 4: /* NUL bytes */
		s[n++] = '1';
		s[n++] = '\0';
		s[n++] = (char)('0' + rndn(10));
		break;
	case 5: s[n++] = '\r'; break;
	default: n = gen_number(s);
	}
	return n;
}

Test(text_csv, bulk_structural_pass)
{
	rng_state = 0x5EED;
	size_t cap = 1 << 17;
	char *src = malloc(cap);
	static const unsigned cols[] = {0, 1, 2, 3, 4, 7, 8, 9, 10};
	for (int it = 0; it < 150; it++) {
		size_t n = 0, lines = 1 + rndn(it < 30 ? 3000 : 600);
		unsigned style =
		    rndn(4); /* 0: anything, 1: short rows, 2: clean numbers, 3: CRLF */
		for (size_t l = 0; l < lines && n + 2000 < cap; l++) {
			if (rndn(50) == 0) { /* an empty line */
				src[n++] = '\n';
				continue;
			}
			unsigned nf = style == 1 ? 1 + rndn(2) : 1 + rndn(12);
			size_t pad = rndn(70); /* moves the fields across the block edges */
			for (unsigned f = 0; f < nf; f++) {
				if (f)
					src[n++] = ',';
				if (f == 0 && style != 1)
					for (size_t k = rndn(2) ? pad : 0; k; k--)
						src[n++] = 'p';
				if (style == 0)
					n += put_field(src + n);
				else if (style == 1)
					n += (size_t)sprintf(src + n, "%u", rndn(10));
				else
					n += gen_number(src + n);
			}
			if (style == 3 || rndn(20) == 0)
				src[n++] = '\r';
			if (l + 1 < lines || rndn(2))
				src[n++] = '\n';
		}
		placed pl = place_tight(src, n, 1 + rndn(63));
		for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
			if (c > 3 && rndn(3))
				continue;
			unsigned col = cols[c];
			check_bulk(pl.p, n, col, lines + 1);
			check_bulk(pl.p, n, col, 1 + rndn(70));
			if (rndn(4) == 0)
				check_bulk(pl.p, n, col, rndn((unsigned)lines + 1));
		}
		free(pl.mem);
	}
	free(src);
}

/* --- JSON --------------------------------------------------------------------------------------
 */

static void check_json_key(const char *s, size_t n, const char *key)
{
	size_t kl = strlen(key);
	const char *wv = NULL;
	size_t wl = ref_json(s, n, key, kl, &wv);
	FOR_ISA(t)
	{
		const char *v = NULL;
		size_t l = t->json(s, n, key, kl, &v);
		if (l != wl || (l != SIZE_MAX && v != wv))
			cr_assert_fail("%s json key %s in \"%.*s\": %zu != %zu", t->name, key,
				       (int)n, s, l, wl);
	}
}

static size_t json_one(const isa *t, const char *s, const char *key, const char **v)
{
	return t->json(s, strlen(s), key, strlen(key), v);
}

#define JSON_IS(t, s, key, want)                                                                   \
	do {                                                                                       \
		const char *v_;                                                                    \
		size_t l_ = json_one(t, s, key, &v_);                                              \
		cr_assert_neq(l_, SIZE_MAX, "%s %s %s", (t)->name, s, key);                        \
		cr_assert(l_ == strlen(want) && memcmp(v_, want, l_) == 0, "%s %s %s: %.*s",       \
			  (t)->name, s, key, (int)l_, v_);                                         \
	} while (0)

#define JSON_NONE(t, s, key)                                                                       \
	do {                                                                                       \
		const char *v_;                                                                    \
		cr_assert_eq(json_one(t, s, key, &v_), SIZE_MAX, "%s %s %s", (t)->name, s, key);   \
	} while (0)

static const char ysb[] =
    "{\"user_id\":\"7d7e5f6c-1b3a-4d2e-9f80-0a1b2c3d4e5f\",\"page_id\":\"0b2f7c4e-8d3a-4f6b-"
    "a1c2-3d4e5f607182\",\"ad_id\":\"a3c5e7f9-2b4d-4f61-8a3c-5e7f9b1d3f50\",\"ad_type\":"
    "\"banner\",\"event_type\":\"view\",\"event_time\":\"1700000000123\",\"ip_address\":\"1.2.3."
    "4\"}";

Test(text_json, edges)
{
	FOR_ISA(t)
	{
		JSON_IS(t, ysb, "event_type", "view");
		JSON_IS(t, ysb, "ad_id", "a3c5e7f9-2b4d-4f61-8a3c-5e7f9b1d3f50");
		JSON_IS(t, ysb, "ip_address", "1.2.3.4");
		JSON_NONE(t, ysb, "missing");
		JSON_NONE(t, ysb, "view");
		JSON_IS(t, "{\"a\":\"b\",\"b\":\"a\"}", "b", "a");
		JSON_IS(t, "{\"a\":\"x\\\"b\\\":1\",\"b\":2}", "b", "2");
		JSON_IS(t, "{\"a\":\"x\\\\\",\"b\":2}", "b", "2");
		JSON_IS(t, "{\"a\":\"x\\\\\",\"b\":2}", "a", "x\\\\");
		JSON_IS(t, " \t\n{ \"a\" :\r\n 12 , \"b\" : true }  ", "a", "12");
		JSON_IS(t, " \t\n{ \"a\" :\r\n 12 , \"b\" : true }  ", "b", "true");
		JSON_IS(t, "{\"n\":{\"a\":[1,\"]\"],\"b\":2},\"a\":3}", "a", "3");
		JSON_IS(t, "{\"n\":{\"a\":[1,\"]\"],\"b\":2},\"a\":3}", "n",
			"{\"a\":[1,\"]\"],\"b\":2}");
		JSON_IS(t, "{\"k\\\"q\":1}", "k\\\"q", "1");
		JSON_IS(t, "{\"a\":-1.5e3}", "a", "-1.5e3");
		JSON_IS(t, "{\"a\":\"\"}", "a", "");
		JSON_NONE(t, "{}", "a");
		JSON_NONE(t, "", "a");
		JSON_NONE(t, "[\"a\",1]", "a");
		JSON_NONE(t, "{\"a\"1}", "a");
		JSON_NONE(t, "{\"a\":}", "a");
		JSON_NONE(t, "{\"a\":\"x", "a");
		JSON_NONE(t, "{\"x\":1 \"a\":2}", "a");
		JSON_NONE(t, "{\"x\":\"\\\"}", "x");
		/* bare tokens must be literals or RFC 8259 numbers */
		JSON_IS(t, "{\"a\":0,\"b\":-0.5E+10}", "b", "-0.5E+10");
		JSON_IS(t, "{\"a\":null}", "a", "null");
		JSON_IS(t, "{\"a\":false}", "a", "false");
		JSON_NONE(t, "{\"a\": tru}", "a");
		JSON_NONE(t, "{\"a\": nulls}", "a");
		JSON_NONE(t, "{\"a\": 07}", "a");
		JSON_NONE(t, "{\"a\": 1.}", "a");
		JSON_NONE(t, "{\"a\": .5}", "a");
		JSON_NONE(t, "{\"a\": +1}", "a");
		JSON_NONE(t, "{\"a\": -}", "a");
		JSON_NONE(t, "{\"a\": 1e}", "a");
		JSON_NONE(t, "{\"a\": 1e+}", "a");
		JSON_NONE(t, "{\"a\": 0x10}", "a");
		JSON_NONE(t, "{\"a\": inf}", "a");
		JSON_NONE(t, "{\"a\": abc, \"b\": 1}", "b");
	}
}

/* A random flat-ish object with escapes, whitespace and the keys reused as values. */
static size_t gen_json(char *s)
{
	static const char *keys[] = {"a", "b", "user_id", "ad_id", "event_type", "k\\\"", ""};
	size_t n = 0;
	int pretty = rndn(3) == 0;
#define WS_()                                                                                      \
	do {                                                                                       \
		if (pretty)                                                                        \
			for (unsigned w_ = rndn(3); w_; w_--)                                      \
				s[n++] = " \t\n\r"[rndn(4)];                                       \
	} while (0)
	WS_();
	s[n++] = '{';
	unsigned members = rndn(8);
	for (unsigned m = 0; m < members; m++) {
		if (m)
			s[n++] = ',';
		WS_();
		n += (size_t)sprintf(s + n, "\"%s\"", keys[rndn(7)]);
		WS_();
		s[n++] = ':';
		WS_();
		switch (rndn(5)) {
		case 0: n += (size_t)sprintf(s + n, "%d", (int)rnd()); break;
		case 1: n += (size_t)sprintf(s + n, "\"%s\"", keys[rndn(7)]); break;
		case 2: n += (size_t)sprintf(s + n, "[1,{\"a\":\"]}\"},\"\\\\\"]"); break;
		default:
			s[n++] = '"';
			for (unsigned c = rndn(90); c; c--) {
				unsigned r = rndn(20);
				if (r == 0) {
					s[n++] = '\\';
					s[n++] = "\"\\n/"[rndn(4)];
				} else {
					s[n++] = "abc,:{}[] "[rndn(10)];
				}
			}
			s[n++] = '"';
		}
		WS_();
	}
	s[n++] = '}';
	WS_();
#undef WS_
	return n;
}

Test(text_json, random_objects_truncations_and_flips)
{
	static const char *probe[] = {"a",          "b",     "user_id", "ad_id",
				      "event_type", "k\\\"", "",        "zz"};
	rng_state = 555;
	char s[4096];
	for (int it = 0; it < 4000; it++) {
		size_t n = gen_json(s);
		if (rndn(4) == 0) /* corrupt a byte */
			s[rndn((unsigned)n)] = "\"\\{}[],: x"[rndn(10)];
		size_t cut = rndn(8) == 0 ? rndn((unsigned)n + 1) : n;
		placed pl = place_tight(s, cut, 1 + rndn(63));
		for (size_t k = 0; k < sizeof(probe) / sizeof(probe[0]); k++)
			check_json_key(pl.p, cut, probe[k]);
		free(pl.mem);
	}
	/* every truncation of one object */
	size_t n = gen_json(s);
	for (size_t cut = 0; cut <= n; cut++) {
		placed pl = place_tight(s, cut, 1 + cut % 63);
		for (size_t k = 0; k < sizeof(probe) / sizeof(probe[0]); k++)
			check_json_key(pl.p, cut, probe[k]);
		free(pl.mem);
	}
	/* keys at every misalignment of a long string value */
	for (size_t len = 0; len < 200; len++) {
		n = (size_t)sprintf(s, "{\"a\":\"");
		for (size_t i = 0; i < len; i++)
			s[n++] = i % 7 == 3 ? '\\' : 'x';
		n += (size_t)sprintf(s + n, "\",\"b\":%zu}", len);
		placed pl = place_tight(s, n, 1 + len % 63);
		check_json_key(pl.p, n, "b");
		check_json_key(pl.p, n, "a");
		free(pl.mem);
	}
}

Test(text_json, random_bytes)
{
	rng_state = 31337;
	char s[300];
	for (int it = 0; it < 20000; it++) {
		size_t n = rndn(300);
		s[0] = '{';
		for (size_t i = 1; i < n; i++)
			s[i] = rndn(4) ? "\"\\{}[],: ab\t"[rndn(13)] : (char)rnd();
		placed pl = place_tight(s, n, 1 + rndn(63));
		check_json_key(pl.p, n, "a");
		check_json_key(pl.p, n, "");
		free(pl.mem);
	}
}
