/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reduce_avx2.c - the AVX2 build of reduce.h: kernels/meson.build compiles this file with
 * -O3 -mavx2 (no -mfma: there is no multiply-add here, and contraction must not change sums).
 * 4 i64/f64 lanes; sum_f64 keeps 8 partial sums (two ymm registers, hiding add latency).
 *
 * The filter primitives (contract in reduce.h): a compare gives a 4-bit mask (movemask);
 * AVX2 has only == and > on i64, so != <= >= are complements (exact: no NaN in integers).
 * SL_EMIT widens the set-bit positions of the mask from a 16-entry table and adds the row.
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ISA      avx2
#define SL_ISA_NAME "avx2"
#define SL_LANES    4
#define SL_F64_ACC  8

static inline unsigned sl_movemask(__m256i x)
{
	return (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(x));
}

#define SL_VEC_I64               __m256i
#define SL_SPLAT_I64(c)          _mm256_set1_epi64x(c)
#define SL_LOAD_I64(p)           _mm256_loadu_si256((const __m256i *)(p))
#define SL_MASK_I64(p, cv, NAME) SL_I64_##NAME(_mm256_loadu_si256((const __m256i *)(p)), cv)
#define SL_I64_EQ(a, b)          sl_movemask(_mm256_cmpeq_epi64(a, b))
#define SL_I64_NE(a, b)          (SL_I64_EQ(a, b) ^ 0xfu)
#define SL_I64_GT(a, b)          sl_movemask(_mm256_cmpgt_epi64(a, b))
#define SL_I64_LE(a, b)          (SL_I64_GT(a, b) ^ 0xfu)
#define SL_I64_LT(a, b)          sl_movemask(_mm256_cmpgt_epi64(b, a))
#define SL_I64_GE(a, b)          (SL_I64_LT(a, b) ^ 0xfu)

/* Ordered predicates, except != which is true with a NaN (as C's != is). */
#define SL_VEC_F64      __m256d
#define SL_SPLAT_F64(c) _mm256_set1_pd(c)
#define SL_LOAD_F64(p)  _mm256_loadu_pd(p)
#define SL_MASK_F64(p, cv, NAME)                                                                   \
	((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), cv, SL_F64_##NAME)))
#define SL_F64_EQ _CMP_EQ_OQ
#define SL_F64_NE _CMP_NEQ_UQ
#define SL_F64_LT _CMP_LT_OQ
#define SL_F64_LE _CMP_LE_OQ
#define SL_F64_GT _CMP_GT_OQ
#define SL_F64_GE _CMP_GE_OQ

/* Entry m: the positions of the set bits of m, ascending, one per byte. */
static const uint32_t sl_positions[16] = {
    0x00000000, 0x00000000, 0x00000001, 0x00000100, 0x00000002, 0x00000200, 0x00000201, 0x00020100,
    0x00000003, 0x00000300, 0x00000301, 0x00030100, 0x00000302, 0x00030200, 0x00030201, 0x03020100,
};

static inline void sl_emit(uint32_t *out, size_t base, unsigned m)
{
	__m128i pos = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)sl_positions[m]));
	__m128i idx = _mm_add_epi32(pos, _mm_set1_epi32((int)(uint32_t)base));
	_mm_storeu_si128((__m128i *)out, idx);
}
#define SL_EMIT(out, base, m) sl_emit(out, base, m)

/* Bucket scan (keyed.h): a bucket is one line, its 4 inline keys then its 4 slots, one ymm
 * each; the tags are the odd dwords of the slots (bit 2l + 1 of the mask is lane l). */
#define SL_HAVE_BUCKET_SCAN
#define SL_HIT_SHIFT 1
static inline unsigned sl_bucket_hits(const uint64_t *b, uint32_t tag)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)(b + 4));
	__m256i eq = _mm256_cmpeq_epi32(v, _mm256_set1_epi32((int)tag));
	return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(eq)) & 0xaau;
}

static inline unsigned sl_bucket_empty(const uint64_t *b)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)(b + 4));
	return sl_movemask(_mm256_cmpeq_epi64(v, _mm256_setzero_si256()));
}

static inline unsigned sl_bucket_keys(const uint64_t *b, int64_t key)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)b);
	return sl_movemask(_mm256_cmpeq_epi64(v, _mm256_set1_epi64x(key)));
}

/* The 8 inline keys of a sum-table bucket (keyed.h): two ymm compares. */
static inline unsigned sl_bucket8_keys(const uint64_t *b, int64_t key)
{
	__m256i k = _mm256_set1_epi64x(key);
	__m256i lo = _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)b), k);
	__m256i hi = _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(b + 4)), k);
	return sl_movemask(lo) | sl_movemask(hi) << 4;
}

#include "reduce.h"
