/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text_avx512.c - the text kernels of text.h over AVX-512 block primitives: a block is one zmm
 * register, a comparison is one vpcmpeqb into a mask register, a tail is a byte-masked load
 * (which does not fault on the masked-off bytes), and offsets are flattened with vpcompressd.
 * Build with -mavx512f -mavx512bw -mavx512vl -mavx512dq.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define SL_TEXT_ISA avx512

typedef struct sl_blk {
	__m512i v;
} sl_blk;

static inline sl_blk sl_blk_load(const char *p)
{
	sl_blk b = {_mm512_loadu_si512((const void *)p)};
	return b;
}

static inline sl_blk sl_blk_load_part(const char *p, size_t len)
{
	__mmask64 k = len >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << len) - 1);
	sl_blk b = {_mm512_maskz_loadu_epi8(k, (const void *)p)};
	return b;
}

static inline uint64_t sl_blk_eq(sl_blk b, char c)
{
	return (uint64_t)_mm512_cmpeq_epi8_mask(b.v, _mm512_set1_epi8(c));
}

static inline uint64_t sl_blk_eq2(sl_blk b, char c1, char c2)
{
	return (uint64_t)(_mm512_cmpeq_epi8_mask(b.v, _mm512_set1_epi8(c1)) |
			  _mm512_cmpeq_epi8_mask(b.v, _mm512_set1_epi8(c2)));
}

/*
 * sl_blk_flatten, used for dense masks (word separators): up to 4 bits one at a time, four per
 * turn without a branch per bit; more (the common case there) sixteen offsets per vpcompressd
 * into a register and a full unmasked store (the memory form of vpcompressd is slow on Zen 4).
 * Slots past popcount(m) get junk that the next call overwrites; at most 64 slots are written.
 * (Rewriting it without the count branch, or with the zero test below removed, ran word
 * splitting at 10 instead of 17 GB/s; unexplained, so it stays as measured.)
 */
#define SL_BLK_HAVE_FLATTEN
static inline uint32_t *sl_blk_flatten(uint32_t *out, uint64_t m, uint32_t base)
{
	unsigned cnt = (unsigned)__builtin_popcountll(m);
	uint32_t *end = out + cnt;
	if (cnt <= 4) {
		for (int k = 0; k < 4; k++) {
			out[k] = base + (m ? (uint32_t)__builtin_ctzll(m) : 64);
			m &= m - 1;
		}
		return end;
	}
	__m512i idx = _mm512_add_epi32(
	    _mm512_set1_epi32((int)base),
	    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const __m512i sixteen = _mm512_set1_epi32(16);
	for (int k = 0; k < 4; k++) {
		__mmask16 s = (__mmask16)(m >> (16 * k));
		_mm512_storeu_si512((void *)out, _mm512_maskz_compress_epi32(s, idx));
		out += __builtin_popcount(s);
		idx = _mm512_add_epi32(idx, sixteen);
	}
	return end;
}

/*
 * Sparse masks (line ends, about one bit a block; split_offsets uses this for '\n' and '\r'):
 * four slots one bit at a time with bit 63 forced, so there is no zero test (GCC made it a
 * branch, mispredicted whenever the line length changes), then the dense flatten for the rare
 * block with more than four. Newline splitting 13 -> 25 GB/s on Zen 4.
 */
#define SL_BLK_HAVE_FLATTEN_SPARSE
static inline uint32_t *sl_blk_flatten_sparse(uint32_t *out, uint64_t m, uint32_t base)
{
	unsigned cnt = (unsigned)__builtin_popcountll(m);
	if (cnt > 4)
		return sl_blk_flatten(out, m, base);
	uint64_t r = m | (uint64_t)1 << 63; /* junk past popcount, never a missing bit */
	for (int k = 0; k < 4; k++) {
		out[k] = base + (uint32_t)__builtin_ctzll(r);
		r &= r - 1;
	}
	return out + cnt;
}

/*
 * The bulk CSV f64 rows, eight at a time: vcvtuqq2pd (exact: m <= 2^53), 10^fr from two
 * registers by vpermt2pd, one vdivpd, the sign as a bit; ok byte 0x80 (SL_TX_F64_PENDING) marks a
 * pending row, bit 4 its sign, bits 0..3 its fraction digits. Scalar divsd per row cost a fifth
 * of the parse.
 */
#define SL_BLK_HAVE_F64_FIX
static inline void sl_blk_f64_fix(double *v, const uint8_t *ok, size_t rows)
{
	static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	const __m512d lo = _mm512_loadu_pd(p10), hi = _mm512_loadu_pd(p10 + 8);
	size_t j = 0;
	for (; j < rows; j += 8) {
		__mmask8 in = (__mmask8)(rows - j >= 8 ? 0xFF : (1u << (rows - j)) - 1);
		__m512i o = _mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(in, ok + j));
		__mmask8 pend = _mm512_test_epi64_mask(o, _mm512_set1_epi64(0x80));
		if (!pend)
			continue;
		__m512d m = _mm512_cvtepu64_pd(_mm512_maskz_loadu_epi64(pend, v + j));
		__m512i fr = _mm512_and_si512(o, _mm512_set1_epi64(15));
		__m512d q = _mm512_div_pd(m, _mm512_permutex2var_pd(lo, fr, hi));
		__m512i sign = _mm512_slli_epi64(_mm512_and_si512(o, _mm512_set1_epi64(0x10)), 59);
		q = _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(q), sign));
		_mm512_mask_storeu_pd(v + j, pend, q);
	}
}

#define SL_TEXT_IMPL
#include "text.h"
