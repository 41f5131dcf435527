/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reduce.h - the generic reduction, filter, compaction, grouped and pane kernels, written
 * once and compiled once per ISA: reduce_scalar.c, reduce_avx2.c and reduce_avx512.c define
 * SL_ISA (a token), SL_ISA_NAME, SL_LANES and SL_F64_ACC and include this file, which
 * defines the const table sl_kernels_<SL_ISA>.
 *
 * Invariants:
 * - Plain C loops shaped so that the compiler vectorizes them with the including file's
 *   flags (-mavx2 / -mavx512*, -O3); the scalar file disables vectorization, so it is the
 *   reference. Nothing here uses intrinsics or branches on the ISA; the one loop compilers
 *   cannot vectorize (a filter's compress) takes optional primitives from the ISA file
 *   (contract at SL_FILTER_BLOCKS), the scalar file defines none.
 * - Results never depend on the vector width, except the f64 sum's ORDER: sum_f64 keeps
 *   W = SL_F64_ACC partial sums (row i goes to acc[i % W]), folded pairwise at the end;
 *   W = 1 (scalar) is the plain left-to-right sum.
 * - f64 min/max are computed on integer keys (sl_f64_key): a total order on bit patterns with
 *   -0.0 < +0.0, which makes them exact, vectorizable and identical in every ISA. A NaN is
 *   tracked by a separate OR (reductions) or mapped to the extreme key (element-wise ops)
 *   and always reported as the canonical NaN.
 * - Everything is static except the table; the file has no state.
 */
#ifndef SL_REDUCE_H
#define SL_REDUCE_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels.h"
#include "text.h" /* the text kernels' declarations, for the table */

#if !defined(SL_ISA) || !defined(SL_ISA_NAME) || !defined(SL_LANES) || !defined(SL_F64_ACC)
#error "define SL_ISA, SL_ISA_NAME, SL_LANES and SL_F64_ACC before including reduce.h"
#endif

#define SL_CAT2(a, b) a##b
#define SL_CAT(a, b)  SL_CAT2(a, b)
#define SL_TABLE      SL_CAT(sl_kernels_, SL_ISA)
#define SL_NAN_BITS   INT64_C(0x7ff8000000000000)
#define SL_ABS_MASK   INT64_C(0x7fffffffffffffff)
#define SL_INF_BITS   INT64_C(0x7ff0000000000000)

/* Software prefetch of an input stream SL_STREAM_AHEAD bytes ahead, for loops whose
 * per-row work is short enough that the hardware prefetcher alone leaves them waiting on
 * memory (the grouped and direct-map sums: data-dependent stores between the loads). The
 * address goes through uintptr_t: it may lie past the array (a prefetch never faults). */
#ifndef SL_STREAM_AHEAD
#define SL_STREAM_AHEAD 2048
#endif
#define SL_STREAM_PREFETCH(p) __builtin_prefetch((const void *)((uintptr_t)(p) + SL_STREAM_AHEAD))

/* ---- f64 <-> ordered integer keys ------------------------------------------------------ */

static inline int64_t sl_f64_bits(double x)
{
	int64_t b;
	memcpy(&b, &x, sizeof(b));
	return b;
}

static inline double sl_bits_f64(int64_t b)
{
	double x;
	memcpy(&x, &b, sizeof(x));
	return x;
}

/* Monotone map from f64 bit patterns to int64 (an involution): negative numbers get their
 * magnitude bits flipped, so key order is -NaN < -Inf < ... < -0.0 < +0.0 < ... < +Inf < +NaN. */
static inline int64_t sl_f64_key(int64_t b)
{
	return b ^ (int64_t)((uint64_t)(b >> 63) >> 1);
}

static inline bool sl_bits_isnan(int64_t b)
{
	return (b & SL_ABS_MASK) > SL_INF_BITS;
}

/* Key for min (NaN -> INT64_MIN, below every number) and for max (NaN -> INT64_MAX). */
static inline int64_t sl_min_key(double x)
{
	int64_t b = sl_f64_bits(x);
	return sl_bits_isnan(b) ? INT64_MIN : sl_f64_key(b);
}

static inline int64_t sl_max_key(double x)
{
	int64_t b = sl_f64_key(sl_f64_bits(x));
	return sl_bits_isnan(sl_f64_bits(x)) ? INT64_MAX : b;
}

/* Back from a reduced key: the extreme keys are NaN (no non-NaN value has them). */
static inline double sl_key_f64(int64_t k)
{
	if (k == INT64_MIN || k == INT64_MAX)
		return sl_bits_f64(SL_NAN_BITS);
	return sl_bits_f64(sl_f64_key(k));
}

/* Java's Math.min/max of two values, canonical NaN. */
static inline double sl_fmin(double a, double b)
{
	int64_t ka = sl_min_key(a), kb = sl_min_key(b);
	return sl_key_f64(ka < kb ? ka : kb);
}

static inline double sl_fmax(double a, double b)
{
	int64_t ka = sl_max_key(a), kb = sl_max_key(b);
	return sl_key_f64(ka > kb ? ka : kb);
}

/* ---- reductions ------------------------------------------------------------------------ */

static int64_t sum_i64(const int64_t *v, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (uint64_t)v[i];
	return (int64_t)s;
}

static int64_t sum_i64_sel(const int64_t *v, const uint32_t *sel, size_t nsel)
{
	uint64_t s = 0;
	for (size_t i = 0; i < nsel; i++)
		s += (uint64_t)v[sel[i]];
	return (int64_t)s;
}

static int64_t min_i64(const int64_t *v, size_t n)
{
	int64_t m = INT64_MAX;
	for (size_t i = 0; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static int64_t min_i64_sel(const int64_t *v, const uint32_t *sel, size_t nsel)
{
	int64_t m = INT64_MAX;
	for (size_t i = 0; i < nsel; i++)
		m = v[sel[i]] < m ? v[sel[i]] : m;
	return m;
}

static int64_t max_i64(const int64_t *v, size_t n)
{
	int64_t m = INT64_MIN;
	for (size_t i = 0; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static int64_t max_i64_sel(const int64_t *v, const uint32_t *sel, size_t nsel)
{
	int64_t m = INT64_MIN;
	for (size_t i = 0; i < nsel; i++)
		m = v[sel[i]] > m ? v[sel[i]] : m;
	return m;
}

/* Fold the W partial sums pairwise (fixed order for a given W). */
static inline double sl_fold(double *acc)
{
	for (size_t w = SL_F64_ACC / 2; w >= 1; w /= 2)
		for (size_t j = 0; j < w; j++)
			acc[j] += acc[j + w];
	return acc[0];
}

/* The partial sums start at -0.0, the identity of IEEE addition, so that a sum of -0.0s is
 * -0.0 as Java's is (0.0 + -0.0 would be 0.0); an empty sum is 0.0. */
static inline void sl_f64_sum_init(double *acc)
{
	for (size_t j = 0; j < SL_F64_ACC; j++)
		acc[j] = -0.0;
}

static double sum_f64(const double *v, size_t n)
{
	if (!n)
		return 0.0;
	double acc[SL_F64_ACC];
	sl_f64_sum_init(acc);
	size_t i = 0;
	for (; i + SL_F64_ACC <= n; i += SL_F64_ACC)
		for (size_t j = 0; j < SL_F64_ACC; j++)
			acc[j] += v[i + j];
	for (size_t j = 0; i < n; i++, j++)
		acc[j] += v[i];
	return sl_fold(acc);
}

static double sum_f64_sel(const double *v, const uint32_t *sel, size_t nsel)
{
	if (!nsel)
		return 0.0;
	double acc[SL_F64_ACC];
	sl_f64_sum_init(acc);
	size_t i = 0;
	for (; i + SL_F64_ACC <= nsel; i += SL_F64_ACC)
		for (size_t j = 0; j < SL_F64_ACC; j++)
			acc[j] += v[sel[i + j]];
	for (size_t j = 0; i < nsel; i++, j++)
		acc[j] += v[sel[i]];
	return sl_fold(acc);
}

/* min/max over keys, with the NaN test as a separate OR reduction (two plain reductions
 * vectorize; folding the NaN into the key with a select does not). X(i) is the i-th value;
 * rows [I0, N) are reduced into m and nan, which hold rows [0, I0) already. */
#define SL_FMINMAX(I0, N, X, CMP, EMPTY)                                                           \
	do {                                                                                       \
		for (size_t i = (I0); i < (N); i++) {                                              \
			int64_t b = sl_f64_bits(X(i));                                             \
			int64_t k = sl_f64_key(b);                                                 \
			m = (CMP) < 0 ? (k < m ? k : m) : (k > m ? k : m);                         \
			nan |= (uint64_t)sl_bits_isnan(b);                                         \
		}                                                                                  \
		if (!(N))                                                                          \
			return (EMPTY);                                                            \
		return sl_bits_f64(nan ? SL_NAN_BITS : sl_f64_key(m));                             \
	} while (0)
#define SL_AT(i)     v[i]
#define SL_AT_SEL(i) v[sel[i]]

/* SL_FMINMAX_HEAD(v, n, max, &m, &nan): an ISA's own loop over the leading rows of min_f64 /
 * max_f64 (max: 0 or 1), folding them into m (the min or max key) and nan (1 if a NaN was
 * seen); returns the rows done, the rest go through SL_FMINMAX. */
#ifndef SL_FMINMAX_HEAD
#define SL_FMINMAX_HEAD(v, n, max, m, nan) ((size_t)0)
#endif

static double min_f64(const double *v, size_t n)
{
	int64_t m = INT64_MAX;
	uint64_t nan = 0;
	size_t i0 = SL_FMINMAX_HEAD(v, n, 0, &m, &nan);
	SL_FMINMAX(i0, n, SL_AT, -1, INFINITY);
}

static double min_f64_sel(const double *v, const uint32_t *sel, size_t nsel)
{
	int64_t m = INT64_MAX;
	uint64_t nan = 0;
	SL_FMINMAX(0, nsel, SL_AT_SEL, -1, INFINITY);
}

static double max_f64(const double *v, size_t n)
{
	int64_t m = INT64_MIN;
	uint64_t nan = 0;
	size_t i0 = SL_FMINMAX_HEAD(v, n, 1, &m, &nan);
	SL_FMINMAX(i0, n, SL_AT, 1, -INFINITY);
}

static double max_f64_sel(const double *v, const uint32_t *sel, size_t nsel)
{
	int64_t m = INT64_MIN;
	uint64_t nan = 0;
	SL_FMINMAX(0, nsel, SL_AT_SEL, 1, -INFINITY);
}

/* ---- count and filter: one loop per operator so the comparison is a constant ----------- */

/* Expands BODY(OP, NAME) once per comparison operator, switching on op. */
#define SL_CMP_SWITCH(op, BODY)                                                                    \
	switch (op) {                                                                              \
	case SL_CMP_EQ: BODY(==, EQ); break;                                                       \
	case SL_CMP_NE: BODY(!=, NE); break;                                                       \
	case SL_CMP_LT: BODY(<, LT); break;                                                        \
	case SL_CMP_LE: BODY(<=, LE); break;                                                       \
	case SL_CMP_GT: BODY(>, GT); break;                                                        \
	case SL_CMP_GE: BODY(>=, GE); break;                                                       \
	}

#define SL_COUNT(OP, NAME)                                                                         \
	for (size_t i = 0; i < n; i++)                                                             \
	cnt += (size_t)(v[i] OP c)
#define SL_COUNT_SEL(OP, NAME)                                                                     \
	for (size_t i = 0; i < nsel; i++)                                                          \
	cnt += (size_t)(v[sel[i]] OP c)

/*
 * Filters: the scalar form stores every index and advances only on a match (branch-free).
 * A compiler does not vectorize that (it is a compress), so a vector ISA may define
 * primitives and the same loop then runs SL_LANES rows per step:
 *   SL_VEC_I64 / SL_VEC_F64, SL_SPLAT_I64(c) / SL_SPLAT_F64(c): a broadcast constant;
 *   SL_LOAD_I64(p) / SL_LOAD_F64(p): SL_LANES values from p (unaligned);
 *   SL_MASK_I64(p, cv, NAME) / SL_MASK_F64(p, cv, NAME): unsigned, bit j set iff p[j] OP c
 *     for j < SL_LANES, NAME one of EQ NE LT LE GT GE, with the same IEEE semantics as OP;
 *   SL_EMIT(out, base, m): writes base + j for each set bit j of m, ascending, at out[0..],
 *     and may write garbage up to out[SL_LANES - 1].
 * Both forms write out[k] only for k <= i + SL_LANES - 1 < n (k never exceeds the rows
 * read), so out needs no room beyond n.
 */
#ifdef SL_EMIT
#define SL_FILTER_BLOCKS(T, NAME)                                                                  \
	do {                                                                                       \
		SL_VEC_##T cv = SL_SPLAT_##T(c);                                                   \
		for (; i + SL_LANES <= n; i += SL_LANES) {                                         \
			unsigned m = SL_MASK_##T(v + i, cv, NAME);                                 \
			SL_EMIT(out + k, i, m);                                                    \
			k += (size_t)__builtin_popcount(m);                                        \
		}                                                                                  \
	} while (0)
#else
#define SL_FILTER_BLOCKS(T, NAME)                                                                  \
	do {                                                                                       \
	} while (0)
#endif
/* Two columns: the same with b[i] in place of c. */
#ifdef SL_EMIT
#define SL_FILTER2_BLOCKS(T, NAME)                                                                 \
	for (; i + SL_LANES <= n; i += SL_LANES) {                                                 \
		unsigned m = SL_MASK_##T(a + i, SL_LOAD_##T(b + i), NAME);                         \
		SL_EMIT(out + k, i, m);                                                            \
		k += (size_t)__builtin_popcount(m);                                                \
	}
#else
#define SL_FILTER2_BLOCKS(T, NAME)
#endif
#define SL_FILTER2(T, OP, NAME)                                                                    \
	SL_FILTER2_BLOCKS(T, NAME)                                                                 \
	for (; i < n; i++) {                                                                       \
		out[k] = (uint32_t)i;                                                              \
		k += (size_t)(a[i] OP b[i]);                                                       \
	}
#define SL_FILTER2_I64(OP, NAME) SL_FILTER2(I64, OP, NAME)
#define SL_FILTER2_F64(OP, NAME) SL_FILTER2(F64, OP, NAME)
#define SL_FILTER(T, OP, NAME)                                                                     \
	SL_FILTER_BLOCKS(T, NAME);                                                                 \
	for (; i < n; i++) {                                                                       \
		out[k] = (uint32_t)i;                                                              \
		k += (size_t)(v[i] OP c);                                                          \
	}
#define SL_FILTER_I64(OP, NAME) SL_FILTER(I64, OP, NAME)
#define SL_FILTER_F64(OP, NAME) SL_FILTER(F64, OP, NAME)
/* In place (out == sel) is safe: out[k] is written after sel[i] is read, and k <= i. */
#define SL_FILTER_SEL(OP, NAME)                                                                    \
	for (size_t i = 0; i < nsel; i++) {                                                        \
		uint32_t r = sel[i];                                                               \
		out[k] = r;                                                                        \
		k += (size_t)(v[r] OP c);                                                          \
	}

static size_t count_i64(const int64_t *v, size_t n, sl_cmp op, int64_t c)
{
	size_t cnt = 0;
	SL_CMP_SWITCH(op, SL_COUNT)
	return cnt;
}

static size_t count_i64_sel(const int64_t *v, const uint32_t *sel, size_t nsel, sl_cmp op,
			    int64_t c)
{
	size_t cnt = 0;
	SL_CMP_SWITCH(op, SL_COUNT_SEL)
	return cnt;
}

static size_t count_f64(const double *v, size_t n, sl_cmp op, double c)
{
	size_t cnt = 0;
	SL_CMP_SWITCH(op, SL_COUNT)
	return cnt;
}

static size_t count_f64_sel(const double *v, const uint32_t *sel, size_t nsel, sl_cmp op, double c)
{
	size_t cnt = 0;
	SL_CMP_SWITCH(op, SL_COUNT_SEL)
	return cnt;
}

static size_t filter_i64(const int64_t *v, size_t n, sl_cmp op, int64_t c, uint32_t *out)
{
	size_t k = 0, i = 0;
	SL_CMP_SWITCH(op, SL_FILTER_I64)
	return k;
}

static size_t filter_i64_sel(const int64_t *v, const uint32_t *sel, size_t nsel, sl_cmp op,
			     int64_t c, uint32_t *out)
{
	size_t k = 0;
	SL_CMP_SWITCH(op, SL_FILTER_SEL)
	return k;
}

static size_t filter_f64(const double *v, size_t n, sl_cmp op, double c, uint32_t *out)
{
	size_t k = 0, i = 0;
	SL_CMP_SWITCH(op, SL_FILTER_F64)
	return k;
}

static size_t filter_f64_sel(const double *v, const uint32_t *sel, size_t nsel, sl_cmp op, double c,
			     uint32_t *out)
{
	size_t k = 0;
	SL_CMP_SWITCH(op, SL_FILTER_SEL)
	return k;
}

static size_t filter_i64_col(const int64_t *a, const int64_t *b, size_t n, sl_cmp op, uint32_t *out)
{
	size_t k = 0, i = 0;
	SL_CMP_SWITCH(op, SL_FILTER2_I64)
	return k;
}

static size_t filter_f64_col(const double *a, const double *b, size_t n, sl_cmp op, uint32_t *out)
{
	size_t k = 0, i = 0;
	SL_CMP_SWITCH(op, SL_FILTER2_F64)
	return k;
}

/* ---- compaction ------------------------------------------------------------------------ */

static void gather_i64(const int64_t *restrict v, const uint32_t *restrict sel, size_t nsel,
		       int64_t *restrict out)
{
	for (size_t i = 0; i < nsel; i++)
		out[i] = v[sel[i]];
}

static void gather_f64(const double *restrict v, const uint32_t *restrict sel, size_t nsel,
		       double *restrict out)
{
	for (size_t i = 0; i < nsel; i++)
		out[i] = v[sel[i]];
}

/* ---- grouped aggregation: sequential per key (ids repeat), so the same in every ISA ----- */

/* The rows loop of a grouped kernel: STEP(j) per row, and per 8 rows (unrolled: a rolled
 * inner loop cost a third in cache) a prefetch of the stream pf (the values, a line of 8; for
 * count the ids) and, every other time, of the ids (a line of 16) unless pf is the ids. STEP
 * uses the kernel's own names (acc, ids, v); the arguments are evaluated more than once.
 * With only the hardware prefetcher the loop waits on memory: grouped_sum_i64 from memory
 * went from ~900 to ~1400 M rows/s with it (docs/benchmarks.md). */
#define SL_GROUPED_ROWS(ids, pf, n, STEP)                                                          \
	do {                                                                                       \
		size_t i_ = 0;                                                                     \
		for (; i_ + 8 <= (n); i_ += 8) {                                                   \
			SL_STREAM_PREFETCH((pf) + i_);                                             \
			if (!(i_ & 8) && (const void *)(pf) != (const void *)(ids))                \
				SL_STREAM_PREFETCH((ids) + i_);                                    \
			STEP(i_);                                                                  \
			STEP(i_ + 1);                                                              \
			STEP(i_ + 2);                                                              \
			STEP(i_ + 3);                                                              \
			STEP(i_ + 4);                                                              \
			STEP(i_ + 5);                                                              \
			STEP(i_ + 6);                                                              \
			STEP(i_ + 7);                                                              \
		}                                                                                  \
		for (; i_ < (n); i_++)                                                             \
			STEP(i_);                                                                  \
	} while (0)

#define SL_GSUM_I64(j) acc[ids[j]] = (int64_t)((uint64_t)acc[ids[j]] + (uint64_t)v[j])
#define SL_GMIN(j)     acc[ids[j]] = v[j] < acc[ids[j]] ? v[j] : acc[ids[j]]
#define SL_GMAX(j)     acc[ids[j]] = v[j] > acc[ids[j]] ? v[j] : acc[ids[j]]
#define SL_GSUM_F64(j) acc[ids[j]] += v[j]
#define SL_GMIN_F64(j) acc[ids[j]] = sl_fmin(acc[ids[j]], v[j])
#define SL_GMAX_F64(j) acc[ids[j]] = sl_fmax(acc[ids[j]], v[j])
#define SL_GCOUNT(j)   acc[ids[j]]++

static void grouped_sum_i64(const uint32_t *ids, const int64_t *v, size_t n, int64_t *acc)
{
	SL_GROUPED_ROWS(ids, v, n, SL_GSUM_I64);
}

static void grouped_min_i64(const uint32_t *ids, const int64_t *v, size_t n, int64_t *acc)
{
	SL_GROUPED_ROWS(ids, v, n, SL_GMIN);
}

static void grouped_max_i64(const uint32_t *ids, const int64_t *v, size_t n, int64_t *acc)
{
	SL_GROUPED_ROWS(ids, v, n, SL_GMAX);
}

static void grouped_sum_f64(const uint32_t *ids, const double *v, size_t n, double *acc)
{
	SL_GROUPED_ROWS(ids, v, n, SL_GSUM_F64);
}

static void grouped_min_f64(const uint32_t *ids, const double *v, size_t n, double *acc)
{
	SL_GROUPED_ROWS(ids, v, n, SL_GMIN_F64);
}

static void grouped_max_f64(const uint32_t *ids, const double *v, size_t n, double *acc)
{
	SL_GROUPED_ROWS(ids, v, n, SL_GMAX_F64);
}

static void grouped_count(const uint32_t *ids, size_t n, int64_t *acc)
{
	SL_GROUPED_ROWS(ids, ids, n, SL_GCOUNT);
}

/* ---- pane combine: element-wise ------------------------------------------------------- */

static void pane_add_i64(int64_t *dst, const int64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (int64_t)((uint64_t)dst[i] + (uint64_t)src[i]);
}

static void pane_sub_i64(int64_t *dst, const int64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (int64_t)((uint64_t)dst[i] - (uint64_t)src[i]);
}

static void pane_min_i64(int64_t *dst, const int64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] < dst[i] ? src[i] : dst[i];
}

static void pane_max_i64(int64_t *dst, const int64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] > dst[i] ? src[i] : dst[i];
}

static void pane_add_f64(double *dst, const double *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += src[i];
}

static void pane_sub_f64(double *dst, const double *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] -= src[i];
}

/* Branch-free on keys so it vectorizes: NaN on either side -> canonical NaN. */
static void pane_min_f64(double *dst, const double *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t a = sl_f64_bits(dst[i]), b = sl_f64_bits(src[i]);
		int64_t ka = sl_f64_key(a), kb = sl_f64_key(b);
		int64_t r = sl_f64_key(kb < ka ? kb : ka);
		bool nan = sl_bits_isnan(a) | sl_bits_isnan(b);
		dst[i] = sl_bits_f64(nan ? SL_NAN_BITS : r);
	}
}

static void pane_max_f64(double *dst, const double *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t a = sl_f64_bits(dst[i]), b = sl_f64_bits(src[i]);
		int64_t ka = sl_f64_key(a), kb = sl_f64_key(b);
		int64_t r = sl_f64_key(kb > ka ? kb : ka);
		bool nan = sl_bits_isnan(a) | sl_bits_isnan(b);
		dst[i] = sl_bits_f64(nan ? SL_NAN_BITS : r);
	}
}

