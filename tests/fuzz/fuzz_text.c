/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_text.c - libFuzzer targets for the text kernels (kernels/text.h): every runnable ISA
 * must give exactly the scalar answer on the fuzz input, or the target aborts. One file, four
 * targets chosen at build time with -DSL_FUZZ_TARGET=<n> (see build.sh):
 *
 *   1 lines    find_eol and split_offsets  byte 0: delimiter, byte 1: output limit
 *   2 numbers  parse_i64 and parse_f64     the whole input; f64 is also checked with strtod
 *   3 csv      csv_field and the bulk      byte 0: column; the rest: one line, then the buffer
 *              column parsers
 *   4 json     json_field                  byte 0: key length k; bytes 1..k: key; the rest: object
 *              (a bare value it returns is also checked against the RFC 8259 grammar)
 *
 * The input is copied to an allocation of its exact size so ASan sees any read past the end.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#ifndef SL_FUZZ_TARGET
#error "build with -DSL_FUZZ_TARGET=1..4"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int have_avx2, have_avx512;

static void init_isas(void)
{
	static int done;
	if (done)
		return;
	__builtin_cpu_init();
	have_avx2 = __builtin_cpu_supports("avx2");
	have_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
	done = 1;
}

static void mismatch(const char *what, const char *isa)
{
	fprintf(stderr, "fuzz_text: %s: %s differs from scalar\n", what, isa);
	abort();
}

