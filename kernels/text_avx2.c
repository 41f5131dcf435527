/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text_avx2.c - the text kernels of text.h over AVX2 block primitives: a block is two 32-byte
 * registers, a comparison is two vpcmpeqb and two vpmovmskb. Build with -mavx2.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define SL_TEXT_ISA avx2

typedef struct sl_blk {
	__m256i lo, hi;
} sl_blk;

static inline sl_blk sl_blk_load(const char *p)
{
	sl_blk b;
	b.lo = _mm256_loadu_si256((const __m256i *)(const void *)p);
	b.hi = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
	return b;
}

/* AVX2 has no byte-masked load: copy the tail to the stack. */
static inline sl_blk sl_blk_load_part(const char *p, size_t len)
{
	char buf[64];
	memset(buf, 0, sizeof(buf));
	memcpy(buf, p, len);
	return sl_blk_load(buf);
}

static inline uint64_t sl_blk_mask(__m256i lo, __m256i hi)
{
	uint32_t l = (uint32_t)_mm256_movemask_epi8(lo);
	uint32_t h = (uint32_t)_mm256_movemask_epi8(hi);
	return (uint64_t)l | (uint64_t)h << 32;
}

static inline uint64_t sl_blk_eq(sl_blk b, char c)
{
	__m256i v = _mm256_set1_epi8(c);
	return sl_blk_mask(_mm256_cmpeq_epi8(b.lo, v), _mm256_cmpeq_epi8(b.hi, v));
}

static inline uint64_t sl_blk_eq2(sl_blk b, char c1, char c2)
{
	__m256i v1 = _mm256_set1_epi8(c1), v2 = _mm256_set1_epi8(c2);
	__m256i lo = _mm256_or_si256(_mm256_cmpeq_epi8(b.lo, v1), _mm256_cmpeq_epi8(b.lo, v2));
	__m256i hi = _mm256_or_si256(_mm256_cmpeq_epi8(b.hi, v1), _mm256_cmpeq_epi8(b.hi, v2));
	return sl_blk_mask(lo, hi);
}

#define SL_TEXT_IMPL
#include "text.h"
