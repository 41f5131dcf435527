/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernels.c - every vector ISA this CPU runs against the scalar reference, at every
 * boundary length (0, 1, lanes-1, lanes, lanes+1, 2*lanes+-1, ..., 4096+k) with inputs
 * misaligned by 0..7 elements and seeded random data; edge values (INT64_MIN/MAX, NaN,
 * +-0.0, +-Inf); empty/full/random selection vectors; grouped ops with repeated ids; the
 * scalar reference itself against naive oracles; ISA selection and its errors.
 *
 * Everything must be bit-identical to scalar except the f64 sum, whose summation order
 * differs (kernels.h): it is compared within 1e-12 of the sum of magnitudes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define MAXN   (4096 + 64)
#define MAXOFF 8

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t bits(double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof(b));
	return b;
}

static bool same_f64(double a, double b)
{
	return bits(a) == bits(b);
}

static const int64_t i64_edges[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
static const double f64_edges[] = {0.0,  -0.0,  INFINITY, -INFINITY, NAN,
				   -NAN, 1e308, -1e308,   5e-324,    -5e-324};

/* Data modes: 0 random full range, 1 small range (many ties and equal matches), 2 small range
 * with edge values sprinkled in. */
static void fill_i64(int64_t *v, size_t n, int mode)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng();
		v[i] = mode == 0 ? (int64_t)r : (int64_t)(r % 21) - 10;
		if (mode == 2 && r % 13 == 0)
			v[i] = i64_edges[(r >> 8) % (sizeof(i64_edges) / sizeof(i64_edges[0]))];
	}
}

/* Modes: 0 positive well conditioned [1, 2), 1 small signed ints (ties, +-0.0),
 * 2 with edge values (NaN, Inf, -0.0, denormals) sprinkled in (rarely: some NaN-free runs). */
static void fill_f64(double *v, size_t n, int mode)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng();
		if (mode == 0)
			v[i] = 1.0 + (double)(r >> 11) * 0x1p-53;
		else
			v[i] =
			    (double)((int64_t)(r % 21) - 10) * ((r >> 40) & 1 ? 1.0 : -1.0) * 0.5;
		if (mode == 2 && r % 97 == 0)
			v[i] = f64_edges[(r >> 8) % (sizeof(f64_edges) / sizeof(f64_edges[0]))];
	}
}

/* sel modes: 0 empty, 1 full (0..n-1), 2 random ascending subset, 3 random with repeats. */
static size_t fill_sel(uint32_t *sel, size_t n, int mode)
{
	size_t k = 0;
	if (mode == 0 || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (mode == 1 || (mode == 2 && rng() % 3 == 0))
			sel[k++] = (uint32_t)i;
		else if (mode == 3)
			sel[k++] = (uint32_t)(rng() % n);
	}
	return k;
}

static size_t lengths[128];
static size_t nlengths;

static void add_len(size_t n)
{
	for (size_t i = 0; i < nlengths; i++)
		if (lengths[i] == n)
			return;
	if (n <= 4096 + 16 && nlengths < sizeof(lengths) / sizeof(lengths[0]))
		lengths[nlengths++] = n;
}

static void init_lengths(void)
{
	nlengths = 0;
	add_len(0);
	/* Up to 16 partial sums (avx512 sum_f64) and 8 lanes: every multiple up to 4 x 16, +-1. */
	for (size_t m = 1; m <= 64; m *= 2) {
		for (size_t x = 1; x <= 4; x++) {
			add_len(m * x - 1);
			add_len(m * x);
			add_len(m * x + 1);
		}
	}
	add_len(1000);
	for (size_t k = 0; k <= 16; k++)
		add_len(4096 + k);
}

static const sl_kernels *isas[3];
static int nisas;
static const sl_kernels *every[4]; /* scalar, then isas */
static int nevery;

static void setup(void)
{
	rng_state = 42;
	init_lengths();
	nisas = 0;
	const char *names[] = {"avx2", "avx512"};
	for (int i = 0; i < 2; i++) {
		int err = 0;
		const sl_kernels *k = sl_kernels_select(names[i], &err);
		if (k)
			isas[nisas++] = k;
		else
			cr_assert_eq(err, -ENOTSUP);
	}
	every[0] = &sl_kernels_scalar;
	nevery = 1;
	for (int i = 0; i < nisas; i++)
		every[nevery++] = isas[i];
}

TestSuite(kernels, .init = setup);

static const sl_kernels *S = &sl_kernels_scalar;

#define CTX "%s n=%zu off=%zu mode=%d", k->isa, n, off, mode

/* Buffers, aligned to 64 so that +off makes them misaligned by off elements. */
static _Alignas(64) int64_t bi[MAXN + MAXOFF], bi2[MAXN + MAXOFF], ri[MAXN], ri2[MAXN];
static _Alignas(64) double bf[MAXN + MAXOFF], bf2[MAXN + MAXOFF], rf[MAXN], rf2[MAXN];
static _Alignas(64) uint32_t bsel[MAXN + MAXOFF], outs[MAXN + 16], outk[MAXN], bids[MAXN + MAXOFF];

/* f64 sums: order-dependent (kernels.h), so within 1e-12 of the sum of magnitudes; a NaN
 * input makes both NaN; with an infinite magnitude (Inf inputs, or overflow that depends on
 * the order) the results are not comparable. */
static void check_sum_f64(double ref, double got, const double *v, size_t n, const char *what,
			  const char *isa)
{
	double mag = 0;
	bool nan = false;
	for (size_t i = 0; i < n; i++) {
		mag += fabs(v[i]);
		nan |= isnan(v[i]);
	}
	if (nan) {
		cr_assert(isnan(ref) && isnan(got), "%s %s n=%zu", what, isa, n);
		return;
	}
	if (isinf(mag))
		return;
	cr_assert(fabs(ref - got) <= 1e-12 * mag, "%s %s n=%zu: %.17g vs %.17g", what, isa, n, ref,
		  got);
}

Test(kernels, reductions_match_scalar)
{
	for (int ik = 0; ik < nisas; ik++) {
		const sl_kernels *k = isas[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < MAXOFF; off++) {
				for (int mode = 0; mode < 3; mode++) {
					int64_t *vi = bi + off;
					double *vf = bf + off;
					fill_i64(vi, n, mode);
					fill_f64(vf, n, mode);
					cr_assert_eq(k->sum_i64(vi, n), S->sum_i64(vi, n), CTX);
					cr_assert_eq(k->min_i64(vi, n), S->min_i64(vi, n), CTX);
					cr_assert_eq(k->max_i64(vi, n), S->max_i64(vi, n), CTX);
					cr_assert(same_f64(k->min_f64(vf, n), S->min_f64(vf, n)),
						  CTX);
					cr_assert(same_f64(k->max_f64(vf, n), S->max_f64(vf, n)),
						  CTX);
					check_sum_f64(S->sum_f64(vf, n), k->sum_f64(vf, n), vf, n,
						      "sum_f64", k->isa);
					for (int sm = 0; sm < 4; sm++) {
						uint32_t *sel = bsel + off;
						size_t ns = fill_sel(sel, n, sm);
						cr_assert_eq(k->sum_i64_sel(vi, sel, ns),
							     S->sum_i64_sel(vi, sel, ns), CTX);
						cr_assert_eq(k->min_i64_sel(vi, sel, ns),
							     S->min_i64_sel(vi, sel, ns), CTX);
						cr_assert_eq(k->max_i64_sel(vi, sel, ns),
							     S->max_i64_sel(vi, sel, ns), CTX);
						cr_assert(same_f64(k->min_f64_sel(vf, sel, ns),
								   S->min_f64_sel(vf, sel, ns)),
							  CTX);
						cr_assert(same_f64(k->max_f64_sel(vf, sel, ns),
								   S->max_f64_sel(vf, sel, ns)),
							  CTX);
						S->gather_f64(vf, sel, ns, rf);
						check_sum_f64(S->sum_f64_sel(vf, sel, ns),
							      k->sum_f64_sel(vf, sel, ns), rf, ns,
							      "sum_f64_sel", k->isa);
					}
				}
			}
		}
	}
}

