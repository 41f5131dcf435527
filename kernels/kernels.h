/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernels.h - SIMD kernels over column vectors, one const table of function pointers per ISA.
 *
 * Invariants:
 * - Every kernel is written once (kernels/reduce.h) and compiled once per ISA with per-file
 *   flags (kernels/meson.build); the tables sl_kernels_scalar/avx2/avx512 are const and there
 *   is no global mutable state. sl_kernels_select is a pure function of its argument and the CPU.
 * - Callers pick a table once (per context) and keep the pointer; kernels never branch on the
 *   ISA per call. The library never reads the environment: the CLI passes SLUICE_ISA as `force`.
 * - Kernels are pure: they read their inputs and write only their outputs; inputs need no
 *   alignment; n may be 0. Indices (selection vectors, key ids) are uint32_t and must be in
 *   bounds (ids < length of acc, sel[i] < length of v); they are not checked.
 *
 * Semantics, identical in every ISA unless noted:
 * - i64 sums wrap (two's complement, computed in uint64_t).
 * - i64/f64 min/max of nothing is the identity: INT64_MAX/INT64_MIN, +Inf/-Inf.
 * - f64 min/max follow Java's Math.min/max: a NaN anywhere makes the result NaN (always the
 *   canonical quiet NaN 0x7ff8000000000000, whichever NaN was seen), and -0.0 < +0.0.
 *   Results are bit-identical across ISAs.
 * - f64 sum: the summation ORDER depends on the ISA (the vector ISAs keep `lanes` or more
 *   partial sums and fold them at the end), so results may differ in the last bits from the
 *   scalar (strictly left-to-right) sum; everything else (i64 anything, counts, filters,
 *   min/max, grouped and pane ops, which are element-wise or sequential per key) is
 *   bit-identical to scalar.
 * - Comparisons on f64 are IEEE: with a NaN on either side every op is false except NE.
 * - Filters write ascending row indices and return how many; the output needs room for n
 *   (resp. nsel) indices; the _sel variants may filter in place (out == sel).
 */
#ifndef SL_KERNELS_H
#define SL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Comparison of a column with a constant: v[i] OP c. */
typedef enum sl_cmp {
	SL_CMP_EQ,
	SL_CMP_NE,
	SL_CMP_LT,
	SL_CMP_LE,
	SL_CMP_GT,
	SL_CMP_GE,
} sl_cmp;

