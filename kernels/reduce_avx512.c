/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reduce_avx512.c - the AVX-512 build of reduce.h: kernels/meson.build compiles this file
 * with -O3 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mprefer-vector-width=512 (GCC would
 * otherwise prefer 256-bit vectors). 8 i64/f64 lanes; sum_f64 keeps 16 partial sums (two
 * zmm registers).
 *
 * The filter primitives (contract in reduce.h): a compare into a mask register, and
 * SL_EMIT compresses the 8 row indices in a register (vpcompressd to a register and a plain
 * store: the compress-to-memory form is microcoded and slow on Zen 4).
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ISA      avx512
#define SL_ISA_NAME "avx512"
#define SL_LANES    8
#define SL_F64_ACC  16

#define SL_VEC_I64      __m512i
#define SL_SPLAT_I64(c) _mm512_set1_epi64(c)
#define SL_LOAD_I64(p)  _mm512_loadu_si512((const void *)(p))
#define SL_MASK_I64(p, cv, NAME)                                                                   \
	((unsigned)_mm512_cmp_epi64_mask(_mm512_loadu_si512((const void *)(p)), cv, SL_I64_##NAME))
#define SL_I64_EQ _MM_CMPINT_EQ
#define SL_I64_NE _MM_CMPINT_NE
#define SL_I64_LT _MM_CMPINT_LT
#define SL_I64_LE _MM_CMPINT_LE
#define SL_I64_GT _MM_CMPINT_NLE
#define SL_I64_GE _MM_CMPINT_NLT

/* Ordered predicates, except != which is true with a NaN (as C's != is). */
#define SL_VEC_F64      __m512d
#define SL_SPLAT_F64(c) _mm512_set1_pd(c)
#define SL_LOAD_F64(p)  _mm512_loadu_pd(p)
#define SL_MASK_F64(p, cv, NAME)                                                                   \
	((unsigned)_mm512_cmp_pd_mask(_mm512_loadu_pd(p), cv, SL_F64_##NAME))
#define SL_F64_EQ _CMP_EQ_OQ
#define SL_F64_NE _CMP_NEQ_UQ
#define SL_F64_LT _CMP_LT_OQ
#define SL_F64_LE _CMP_LE_OQ
#define SL_F64_GT _CMP_GT_OQ
#define SL_F64_GE _CMP_GE_OQ

static inline void sl_emit(uint32_t *out, size_t base, unsigned m)
{
	__m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)base),
				       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	_mm256_storeu_si256((__m256i *)out, _mm256_maskz_compress_epi32((__mmask8)m, idx));
}
#define SL_EMIT(out, base, m) sl_emit(out, base, m)

/* Bucket scan (keyed.h): a bucket is one line, its 4 inline keys then its 4 slots, one ymm
 * each (AVX-512VL compares into a mask register); the tags are the odd dwords of the slots,
 * compared in place (bit 2l + 1 of the mask is lane l). */
#define SL_HAVE_BUCKET_SCAN
#define SL_HIT_SHIFT 1
static inline unsigned sl_bucket_hits(const uint64_t *b, uint32_t tag)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)(b + 4));
	return _mm256_mask_cmpeq_epi32_mask(0xaa, v, _mm256_set1_epi32((int)tag));
}

static inline unsigned sl_bucket_empty(const uint64_t *b)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)(b + 4));
	return (unsigned)_mm256_testn_epi64_mask(v, v);
}

static inline unsigned sl_bucket_keys(const uint64_t *b, int64_t key)
{
	return _mm256_cmpeq_epi64_mask(_mm256_set1_epi64x(key),
				       _mm256_loadu_si256((const __m256i *)b));
}

/* The 8 inline keys of a sum-table bucket (keyed.h): one zmm compare. */
static inline unsigned sl_bucket8_keys(const uint64_t *b, int64_t key)
{
	return _mm512_cmpeq_epi64_mask(_mm512_set1_epi64(key), _mm512_loadu_si512((const void *)b));
}

/* The same with the key broadcast straight from memory (a load uop, where a key already in a
 * register is a load and a shuffle); the asm keeps GCC from loading it into a register for
 * the out-of-line path too. */
#define SL_HAVE_BUCKET8_KEYP
static inline unsigned sl_bucket8_keyp(const uint64_t *b, const int64_t *kp)
{
	__m512i k;
	__asm__("vpbroadcastq %1, %0" : "=v"(k) : "m"(*kp));
	return _mm512_cmpeq_epi64_mask(k, _mm512_loadu_si512((const void *)b));
}

/* Direct map step (keyed.h): 8 keys, one masked gather of their map entries (out-of-range lanes
 * read nothing and give 0), ids stored for all 8, the rows of the zero entries compressed
 * into miss (a register compress and a plain store: it may write up to miss[nmiss + 7], which
 * is below n since nmiss <= i). */