/* The reference of the two-column filters: a plain loop (scalar itself is checked too). */
static size_t naive_filter2(const void *a, const void *b, bool f64, size_t n, int op, uint32_t *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int lt, eq, gt;
		if (f64) {
			double x = ((const double *)a)[i], y = ((const double *)b)[i];
			lt = x<y, eq = x == y, gt = x> y;
		} else {
			int64_t x = ((const int64_t *)a)[i], y = ((const int64_t *)b)[i];
			lt = x<y, eq = x == y, gt = x> y;
		}
		bool keep = op == SL_CMP_EQ   ? eq
			    : op == SL_CMP_NE ? !eq
			    : op == SL_CMP_LT ? lt
			    : op == SL_CMP_LE ? lt || eq
			    : op == SL_CMP_GT ? gt
					      : gt || eq;
		if (keep)
			out[k++] = (uint32_t)i;
	}
	return k;
}

Test(kernels, two_column_filters_match_scalar)
{
	for (int ik = -1; ik < nisas; ik++) {
		const sl_kernels *k = ik < 0 ? S : isas[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < MAXOFF; off++) {
				for (int mode = 0; mode < 3; mode++) {
					int64_t *ai = bi + off, *bj = bi2 + (off * 3) % MAXOFF;
					double *af = bf + off, *bg = bf2 + (off * 5) % MAXOFF;
					fill_i64(ai, n, mode);
					fill_i64(bj, n, mode);
					fill_f64(af, n, mode);
					fill_f64(bg, n, mode);
					for (int op = SL_CMP_EQ; op <= SL_CMP_GE; op++) {
						size_t a =
						    naive_filter2(ai, bj, false, n, op, outs);
						size_t b = k->filter_i64_col(ai, bj, n, op, outk);
						cr_assert_eq(a, b, CTX);
						cr_assert_arr_eq(outs, outk, a * 4, CTX);
						a = naive_filter2(af, bg, true, n, op, outs);
						b = k->filter_f64_col(af, bg, n, op, outk);
						cr_assert_eq(a, b, CTX);
						cr_assert_arr_eq(outs, outk, a * 4, CTX);
					}
				}
			}
		}
	}
}

Test(kernels, filters_count_gather_match_scalar)
{
	for (int ik = 0; ik < nisas; ik++) {
		const sl_kernels *k = isas[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < MAXOFF; off++) {
				for (int mode = 1; mode < 3; mode++) {
					int64_t *vi = bi + off;
					double *vf = bf + off;
					fill_i64(vi, n, mode);
					fill_f64(vf, n, mode);
					for (int op = SL_CMP_EQ; op <= SL_CMP_GE; op++) {
						int64_t ci = (int64_t)(rng() % 7) - 3;
						double cf = rng() % 8 ? (double)ci * 0.5 : NAN;
						size_t a = S->filter_i64(vi, n, op, ci, outs);
						size_t b = k->filter_i64(vi, n, op, ci, outk);
						cr_assert_eq(a, b, CTX);
						cr_assert_arr_eq(outs, outk, a * 4, CTX);
						cr_assert_eq(k->count_i64(vi, n, op, ci), a, CTX);
						a = S->filter_f64(vf, n, op, cf, outs);
						b = k->filter_f64(vf, n, op, cf, outk);
						cr_assert_eq(a, b, CTX);
						cr_assert_arr_eq(outs, outk, a * 4, CTX);
						cr_assert_eq(k->count_f64(vf, n, op, cf), a, CTX);

						uint32_t *sel = bsel + off;
						size_t ns = fill_sel(sel, n, op % 4);
						a = S->filter_i64_sel(vi, sel, ns, op, ci, outs);
						cr_assert_eq(k->count_i64_sel(vi, sel, ns, op, ci),
							     a, CTX);
						cr_assert_eq(S->count_i64_sel(vi, sel, ns, op, ci),
							     a, CTX);
						/* in place */
						b = k->filter_i64_sel(vi, sel, ns, op, ci, sel);
						cr_assert_eq(a, b, CTX);
						cr_assert_arr_eq(outs, sel, a * 4, CTX);
						ns = fill_sel(sel, n, (op + 1) % 4);
						a = S->filter_f64_sel(vf, sel, ns, op, cf, outs);
						b = k->filter_f64_sel(vf, sel, ns, op, cf, outk);
						cr_assert_eq(a, b, CTX);
						cr_assert_arr_eq(outs, outk, a * 4, CTX);
						cr_assert_eq(k->count_f64_sel(vf, sel, ns, op, cf),
							     a, CTX);

						k->gather_i64(vi, sel, ns, ri);
						S->gather_i64(vi, sel, ns, ri2);
						cr_assert_arr_eq(ri, ri2, ns * 8, CTX);
						k->gather_f64(vf, sel, ns, rf);
						S->gather_f64(vf, sel, ns, rf2);
						cr_assert_arr_eq(rf, rf2, ns * 8, CTX);
					}
				}
			}
		}
	}
}

Test(kernels, grouped_and_panes_match_scalar)
{
	static const size_t groups[] = {1, 3, 64, 4096};
	for (int ik = 0; ik < nisas; ik++) {
		const sl_kernels *k = isas[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < MAXOFF; off += 3) {
				int mode = 2;
				int64_t *vi = bi + off, *vi2 = bi2 + off;
				double *vf = bf + off, *vf2 = bf2 + off;
				uint32_t *ids = bids + off;
				fill_i64(vi, n, mode);
				fill_f64(vf, n, mode);
				for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
					size_t ng = groups[g];
					for (size_t i = 0; i < n; i++)
						ids[i] = (uint32_t)(rng() % ng);
#define GROUPED(fn, acc_s, acc_k, init, v)                                                         \
	do {                                                                                       \
		for (size_t j = 0; j < ng; j++)                                                    \
			acc_s[j] = acc_k[j] = (init);                                              \
		S->fn(ids, v, n, acc_s);                                                           \
		k->fn(ids, v, n, acc_k);                                                           \
		cr_assert_arr_eq(acc_s, acc_k, ng * 8, #fn " " CTX);                               \
	} while (0)
					GROUPED(grouped_sum_i64, ri, ri2, 0, vi);
					GROUPED(grouped_min_i64, ri, ri2, INT64_MAX, vi);
					GROUPED(grouped_max_i64, ri, ri2, INT64_MIN, vi);
					GROUPED(grouped_sum_f64, rf, rf2, 0.0, vf);
					GROUPED(grouped_min_f64, rf, rf2, INFINITY, vf);
					GROUPED(grouped_max_f64, rf, rf2, -INFINITY, vf);
					memset(ri, 0, ng * 8);
					memset(ri2, 0, ng * 8);
					S->grouped_count(ids, n, ri);
					k->grouped_count(ids, n, ri2);
					cr_assert_arr_eq(ri, ri2, ng * 8, CTX);
					int64_t total = 0;
					for (size_t j = 0; j < ng; j++)
						total += ri[j];
					cr_assert_eq(total, (int64_t)n, CTX);
				}
#define PANE(fn, a, a_ref, b, out_s)                                                               \
	do {                                                                                       \
		memcpy(out_s, a, n * 8);                                                           \
		S->fn(out_s, b, n);                                                                \
		k->fn(a, b, n);                                                                    \
		cr_assert_arr_eq(a, out_s, n * 8, #fn " " CTX);                                    \
		memcpy(a, a_ref, n * 8); /* restore */                                             \
	} while (0)
				fill_i64(vi2, n, mode);
				fill_f64(vf2, n, mode);
				static int64_t save_i[MAXN];
				static double save_f[MAXN];
				memcpy(save_i, vi, n * 8);
				memcpy(save_f, vf, n * 8);
				PANE(pane_add_i64, vi, save_i, vi2, ri);
				PANE(pane_sub_i64, vi, save_i, vi2, ri);
				PANE(pane_min_i64, vi, save_i, vi2, ri);
				PANE(pane_max_i64, vi, save_i, vi2, ri);
				PANE(pane_add_f64, vf, save_f, vf2, rf);
				PANE(pane_sub_f64, vf, save_f, vf2, rf);
				PANE(pane_min_f64, vf, save_f, vf2, rf);
				PANE(pane_max_f64, vf, save_f, vf2, rf);
				/* dst == src */
				PANE(pane_add_i64, vi, save_i, vi, ri);
				PANE(pane_min_f64, vf, save_f, vf, rf);
			}
		}
	}
}