typedef struct sl_kernels {
	const char *isa;  /* "scalar", "avx2" or "avx512" */
	unsigned lanes;   /* 64-bit elements per vector register: 1, 4, 8 */
	unsigned f64_acc; /* partial sums kept by sum_f64 (its summation order) */

	/* Reductions over v[0..n), and over v[sel[0..nsel)]. */
	int64_t (*sum_i64)(const int64_t *v, size_t n);
	int64_t (*sum_i64_sel)(const int64_t *v, const uint32_t *sel, size_t nsel);
	int64_t (*min_i64)(const int64_t *v, size_t n);
	int64_t (*min_i64_sel)(const int64_t *v, const uint32_t *sel, size_t nsel);
	int64_t (*max_i64)(const int64_t *v, size_t n);
	int64_t (*max_i64_sel)(const int64_t *v, const uint32_t *sel, size_t nsel);
	double (*sum_f64)(const double *v, size_t n);
	double (*sum_f64_sel)(const double *v, const uint32_t *sel, size_t nsel);
	double (*min_f64)(const double *v, size_t n);
	double (*min_f64_sel)(const double *v, const uint32_t *sel, size_t nsel);
	double (*max_f64)(const double *v, size_t n);
	double (*max_f64_sel)(const double *v, const uint32_t *sel, size_t nsel);

	/* count: how many rows satisfy v[i] OP c (a filter without materialising it).
	 * (Counting rows alone is n or nsel: columns have no nulls.) */
	size_t (*count_i64)(const int64_t *v, size_t n, sl_cmp op, int64_t c);
	size_t (*count_i64_sel)(const int64_t *v, const uint32_t *sel, size_t nsel, sl_cmp op,
				int64_t c);
	size_t (*count_f64)(const double *v, size_t n, sl_cmp op, double c);
	size_t (*count_f64_sel)(const double *v, const uint32_t *sel, size_t nsel, sl_cmp op,
				double c);

	/* filter: out[] = the i (resp. sel[i]) with v[i] OP c, ascending; returns the count.
	 * n must fit in uint32_t. */
	size_t (*filter_i64)(const int64_t *v, size_t n, sl_cmp op, int64_t c, uint32_t *out);
	size_t (*filter_i64_sel)(const int64_t *v, const uint32_t *sel, size_t nsel, sl_cmp op,
				 int64_t c, uint32_t *out);
	size_t (*filter_f64)(const double *v, size_t n, sl_cmp op, double c, uint32_t *out);
	size_t (*filter_f64_sel)(const double *v, const uint32_t *sel, size_t nsel, sl_cmp op,
				 double c, uint32_t *out);

	/* compaction: out[i] = v[sel[i]] for i < nsel (out must not overlap v). */
	void (*gather_i64)(const int64_t *v, const uint32_t *sel, size_t nsel, int64_t *out);
	void (*gather_f64)(const double *v, const uint32_t *sel, size_t nsel, double *out);

	/* grouped aggregation by dense key id: acc[ids[i]] op= v[i] for i < n, in row order.
	 * acc is initialised by the caller (0, the min/max identity, or a running state). */
	void (*grouped_sum_i64)(const uint32_t *ids, const int64_t *v, size_t n, int64_t *acc);
	void (*grouped_min_i64)(const uint32_t *ids, const int64_t *v, size_t n, int64_t *acc);
	void (*grouped_max_i64)(const uint32_t *ids, const int64_t *v, size_t n, int64_t *acc);
	void (*grouped_sum_f64)(const uint32_t *ids, const double *v, size_t n, double *acc);
	void (*grouped_min_f64)(const uint32_t *ids, const double *v, size_t n, double *acc);
	void (*grouped_max_f64)(const uint32_t *ids, const double *v, size_t n, double *acc);
	void (*grouped_count)(const uint32_t *ids, size_t n, int64_t *acc); /* acc[ids[i]]++ */

	/* pane combine (windows): dst[i] = dst[i] op src[i] for i < n; dst and src are either
	 * the same array or do not overlap. i64 add/sub wrap; f64 min/max as above. */
	void (*pane_add_i64)(int64_t *dst, const int64_t *src, size_t n);
	void (*pane_sub_i64)(int64_t *dst, const int64_t *src, size_t n);
	void (*pane_min_i64)(int64_t *dst, const int64_t *src, size_t n);
	void (*pane_max_i64)(int64_t *dst, const int64_t *src, size_t n);
	void (*pane_add_f64)(double *dst, const double *src, size_t n);
	void (*pane_sub_f64)(double *dst, const double *src, size_t n);
	void (*pane_min_f64)(double *dst, const double *src, size_t n);
	void (*pane_max_f64)(double *dst, const double *src, size_t n);
} sl_kernels;

/* The per-ISA tables (use sl_kernels_select; these are for tests and benchmarks). */
extern const sl_kernels sl_kernels_scalar;
extern const sl_kernels sl_kernels_avx2;
extern const sl_kernels sl_kernels_avx512;

/*
 * The kernel table to use. force = NULL or "" picks the best ISA this CPU runs (avx512 needs
 * F+BW+VL+DQ; avx2 needs AVX2); force = "scalar", "avx2" or "avx512" picks that one.
 * Returns NULL with *err = -ENOTSUP when the CPU lacks the forced ISA, -EINVAL for an
 * unknown name (err may be NULL). Pure: same answer for the same argument on a CPU.
 */
const sl_kernels *sl_kernels_select(const char *force, int *err);

#endif