/* ---- element-wise arithmetic ----------------------------------------------------------- */

#define SL_MAP_LOOPS(T, OPER)                                                                      \
	do {                                                                                       \
		if (b)                                                                             \
			for (size_t i = 0; i < n; i++)                                             \
				o[i] = (T)(OPER(a[i], b[i]));                                      \
		else                                                                               \
			for (size_t i = 0; i < n; i++)                                             \
				o[i] = (T)(OPER(a[i], c));                                         \
	} while (0)
#define SL_WADD(x, y) ((uint64_t)(x) + (uint64_t)(y))
#define SL_WSUB(x, y) ((uint64_t)(x) - (uint64_t)(y))
#define SL_WMUL(x, y) ((uint64_t)(x) * (uint64_t)(y))
#define SL_FADD(x, y) ((x) + (y))
#define SL_FSUB(x, y) ((x) - (y))
#define SL_FMUL(x, y) ((x) * (y))
#define SL_FDIV(x, y) ((x) / (y))

static void map_i64(sl_arith op, const int64_t *a, const int64_t *b, int64_t c, size_t n,
		    int64_t *o)
{
	switch (op) {
	case SL_ARITH_ADD: SL_MAP_LOOPS(int64_t, SL_WADD); break;
	case SL_ARITH_SUB: SL_MAP_LOOPS(int64_t, SL_WSUB); break;
	case SL_ARITH_MUL: SL_MAP_LOOPS(int64_t, SL_WMUL); break;
	case SL_ARITH_DIV: break; /* not a Long kernel */
	}
}