/* The scalar reference against naive oracles written here. */
Test(kernels, scalar_reference_semantics)
{
	for (size_t li = 0; li < nlengths; li++) {
		size_t n = lengths[li];
		int64_t *vi = bi + 3;
		double *vf = bf + 5;
		fill_i64(vi, n, 2);
		fill_f64(vf, n, 2);
		uint64_t s = 0;
		int64_t mn = INT64_MAX, mx = INT64_MIN;
		bool nan = false;
		double fmn = INFINITY, fmx = -INFINITY;
		for (size_t i = 0; i < n; i++) {
			s += (uint64_t)vi[i];
			mn = vi[i] < mn ? vi[i] : mn;
			mx = vi[i] > mx ? vi[i] : mx;
			nan |= isnan(vf[i]);
			if (vf[i] < fmn || (vf[i] == 0 && fmn == 0 && signbit(vf[i])))
				fmn = vf[i];
			if (vf[i] > fmx || (vf[i] == 0 && fmx == 0 && !signbit(vf[i])))
				fmx = vf[i];
		}
		cr_assert_eq(S->sum_i64(vi, n), (int64_t)s);
		cr_assert_eq(S->min_i64(vi, n), mn);
		cr_assert_eq(S->max_i64(vi, n), mx);
		cr_assert(same_f64(S->min_f64(vf, n), nan ? NAN : fmn), "n=%zu", n);
		cr_assert(same_f64(S->max_f64(vf, n), nan ? NAN : fmx), "n=%zu", n);
		size_t cnt = 0;
		for (size_t i = 0; i < n; i++)
			cnt += vi[i] <= 2;
		size_t got = S->filter_i64(vi, n, SL_CMP_LE, 2, outs);
		cr_assert_eq(got, cnt);
		for (size_t j = 0; j < got; j++) {
			cr_assert_leq(vi[outs[j]], 2);
			if (j)
				cr_assert_gt(outs[j], outs[j - 1]);
		}
	}
}

Test(kernels, edge_values)
{
	const sl_kernels *const *all = every;
	int na = nevery;
	for (int i = 0; i < na; i++) {
		const sl_kernels *k = all[i];
		int64_t wrap[] = {INT64_MAX, 1, INT64_MAX, INT64_MIN, INT64_MIN};
		cr_assert_eq(k->sum_i64(wrap, 2), INT64_MIN, "%s", k->isa);
		cr_assert_eq(k->sum_i64(wrap, 5), INT64_MIN + INT64_MAX, "%s", k->isa);
		cr_assert_eq(k->min_i64(wrap, 5), INT64_MIN);
		cr_assert_eq(k->max_i64(wrap, 5), INT64_MAX);
		cr_assert_eq(k->min_i64(wrap, 0), INT64_MAX);
		cr_assert_eq(k->max_i64(wrap, 0), INT64_MIN);
		cr_assert_eq(k->sum_i64(wrap, 0), 0);

		double z[] = {0.0, -0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0};
		cr_assert(same_f64(k->min_f64(z, 11), -0.0), "%s", k->isa);
		cr_assert(same_f64(k->max_f64(z, 11), 0.0), "%s", k->isa);
		cr_assert(same_f64(k->max_f64(z + 1, 1), -0.0), "%s", k->isa);
		cr_assert(same_f64(k->min_f64(z, 0), INFINITY));
		cr_assert(same_f64(k->max_f64(z, 0), -INFINITY));
		cr_assert(same_f64(k->sum_f64(z, 0), 0.0));
		/* a sum of -0.0s is -0.0 (Java's), with one +0.0 it is 0.0, over every lane count
		 */
		double nz[40];
		uint32_t nzs[40];
		for (size_t j = 0; j < 40; j++)
			nz[j] = -0.0, nzs[j] = (uint32_t)(39 - j);
		for (size_t n = 1; n <= 40; n++) {
			cr_assert(same_f64(k->sum_f64(nz, n), -0.0), "%s n=%zu", k->isa, n);
			cr_assert(same_f64(k->sum_f64_sel(nz, nzs, n), -0.0), "%s n=%zu", k->isa,
				  n);
			nz[n - 1] = 0.0;
			cr_assert(same_f64(k->sum_f64(nz, n), 0.0), "%s n=%zu", k->isa, n);
			nz[n - 1] = -0.0;
		}
		cr_assert(same_f64(k->sum_f64_sel(z, NULL, 0), 0.0));
		double inf[] = {1, INFINITY, -INFINITY, 2,  3,  4,  5,  6, 7,
				8, 9,        10,        11, 12, 13, 14, 15};
		cr_assert(same_f64(k->min_f64(inf, 17), -INFINITY));
		cr_assert(same_f64(k->max_f64(inf, 17), INFINITY));
		cr_assert(isnan(k->sum_f64(inf, 17)));
		/* a NaN anywhere (also a negative NaN, and in the tail) -> canonical NaN */
		for (size_t pos = 0; pos < 17; pos++) {
			double v[17];
			for (size_t j = 0; j < 17; j++)
				v[j] = (double)j - 8;
			v[pos] = pos % 2 ? -NAN : NAN;
			cr_assert(same_f64(k->min_f64(v, 17), NAN), "%s pos=%zu", k->isa, pos);
			cr_assert(same_f64(k->max_f64(v, 17), NAN), "%s pos=%zu", k->isa, pos);
			uint32_t sel[] = {(uint32_t)pos, 0, 16};
			cr_assert(same_f64(k->max_f64_sel(v, sel, 3), NAN));
			if (pos != 0 && pos != 16)
				cr_assert(!same_f64(k->max_f64_sel(v, sel + 1, 2), NAN));
			cr_assert_eq(k->count_f64(v, 17, SL_CMP_NE, 0.0), pos == 8 ? 17 : 16);
			cr_assert_eq(k->count_f64(v, 17, SL_CMP_GE, -100.0), 16);
			cr_assert_eq(k->count_f64(v, 17, SL_CMP_EQ, NAN), 0);
		}
		double a[] = {0.0, -0.0, NAN, 1.0}, b[] = {-0.0, 0.0, 1.0, -NAN};
		k->pane_min_f64(a, b, 4);
		cr_assert(same_f64(a[0], -0.0) && same_f64(a[1], -0.0));
		cr_assert(same_f64(a[2], NAN) && same_f64(a[3], NAN));
		double acc[2] = {INFINITY, INFINITY}, acc2[2] = {-INFINITY, -INFINITY};
		uint32_t ids[] = {0, 1, 0, 1};
		double gv[] = {0.0, -0.0, -0.0, 0.0};
		k->grouped_min_f64(ids, gv, 4, acc);
		cr_assert(same_f64(acc[0], -0.0) && same_f64(acc[1], -0.0), "%s", k->isa);
		k->grouped_max_f64(ids, gv, 4, acc2);
		cr_assert(same_f64(acc2[0], 0.0) && same_f64(acc2[1], 0.0), "%s", k->isa);
	}
}

