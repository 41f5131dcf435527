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
 * Sparse masks (newlines, CSV rows; up to 4 bits) go one bit at a time, four per turn without a
 * branch per bit; dense ones (word separators) sixteen offsets per vpcompressd into a register
 * and a full unmasked store (the memory form of vpcompressd is slow on Zen 4). The one branch
 * (sparse or dense) follows the delimiter's density, so it is predicted. Slots past popcount(m)
 * get junk that the next call overwrites; at most 64 slots are written.
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

#define SL_TEXT_IMPL
#include "text.h"
