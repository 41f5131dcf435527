/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text_scalar.c - the text kernels of text.h with byte loops for the block primitives: the
 * reference the SIMD builds are tested against, and the floor for CPUs without AVX2.
 * Build with -fno-tree-vectorize (GCC is also told so below) so it stays scalar.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-vectorize")
#endif

#include <stdint.h>
#include <string.h>

#define SL_TEXT_ISA scalar

typedef struct sl_blk {
	unsigned char b[64];
} sl_blk;

static inline sl_blk sl_blk_load(const char *p)
{
	sl_blk b;
	memcpy(b.b, p, 64);
	return b;
}

static inline sl_blk sl_blk_load_part(const char *p, size_t len)
{
	sl_blk b;
	memset(b.b, 0, sizeof(b.b));
	memcpy(b.b, p, len);
	return b;
}

static inline uint64_t sl_blk_eq(sl_blk b, char c)
{
	uint64_t m = 0;
#ifdef __clang__
#pragma clang loop vectorize(disable)
#endif
	for (int i = 0; i < 64; i++)
		m |= (uint64_t)(b.b[i] == (unsigned char)c) << i;
	return m;
}

static inline uint64_t sl_blk_eq2(sl_blk b, char c1, char c2)
{
	return sl_blk_eq(b, c1) | sl_blk_eq(b, c2);
}

#define SL_TEXT_IMPL
#include "text.h"