Test(kernels, select)
{
	int err = 1;
	const sl_kernels *k = sl_kernels_select("scalar", &err);
	cr_assert_eq(k, &sl_kernels_scalar);
	cr_assert_eq(err, 0);
	cr_assert_str_eq(k->isa, "scalar");
	cr_assert_eq(k->lanes, 1);

	__builtin_cpu_init();
	bool avx2 = __builtin_cpu_supports("avx2");
	bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
	k = sl_kernels_select("avx2", &err);
	cr_assert_eq(k, avx2 ? &sl_kernels_avx2 : NULL);
	cr_assert_eq(err, avx2 ? 0 : -ENOTSUP);
	k = sl_kernels_select("avx512", &err);
	cr_assert_eq(k, avx512 ? &sl_kernels_avx512 : NULL);
	cr_assert_eq(err, avx512 ? 0 : -ENOTSUP);
	if (k)
		cr_assert_str_eq(k->isa, "avx512");

	k = sl_kernels_select(NULL, &err);
	cr_assert_eq(k, avx512 ? &sl_kernels_avx512 : avx2 ? &sl_kernels_avx2 : &sl_kernels_scalar);
	cr_assert_eq(sl_kernels_select("", NULL), k);
	cr_assert_eq(sl_kernels_select(NULL, NULL), k, "pure: same answer twice");

	cr_assert_null(sl_kernels_select("sse9", &err));
	cr_assert_eq(err, -EINVAL);
	cr_assert_null(sl_kernels_select("AVX2", &err));
	cr_assert_eq(err, -EINVAL);
	cr_assert_null(sl_kernels_select("avx", NULL));
}

/* Outputs are written only within their documented room: n (resp. nsel) indices for filters,
 * n values for panes; canaries after the end must survive every ISA, every op. */
Test(kernels, outputs_stay_in_bounds)
{
	const sl_kernels *const *all = every;
	int na = nevery;
	const uint32_t canary = 0xdeadbeef;
	for (int ik = 0; ik < na; ik++) {
		const sl_kernels *k = all[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			fill_i64(bi, n, 1);
			fill_f64(bf, n, 1);
			for (int op = SL_CMP_EQ; op <= SL_CMP_GE; op++) {
				for (size_t j = 0; j < 16; j++)
					outs[n + j] = canary;
				k->filter_i64(bi, n, op, 0, outs);
				k->filter_f64(bf, n, op, 0.0, outs);
				size_t ns = fill_sel(bsel, n, 1);
				for (size_t j = 0; j < 16; j++)
					bsel[ns + j] = canary;
				k->filter_i64_sel(bi, bsel, ns, op, 0, bsel);
				for (size_t j = 0; j < 16; j++) {
					cr_assert_eq(outs[n + j], canary, "%s n=%zu op=%d", k->isa,
						     n, op);
					cr_assert_eq(bsel[ns + j], canary, "%s n=%zu op=%d", k->isa,
						     n, op);
				}
			}
			/* a filter that keeps everything (k == i throughout) */
			for (size_t j = 0; j < 16; j++)
				outs[n + j] = canary;
			cr_assert_eq(k->filter_i64(bi, n, SL_CMP_GE, INT64_MIN, outs), n);
			for (size_t j = 0; j < n; j++)
				cr_assert_eq(outs[j], j);
			for (size_t j = 0; j < 16; j++)
				cr_assert_eq(outs[n + j], canary, "%s n=%zu", k->isa, n);
		}
	}
}

/* ---- keyed: hashing, dictionary probes, partitioning --------------------------------------- */

#include <xxhash.h>

/* hash_i64 and hash_str are xxHash's XXH3_64bits, bit for bit, in every ISA, at every length
 * and misalignment (the string lengths cross every XXH3 length class: 0, 1-3, 4-8, 9-16,
 * 17-128, 129-240, > 240). */
Test(kernels, hashes_are_xxh3)
{
	static uint64_t h[MAXN + 16];
	static sl_kstr sv[MAXN];
	static char text[MAXN + 600];
	const sl_kernels *const *all = every;
	int na = nevery;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)rng();
	for (int ik = 0; ik < na; ik++) {
		const sl_kernels *k = all[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < 3; off++) {
				int64_t *v = bi + off;
				fill_i64(v, n, (int)(off % 3));
				for (size_t j = 0; j < 16; j++)
					h[n + j] = 0x5555;
				k->hash_i64(v, n, h);
				for (size_t i = 0; i < n; i++)
					cr_assert_eq(h[i], XXH3_64bits(&v[i], 8),
						     "%s n=%zu i=%zu key=%" PRId64, k->isa, n, i,
						     v[i]);
				for (size_t j = 0; j < 16; j++)
					cr_assert_eq(h[n + j], 0x5555, "%s n=%zu", k->isa, n);
			}
			for (size_t i = 0; i < n; i++) {
				size_t len = i < 300 ? i : rng() % 300;
				sv[i] = (sl_kstr){text + rng() % 300, len};
			}
			k->hash_str(sv, n, h);
			for (size_t i = 0; i < n; i++)
				cr_assert_eq(h[i], XXH3_64bits(sv[i].p, sv[i].len),
					     "%s n=%zu i=%zu", k->isa, n, i);
		}
		for (size_t e = 0; e < sizeof(i64_edges) / sizeof(i64_edges[0]); e++) {
			k->hash_i64(&i64_edges[e], 1, h);
			cr_assert_eq(h[0], XXH3_64bits(&i64_edges[e], 8));
		}
		sl_kstr empty = {"", 0};
		k->hash_str(&empty, 1, h);
		cr_assert_eq(h[0], XXH3_64bits("", 0));
	}
}

/* A dictionary table of up to 1 << 13 slots (tab: 2 words a slot, lines 64-byte aligned). */
typedef struct tdict {
	sl_kdict d;
	_Alignas(64) uint64_t tab[1 << 14];
	int64_t keys[1 << 12];
	uint64_t hash[1 << 12];
	sl_kstr skeys[1 << 12];
} tdict;

static void tdict_init(tdict *t, size_t slots, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->d.tab = t->tab;
	t->d.mask = slots - 1;
	t->d.keys = t->keys;
	t->d.hash = t->hash;
	t->d.skeys = t->skeys;
	t->d.limit = limit;
}

/* Hash modes: 0 the real XXH3; 1 every key hashes alike (all tags and buckets collide);
 * 2 a few distinct hashes with equal tags (tag collisions across buckets); 3 equal low bits
 * (every key in one bucket, overflowing into the next); 4 all low bits set (every key homes
 * in the last bucket of a table up to 1 << 15 slots: probes wrap around to the first). */
static void key_hashes(const sl_kernels *k, const int64_t *v, size_t n, int mode, uint64_t *h)
{
	k->hash_i64(v, n, h);
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (uint64_t)v[i];
		if (mode == 1)
			h[i] = 0x1234567800000000u;
		else if (mode == 2)
			h[i] = 0x0000000100000000u | (x % 5) << 3;
		else if (mode == 3)
			h[i] = h[i] & ~(uint64_t)0xffff;
		else if (mode == 4)
			h[i] = h[i] | 0xffff;
	}
}

/* First-seen ids by linear search: the oracle. */
static size_t naive_ids(const int64_t *v, size_t n, int64_t *seen, size_t nseen, uint32_t *ids)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < nseen && seen[j] != v[i])
			j++;
		if (j == nseen)
			seen[nseen++] = v[i];
		ids[i] = (uint32_t)j;
	}
	return nseen;
}

