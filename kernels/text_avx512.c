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
 * block with more than four. Newline splitting 13.5 -> 20.4 GB/s on Zen 4 (alternated runs).
 */
#define SL_BLK_HAVE_FLATTEN_SPARSE
static inline uint32_t *sl_blk_flatten_sparse(uint32_t *out, uint64_t m, uint32_t base)
{
	unsigned cnt = (unsigned)__builtin_popcountll(m);
	if (cnt > 4)
		return sl_blk_flatten(out, m, base);
	for (int k = 0; k < 4; k++) {
		/* bit 63 forced each time (m may hold it and run out): junk past popcount */
		out[k] = base + (uint32_t)__builtin_ctzll(m | (uint64_t)1 << 63);
		m &= m - 1;
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

/*
 * Four rows of the bulk CSV parse's numbers at once, one per 128-bit lane (the SIMD form of
 * text.h's sl_tx_num16, which parses one). Row k's field is buf[a .. z - 1] with a = s0 + fs[k],
 * z = s0 + fe[k] the separator after it, z >= 15; lane k holds the 16 bytes ending at z
 * (inclusive), so the field sits just below the separator in lane 15:
 *
 *   lane k:  | before the field (ignored) | sign? body: digits, at most one '.' | sep |
 *   byte:    0                          15-L                                   14   15
 *
 * A row is parsed when 1 <= L = z - a <= 15 and the body (after one optional sign) is digits
 * with at most one '.' (f64; none for i64) and at least one digit: then m < 10^15 < 2^53. The
 * '.' is squeezed out and the digits moved up to end at byte 15 by one vpshufb (bytes at or
 * below the '.' move two up, the others one), then combined as in sl_tx_num16. f64 rows are
 * left pending for sl_blk_f64_fix (m in the value, SL_TX_F64_PENDING | sign << 4 | fraction
 * digits in the ok byte); i64 rows are final. Writes the ok bytes of all four rows and the values
 * of the parsed ones; returns the parsed rows as bits 0..3 (the caller redoes the others one at a
 * time, which decides their error or their harder syntax, a '\r' before the '\n' included).
 */
#define SL_BLK_HAVE_CSV_NUM4
static inline unsigned sl_blk_csv_num4(const char *buf, size_t s0, const uint32_t *fs,
				       const uint32_t *fe, int64_t *vi, double *vf, uint8_t *ok)
{
	const __m512i idx = _mm512_broadcast_i32x4(
	    _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const __m512i one = _mm512_set1_epi8(1);
	const char *z0 = buf + s0 - 15;
	__m512i w =
	    _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(z0 + fe[0])));
	w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(const void *)(z0 + fe[1])), 1);
	w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(const void *)(z0 + fe[2])), 2);
	w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(const void *)(z0 + fe[3])), 3);
	__m128i len = _mm_sub_epi32(_mm_loadu_si128((const __m128i *)(const void *)fe),
				    _mm_loadu_si128((const __m128i *)(const void *)fs));
	unsigned lok =
	    _mm_cmplt_epu32_mask(_mm_sub_epi32(len, _mm_set1_epi32(1)), _mm_set1_epi32(15));
	/* L in every byte of its lane: dword k to lane k, then byte 0 of each lane everywhere */
	__m512i lb = _mm512_permutexvar_epi32(
	    _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
	    _mm512_castsi128_si512(len));
	lb = _mm512_shuffle_epi8(lb, _mm512_setzero_si512());
	__m512i first = _mm512_sub_epi8(_mm512_set1_epi8(15), lb); /* the field's first byte */
	__m512i f0 = _mm512_shuffle_epi8(w, first); /* L > 15: index >= 128, zero, no sign */
	__mmask64 neg = _mm512_cmpeq_epi8_mask(f0, _mm512_set1_epi8('-'));
	__mmask64 sgn = neg | _mm512_cmpeq_epi8_mask(f0, _mm512_set1_epi8('+'));
	__m512i bstart = _mm512_mask_add_epi8(first, sgn, first, one);
	__mmask64 body =
	    _mm512_cmpge_epu8_mask(idx, bstart) & _mm512_cmplt_epu8_mask(idx, _mm512_set1_epi8(15));
	__m512i x = _mm512_sub_epi8(w, _mm512_set1_epi8('0'));
	__mmask64 dig = _mm512_mask_cmple_epu8_mask(body, x, _mm512_set1_epi8(9));
	__mmask64 dot = _mm512_mask_cmpeq_epi8_mask(body, w, _mm512_set1_epi8('.'));
	if (vi)
		dot = 0; /* a '.' is bad syntax for i64 */
	__mmask64 bad = body & ~dig & ~dot;
	/* per row: the 16-bit lane of each mask as one word of an xmm */
	__m128i wd = _mm_cvtsi64_si128((long long)dot);
	__m128i zero = _mm_setzero_si128();
	unsigned good =
	    lok & _mm_cmpeq_epi16_mask(_mm_cvtsi64_si128((long long)bad), zero) &
	    _mm_cmpneq_epi16_mask(_mm_cvtsi64_si128((long long)dig), zero) &
	    _mm_cmpeq_epi16_mask(_mm_and_si128(wd, _mm_sub_epi16(wd, _mm_set1_epi16(1))), zero);
	/* bytes at or below the '.' + 1 (p + 1 = 15 wraps to all, as wanted); none without one */
	__m128i le = _mm_maskz_sub_epi16(_mm_cmpneq_epi16_mask(wd, zero), _mm_slli_epi16(wd, 2),
					 _mm_set1_epi16(1));
	__mmask64 up2 = (__mmask64)_mm_cvtsi128_si64(le);
	__m512i ctl = _mm512_sub_epi8(idx, one);
	ctl = _mm512_mask_sub_epi8(ctl, up2, ctl, one); /* negative: byte 0x8x, zeroed */
	x = _mm512_maskz_mov_epi8(dig, x);
	x = _mm512_shuffle_epi8(x, ctl);
	x = _mm512_maddubs_epi16(x, _mm512_set1_epi16(0x010A));
	x = _mm512_madd_epi16(x, _mm512_set1_epi32(0x00010064));
	x = _mm512_packus_epi32(x, x);
	x = _mm512_madd_epi16(x, _mm512_set1_epi32(0x00012710));
	/* qword 0 of each lane: the first 8 digits, then the last 8 */
	__m512i m = _mm512_add_epi64(_mm512_mul_epu32(x, _mm512_set1_epi64(100000000)),
				     _mm512_srli_epi64(x, 32));
	m = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 0, 2, 4, 6), m);
	unsigned ng = (unsigned)((neg & 1) | (neg >> 15 & 2) | (neg >> 30 & 4) | (neg >> 45 & 8));
	if (vi) {
		m = _mm512_mask_sub_epi64(m, (__mmask8)ng, _mm512_setzero_si512(), m);
		_mm256_mask_storeu_epi64(vi, (__mmask8)good, _mm512_castsi512_si256(m));
		uint32_t ob = (good & 1) | (good & 2) << 7 | (good & 4) << 14 | (good & 8) << 21;
		memcpy(ok, &ob, 4);
	} else {
		_mm256_mask_storeu_epi64(vf, (__mmask8)good, _mm512_castsi512_si256(m));
		uint32_t ob = 0;
		for (int k = 0; k < 4; k++) {
			unsigned dk = (unsigned)(dot >> (16 * k)) & 0xFFFF;
			unsigned fr = 14 - (unsigned)__builtin_ctz(dk | 0x4000);
			ob |= (0x80u | (ng >> k & 1) << 4 | fr) << (8 * k);
		}
		memcpy(ok, &ob, 4);
	}
	return good;
}

#define SL_TEXT_IMPL
#include "text.h"