static inline size_t sl_direct_block(const uint32_t *dm, int64_t base, size_t len, const int64_t *k,
				     uint32_t *ids, uint32_t *miss, size_t nmiss, size_t i)
{
	__m512i u =
	    _mm512_sub_epi64(_mm512_loadu_si512((const void *)(k + i)), _mm512_set1_epi64(base));
	__mmask8 in = _mm512_cmplt_epu64_mask(u, _mm512_set1_epi64((int64_t)len));
	__m256i x = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), in, u, dm, 4);
	_mm256_storeu_si256((__m256i *)(ids + i), _mm256_sub_epi32(x, _mm256_set1_epi32(1)));
	__mmask8 z = _mm256_cmpeq_epi32_mask(x, _mm256_setzero_si256());
	if (z) {
		__m256i rows = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)i),
						_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
		_mm256_storeu_si256((__m256i *)(miss + nmiss),
				    _mm256_maskz_compress_epi32(z, rows));
		nmiss += (size_t)__builtin_popcount(z);
	}
	return nmiss;
}
#define SL_DIRECT_BLOCK sl_direct_block

/* f64 min/max head (reduce.h's SL_FMINMAX_HEAD): 32 rows per step in four accumulators of
 * ordered integer keys (b ^ (b >> 63 >>> 1), as sl_f64_key), the NaN test as a running max of
 * |bits| (a NaN's is above +Inf's), and a software prefetch 2 KiB ahead. From memory the plain
 * loop stayed at ~85 % of the memory-read baseline with the key transform in it while a bare
 * vpminsq loop reached ~100 %; a prefetch closed that gap on 4 KiB pages (4 KiB ahead, 512 MiB:
 * 23.1-23.5 -> 25.0-26.9 GB/s, a plain int64 sum 24-30 GB/s in the same runs). On huge pages,
 * as the engine's columns are, 4 KiB ahead ran at 63-69 % of the baseline, none at 96-99 %
 * and 2 KiB ahead at 101-103 % (bench_kernels 512 min_f64, docs/benchmarks.md). */
static inline __m512i sl_fkey8(__m512i b)
{
	return _mm512_xor_si512(b, _mm512_srli_epi64(_mm512_srai_epi64(b, 63), 1));
}

static inline size_t sl_fminmax_head(const double *v, size_t n, int max, int64_t *m, uint64_t *nan)
{
	size_t i = 0;
	if (n < 32)
		return 0;
	__m512i id = _mm512_set1_epi64(*m), m0 = id, m1 = id, m2 = id, m3 = id;
	__m512i abs = _mm512_set1_epi64(INT64_MAX), a0 = _mm512_setzero_si512(), a1 = a0;
	for (; i + 32 <= n; i += 32) {
		for (unsigned l = 0; l < 4; l++) /* (through uintptr_t: it may lie past v) */
			__builtin_prefetch((const void *)((uintptr_t)(v + i) + 2048 + 64 * l));
		__m512i b0 = _mm512_loadu_si512((const void *)(v + i));
		__m512i b1 = _mm512_loadu_si512((const void *)(v + i + 8));
		__m512i b2 = _mm512_loadu_si512((const void *)(v + i + 16));
		__m512i b3 = _mm512_loadu_si512((const void *)(v + i + 24));
		if (max) {
			m0 = _mm512_max_epi64(m0, sl_fkey8(b0));
			m1 = _mm512_max_epi64(m1, sl_fkey8(b1));
			m2 = _mm512_max_epi64(m2, sl_fkey8(b2));
			m3 = _mm512_max_epi64(m3, sl_fkey8(b3));
		} else {
			m0 = _mm512_min_epi64(m0, sl_fkey8(b0));
			m1 = _mm512_min_epi64(m1, sl_fkey8(b1));
			m2 = _mm512_min_epi64(m2, sl_fkey8(b2));
			m3 = _mm512_min_epi64(m3, sl_fkey8(b3));
		}
		a0 = _mm512_max_epi64(
		    a0, _mm512_max_epi64(_mm512_and_si512(b0, abs), _mm512_and_si512(b1, abs)));
		a1 = _mm512_max_epi64(
		    a1, _mm512_max_epi64(_mm512_and_si512(b2, abs), _mm512_and_si512(b3, abs)));
	}
	if (max)
		*m = _mm512_reduce_max_epi64(
		    _mm512_max_epi64(_mm512_max_epi64(m0, m1), _mm512_max_epi64(m2, m3)));
	else
		*m = _mm512_reduce_min_epi64(
		    _mm512_min_epi64(_mm512_min_epi64(m0, m1), _mm512_min_epi64(m2, m3)));
	*nan |= (uint64_t)(_mm512_reduce_max_epi64(_mm512_max_epi64(a0, a1)) >
			   INT64_C(0x7ff0000000000000));
	return i;
}
#define SL_FMINMAX_HEAD sl_fminmax_head

#include "reduce.h"