Test(kernels, dict_put_find_i64_match_scalar_and_oracle)
{
	static tdict ref, got;
	static uint64_t h[MAXN];
	static uint32_t want[MAXN], ids[MAXN], miss[MAXN], miss2[MAXN];
	static int64_t seen[MAXN];
	const sl_kernels *const *all = every;
	int na = nevery;
	for (int hm = 0; hm < 5; hm++) {
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			size_t range = hm == 1 ? 40 : 1 + rng() % 2000;
			for (size_t i = 0; i < n; i++) {
				bi[i] = (int64_t)(rng() % range) * (hm == 0 ? -7 : 1);
				if (rng() % 50 == 0)
					bi[i] = i64_edges[rng() % 7];
			}
			key_hashes(S, bi, n, hm, h);
			size_t nk = naive_ids(bi, n, seen, 0, want);
			for (int ik = 0; ik < na; ik++) {
				const sl_kernels *k = all[ik];
				tdict *t = ik == 0 ? &ref : &got;
				tdict_init(t, 1 << 13, 1 << 12);
				cr_assert_eq(k->dict_put_i64(&t->d, bi, h, n, ids), n);
				cr_assert_eq(t->d.n, nk, "%s n=%zu hm=%d", k->isa, n, hm);
				for (size_t i = 0; i < n; i++)
					cr_assert_eq(ids[i], want[i], "%s n=%zu hm=%d i=%zu",
						     k->isa, n, hm, i);
				for (size_t i = n; i-- > 0;)
					cr_assert(t->keys[want[i]] == bi[i] &&
						  t->hash[want[i]] == h[i]);
				/* every id in a slot of the table (a probe that ran off its
				 * end instead of wrapping would leave some outside) */
				size_t full = 0;
				for (size_t w = 0; w < 2 * (t->d.mask + 1); w += 8)
					for (size_t l = 4; l < 8; l++)
						full += t->tab[w + l] != 0;
				cr_assert_eq(full, nk, "%s n=%zu hm=%d", k->isa, n, hm);
				if (ik > 0)
					cr_assert(!memcmp(ref.tab, got.tab, sizeof(ref.tab)),
						  "%s: same table as scalar, n=%zu hm=%d", k->isa,
						  n, hm);
				/* find: every key present; then keys that are not */
				cr_assert_eq(k->dict_find_i64(&t->d, bi, h, n, ids, miss), 0);
				for (size_t i = 0; i < n; i++)
					cr_assert_eq(ids[i], want[i]);
				/* absent keys, the key 0 among them (an empty slot's
				 * inline word is 0 too) */
				for (size_t i = 0; i < n; i++)
					bi2[i] =
					    i % 3 ? (i % 7 == 1 ? 0 : (int64_t)(range + i)) : bi[i];
				uint64_t *h2 = (uint64_t *)ri2;
				key_hashes(S, bi2, n, hm, h2);
				size_t nm = k->dict_find_i64(&t->d, bi2, h2, n, ids, miss);
				size_t w = 0;
				for (size_t i = 0; i < n; i++) {
					size_t j = 0;
					while (j < nk && seen[j] != bi2[i])
						j++;
					if (j == nk)
						miss2[w++] = (uint32_t)i;
					else
						cr_assert_eq(ids[i], j, "%s find i=%zu", k->isa, i);
				}
				cr_assert_eq(nm, w, "%s n=%zu hm=%d", k->isa, n, hm);
				cr_assert(!memcmp(miss, miss2, w * 4));
			}
		}
	}
}

/* dict_put_i64 stops before exceeding the limit and goes on from there with the same ids. */
Test(kernels, dict_put_i64_stops_at_limit)
{
	static tdict t;
	static uint64_t h[MAXN];
	static uint32_t want[MAXN], ids[MAXN];
	static int64_t seen[MAXN];
	const sl_kernels *const *all = every;
	int na = nevery;
	size_t n = 3000;
	for (size_t i = 0; i < n; i++)
		bi[i] = (int64_t)(rng() % 1500);
	S->hash_i64(bi, n, h);
	size_t nk = naive_ids(bi, n, seen, 0, want);
	for (int ik = 0; ik < na; ik++) {
		const sl_kernels *k = all[ik];
		tdict_init(&t, 1 << 13, 0);
		size_t done = 0, calls = 0;
		while (done < n) {
			t.d.limit += 100;
			size_t r = k->dict_put_i64(&t.d, bi + done, h + done, n - done, ids + done);
			cr_assert_leq(t.d.n, t.d.limit);
			if (done + r < n)
				cr_assert_eq(t.d.n, t.d.limit, "%s: stops only at the limit",
					     k->isa);
			done += r;
			calls++;
		}
		cr_assert_eq(t.d.n, nk);
		cr_assert_geq(calls, nk / 100);
		cr_assert(!memcmp(ids, want, n * 4), "%s", k->isa);
	}
}

/* Every slot of t holds its id's key inline, and the empty slots hold 0; the full slots of a
 * bucket are its first lanes. */
static void assert_skey(const tdict *t, const char *isa)
{
	for (size_t p = 0; p < 2 * (t->d.mask + 1); p += 8)
		for (size_t l = 0; l < 4; l++) {
			uint64_t s = t->tab[p + 4 + l];
			cr_assert_eq(t->tab[p + l], s ? (uint64_t)t->keys[(uint32_t)s - 1] : 0,
				     "%s slot %zu", isa, p + l);
			cr_assert(s || l == 3 || !t->tab[p + 5 + l], "%s bucket %zu", isa, p);
		}
}

/* dict_put_hash_i64 is hash_i64 then dict_put_i64: the same hashes, ids and table in every
 * ISA, including when it stops at the limit (rows done hashed, the rest picked up by the next
 * call after the limit grows, as core/keydict.c grows the table). Keys: the edges (INT64_MIN,
 * 0, -1, ...), the key 0 first into a table of empty slots (whose inline keys are 0), the
 * same new key twice and more within a block of 8, new keys in the middle of blocks. */
Test(kernels, dict_put_hash_i64_is_hash_then_put)
{
	static tdict ref, got;
	static uint64_t h[MAXN], hg[MAXN];
	static uint32_t want[MAXN], ids[MAXN];
	static int64_t seen[MAXN];
	const sl_kernels *const *all = every;
	int na = nevery;
	for (int km = 0; km < 3; km++) {
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t i = 0; i < n; i++) {
				if (km == 0) /* edges only: many repeats within 8 rows */
					bi[i] = i64_edges[rng() % 7];
				else if (km == 1) /* 0 first, then pairs of new keys */
					bi[i] =
					    i == 0 ? 0 : (int64_t)(i / 2) * (i % 4 < 2 ? 1 : -1);
				else
					bi[i] = rng() % 3 ? (int64_t)(rng() % 700) - 350
							  : i64_edges[rng() % 7];
			}
			S->hash_i64(bi, n, h);
			size_t nk = naive_ids(bi, n, seen, 0, want);
			for (int ik = 0; ik < na; ik++) {
				const sl_kernels *k = all[ik];
				for (int lim = 0; lim < 2; lim++) {
					tdict *t = &got;
					tdict_init(t, 1 << 13, lim ? 0 : 1 << 12);
					memset(hg, 0xa5, sizeof(hg));
					size_t done = 0;
					while (done < n) {
						if (lim)
							t->d.limit += 37;
						size_t r =
						    k->dict_put_hash_i64(&t->d, bi + done, n - done,
									 hg + done, ids + done);
						if (done + r < n)
							cr_assert_eq(t->d.n, t->d.limit, "%s",
								     k->isa);
						done += r;
					}
					cr_assert_eq(t->d.n, nk, "%s n=%zu km=%d", k->isa, n, km);
					cr_assert(!memcmp(ids, want, n * 4), "%s n=%zu km=%d",
						  k->isa, n, km);
					cr_assert(!memcmp(hg, h, n * 8), "%s hashes n=%zu", k->isa,
						  n);
					assert_skey(t, k->isa);
					/* the same table as the scalar two-call path */
					tdict_init(&ref, 1 << 13, 1 << 12);
					cr_assert_eq(S->dict_put_i64(&ref.d, bi, h, n, ids), n);
					cr_assert(!memcmp(ref.tab, got.tab, sizeof(ref.tab)),
						  "%s: same table, n=%zu km=%d", k->isa, n, km);
				}
			}
		}
	}
}

/* dict_sum_i64 is hash_i64, dict_put_i64 and grouped_sum_i64 in one pass: the same table
 * and ids (as the scalar dict_put_i64) and sums (wrapping; values with the edges) in every
 * ISA, on a table in cache (per-row path) and on one past SL_PREFETCH_SLOTS (block path),
 * with and without stops at the limit (the next call goes on from there; up to 1000 keys,
 * spread over the Long range or in a small one with the edges). The accumulators
 * past d->n start as garbage: a new key's must be set, not added to. */