/* Run STMT with F bound to each SIMD variant of a kernel, when the CPU has it. */
#define EACH_ISA(name, F, STMT)                                                                    \
	do {                                                                                       \
		if (have_avx2) {                                                                   \
			__typeof__(&name##_scalar) F = name##_avx2;                                \
			const char *isa = "avx2";                                                  \
			STMT;                                                                      \
		}                                                                                  \
		if (have_avx512) {                                                                 \
			__typeof__(&name##_scalar) F = name##_avx512;                              \
			const char *isa = "avx512";                                                \
			STMT;                                                                      \
		}                                                                                  \
	} while (0)

static char *copy(const uint8_t *d, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	if (n)
		memcpy(p, d, n);
	return p;
}

#if SL_FUZZ_TARGET == 1
static void fuzz(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	char delim = (char)data[0];
	size_t n = size - 2;
	size_t max = data[1] == 255 ? n : data[1];
	char *p = copy(data + 2, n);
	uint32_t *want = malloc((max + 1) * sizeof(uint32_t));
	uint32_t *got = malloc((max + 1) * sizeof(uint32_t));
	size_t we = sl_find_eol_scalar(p, n);
	size_t wc = sl_split_offsets_scalar(p, n, delim, want, max);
	EACH_ISA(sl_find_eol, f, if (f(p, n) != we) mismatch("find_eol", isa));
	EACH_ISA(sl_split_offsets, f, {
		size_t c = f(p, n, delim, got, max);
		if (c != wc || memcmp(got, want, c * sizeof(uint32_t)))
			mismatch("split_offsets", isa);
	});
	free(want);
	free(got);
	free(p);
}
#elif SL_FUZZ_TARGET == 2
static void fuzz(const uint8_t *data, size_t size)
{
	char *p = copy(data, size);
	int64_t wi = 0, gi = 0;
	double wd = 0, gd = 0;
	int ri = sl_parse_i64_scalar(p, size, &wi);
	int rd = sl_parse_f64_scalar(p, size, &wd);
	EACH_ISA(sl_parse_i64, f, {
		gi = 0;
		int r = f(p, size, &gi);
		if (r != ri || (r == 0 && gi != wi))
			mismatch("parse_i64", isa);
	});
	EACH_ISA(sl_parse_f64, f, {
		gd = 0;
		int r = f(p, size, &gd);
		if (r != rd || (r != -EINVAL && memcmp(&gd, &wd, sizeof(gd))))
			mismatch("parse_f64", isa);
	});
	if (rd == 0 || rd == -ERANGE) {
		/* accepted text must be what strtod reads in full, to the same bits */
		char *z = malloc(size + 1);
		memcpy(z, p, size);
		z[size] = 0;
		char *end;
		double s = strtod(z, &end);
		if (end != z + size || memcmp(&s, &wd, sizeof(s)) || (rd == -ERANGE) != !!isinf(s))
			mismatch("parse_f64 vs strtod", "scalar");
		free(z);
	}
	free(p);
}
#elif SL_FUZZ_TARGET == 3
static void fuzz(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	unsigned col = data[0] & 63;
	size_t n = size - 1;
	char *p = copy(data + 1, n);
	const char *wf = NULL, *gf = NULL;
	size_t wl = sl_csv_field_scalar(p, n, col, &wf);
	EACH_ISA(sl_csv_field, f, {
		size_t l = f(p, n, col, &gf);
		if (l != wl || (l != SIZE_MAX && gf != wf))
			mismatch("csv_field", isa);
	});
	size_t max = n + 1;
	int64_t *wi = calloc(max, 8), *gi = calloc(max, 8);
	double *wd = calloc(max, 8), *gd = calloc(max, 8);
	uint8_t *wo = calloc(max, 1), *go = calloc(max, 1);
	size_t wu, gu;
	size_t wr = sl_csv_column_i64_scalar(p, n, col & 7, wi, wo, max, &wu);
	EACH_ISA(sl_csv_column_i64, f, {
		size_t r = f(p, n, col & 7, gi, go, max, &gu);
		if (r != wr || gu != wu || memcmp(gi, wi, r * 8) || memcmp(go, wo, r))
			mismatch("csv_column_i64", isa);
	});
	wr = sl_csv_column_f64_scalar(p, n, col & 7, wd, wo, max, &wu);
	EACH_ISA(sl_csv_column_f64, f, {
		size_t r = f(p, n, col & 7, gd, go, max, &gu);
		if (r != wr || gu != wu || memcmp(gd, wd, r * 8) || memcmp(go, wo, r))
			mismatch("csv_column_f64", isa);
	});
	free(wi);
	free(gi);
	free(wd);
	free(gd);
	free(wo);
	free(go);
	free(p);
}
#elif SL_FUZZ_TARGET == 4
/* A bare value json_field returns must be a literal or an RFC 8259 number: checked with a
 * small state machine of its own, not the kernels' shared code. States: 0 start, 1 after
 * '-', 2 a leading 0, 3 integer digits, 4 after '.', 5 fraction digits, 6 after e/E,
 * 7 after its sign, 8 exponent digits; the accepting states are 2, 3, 5 and 8. */
static int bare_ok(const char *v, size_t n)
{
	if ((n == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "null", 4))) ||
	    (n == 5 && !memcmp(v, "false", 5)))
		return 1;
	int st = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		int d = c >= '0' && c <= '9';
		switch (st) {
		case 0: st = c == '-' ? 1 : c == '0' ? 2 : d ? 3 : -1; break;
		case 1: st = c == '0' ? 2 : d ? 3 : -1; break;
		case 2: st = c == '.' ? 4 : c == 'e' || c == 'E' ? 6 : -1; break;
		case 3: st = d ? 3 : c == '.' ? 4 : c == 'e' || c == 'E' ? 6 : -1; break;
		case 4: st = d ? 5 : -1; break;
		case 5: st = d ? 5 : c == 'e' || c == 'E' ? 6 : -1; break;
		case 6: st = c == '+' || c == '-' ? 7 : d ? 8 : -1; break;
		case 7: st = d ? 8 : -1; break;
		case 8: st = d ? 8 : -1; break;
		}
		if (st < 0)
			return 0;
	}
	return st == 2 || st == 3 || st == 5 || st == 8;
}

static void fuzz(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	size_t kl = data[0] & 15;
	if (size < 1 + kl)
		return;
	char *key = copy(data + 1, kl);
	size_t n = size - 1 - kl;
	char *p = copy(data + 1 + kl, n);
	const char *wv = NULL, *gv = NULL;
	size_t wl = sl_json_field_scalar(p, n, key, kl, &wv);
	/* a value that is not a string (no quote before it), an object or an array is bare */
	if (wl != SIZE_MAX && wv > p && wv[-1] != '"' && (wl == 0 || (*wv != '{' && *wv != '[')) &&
	    !bare_ok(wv, wl))
		mismatch("json_field bare value", "the RFC 8259 grammar");
	EACH_ISA(sl_json_field, f, {
		size_t l = f(p, n, key, kl, &gv);
		if (l != wl || (l != SIZE_MAX && gv != wv))
			mismatch("json_field", isa);
	});
	free(key);
	free(p);
}
#else
#error "SL_FUZZ_TARGET must be 1..4"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_isas();
	fuzz(data, size);
	return 0;
}