static void map_f64(sl_arith op, const double *a, const double *b, double c, size_t n, double *o)
{
	switch (op) {
	case SL_ARITH_ADD: SL_MAP_LOOPS(double, SL_FADD); break;
	case SL_ARITH_SUB: SL_MAP_LOOPS(double, SL_FSUB); break;
	case SL_ARITH_MUL: SL_MAP_LOOPS(double, SL_FMUL); break;
	case SL_ARITH_DIV: SL_MAP_LOOPS(double, SL_FDIV); break;
	}
}

/* ---- hashing, dictionary probes, partitioning ----------------------------------------- */

#include "keyed.h"

/* ---- the table ------------------------------------------------------------------------ */

const sl_kernels SL_TABLE = {
    .isa = SL_ISA_NAME,
    .lanes = SL_LANES,
    .f64_acc = SL_F64_ACC,
    .sum_i64 = sum_i64,
    .sum_i64_sel = sum_i64_sel,
    .min_i64 = min_i64,
    .min_i64_sel = min_i64_sel,
    .max_i64 = max_i64,
    .max_i64_sel = max_i64_sel,
    .sum_f64 = sum_f64,
    .sum_f64_sel = sum_f64_sel,
    .min_f64 = min_f64,
    .min_f64_sel = min_f64_sel,
    .max_f64 = max_f64,
    .max_f64_sel = max_f64_sel,
    .count_i64 = count_i64,
    .count_i64_sel = count_i64_sel,
    .count_f64 = count_f64,
    .count_f64_sel = count_f64_sel,
    .filter_i64 = filter_i64,
    .filter_i64_sel = filter_i64_sel,
    .filter_f64 = filter_f64,
    .filter_f64_sel = filter_f64_sel,
    .filter_i64_col = filter_i64_col,
    .filter_f64_col = filter_f64_col,
    .gather_i64 = gather_i64,
    .gather_f64 = gather_f64,
    .grouped_sum_i64 = grouped_sum_i64,
    .grouped_min_i64 = grouped_min_i64,
    .grouped_max_i64 = grouped_max_i64,
    .grouped_sum_f64 = grouped_sum_f64,
    .grouped_min_f64 = grouped_min_f64,
    .grouped_max_f64 = grouped_max_f64,
    .grouped_count = grouped_count,
    .pane_add_i64 = pane_add_i64,
    .pane_sub_i64 = pane_sub_i64,
    .pane_min_i64 = pane_min_i64,
    .pane_max_i64 = pane_max_i64,
    .pane_add_f64 = pane_add_f64,
    .pane_sub_f64 = pane_sub_f64,
    .pane_min_f64 = pane_min_f64,
    .pane_max_f64 = pane_max_f64,
    .hash_i64 = hash_i64,
    .hash_str = hash_str,
    .dict_put_i64 = dict_put_i64,
    .dict_put_hash_i64 = dict_put_hash_i64,
    .dict_sum_i64 = dict_sum_i64,
    .dict_count_i64 = dict_count_i64,
    .dict_find_i64 = dict_find_i64,
    .dict_find_str = dict_find_str,
    .dict_direct_i64 = dict_direct_i64,
    .dict_direct_sum_i64 = dict_direct_sum_i64,
    .partition = partition,
    .map_i64 = map_i64,
    .map_f64 = map_f64,
    .find_eol = SL_CAT(sl_find_eol_, SL_ISA),
    .split_offsets = SL_CAT(sl_split_offsets_, SL_ISA),
    .parse_i64 = SL_CAT(sl_parse_i64_, SL_ISA),
    .parse_f64 = SL_CAT(sl_parse_f64_, SL_ISA),
    .csv_field = SL_CAT(sl_csv_field_, SL_ISA),
    .csv_column_i64 = SL_CAT(sl_csv_column_i64_, SL_ISA),
    .csv_column_f64 = SL_CAT(sl_csv_column_f64_, SL_ISA),
    .json_field = SL_CAT(sl_json_field_, SL_ISA),
};

#endif