Test(kernels, dict_sum_i64_is_put_then_grouped_sum)
{
	static uint64_t h[MAXN];
	static uint32_t want[MAXN], ids[MAXN];
	static int64_t seen[MAXN], vals[MAXN], sums[MAXN], acc[MAXN];
	const size_t slot_sizes[] = {(size_t)1 << 12, (size_t)1 << 18};
	sl_kdict d, r;
	for (int ts = 0; ts < 2; ts++) {
		size_t slots = slot_sizes[ts], words = 2 * slots;
		uint64_t *tab = aligned_alloc(64, words * 8), *rtab = aligned_alloc(64, words * 8);
		int64_t *keys = malloc(MAXN * 8), *rkeys = malloc(MAXN * 8);
		uint64_t *hash = malloc(MAXN * 8), *rhash = malloc(MAXN * 8);
		cr_assert(tab && rtab && keys && rkeys && hash && rhash);
		for (int km = 0; km < 3; km++) {
			for (size_t li = 0; li < nlengths; li += ts + 1) {
				size_t n = lengths[li];
				for (size_t i = 0; i < n; i++) {
					bi[i] = km == 0 ? i64_edges[rng() % 7]
						: km == 1
						    ? (int64_t)(rng() % 1000) * 0x3b9aca07
						    : (rng() % 3 ? (int64_t)(rng() % 700) - 350
								 : i64_edges[rng() % 7]);
				}
				fill_i64(vals, n, 2);
				S->hash_i64(bi, n, h);
				size_t nk = naive_ids(bi, n, seen, 0, want);
				memset(sums, 0, sizeof(sums));
				for (size_t i = 0; i < n; i++)
					sums[want[i]] =
					    (int64_t)((uint64_t)sums[want[i]] + (uint64_t)vals[i]);
				memset(rtab, 0, words * 8);
				r = (sl_kdict){.tab = rtab,
					       .mask = slots - 1,
					       .keys = rkeys,
					       .hash = rhash,
					       .limit = MAXN};
				cr_assert_eq(S->dict_put_i64(&r, bi, h, n, ids), n);
				for (int ik = 0; ik < nevery; ik++) {
					const sl_kernels *k = every[ik];
					for (int lim = 0; lim < 2; lim++) {
						memset(tab, 0, words * 8);
						memset(acc, 0xa5, sizeof(acc));
						d = (sl_kdict){.tab = tab,
							       .mask = slots - 1,
							       .keys = keys,
							       .hash = hash,
							       .limit = lim ? 0 : slots / 4};
						size_t done = 0;
						while (done < n) {
							if (lim)
								d.limit += 37;
							size_t got = k->dict_sum_i64(&d, bi + done,
										     vals + done,
										     n - done, acc);
							if (done + got < n)
								cr_assert_eq(d.n, d.limit, "%s",
									     k->isa);
							done += got;
						}
						cr_assert_eq(d.n, nk, "%s n=%zu km=%d", k->isa, n,
							     km);
						cr_assert(!memcmp(acc, sums, nk * 8),
							  "%s sums n=%zu km=%d slots=%zu lim=%d",
							  k->isa, n, km, slots, lim);
						cr_assert(!memcmp(tab, rtab, words * 8),
							  "%s: same table, n=%zu km=%d", k->isa, n,
							  km);
						cr_assert(!memcmp(keys, rkeys, nk * 8), "%s",
							  k->isa);
					}
				}
			}
		}
		free(tab), free(rtab), free(keys), free(rkeys), free(hash), free(rhash);
	}
}

static uint64_t hash1(int64_t x)
{
	return XXH3_64bits(&x, sizeof(x));
}

/* Whether dict_sum_i64's sum table is empty, as it must be between calls. */
static bool ksums_empty(const sl_ksums *s)
{
	if (!s->ready)
		return true;
	for (size_t b = 0; b < SL_KSUMS_BUCKETS; b++) {
		if (s->cnt[b])
			return false;
		for (size_t l = 0; l < 8; l++)
			if (s->tab[16 * b + l] != s->empty[b] || s->tab[16 * b + 8 + l])
				return false;
	}
	return true;
}

/* dict_sum_i64 and dict_count_i64 with and without the sum table (kernels.h: sl_ksums), in
 * every ISA, against the scalar dict_sum_i64 without one (of ones for the counts): the same
 * sums, ids, table and keys. Key sets: random Long keys
 * (3 .. 4096 of them, and 6000, past what the table takes), the small integers (which hold
 * every empty-lane key), and 40 keys that share a home bucket at every table size (chains
 * across full buckets) with 0 and the edges. Calls: all rows at once; the limit raised by 37
 * a call (a stop at the dictionary's limit in the middle); blocks of 4099 rows after the
 * dictionary knows the keys. The table is empty after every call. */
Test(kernels, dict_sum_i64_sum_table_matches_scalar)
{
	enum { N = 300000, SLOTS = 1 << 15, POOL = 6000 };
	static int64_t keys[N], vals[N], ones[N], pool[POOL], acc[SLOTS], racc[SLOTS];
	static int64_t dk[SLOTS], rk[SLOTS];
	static uint64_t dh[SLOTS], rh[SLOTS];
	uint64_t *tab = aligned_alloc(64, SLOTS * 16), *rtab = aligned_alloc(64, SLOTS * 16);
	sl_ksums *sums = aligned_alloc(64, sizeof(*sums));
	cr_assert(tab && rtab && sums);
	sums->ready = 0;
	const size_t counts[] = {3, 300, 1000, 4096, 6000};
	for (int set = 0; set < 7; set++) {
		size_t np = set < 5 ? counts[set] : set == 5 ? 4096 : 247;
		for (size_t j = 0; j < np; j++)
			pool[j] = set < 5 ? (int64_t)rng() : set == 5 ? (int64_t)j : 0;
		if (set == 6) {
			/* 40 keys with the same home bits 7..16, then others */
			size_t j = 0;
			uint64_t home = (hash1(1) >> 7) & (SL_KSUMS_BUCKETS - 1);
			for (int64_t x = 1; j < 40; x++)
				if (((hash1(x) >> 7) & (SL_KSUMS_BUCKETS - 1)) == home)
					pool[j++] = x;
			for (size_t e = 0; e < 7; e++)
				pool[j++] = i64_edges[e];
			while (j < np)
				pool[j++] = (int64_t)rng();
		}
		for (size_t i = 0; i < N; i++) {
			keys[i] = pool[rng() % np];
			vals[i] = (int64_t)rng();
			ones[i] = 1;
		}
		for (int mode = 0; mode < 6; mode++) {
			/* modes 3..5: dict_count_i64, against the sums of ones */
			bool cnt = mode >= 3;
			const int64_t *rv = cnt ? ones : vals;
			sl_kdict r = {.tab = rtab, .mask = SLOTS - 1, .keys = rk, .hash = rh};
			memset(rtab, 0, SLOTS * 16);
			r.limit = SLOTS / 4;
			if (mode % 3 == 2) /* the keys known first */
				cr_assert_eq(S->dict_sum_i64(&r, keys, rv, N, racc), N);
			size_t warm = r.n;
			cr_assert_eq(S->dict_sum_i64(&r, keys, rv, N, racc), N);
			for (int t = 0; t < 2 * nevery; t++) {
				const sl_kernels *k = every[t / 2];
				sl_kdict d = {.tab = tab,
					      .mask = SLOTS - 1,
					      .keys = dk,
					      .hash = dh,
					      .sums = t % 2 ? NULL : sums};
				memset(tab, 0, SLOTS * 16);
				memset(acc, 0xa5, sizeof(acc));
				d.limit = mode % 3 == 1 ? 0 : SLOTS / 4;
				if (mode % 3 == 2)
					cr_assert_eq(cnt ? k->dict_count_i64(&d, keys, N, acc)
							 : k->dict_sum_i64(&d, keys, vals, N, acc),
						     N);
				cr_assert_eq(d.n, warm);
				for (size_t done = 0; done < N;) {
					size_t m = mode % 3 == 2
						       ? (N - done < 4099 ? N - done : 4099)
						       : N - done;
					if (mode % 3 == 1)
						d.limit += 37;
					size_t got =
					    cnt ? k->dict_count_i64(&d, keys + done, m, acc)
						: k->dict_sum_i64(&d, keys + done, vals + done, m,
								  acc);
					cr_assert(ksums_empty(sums), "%s set=%d mode=%d", k->isa,
						  set, mode);
					if (got < m)
						cr_assert_eq(d.n, d.limit, "%s", k->isa);
					done += got;
				}
				cr_assert_eq(d.n, r.n, "%s set=%d mode=%d", k->isa, set, mode);
				cr_assert(!memcmp(acc, racc, r.n * 8), "%s sums set=%d mode=%d",
					  k->isa, set, mode);
				cr_assert(!memcmp(tab, rtab, SLOTS * 16), "%s table set=%d mode=%d",
					  k->isa, set, mode);
				cr_assert(!memcmp(dk, rk, r.n * 8), "%s keys", k->isa);
			}
		}
	}
	free(tab), free(rtab), free(sums);
}

/* Keys whose hashes share a bucket and a tag (and the key 0 among them): inline key matches
 * must not be fooled by empty slots, by equal tags or by a full home bucket. */
Test(kernels, dict_put_i64_inline_keys_with_colliding_hashes)
{
	static tdict t;
	static uint64_t reftab[2 << 6];
	static uint64_t h[MAXN];
	static uint32_t want[MAXN], ids[MAXN];
	static int64_t seen[MAXN];
	const sl_kernels *const *all = every;
	int na = nevery;
	size_t n = 600;
	for (size_t i = 0; i < n; i++)
		bi[i] = i % 5 == 0 ? 0 : (int64_t)(rng() % 30) - 15;
	for (int hm = 1; hm < 4; hm++) {
		key_hashes(S, bi, n, hm, h);
		size_t nk = naive_ids(bi, n, seen, 0, want);
		for (int ik = 0; ik < na; ik++) {
			const sl_kernels *k = all[ik];
			tdict_init(&t, 1 << 6, 1 << 5);
			cr_assert_eq(k->dict_put_i64(&t.d, bi, h, n, ids), n);
			cr_assert_eq(t.d.n, nk);
			cr_assert(!memcmp(ids, want, n * 4), "%s hm=%d", k->isa, hm);
			assert_skey(&t, k->isa);
			/* the same table in every ISA (every[0] is the scalar one) */
			if (ik == 0)
				memcpy(reftab, t.tab, sizeof(reftab));
			else
				cr_assert(!memcmp(reftab, t.tab, sizeof(reftab)), "%s hm=%d table",
					  k->isa, hm);
			/* again, every key known now */
			cr_assert_eq(k->dict_put_i64(&t.d, bi, h, n, ids), n);
			cr_assert_eq(t.d.n, nk);
			cr_assert(!memcmp(ids, want, n * 4), "%s hm=%d again", k->isa, hm);
		}
	}
}

Test(kernels, dict_find_str_matches_oracle)
{
	static tdict t;
	static uint64_t h[MAXN];
	static uint32_t ids[MAXN], miss[MAXN];
	static sl_kstr sv[MAXN];
	static char words[64][24];
	const sl_kernels *const *all = every;
	int na = nevery;
	/* 64 distinct words: "" and letters then digits, 2 to 19 bytes (every inline compare
	 * width; same lengths differing in one byte; prefixes of one another); the dictionary
	 * holds the even ones */
	for (int w = 1; w < 64; w++)
		snprintf(words[w], sizeof(words[w]), "%.*s%d", w % 18, "abcdefghijklmnopqr", w);
	/* hm 1: every key collides (same bucket, same tag); hm 2: every hash is 0, which is
	 * also what an empty slot's inline word holds */
	const uint64_t same[3] = {0, 0xabc0000000000000u, 0};
	for (int hm = 0; hm < 3; hm++) {
		tdict_init(&t, 1 << 7, 64);
		for (uint32_t w = 0; w < 64; w += 2) {
			uint32_t id = (uint32_t)t.d.n++;
			t.skeys[id] = (sl_kstr){words[w], strlen(words[w])};
			S->hash_str(&t.skeys[id], 1, &t.hash[id]);
			if (hm)
				t.hash[id] = same[hm];
			size_t j = sl_kdict_home(t.hash[id], t.d.mask);
			while (t.tab[j + 4])
				j = (j & 3) == 3 ? (j + 5) & (2 * t.d.mask + 1) : j + 1;
			t.tab[j] = t.hash[id];
			t.tab[j + 4] = (uint64_t)sl_kdict_tag(t.hash[id]) << 32 | (id + 1);
		}
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t i = 0; i < n; i++) {
				unsigned w = (unsigned)(rng() % 64);
				sv[i] = (sl_kstr){words[w], strlen(words[w])};
			}
			S->hash_str(sv, n, h);
			if (hm)
				for (size_t i = 0; i < n; i++)
					h[i] = same[hm];
			for (int ik = 0; ik < na; ik++) {
				const sl_kernels *k = all[ik];
				size_t nm = k->dict_find_str(&t.d, sv, h, n, ids, miss);
				size_t m = 0;
				for (size_t i = 0; i < n; i++) {
					size_t w = (size_t)(sv[i].p - words[0]) / sizeof(words[0]);
					if (w % 2)
						cr_assert_eq(miss[m++], i, "%s n=%zu i=%zu", k->isa,
							     n, i);
					else
						cr_assert_eq(ids[i], w / 2, "%s n=%zu i=%zu",
							     k->isa, n, i);
				}
				cr_assert_eq(nm, m, "%s n=%zu hm=%d", k->isa, n, hm);
			}
		}
	}
}

Test(kernels, partition_is_a_stable_counting_sort)
{
	static uint64_t h[MAXN];
	static uint32_t order[MAXN], start[1025], want[MAXN];
	static const uint32_t nouts[] = {1, 2, 3, 7, 64, 1000};
	const sl_kernels *const *all = every;
	int na = nevery;
	for (size_t li = 0; li < nlengths; li++) {
		size_t n = lengths[li];
		for (size_t i = 0; i < n; i++)
			h[i] = i % 5 == 0 ? UINT64_MAX : i % 7 == 0 ? 0 : rng();
		for (size_t o = 0; o < sizeof(nouts) / sizeof(nouts[0]); o++) {
			uint32_t nout = nouts[o];
			size_t w = 0;
			for (uint32_t p = 0; p < nout; p++)
				for (size_t i = 0; i < n; i++)
					if ((uint32_t)(((h[i] >> 32) * nout) >> 32) == p)
						want[w++] = (uint32_t)i;
			cr_assert_eq(w, n);
			for (int ik = 0; ik < na; ik++) {
				const sl_kernels *k = all[ik];
				memset(start, 0xff, sizeof(start));
				k->partition(h, n, nout, start, order);
				cr_assert(!memcmp(order, want, n * 4), "%s n=%zu nout=%u", k->isa,
					  n, nout);
				cr_assert_eq(start[0], 0);
				cr_assert_eq(start[nout], n);
				for (uint32_t p = 0; p < nout; p++)
					for (uint32_t q = start[p]; q < start[p + 1]; q++)
						cr_assert_eq(
						    (uint32_t)(((h[order[q]] >> 32) * nout) >> 32),
						    p, "%s n=%zu nout=%u", k->isa, n, nout);
			}
		}
	}
}

/* A key for the direct-map tests from the random r: in the map's range [base, base + len)
 * or just past it (the sentinel), just below base, or a Long edge. */
static int64_t direct_key(int64_t base, size_t len, uint64_t r)
{
	uint64_t u = r % 5 == 0   ? len + r % 10
		     : r % 7 == 0 ? (uint64_t) - (int64_t)(1 + r % 10)
				  : r % (len + 2);
	return r % 97 == 0 ? i64_edges[(r >> 8) % 7] : (int64_t)((uint64_t)base + u);
}

/* The direct map against its definition, every ISA, at every length and misalignment: keys in
 * range, below base, past base + len, at INT64_MIN/MAX (u computed modulo 2^64), known and not
 * known; the miss list ascending and exact; nothing written past n in ids or miss. */
Test(kernels, dict_direct_i64_matches_definition)
{
	static uint32_t dm[4097], ids[MAXN + 16], miss[MAXN + 16];
	const sl_kernels *const *all = every;
	int na = nevery;
	static const int64_t bases[] = {0, -100, INT64_MAX - 1000, INT64_MIN + 5};
	for (size_t bi_ = 0; bi_ < sizeof(bases) / sizeof(bases[0]); bi_++) {
		int64_t base = bases[bi_];
		size_t len = 4096;
		for (size_t u = 0; u < len; u++)
			dm[u] = u % 3 ? (uint32_t)(u * 7 + 1) : 0;
		dm[len] = 0;
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < 3; off++) {
				int64_t *v = bi + off;
				for (size_t i = 0; i < n; i++) {
					uint64_t r = rng();
					v[i] = direct_key(base, len, r);
				}
				for (int ik = 0; ik < na; ik++) {
					const sl_kernels *k = all[ik];
					for (size_t j = 0; j < 16; j++)
						ids[n + j] = miss[n + j] = 0xdeadbeef;
					size_t nm =
					    k->dict_direct_i64(dm, base, len, v, n, ids, miss);
					size_t w = 0;
					for (size_t i = 0; i < n; i++) {
						uint64_t u = (uint64_t)v[i] - (uint64_t)base;
						uint32_t x = u < len ? dm[u] : 0;
						if (!x)
							cr_assert_eq(miss[w++], i, "%s n=%zu i=%zu",
								     k->isa, n, i);
						else
							cr_assert_eq(ids[i], x - 1,
								     "%s n=%zu i=%zu", k->isa, n,
								     i);
					}
					cr_assert_eq(nm, w, "%s n=%zu base=%" PRId64, k->isa, n,
						     base);
					for (size_t j = 0; j < 16; j++)
						cr_assert(ids[n + j] == 0xdeadbeef &&
							      miss[n + j] == 0xdeadbeef,
							  "%s n=%zu: wrote past n", k->isa, n);
				}
			}
		}
	}
}

/* dict_direct_sum_i64 against its definition (dict_direct_i64, then a wrapping add of each
 * known row's value, or of 1 when counting), every ISA, at every length and misalignment: keys in
 * and out of range and at the edges, values with the edges, accumulators starting from garbage;
 * rows sharing a key (a map of 64 ids) add up; the misses ascending and exact, their values not
 * added; nothing written past n in miss. */
Test(kernels, dict_direct_sum_i64_is_direct_then_grouped_sum)
{
	static uint32_t dm[4097], miss[MAXN + 16];
	static int64_t acc[64], want[64], vals[MAXN + 16];
	static const int64_t bases[] = {0, -100, INT64_MAX - 1000, INT64_MIN + 5};
	for (size_t bi_ = 0; bi_ < sizeof(bases) / sizeof(bases[0]); bi_++) {
		int64_t base = bases[bi_];
		size_t len = 4096;
		for (size_t u = 0; u < len; u++)
			dm[u] = u % 3 ? (uint32_t)(u % 64 + 1) : 0;
		dm[len] = 0;
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			for (size_t off = 0; off < 3; off++) {
				int64_t *v = bi + off, *w = vals + off;
				for (size_t i = 0; i < n; i++) {
					uint64_t r = rng();
					v[i] = direct_key(base, len, r);
					w[i] = r % 13 == 0 ? i64_edges[(r >> 16) % 7]
							   : (int64_t)(rng() >> 20) - (1 << 22);
				}
				for (int ik = 0; ik < 2 * nevery; ik++) {
					/* the second round counts (v NULL) */
					const sl_kernels *k = every[ik % nevery];
					const int64_t *vv = ik < nevery ? w : NULL;
					for (size_t g = 0; g < 64; g++)
						acc[g] = want[g] = (int64_t)rng();
					for (size_t j = 0; j < 16; j++)
						miss[n + j] = 0xdeadbeef;
					size_t nm = k->dict_direct_sum_i64(dm, base, len, v, vv, n,
									   acc, miss);
					size_t q = 0;
					for (size_t i = 0; i < n; i++) {
						uint64_t u = (uint64_t)v[i] - (uint64_t)base;
						uint32_t x = u < len ? dm[u] : 0;
						if (!x)
							cr_assert_eq(miss[q++], i, "%s n=%zu i=%zu",
								     k->isa, n, i);
						else
							want[x - 1] =
							    (int64_t)((uint64_t)want[x - 1] +
								      (vv ? (uint64_t)w[i] : 1));
					}
					cr_assert_eq(nm, q, "%s n=%zu base=%" PRId64, k->isa, n,
						     base);
					for (size_t g = 0; g < 64; g++)
						cr_assert_eq(acc[g], want[g], "%s n=%zu id %zu",
							     k->isa, n, g);
					for (size_t j = 0; j < 16; j++)
						cr_assert_eq(miss[n + j], 0xdeadbeef,
							     "%s n=%zu: wrote past n", k->isa, n);
				}
			}
		}
	}
}

/* map_i64 / map_f64 identical to scalar (and to the C expression) at every length and
 * misalignment, with a column or a constant operand, and in place (o == a); a NaN result's sign
 * and payload may differ (kernels.h). */
Test(kernels, arithmetic_maps_match_scalar)
{
	const sl_kernels *const *all = every;
	int na = nevery;
	for (int ik = 0; ik < na; ik++) {
		const sl_kernels *k = all[ik];
		for (size_t li = 0; li < nlengths; li++) {
			size_t n = lengths[li];
			size_t off = li % MAXOFF;
			for (int mode = 0; mode < 3; mode++) {
				fill_i64(bi + off, n, mode);
				fill_i64(bi2, n, 2);
				fill_f64(bf + off, n, mode);
				fill_f64(bf2, n, 2);
				for (int op = SL_ARITH_ADD; op <= SL_ARITH_DIV; op++) {
					int64_t c = i64_edges[(size_t)op % 7];
					double cf = f64_edges[(size_t)(op + mode) % 10];
					for (int useb = 0; useb < 2; useb++) {
						if (op != SL_ARITH_DIV) {
							k->map_i64(op, bi + off, useb ? bi2 : NULL,
								   c, n, ri);
							for (size_t i = 0; i < n; i++) {
								uint64_t x = (uint64_t)bi[off + i],
									 y = useb ? (uint64_t)bi2[i]
										  : (uint64_t)c;
								uint64_t w =
								    op == SL_ARITH_ADD   ? x + y
								    : op == SL_ARITH_SUB ? x - y
											 : x * y;
								cr_assert_eq((uint64_t)ri[i], w,
									     CTX);
							}
						}
						k->map_f64(op, bf + off, useb ? bf2 : NULL, cf, n,
							   rf);
						S->map_f64(op, bf + off, useb ? bf2 : NULL, cf, n,
							   rf2);
						for (size_t i = 0; i < n; i++)
							cr_assert(
							    bits(rf[i]) == bits(rf2[i]) ||
								(isnan(rf[i]) && isnan(rf2[i])),
							    "%s n=%zu i=%zu op=%d %a %a", k->isa, n,
							    i, op, rf[i], rf2[i]);
					}
				}
				/* in place */
				memcpy(ri2, bi + off, n * 8);
				k->map_i64(SL_ARITH_MUL, ri2, ri2, 0, n, ri2);
				for (size_t i = 0; i < n; i++)
					cr_assert_eq((uint64_t)ri2[i],
						     (uint64_t)bi[off + i] * (uint64_t)bi[off + i],
						     CTX);
			}
		}
	}
}
