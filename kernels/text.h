/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text.h - text-processing kernels: line/delimiter search, number parsing, CSV and flat JSON
 * field extraction. Each kernel is written once, below, over a few block primitives, and compiled
 * once per ISA by kernels/text_<isa>.c, which exports it with an ISA suffix:
 *
 *   text_scalar.c   no SIMD (compile with -fno-tree-vectorize; the file also asks GCC for it)
 *   text_avx2.c     -mavx2
 *   text_avx512.c   -mavx512f -mavx512bw -mavx512vl -mavx512dq
 *
 * Only the scalar functions may be called on any x86-64; the others need the CPU feature (the
 * dispatch table checks __builtin_cpu_supports once). All kernels depend only on libc, never
 * allocate except sl_parse_f64 on inputs longer than SL_TEXT_F64_STACK bytes (see there), keep
 * no state and are safe to call from any thread. No kernel reads past p[n - 1].
 *
 * Block primitives each text_<isa>.c defines before including this file with SL_TEXT_IMPL:
 *
 *   sl_blk                          one 64-byte block in registers
 *   sl_blk sl_blk_load(p)           load p[0..63]
 *   sl_blk sl_blk_load_part(p, len) load p[0..len-1], len < 64, reading nothing past p[len-1];
 *                                   the other bytes are unspecified: callers mask them off
 *   uint64_t sl_blk_eq(b, c)        bit i set iff byte i == c
 *   uint64_t sl_blk_eq2(b, c1, c2)  bit i set iff byte i == c1 or c2
 *   sl_blk_flatten(out, m, base)    optional (SL_BLK_HAVE_FLATTEN): store base + i for each bit
 *                                   i of m in order, return out + popcount(m); may write up to
 *                                   72 slots
 *   sl_blk_flatten_sparse(...)     optional (SL_BLK_HAVE_FLATTEN_SPARSE): sl_blk_flatten tuned for
 *                                   masks of a few bits (line ends); sl_split_offsets uses it for
 *                                   '\n' and '\r' and sl_blk_flatten for every other delimiter
 *   sl_blk_f64_fix(v, ok, rows)     optional (SL_BLK_HAVE_F64_FIX; SIMD builds): for each row
 *                                   j whose ok[j] has SL_TX_F64_PENDING, v[j] holds the bits of
 *                                   an integer m <= 2^53; replace it with m / 10^(ok[j] & 15),
 *                                   negated if ok[j] & 0x10 (IEEE division: correctly rounded)
 */

/* ok byte of a bulk f64 row whose division is still to be done (internal to the bulk parse) */
#define SL_TX_F64_PENDING 0x80
#ifndef SLUICE_KERNELS_TEXT_H
#define SLUICE_KERNELS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Inputs to sl_parse_f64 up to this length are copied to the stack for the strtod fallback. */
#define SL_TEXT_F64_STACK 128

/*
 * The API, written once for all ISAs; <isa> is scalar, avx2 or avx512.
 *
 * size_t sl_find_eol_<isa>(const char *p, size_t n)
 *   Returns the offset of the first '\n' or '\r' in p[0..n-1], or n if there is none.
 *
 * size_t sl_split_offsets_<isa>(const char *p, size_t n, char delim, uint32_t *offs, size_t max)
 *   Stores the offset of every byte equal to delim in p[0..n-1], in increasing order, into
 *   offs[0..], at most max of them. Returns how many were stored (== max means the output
 *   may have been cut short: resume after offs[max - 1]). Requires n <= UINT32_MAX.
 *
 * int sl_parse_i64_<isa>(const char *p, size_t n, int64_t *out)
 *   Parses p[0..n-1] with Java Long.parseLong(s, 10) rules: an optional '+' or '-', then one or
 *   more ASCII digits, nothing else (no spaces; leading zeros allowed; "-0" is 0).
 *   Returns 0 and sets *out; -EINVAL on bad syntax (including "", "+", "-"); -ERANGE if the
 *   digits are valid but the value is outside [INT64_MIN, INT64_MAX]. *out is untouched on error.
 *
 * int sl_parse_f64_<isa>(const char *p, size_t n, double *out)
 *   Parses p[0..n-1] as [+-] digits [. digits] [(e|E) [+-] digits], with at least one mantissa
 *   digit on either side of the '.' (".5" and "5." are valid; "." is not); no spaces, no
 *   inf/nan, no hex. The result is correctly rounded (round-to-nearest-even), like strtod.
 *   Returns 0 and sets *out (subnormals and underflow to +-0 are success); -ERANGE with
 *   *out = +-HUGE_VAL if the value overflows a double; -EINVAL on bad syntax (*out untouched);
 *   -ENOMEM if the input is longer than SL_TEXT_F64_STACK, needs the fallback and malloc fails.
 *   Fast path: up to 19 significant digits and a value of the form m * 10^e with m <= 2^53 and
 *   |e| <= 22 is computed exactly with one IEEE multiply or divide (Clinger). Everything else
 *   (long mantissas, large exponents, hard cases) is handed to strtod on a NUL-terminated copy
 *   of the already validated text: on the stack up to SL_TEXT_F64_STACK bytes, else malloc.
 *   strtod uses the LC_NUMERIC of the process; sluice never calls setlocale, so it is "C"
 *   unless the embedder changes it.
 *
 * size_t sl_csv_field_<isa>(const char *line, size_t n, unsigned col, const char **field)
 *   line[0..n-1] is one record without its terminator. Fields are separated by ','; col counts
 *   from 0; "" has one empty field and "a," has two. A field that starts with '"' is quoted: it
 *   ends at the next '"' not followed by another '"' (so "" inside is an escaped quote), which
 *   must be followed by ',' or the end of the line. A '"' elsewhere is an ordinary byte.
 *   Returns the field length and sets *field (into line). For a quoted field the span is the raw
 *   text between the quotes: escaped quotes stay doubled. Returns SIZE_MAX (and leaves *field)
 *   if the line has no column col, or a quoted field before or at col is unterminated or is
 *   followed by something other than ',' or the end.
 *
 * size_t sl_csv_column_i64_<isa>(const char *buf, size_t n, unsigned col, int64_t *vals,
 *                                uint8_t *ok, size_t max, size_t *used)
 * size_t sl_csv_column_f64_<isa>(..., double *vals, ...)
 *   Parses column col of every line of buf[0..n-1] (lines end at '\n'; one '\r' before it is
 *   dropped; a last line without '\n' is a line too) with sl_csv_field and sl_parse_{i64,f64}.
 *   Row r gets vals[r] and ok[r] = 1 when the field exists and parses with return 0; otherwise
 *   vals[r] = 0 and ok[r] = 0. Stops after max rows. Returns the number of rows written and sets
 *   *used to the bytes consumed (just past the last '\n' used, or n). Quoted fields may not
 *   contain '\n' (records are lines).
 *
 * size_t sl_json_field_<isa>(const char *obj, size_t n, const char *key, size_t keylen,
 *                            const char **val)
 *   obj[0..n-1] is one JSON object, optionally surrounded by whitespace (' ', \t, \n, \r).
 *   Finds the first member whose key, compared as raw bytes between the quotes (no unescaping),
 *   equals key[0..keylen-1]. Returns the length of its value and sets *val (into obj): a string
 *   value without its quotes (escapes left as they are), a nested object or array with its
 *   brackets (skipped by depth, honouring strings, not checking that bracket kinds match), or a
 *   number/true/false/null token (the bytes up to whitespace, ',', '}', ']', which must be
 *   exactly true, false, null or a JSON number, else the object is malformed there).
 *   Returns SIZE_MAX if the key is absent, or if the object is malformed before the member is
 *   found (members after the match are not examined). Backslash escapes in strings are
 *   skipped as two bytes, so \" never ends a string.
 */
#define SL_TEXT_DECLARE(isa)                                                                       \
	size_t sl_find_eol_##isa(const char *p, size_t n);                                         \
	size_t sl_split_offsets_##isa(const char *p, size_t n, char delim, uint32_t *offs,         \
				      size_t max);                                                 \
	int sl_parse_i64_##isa(const char *p, size_t n, int64_t *out);                             \
	int sl_parse_f64_##isa(const char *p, size_t n, double *out);                              \
	size_t sl_csv_field_##isa(const char *line, size_t n, unsigned col, const char **field);   \
	size_t sl_csv_column_i64_##isa(const char *buf, size_t n, unsigned col, int64_t *vals,     \
				       uint8_t *ok, size_t max, size_t *used);                     \
	size_t sl_csv_column_f64_##isa(const char *buf, size_t n, unsigned col, double *vals,      \
				       uint8_t *ok, size_t max, size_t *used);                     \
	size_t sl_json_field_##isa(const char *obj, size_t n, const char *key, size_t keylen,      \
				   const char **val);

SL_TEXT_DECLARE(scalar)
SL_TEXT_DECLARE(avx2)
SL_TEXT_DECLARE(avx512)

#endif /* SLUICE_KERNELS_TEXT_H */

/* ---------------------------------------------------------------------------------------------
 * The generic kernels: only when included by a text_<isa>.c after defining the primitives.
 */
#if defined(SL_TEXT_IMPL) && !defined(SLUICE_KERNELS_TEXT_IMPL_DONE)
#define SLUICE_KERNELS_TEXT_IMPL_DONE

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SL_TX_CAT2(a, b) a##_##b
#define SL_TX_CAT(a, b)  SL_TX_CAT2(a, b)
#define SL_TX_FN(name)   SL_TX_CAT(name, SL_TEXT_ISA)

/* Bits 0..len-1 (all 64 when len >= 64). */
static inline uint64_t sl_tx_lenmask(size_t len)
{
	return len >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << len) - 1);
}

/* Trailing zeros, 64 for 0 (branch-free in the flatten loop). */
static inline unsigned sl_tx_ctz(uint64_t m)
{
	return m ? (unsigned)__builtin_ctzll(m) : 64;
}

/*
 * The 64 bytes at s + i seen through a window that never reads outside s[0..avail-1]: a full
 * load when 64 bytes are readable, else the last 64 readable bytes with the masks shifted down
 * (no copy: the common case for short fields and the end of a record), else a partial load.
 * Mask bits past avail are clear; callers clear the bits past their own logical end.
 */
typedef struct sl_tx_win {
	sl_blk b;
	unsigned sh;
	uint64_t lm;
} sl_tx_win;

static inline sl_tx_win sl_tx_window(const char *s, size_t avail, size_t i)
{
	sl_tx_win w;
	size_t len = avail - i;
	w.sh = 0;
	w.lm = ~(uint64_t)0;
	if (len >= 64) {
		w.b = sl_blk_load(s + i);
	} else if (avail >= 64) {
		w.b = sl_blk_load(s + avail - 64);
		w.sh = (unsigned)(64 - len);
	} else {
		w.b = sl_blk_load_part(s + i, len);
		w.lm = sl_tx_lenmask(len);
	}
	return w;
}

static inline uint64_t sl_tx_weq(const sl_tx_win *w, char c)
{
	return (sl_blk_eq(w->b, c) >> w->sh) & w->lm;
}

static inline uint64_t sl_tx_weq2(const sl_tx_win *w, char c1, char c2)
{
	return (sl_blk_eq2(w->b, c1, c2) >> w->sh) & w->lm;
}

#ifndef SL_BLK_HAVE_FLATTEN
/*
 * Bit positions to offsets, four then eight at a time without a branch per bit (the simdjson
 * way): slots past popcount(m) get junk, which the next call overwrites. Needs room for 72
 * slots.
 */
static inline uint32_t *sl_blk_flatten(uint32_t *out, uint64_t m, uint32_t base)
{
	uint32_t *end = out + __builtin_popcountll(m);
	if (!m)
		return end;
	/* four first: newline and row masks rarely have more */
	for (int k = 0; k < 4; k++) {
		out[k] = base + sl_tx_ctz(m);
		m &= m - 1;
	}
	out += 4;
	while (m) {
		for (int k = 0; k < 8; k++) {
			out[k] = base + sl_tx_ctz(m);
			m &= m - 1;
		}
		out += 8;
	}
	return end;
}
#endif

/* Offset of the first byte == c in s[i..n-1], or n; s[0..avail-1] is readable, avail >= n. */
static inline size_t sl_tx_find1(const char *s, size_t n, size_t avail, size_t i, char c)
{
	while (i < n) {
		sl_tx_win w = sl_tx_window(s, avail, i);
		uint64_t m = sl_tx_weq(&w, c) & sl_tx_lenmask(n - i);
		if (m)
			return i + (size_t)__builtin_ctzll(m);
		i += 64;
	}
	return n;
}

size_t SL_TX_FN(sl_find_eol)(const char *p, size_t n)
{
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		uint64_t m = sl_blk_eq2(sl_blk_load(p + i), '\n', '\r');
		if (m)
			return i + (size_t)__builtin_ctzll(m);
	}
	if (i < n) {
		sl_tx_win w = sl_tx_window(p, n, i);
		uint64_t m = sl_tx_weq2(&w, '\n', '\r');
		if (m)
			return i + (size_t)__builtin_ctzll(m);
	}
	return n;
}

#ifndef SL_BLK_HAVE_FLATTEN_SPARSE
#define sl_blk_flatten_sparse sl_blk_flatten
#endif

/*
 * sl_split_offsets with the flatten chosen by `sparse`, a constant at each call site: each
 * flatten gets a loop of its own.
 */
__attribute__((always_inline)) static inline size_t
sl_tx_split(const char *p, size_t n, char delim, uint32_t *offs, size_t max, int sparse)
{
	size_t count = 0, i = 0;
	/* Two whole blocks per turn while the output has room for two widest flattens. */
	for (; i + 128 <= n && max - count >= 144; i += 128) {
		uint64_t m0 = sl_blk_eq(sl_blk_load(p + i), delim);
		uint64_t m1 = sl_blk_eq(sl_blk_load(p + i + 64), delim);
		uint32_t *o = offs + count;
		if (sparse) {
			o = sl_blk_flatten_sparse(o, m0, (uint32_t)i);
			o = sl_blk_flatten_sparse(o, m1, (uint32_t)i + 64);
		} else {
			o = sl_blk_flatten(o, m0, (uint32_t)i);
			o = sl_blk_flatten(o, m1, (uint32_t)i + 64);
		}
		count = (size_t)(o - offs);
	}
	for (; i < n; i += 64) {
		sl_tx_win w = sl_tx_window(p, n, i);
		uint64_t m = sl_tx_weq(&w, delim);
		if (max - count >= 72) {
			count = (size_t)(sl_blk_flatten(offs + count, m, (uint32_t)i) - offs);
			continue;
		}
		/* Near the end of the output: one at a time, never past max. */
		for (; m; m &= m - 1) {
			if (count == max)
				return count;
			offs[count++] = (uint32_t)(i + (size_t)__builtin_ctzll(m));
		}
	}
	return count;
}

#ifdef SL_BLK_HAVE_FLATTEN_SPARSE
/*
 * Line ends are sparse (about one per block) and word separators dense (about ten), and each
 * flatten is tuned for one of them, so the delimiter picks the loop. The two loops live in two
 * functions: with both inlined into one, GCC 12's code for the dense loop ran word splitting at
 * 10 instead of 17 GB/s on Zen 4 (same instructions, not explained); apart, neither changes.
 */
__attribute__((noinline)) static size_t sl_tx_split_sparse(const char *p, size_t n, char delim,
							   uint32_t *offs, size_t max)
{
	return sl_tx_split(p, n, delim, offs, max, 1);
}

__attribute__((noinline)) static size_t sl_tx_split_dense(const char *p, size_t n, char delim,
							  uint32_t *offs, size_t max)
{
	return sl_tx_split(p, n, delim, offs, max, 0);
}

size_t SL_TX_FN(sl_split_offsets)(const char *p, size_t n, char delim, uint32_t *offs, size_t max)
{
	if (delim == '\n' || delim == '\r')
		return sl_tx_split_sparse(p, n, delim, offs, max);
	return sl_tx_split_dense(p, n, delim, offs, max);
}
#else
size_t SL_TX_FN(sl_split_offsets)(const char *p, size_t n, char delim, uint32_t *offs, size_t max)
{
	return sl_tx_split(p, n, delim, offs, max, 0);
}
#endif

/* --- numbers --------------------------------------------------------------------------------- */

/* Little-endian 8-byte load. */
static inline uint64_t sl_tx_load64(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/* Eight ASCII digits (first byte most significant) to their value: pairs, quads, then all. */
static inline uint32_t sl_tx_parse8(uint64_t x)
{
	x &= 0x0F0F0F0F0F0F0F0Fu;
	x = (x * (10 * 256 + 1)) >> 8;
	x = ((x & 0x00FF00FF00FF00FFu) * (100 * 65536 + 1)) >> 16;
	return (uint32_t)(((x & 0x0000FFFF0000FFFFu) * (10000 * 4294967296u + 1)) >> 32);
}

static const uint64_t sl_tx_pow10u17[17] = {1u,
					    10u,
					    100u,
					    1000u,
					    10000u,
					    100000u,
					    1000000u,
					    10000000u,
					    100000000u,
					    1000000000u,
					    10000000000u,
					    100000000000u,
					    1000000000000u,
					    10000000000000u,
					    100000000000000u,
					    1000000000000000u,
					    10000000000000000u};

static const uint64_t sl_tx_pow10u[9] = {1,      10,      100,      1000,     10000,
					 100000, 1000000, 10000000, 100000000};

/*
 * The run of digits at p[i..], up to 8 of them, for n >= 8 without reading outside p[0..n-1]
 * (near the end the 8 bytes ending at p[n - 1] are loaded and shifted down; the vacated bytes
 * are zero, which is not a digit). Requires i < n. Returns the run length k, sets *val.
 */
static inline unsigned sl_tx_digits8(const char *p, size_t n, size_t i, uint32_t *val)
{
	uint64_t x =
	    i + 8 <= n ? sl_tx_load64(p + i) : sl_tx_load64(p + n - 8) >> (8 * (i + 8 - n));
	uint64_t t = x ^ 0x3030303030303030u; /* digits become 0..9 */
	/* high bit of each byte >= 10; clearing bit 7 first keeps the add from carrying */
	uint64_t bad =
	    (((t & 0x7F7F7F7F7F7F7F7Fu) + 0x7676767676767676u) | t) & 0x8080808080808080u;
	unsigned k = bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8;
	*val = k ? sl_tx_parse8(t << (8 * (8 - k))) : 0;
	return k;
}

/* 0x80 in each byte of t (digits already XORed with '0') that is not 0..9. */
static inline uint64_t sl_tx_nondigit(uint64_t t)
{
	return (((t & 0x7F7F7F7F7F7F7F7Fu) + 0x7676767676767676u) | t) & 0x8080808080808080u;
}

/* 0x80 in each byte of x equal to c. */
static inline uint64_t sl_tx_byteeq(uint64_t x, char c)
{
	uint64_t t = x ^ (0x0101010101010101u * (unsigned char)c);
	return ~((((t & 0x7F7F7F7F7F7F7F7Fu) + 0x7F7F7F7F7F7F7F7Fu) | t) | 0x7F7F7F7F7F7F7F7Fu);
}

/* The 8 bytes ending at p + end as the top bytes of a word (bytes before p read as 0); needs
 * 8 readable bytes at p. */
static inline uint64_t sl_tx_load_end(const char *p, size_t end)
{
	/* branch-free: field lengths vary row to row */
	size_t e = end >= 8 ? end : 8;
	uint64_t x = sl_tx_load64(p + e - 8);
	unsigned sh = (unsigned)(8 * (e - end)); /* 0..64 */
	return sh < 64 ? x << sh : 0;
}

/*
 * The value of p[start..end-1] if it is 0..16 digits (none is 0), without a branch: the digits are
 * loaded right-aligned (ending at p + end), the bytes before them cleared, which makes them leading
 * zeros for sl_tx_parse8. 8 bytes at p are readable. Returns 0, or -1 if a byte is not
 * a digit.
 */
static inline int sl_tx_span16(const char *p, size_t start, size_t end, uint64_t *val)
{
	size_t d = end - start;
	uint64_t klo = d >= 8 ? ~(uint64_t)0 : d ? ~(uint64_t)0 << (8 * (8 - d)) : 0;
	uint64_t khi = d > 8 ? ~(uint64_t)0 << (8 * (16 - d)) : 0;
	uint64_t lo = (sl_tx_load_end(p, end) ^ 0x3030303030303030u) & klo;
	uint64_t hi = (sl_tx_load_end(p, end >= 8 ? end - 8 : 0) ^ 0x3030303030303030u) & khi;
	*val = (uint64_t)sl_tx_parse8(hi) * 100000000u + sl_tx_parse8(lo);
	return (sl_tx_nondigit(lo) | sl_tx_nondigit(hi)) ? -1 : 0;
}

/*
 * sl_parse_i64 with p[0..avail-1] readable (avail >= n): the one-step path needs 8 readable
 * bytes at p, which a short field inside a bulk buffer has.
 */
static inline int sl_tx_parse_i64(const char *p, size_t n, size_t avail, int64_t *out)
{
	/* branch-free: the sign of random data is a coin toss for the predictor */
	char c0 = n ? p[0] : 0;
	int neg = c0 == '-';
	size_t i = (size_t)(neg | (c0 == '+'));
	if (i == n)
		return -EINVAL;
	/* Leading zeros do not count towards the 19 significant digits that fit a uint64_t. */
	while (i < n && p[i] == '0')
		i++;
	size_t start = i;
	uint64_t acc = 0;
	/* Most numbers: 1..16 significant digits in one step, no loop and no overflow check. */
	if (avail >= 8 && i < n && n - i <= 16) {
		if (sl_tx_span16(p, i, n, &acc))
			return -EINVAL;
		*out = (int64_t)((acc ^ (0 - (uint64_t)neg)) + (uint64_t)neg);
		return 0;
	}
	/* Up to 8 digits per step while the total stays within 19 (no overflow). */
	if (n >= 8) {
		while (i < n) {
			uint32_t v;
			unsigned k = sl_tx_digits8(p, n, i, &v);
			if (i - start + k > 19)
				break;
			acc = acc * sl_tx_pow10u[k] + v;
			i += k;
			if (k < 8)
				break;
		}
	}
	int over = 0;
	for (; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)p[i] - '0';
		if (d > 9)
			return -EINVAL;
		if (i - start >= 19)
			over = 1; /* keep validating: syntax errors win */
		else
			acc = acc * 10 + d;
	}
	if (over || acc > (uint64_t)INT64_MAX + (uint64_t)neg)
		return -ERANGE;
	*out = neg ? (acc ? -(int64_t)(acc - 1) - 1 : 0) : (int64_t)acc;
	return 0;
}

int SL_TX_FN(sl_parse_i64)(const char *p, size_t n, int64_t *out)
{
	return sl_tx_parse_i64(p, n, n, out);
}

/* Powers of ten that are exact doubles. */
static const double sl_tx_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy of text already checked against the grammar; out of line so
 * its stack buffer stays out of the fast path's frame. */
__attribute__((noinline)) static int sl_tx_f64_slow(const char *p, size_t n, double *out)
{
	char stack[SL_TEXT_F64_STACK + 1];
	char *buf = n <= SL_TEXT_F64_STACK ? stack : malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, p, n);
	buf[n] = '\0';
	double d = strtod(buf, NULL);
	if (buf != stack)
		free(buf);
	*out = d;
	return isinf(d) ? -ERANGE : 0;
}

/* sl_parse_f64 with p[0..avail-1] readable (avail >= n), as sl_tx_parse_i64. */
static inline int sl_tx_parse_f64(const char *p, size_t n, size_t avail, double *out)
{
	/* branch-free: the sign of random data is a coin toss for the predictor */
	char c0 = n ? p[0] : 0;
	int neg = c0 == '-';
	size_t i = (size_t)(neg | (c0 == '+'));
	/*
	 * Most numbers: [int].[frac] or int with at most 16 digits, no exponent. One SWAR pass
	 * finds the '.', two span loads read the digits; anything else goes the long way.
	 */
	if (avail >= 8 && n - i <= 16 && n - i >= 1) {
		/* the body p[i..n-1] is the last n - i of the 16 bytes ending at p + n */
		size_t body = n - i;
		uint64_t lo = sl_tx_load_end(p, n), hi = sl_tx_load_end(p, n > 8 ? n - 8 : 0);
		uint64_t klo = body >= 8 ? ~(uint64_t)0 : ~(uint64_t)0 << (8 * (8 - body));
		uint64_t khi = body > 8 ? ~(uint64_t)0 << (8 * (16 - body)) : 0;
		uint64_t dlo = sl_tx_byteeq(lo, '.') & klo, dhi = sl_tx_byteeq(hi, '.') & khi;
		/* offset of the first '.', or n (unsigned wrap-around cancels out) */
		size_t dp = dhi ? n - 16 + sl_tx_ctz(dhi) / 8 : n - 8 + sl_tx_ctz(dlo) / 8;
		size_t fs = dp < n ? dp + 1 : n, fl = n - fs;
		uint64_t ip, fp;
		int bad = sl_tx_span16(p, i, dp, &ip) | sl_tx_span16(p, fs, n, &fp) |
			  (dp == i && fl == 0);
		uint64_t m = ip * sl_tx_pow10u17[fl] + fp;
		if (!bad && m <= ((uint64_t)1 << 53)) {
			double d = (double)m / sl_tx_pow10[fl];
			*out = neg ? -d : d;
			return 0;
		}
	}
	uint64_t mant = 0;
	int nd = 0;        /* significant digits in mant */
	int digits = 0;    /* mantissa digits seen, significant or not */
	int trunc = 0;     /* more than 19 significant digits: leave it to strtod */
	int64_t exp10 = 0; /* value = mant * 10^exp10 */
	/*
	 * Runs of up to 8 digits at a time. nd may overcount (leading zeros inside a run), which
	 * only sends more inputs to the slow path: mant < 10^nd always holds.
	 */
	if (n >= 8) {
		while (i < n) {
			uint32_t v;
			unsigned k = sl_tx_digits8(p, n, i, &v);
			if (nd + (int)k > 19)
				break;
			mant = mant * sl_tx_pow10u[k] + v;
			nd += mant ? (int)k : 0;
			digits += (int)k;
			i += k;
			if (k < 8)
				break;
		}
	}
	for (; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)p[i] - '0';
		if (d > 9)
			break;
		digits++;
		if (nd < 19) {
			mant = mant * 10 + d;
			nd += mant != 0;
		} else {
			exp10++;
			trunc = 1;
		}
	}
	if (i < n && p[i] == '.') {
		i++;
		if (n >= 8) {
			while (i < n) {
				uint32_t v;
				unsigned k = sl_tx_digits8(p, n, i, &v);
				if (nd + (int)k > 19)
					break;
				mant = mant * sl_tx_pow10u[k] + v;
				nd += mant ? (int)k : 0;
				digits += (int)k;
				exp10 -= k;
				i += k;
				if (k < 8)
					break;
			}
		}
		for (; i < n; i++) {
			unsigned d = (unsigned)(unsigned char)p[i] - '0';
			if (d > 9)
				break;
			digits++;
			if (nd < 19) {
				mant = mant * 10 + d;
				nd += mant != 0;
				exp10--;
			} else {
				trunc = 1;
			}
		}
	}
	if (!digits)
		return -EINVAL;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		int eneg = 0;
		if (i < n && (p[i] == '-' || p[i] == '+')) {
			eneg = p[i] == '-';
			i++;
		}
		if (i == n)
			return -EINVAL;
		int64_t e = 0;
		for (; i < n; i++) {
			unsigned d = (unsigned)(unsigned char)p[i] - '0';
			if (d > 9)
				return -EINVAL;
			if (e < 100000000)
				e = e * 10 + d; /* saturate far beyond any double */
		}
		exp10 += eneg ? -e : e;
	}
	if (i != n)
		return -EINVAL;
	if (mant == 0) {
		*out = neg ? -0.0 : 0.0;
		return 0;
	}
	if (!trunc && mant <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = (double)mant;
		d = exp10 < 0 ? d / sl_tx_pow10[-exp10] : d * sl_tx_pow10[exp10];
		*out = neg ? -d : d;
		return 0;
	}
	return sl_tx_f64_slow(p, n, out);
}

int SL_TX_FN(sl_parse_f64)(const char *p, size_t n, double *out)
{
	return sl_tx_parse_f64(p, n, n, out);
}

/* --- CSV ------------------------------------------------------------------------------------- */

/* sl_csv_field with s[0..avail-1] readable (avail >= n), so that short records can be read with
 * full loads when more data follows them, as in the bulk parse. */
static inline size_t sl_tx_csv_field(const char *s, size_t n, size_t avail, unsigned col,
				     const char **field)
{
	/*
	 * Fast path: no quote in the first 64 bytes and the field with its end inside them, so
	 * one window gives both ends.
	 */
	sl_tx_win w = sl_tx_window(s, avail, 0);
	uint64_t lm = sl_tx_lenmask(n);
	uint64_t c = sl_tx_weq(&w, ',') & lm;
	if (!(sl_tx_weq(&w, '"') & lm)) {
		unsigned cnt = (unsigned)__builtin_popcountll(c);
		if (cnt > col || (cnt == col && n <= 64)) {
			size_t start = 0;
			if (col) {
				for (unsigned k = 1; k < col; k++)
					c &= c - 1;
				start = (size_t)__builtin_ctzll(c) + 1;
				c &= c - 1;
			}
			size_t end = c ? (size_t)__builtin_ctzll(c) : n;
			*field = s + start;
			return end - start;
		}
	}

	size_t pos = 0;
	unsigned need = col; /* separators still to cross */
	for (;;) {
		if (pos < n && s[pos] == '"') {
			size_t q = pos + 1;
			for (;;) {
				q = sl_tx_find1(s, n, avail, q, '"');
				if (q >= n)
					return SIZE_MAX; /* unterminated */
				if (q + 1 < n && s[q + 1] == '"') {
					q += 2;
					continue;
				}
				break;
			}
			if (q + 1 < n && s[q + 1] != ',')
				return SIZE_MAX; /* junk after the closing quote */
			if (need == 0) {
				*field = s + pos + 1;
				return q - pos - 1;
			}
			if (q + 1 >= n)
				return SIZE_MAX;
			pos = q + 2;
			need--;
			continue;
		}
		if (need == 0) {
			*field = s + pos;
			return sl_tx_find1(s, n, avail, pos, ',') - pos;
		}
		if (pos >= n)
			return SIZE_MAX;
		/*
		 * Cross whole blocks of separators at once; a '"' may start a quoted field, so
		 * only the separators before the block's first quote are trusted.
		 */
		w = sl_tx_window(s, avail, pos);
		lm = sl_tx_lenmask(n - pos);
		c = sl_tx_weq(&w, ',') & lm;
		uint64_t q = sl_tx_weq(&w, '"') & lm;
		uint64_t valid = q ? c & ((q & (0 - q)) - 1) : c;
		unsigned cnt = (unsigned)__builtin_popcountll(valid);
		if (cnt >= need) {
			for (unsigned k = 1; k < need; k++)
				valid &= valid - 1;
			pos += (size_t)__builtin_ctzll(valid) + 1;
			need = 0;
			continue;
		}
		need -= cnt;
		if (valid) {
			/*
			 * Restart at the start of the field after the last trusted separator: it
			 * may hold the quote, or run past the block and start with one there.
			 */
			pos += (size_t)(64 - __builtin_clzll(valid));
			continue;
		}
		/* pos starts an unquoted field longer than the block or holding the quote. */
		size_t e = sl_tx_find1(s, n, avail, pos, ',');
		if (e >= n)
			return SIZE_MAX;
		pos = e + 1;
		need--;
	}
}

size_t SL_TX_FN(sl_csv_field)(const char *s, size_t n, unsigned col, const char **field)
{
	return sl_tx_csv_field(s, n, n, col, field);
}

#if defined(__SSSE3__) && defined(__SSE4_1__)
/* The rows of sl_blk_f64_fix, one at a time: the generic sl_blk_f64_fix, and the tail of a
 * SIMD one (which declares it first). */
static inline void sl_tx_f64_fix_rows(double *v, const uint8_t *ok, size_t rows)
{
	for (size_t j = 0; j < rows; j++) {
		if (!(ok[j] & SL_TX_F64_PENDING))
			continue;
		uint64_t m;
		memcpy(&m, &v[j], 8);
		double d = (double)m / sl_tx_pow10[ok[j] & 15];
		memcpy(&m, &d, 8);
		m |= (uint64_t)(ok[j] >> 4 & 1) << 63;
		memcpy(&v[j], &m, 8);
	}
}
#ifndef SL_BLK_HAVE_F64_FIX
#define sl_blk_f64_fix sl_tx_f64_fix_rows
#endif

/*
 * The bulk parse's number fields in one 16-byte register (the SIMD builds only; the scalar build
 * keeps the reference path). The field body is the d bytes ending at end, 1 <= d <= 16, and the
 * 16 bytes before end are readable: they are loaded at once and the bytes before the body are
 * zeroed, which makes them leading zeros. Digits combine in pairs (vpmaddubsw 10,1), quads
 * (vpmaddwd 100,1), eights (vpackusdw, vpmaddwd 10000,1), then the two halves.
 *
 *   before  |<-------------------- 16 bytes ending at end -------------------->|
 *           | masked to 0 (16 - d) |     body: digits, or digits '.' digits     |
 *
 * With dots allowed (frac != NULL) the one '.' is squeezed out by a vpshufb that moves the
 * bytes before it one lane up. Returns 0 and sets *mant (and *frac, the digits after the '.')
 * if the body is digits with at most one '.' (frac only) and at least one digit; else nonzero,
 * and the caller takes the general path, which decides the error or the harder syntax.
 */
/* 16 bytes at sl_tx_keep16 + d: 0 then d bytes of 0xFF, the last d lanes of a load */
static const uint8_t sl_tx_keep16[32] = {
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

/* Byte constants as memory operands: GCC rebuilt each _mm_set1_epi8 per row (mov, vmovd,
 * vpbroadcastb) in the bulk loops. */
static const uint8_t sl_tx_num16_k[3][16] = {
    {'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'},
    {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9},
    {0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE,
     0xFE}}; /* '.' - '0' */

static inline int sl_tx_num16(const char *end, size_t d, uint64_t *mant, unsigned *frac)
{
	const __m128i idx = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const __m128i nine = _mm_loadu_si128((const __m128i *)(const void *)sl_tx_num16_k[1]);
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
	x = _mm_sub_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)sl_tx_num16_k[0]));
	x = _mm_and_si128(x, _mm_loadu_si128((const __m128i *)(const void *)(sl_tx_keep16 + d)));
	__m128i dot =
	    _mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)sl_tx_num16_k[2]));
	unsigned dm = (unsigned)_mm_movemask_epi8(dot);
	unsigned big =
	    0xFFFFu ^ (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, nine), nine));
	int k = -1;
	if (frac) {
		k = dm ? __builtin_ctz(dm) : -1;
		*frac = (unsigned)(15 - k) & (dm ? 0xFFu : 0);
		x = _mm_andnot_si128(dot, x);
		__m128i up = _mm_cmpgt_epi8(_mm_set1_epi8((char)(k + 1)), idx); /* lanes <= k */
		x = _mm_shuffle_epi8(x, _mm_add_epi8(idx, up)); /* lane 0 gets index -1: zero */
		big &= ~dm;
	}
	x = _mm_maddubs_epi16(
	    x, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
	x = _mm_madd_epi16(x, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
	x = _mm_packus_epi32(x, x);
	x = _mm_madd_epi16(x, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
	uint64_t hi = (uint32_t)_mm_cvtsi128_si32(x), lo = (uint32_t)_mm_extract_epi32(x, 1);
	*mant = hi * 100000000u + lo;
	return (int)(big | (dm & (dm - 1)) | (dm && d == 1));
}
#define SL_TX_HAVE_NUM16
#endif

/* One row of the bulk CSV parse: the line without '\n', a trailing '\r' dropped. */
static inline void sl_tx_csv_row(const char *line, size_t len, size_t avail, unsigned col,
				 int64_t *vi, double *vf, uint8_t *ok)
{
	if (len && line[len - 1] == '\r')
		len--;
	const char *f;
	size_t fl = sl_tx_csv_field(line, len, avail, col, &f);
	size_t favail = fl == SIZE_MAX ? 0 : avail - (size_t)(f - line); /* readable from f */
	int r = -EINVAL;
	if (vi) {
		int64_t v = 0;
		if (fl != SIZE_MAX)
			r = sl_tx_parse_i64(f, fl, favail, &v);
		*vi = r ? 0 : v;
	} else {
		double v = 0;
		if (fl != SIZE_MAX)
			r = sl_tx_parse_f64(f, fl, favail, &v);
		*vf = r ? 0 : v;
	}
	*ok = r == 0;
}

#ifdef SL_TX_HAVE_NUM16
/* The general paths out of line, writing the row themselves, so that the fast loop keeps its
 * registers and no local of it has its address taken. */
__attribute__((noinline, cold)) static void sl_tx_i64_cold(const char *p, size_t n, size_t avail,
							   int64_t *val, uint8_t *ok)
{
	int64_t v = 0;
	int r = sl_tx_parse_i64(p, n, avail, &v);
	*val = r ? 0 : v;
	*ok = r == 0;
}

__attribute__((noinline, cold)) static void sl_tx_f64_cold(const char *p, size_t n, size_t avail,
							   double *val, uint8_t *ok)
{
	double v = 0;
	int r = sl_tx_parse_f64(p, n, avail, &v);
	*val = r ? 0 : v;
	*ok = r == 0;
}

__attribute__((noinline, cold)) static void sl_tx_csv_row_cold(const char *line, size_t len,
							       size_t avail, unsigned col,
							       int64_t *vi, double *vf, uint8_t *ok)
{
	sl_tx_csv_row(line, len, avail, col, vi, vf, ok);
}

/*
 * The bulk parse's number: the field is buf[fs..fe-1], buf[fs] is readable (for an empty field a
 * separator, so the body is empty). It is parsed by sl_tx_num16 when it is a plain number of up
 * to 16 digits (and '.'), which is nearly every field of numeric CSV; anything it declines goes to
 * the general parsers. f64 rows are left pending for sl_blk_f64_fix.
 */
__attribute__((always_inline)) static inline void
sl_tx_csv_num(const char *buf, size_t n, size_t fs, size_t fe, int64_t *vi, double *vf, uint8_t *ok)
{
	const char *f = buf + fs, *end = buf + fe;
	size_t fl = fe - fs;
	/* branch-free: the sign of random data is a coin toss for the predictor */
	char c0 = f[0];
	int neg = c0 == '-';
	size_t d = fl - (size_t)(neg | (c0 == '+')); /* the body after the sign */
	int simd = d - 1 < 16 && end - buf >= 16;
	uint64_t m = 0;
	if (vi) {
		if (simd && !sl_tx_num16(end, d, &m, NULL)) {
			*vi = (int64_t)((m ^ (0 - (uint64_t)neg)) + (uint64_t)neg);
			*ok = 1;
		} else {
			sl_tx_i64_cold(f, fl, n - fs, vi, ok);
		}
	} else {
		unsigned fr = 0;
		if (simd && !sl_tx_num16(end, d, &m, &fr) && m <= ((uint64_t)1 << 53)) {
			/* left for sl_blk_f64_fix, which divides a batch at once: the mantissa in
			 * the value, the rest in the ok byte */
			memcpy(vf, &m, 8);
			*ok = (uint8_t)(SL_TX_F64_PENDING | (unsigned)neg << 4 | fr);
		} else {
			sl_tx_f64_cold(f, fl, n - fs, vf, ok);
		}
	}
}

/*
 * The bulk parse's fast row: the line is window bytes rs..re-1 (re is its '\n') of the 64 at
 * buf + s, which has no quote in that line; rm has the line's bits (and maybe bits of other
 * bytes that are no ','), c and cr are the window's ',' and '\r' masks.
 * The field is parsed by sl_tx_num16 when it is a plain number of up to 16 digits (and '.'),
 * which is nearly every field of numeric CSV; anything it declines goes to the general parsers.
 */
__attribute__((always_inline)) static inline void
sl_tx_csv_fast(const char *buf, size_t n, size_t s, size_t rs, size_t re, uint64_t rm, uint64_t c,
	       uint64_t cr, unsigned col, int64_t *vi, double *vf, uint8_t *ok)
{
	/* a '\r' before the '\n' is not part of the last field; bit re of cr << 1 is byte re - 1,
	 * which for an empty line is the previous '\n' (or nothing), so no '\r' */
	size_t len = re - (size_t)(((cr << 1) >> re) & 1);
	c &= rm;
	if ((unsigned)__builtin_popcountll(c) < col) {
		if (vi)
			*vi = 0;
		else
			*vf = 0;
		*ok = 0;
		return;
	}
	size_t fs = rs;
	for (unsigned k = 0; k < col; k++) {
		fs = (size_t)__builtin_ctzll(c) + 1;
		c &= c - 1;
	}
	size_t fe = c ? (size_t)__builtin_ctzll(c) : len;
	sl_tx_csv_num(buf, n, s + fs, s + fe, vi, vf, ok);
}

/*
 * Rows from the window at buf + s (64 bytes readable there): the first line, and the second too
 * if it also ends inside the window, when neither holds a quote; one window's masks serve both,
 * which halves the loads and compares on short numeric rows. A line longer than 63 bytes or one
 * with a quote goes through sl_tx_csv_row, the general path. Writes 1 or 2 (at most room) rows
 * and returns how many; *s moves just past the last '\n' used, or to n for a last line without.
 */
__attribute__((always_inline)) static inline size_t sl_tx_csv_rows_fast(const char *buf, size_t n,
									size_t *s, size_t room,
									unsigned col, int64_t *vi,
									double *vf, uint8_t *ok)
{
	size_t at = *s;
	sl_blk b = sl_blk_load(buf + at);
	uint64_t nl = sl_blk_eq(b, '\n');
	uint64_t q = sl_blk_eq(b, '"');
	/* bits below the first and the second '\n' (all but bit 63 when there is no second) */
	uint64_t nl2 = nl & (nl - 1);
	uint64_t lm1 = (nl ^ (nl - 1)) >> 1, lm2 = (nl2 ^ (nl2 - 1)) >> 1;
	if (!nl || (q & lm1)) {
		size_t e = sl_tx_ctz(nl);
		if (!nl)
			e = sl_tx_find1(buf, n, n, at + 64, '\n') - at;
		sl_tx_csv_row_cold(buf + at, e, n - at, col, vi, vf, ok);
		*s = at + e + (at + e < n);
		return 1;
	}
	size_t e1 = (size_t)__builtin_ctzll(nl);
	uint64_t c = sl_blk_eq(b, ','), cr = sl_blk_eq(b, '\r');
	sl_tx_csv_fast(buf, n, at, 0, e1, lm1, c, cr, col, vi, vf, ok);
	if (!nl2 || (q & lm2) || room < 2) {
		*s = at + e1 + 1;
		return 1;
	}
	size_t e2 = (size_t)__builtin_ctzll(nl2);
	/* lm2 ^ lm1 also holds bit e1, the first '\n', which is no ',' */
	sl_tx_csv_fast(buf, n, at, e1 + 1, e2, lm2 ^ lm1, c, cr, col, vi ? vi + 1 : NULL,
		       vf ? vf + 1 : NULL, ok + 1);
	*s = at + e2 + 1;
	return 2;
}

#ifdef SL_BLK_HAVE_CSV_NUM4
/*
 * (The structural pass below is built where the numbers are parsed four at a time too, the
 * AVX-512 build: with sl_tx_num16 per row it ran the AVX2 build's i64 and f64 columns ~10 %
 * slower than its row-by-row window path, which that build keeps.)
 */
/*
 * The structural pass of the bulk parse: field col of many rows from one pass of bit masks, the
 * way simdjson and simdcsv find their structure. Each 64-byte block is compared once for '\n',
 * ',' and '"'; then, with E = ',' | '\n' (the stoppers) and the rows' first bytes R, the bits of
 *
 *   first(S)  = ((~E + S) ^ ~E) & E      the first stopper at or after each bit of S
 *
 * (the add carries from each bit of S through the non-stoppers up to the stopper, and the xor
 * keeps what changed) step through the columns, one bit per row at every step:
 *
 *   S_0 = R;  F = first(S_k);  S_k+1 = (F & ',') << 1  |  F & '\n'
 *
 * so S_col is the first byte of each row's field col, or the row's '\n' when the row has fewer
 * fields (an empty field there: not ok and 0, as for a missing column), and first(S_col) is the
 * field's end. Carries and shifts run on across blocks, so rows and fields of any length cost the
 * same. This needs at most one bit of S per run between stoppers, which holds as every row holds
 * one bit and rows are separated by their '\n'. A '\r' before the '\n' is dropped from the last
 * field when the field is parsed.
 *
 *   bytes   1 2 , 3 . 5 , x \n - 7 , 8 , y \n
 *   E             x       x    x       x   x    x
 *   R       x                     x                  (col 1)
 *   S_1           ->x                   ->x
 *   end                   x                 x
 *
 * Row starts and field ends are flattened to offsets from *s (the sparse flatten: about two
 * rows a block); the rows are then parsed from them. Stops at the first block holding a '"'
 * (quoted fields change the field structure: the caller takes those rows the general way), at
 * a block whose rows do not fit into lim, and before the last partial block. Returns the rows
 * found (complete rows only) with their field starts in fs[] and ends in fe[] (room for
 * lim + 137 each), sets *s just past the last row's '\n', and *stop to the offset of the
 * block it stopped at (SIZE_MAX: no whole block left) and *quote to whether a '"' stopped it.
 */
#define SL_TX_CSV_MAXCOL 8 /* columns beyond take the row-by-row path */
#define SL_TX_CSV_BATCH  256

static inline uint64_t sl_tx_first(uint64_t sbits, uint64_t e, unsigned char *carry)
{
	unsigned long long sum;
	*carry = _addcarry_u64(*carry, ~e, sbits, &sum);
	return ((uint64_t)sum ^ ~e) & e;
}

__attribute__((always_inline)) static inline size_t
sl_tx_csv_index(const char *buf, size_t n, size_t *s, size_t lim, unsigned col, uint32_t *fs,
		uint32_t *fe, size_t *stop, int *quote)
{
	size_t s0 = *s, rows = 0, next = s0; /* next: the first byte after the last '\n' */
	uint64_t rc = 1;                     /* the row-start carry: s0 starts a row */
	unsigned char ac[SL_TX_CSV_MAXCOL + 1] = {0};
	uint64_t sc[SL_TX_CSV_MAXCOL] = {0};
	uint32_t *os = fs, *oe = fe;
	size_t b = s0;
	*quote = 0;
	for (; b + 64 <= n && b - s0 < ((size_t)1 << 31); b += 64) { /* offsets fit uint32_t */
		sl_blk k = sl_blk_load(buf + b);
		uint64_t nl = sl_blk_eq(k, '\n'), c = sl_blk_eq(k, ',');
		if (sl_blk_eq(k, '"')) {
			*quote = 1;
			break;
		}
		unsigned cnt = (unsigned)__builtin_popcountll(nl);
		if (rows + cnt > lim)
			break;
		uint64_t e = c | nl;
		uint64_t st = nl << 1 | rc; /* S_0 */
		rc = nl >> 63;
		for (unsigned j = 0; j < col; j++) {
			uint64_t f = sl_tx_first(st, e, &ac[j]);
			uint64_t fc = f & c;
			st = fc << 1 | sc[j] | (f & nl);
			sc[j] = fc >> 63;
		}
		uint64_t en = sl_tx_first(st, e, &ac[col]);
		os = sl_blk_flatten_sparse(os, st, (uint32_t)(b - s0));
		oe = sl_blk_flatten_sparse(oe, en, (uint32_t)(b - s0));
		if (cnt) {
			rows += cnt;
			next = b + 64 - (size_t)__builtin_clzll(nl);
		}
	}
	*stop = b + 64 <= n ? b : SIZE_MAX;
	*s = next;
	return rows;
}

/* sl_tx_csv_index with col a constant, so the per-column carries live in registers. */
#define SL_TX_CSV_INDEX_COL(k)                                                                     \
	__attribute__((noinline)) static size_t sl_tx_csv_index_##k(                               \
	    const char *buf, size_t n, size_t *s, size_t lim, uint32_t *fs, uint32_t *fe,          \
	    size_t *stop, int *quote)                                                              \
	{                                                                                          \
		return sl_tx_csv_index(buf, n, s, lim, k, fs, fe, stop, quote);                    \
	}
SL_TX_CSV_INDEX_COL(0)
SL_TX_CSV_INDEX_COL(1)
SL_TX_CSV_INDEX_COL(2)
SL_TX_CSV_INDEX_COL(3)

static inline size_t sl_tx_csv_index_col(const char *buf, size_t n, size_t *s, size_t lim,
					 unsigned col, uint32_t *fs, uint32_t *fe, size_t *stop,
					 int *quote)
{
	switch (col) {
	case 0: return sl_tx_csv_index_0(buf, n, s, lim, fs, fe, stop, quote);
	case 1: return sl_tx_csv_index_1(buf, n, s, lim, fs, fe, stop, quote);
	case 2: return sl_tx_csv_index_2(buf, n, s, lim, fs, fe, stop, quote);
	case 3: return sl_tx_csv_index_3(buf, n, s, lim, fs, fe, stop, quote);
	default: return sl_tx_csv_index(buf, n, s, lim, col, fs, fe, stop, quote);
	}
}

/* The numbers of rows found by sl_tx_csv_index (fields at s0 + fs[j] .. s0 + fe[j]). */
__attribute__((always_inline)) static inline void
sl_tx_csv_num_at(const char *buf, size_t n, size_t s0, const uint32_t *fs, const uint32_t *fe,
		 size_t j, int64_t *vi, double *vf, uint8_t *ok)
{
	size_t a = s0 + fs[j], z = s0 + fe[j];
	/* one '\r' before the '\n' ends the last field; a < z: z - 1 is inside */
	z -= (size_t)(buf[z] == '\n' && a < z && buf[z - 1] == '\r');
	sl_tx_csv_num(buf, n, a, z, vi ? vi + j : NULL, vf ? vf + j : NULL, ok + j);
}

__attribute__((always_inline)) static inline void
sl_tx_csv_nums(const char *buf, size_t n, size_t s0, const uint32_t *fs, const uint32_t *fe,
	       size_t rows, int64_t *vi, double *vf, uint8_t *ok)
{
	size_t j = 0;
	/* four rows at a time once 15 bytes precede the separators (all but the first rows) */
	while (j < rows && s0 + fe[j] < 15) {
		sl_tx_csv_num_at(buf, n, s0, fs, fe, j, vi, vf, ok);
		j++;
	}
	for (; j + 4 <= rows; j += 4) {
		unsigned done = sl_blk_csv_num4(buf, s0, fs + j, fe + j, vi ? vi + j : NULL,
						vf ? vf + j : NULL, ok + j);
		for (unsigned k = 0; done != 15 && k < 4; k++)
			if (!(done >> k & 1))
				sl_tx_csv_num_at(buf, n, s0, fs, fe, j + k, vi, vf, ok);
	}
	for (; j < rows; j++)
		sl_tx_csv_num_at(buf, n, s0, fs, fe, j, vi, vf, ok);
}

/* One loop per type, so that neither tests per row which one it writes. */
__attribute__((noinline)) static void sl_tx_csv_nums_i64(const char *buf, size_t n, size_t s0,
							 const uint32_t *fs, const uint32_t *fe,
							 size_t rows, int64_t *vi, uint8_t *ok)
{
	sl_tx_csv_nums(buf, n, s0, fs, fe, rows, vi, NULL, ok);
}

__attribute__((noinline)) static void sl_tx_csv_nums_f64(const char *buf, size_t n, size_t s0,
							 const uint32_t *fs, const uint32_t *fe,
							 size_t rows, double *vf, uint8_t *ok)
{
	sl_tx_csv_nums(buf, n, s0, fs, fe, rows, NULL, vf, ok);
}
#endif /* SL_BLK_HAVE_CSV_NUM4 */
#endif

/* Lines come from one pass of newline masks; each line is then handed to sl_csv_field. */
__attribute__((always_inline)) static inline size_t sl_tx_csv_column(const char *buf, size_t n,
								     unsigned col, int64_t *vi,
								     double *vf, uint8_t *ok,
								     size_t max, size_t *used)
{
	size_t rows = 0, start = 0;
	if (max == 0) {
		*used = 0;
		return 0;
	}
#ifdef SL_TX_HAVE_NUM16
	/*
	 * AVX-512, columns up to SL_TX_CSV_MAXCOL: batches of rows through the structural pass,
	 * then their numbers; a block with a quote sends the rows up to the end of that block
	 * through the general path, one at a time. Farther columns and the other builds: row by
	 * row, up to two rows per window. Both leave the last partial block to the masks below. The
	 * f64 values of each batch of rows are finished together (sl_blk_f64_fix).
	 */
#ifdef SL_BLK_HAVE_CSV_NUM4
	if (col <= SL_TX_CSV_MAXCOL) {
		uint32_t fs[SL_TX_CSV_BATCH + 137], fe[SL_TX_CSV_BATCH + 137];
		while (start + 64 <= n && rows < max) {
			size_t first = rows, room = max - rows;
			size_t lim = room < SL_TX_CSV_BATCH ? room : SL_TX_CSV_BATCH;
			size_t s0 = start, stop;
			int quote;
			size_t got =
			    sl_tx_csv_index_col(buf, n, &start, lim, col, fs, fe, &stop, &quote);
			if (vi)
				sl_tx_csv_nums_i64(buf, n, s0, fs, fe, got, vi + rows, ok + rows);
			else
				sl_tx_csv_nums_f64(buf, n, s0, fs, fe, got, vf + rows, ok + rows);
			rows += got;
			/*
			 * The general path, row by row, past a block with a quote, or for one row
			 * when the pass found none (over 2 GiB, or more rows in a block than room).
			 */
			size_t until = quote ? stop + 64 : got ? 0 : start + 1;
			while (start < until && start + 64 <= n && rows < max) {
				size_t e = sl_tx_find1(buf, n, n, start, '\n');
				if (e >= n)
					break; /* the last line: the loop below */
				sl_tx_csv_row(buf + start, e - start, n - start, col,
					      vi ? vi + rows : NULL, vf ? vf + rows : NULL,
					      ok + rows);
				rows++;
				start = e + 1;
			}
			if (vf) {
				sl_blk_f64_fix(vf + first, ok + first, rows - first);
				for (size_t j = first; j < rows; j++)
					ok[j] = ok[j] != 0;
			}
			if (stop == SIZE_MAX || rows == first)
				break;
		}
	} else
#endif
	{
		while (start + 64 <= n && rows < max) {
			size_t first = rows, lim = vf && max - rows > 256 ? rows + 256 : max;
			while (start + 64 <= n && rows < lim)
				rows += sl_tx_csv_rows_fast(buf, n, &start, lim - rows, col,
							    vi ? vi + rows : NULL,
							    vf ? vf + rows : NULL, ok + rows);
			if (vf) {
				sl_blk_f64_fix(vf + first, ok + first, rows - first);
				for (size_t j = first; j < rows; j++)
					ok[j] = ok[j] != 0;
			}
		}
	}
	if (rows == max) {
		*used = start;
		return rows;
	}
#endif
	for (size_t base = start; base < n; base += 64) {
		sl_tx_win w = sl_tx_window(buf, n, base);
		uint64_t nl = sl_tx_weq(&w, '\n');
		for (; nl; nl &= nl - 1) {
			size_t e = base + (size_t)__builtin_ctzll(nl);
			sl_tx_csv_row(buf + start, e - start, n - start, col, vi ? vi + rows : NULL,
				      vf ? vf + rows : NULL, ok + rows);
			start = e + 1;
			if (++rows == max) {
				*used = start;
				return rows;
			}
		}
	}
	if (start < n) {
		sl_tx_csv_row(buf + start, n - start, n - start, col, vi ? vi + rows : NULL,
			      vf ? vf + rows : NULL, ok + rows);
		rows++;
	}
	*used = n;
	return rows;
}

size_t SL_TX_FN(sl_csv_column_i64)(const char *buf, size_t n, unsigned col, int64_t *vals,
				   uint8_t *ok, size_t max, size_t *used)
{
	return sl_tx_csv_column(buf, n, col, vals, NULL, ok, max, used);
}

size_t SL_TX_FN(sl_csv_column_f64)(const char *buf, size_t n, unsigned col, double *vals,
				   uint8_t *ok, size_t max, size_t *used)
{
	return sl_tx_csv_column(buf, n, col, NULL, vals, ok, max, used);
}

/* --- JSON ------------------------------------------------------------------------------------ */

static inline int sl_tx_json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline size_t sl_tx_skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && sl_tx_json_ws(s[i]))
		i++;
	return i;
}

/* i is just past an opening quote: the offset of the closing quote, or n if there is none. */
static inline size_t sl_tx_json_strend(const char *s, size_t n, size_t i)
{
	while (i < n) {
		sl_tx_win w = sl_tx_window(s, n, i);
		uint64_t q = sl_tx_weq(&w, '"');
		uint64_t bs = sl_tx_weq(&w, '\\');
		uint64_t before = q ? (q & (0 - q)) - 1 : ~(uint64_t)0;
		if (bs & before) {
			i += (size_t)__builtin_ctzll(bs) + 2; /* skip the escaped byte */
			continue;
		}
		if (q)
			return i + (size_t)__builtin_ctzll(q);
		i += 64;
	}
	return n;
}

/* Whether t[0..n) is a JSON literal (true, false, null) or number: -?(0|[1-9][0-9]*)
 * (.[0-9]+)?([eE][+-]?[0-9]+)? (RFC 8259). */
static inline int sl_tx_json_token_ok(const char *t, size_t n)
{
	if ((n == 4 && (!memcmp(t, "true", 4) || !memcmp(t, "null", 4))) ||
	    (n == 5 && !memcmp(t, "false", 5)))
		return 1;
	size_t i = n > 0 && t[0] == '-';
	if (i >= n || t[i] < '0' || t[i] > '9')
		return 0;
	if (t[i++] != '0')
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++;
	if (i < n && t[i] == '.') {
		if (++i >= n || t[i] < '0' || t[i] > '9')
			return 0;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++;
	}
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		if (++i < n && (t[i] == '+' || t[i] == '-'))
			i++;
		if (i >= n || t[i] < '0' || t[i] > '9')
			return 0;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++;
	}
	return i == n;
}

/* The value at s[i]: sets [*vs, *ve) and returns the offset past it, or SIZE_MAX. */
static inline size_t sl_tx_json_value(const char *s, size_t n, size_t i, size_t *vs, size_t *ve)
{
	if (i >= n)
		return SIZE_MAX;
	char c = s[i];
	if (c == '"') {
		size_t e = sl_tx_json_strend(s, n, i + 1);
		if (e >= n)
			return SIZE_MAX;
		*vs = i + 1;
		*ve = e;
		return e + 1;
	}
	if (c == '{' || c == '[') {
		size_t depth = 0;
		for (size_t j = i; j < n; j++) {
			char d = s[j];
			if (d == '"') {
				j = sl_tx_json_strend(s, n, j + 1);
				if (j >= n)
					return SIZE_MAX;
			} else if (d == '{' || d == '[') {
				depth++;
			} else if ((d == '}' || d == ']') && --depth == 0) {
				*vs = i;
				*ve = j + 1;
				return j + 1;
			}
		}
		return SIZE_MAX;
	}
	size_t j = i;
	while (j < n && !sl_tx_json_ws(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']')
		j++;
	if (!sl_tx_json_token_ok(s + i, j - i))
		return SIZE_MAX;
	*vs = i;
	*ve = j;
	return j;
}

size_t SL_TX_FN(sl_json_field)(const char *s, size_t n, const char *key, size_t keylen,
			       const char **val)
{
	size_t i = sl_tx_skip_ws(s, n, 0);
	if (i >= n || s[i] != '{')
		return SIZE_MAX;
	i = sl_tx_skip_ws(s, n, i + 1);
	for (;;) {
		if (i >= n || s[i] != '"')
			return SIZE_MAX; /* also "{}" : no such key */
		size_t ks = i + 1, ke = sl_tx_json_strend(s, n, ks);
		if (ke >= n)
			return SIZE_MAX;
		i = sl_tx_skip_ws(s, n, ke + 1);
		if (i >= n || s[i] != ':')
			return SIZE_MAX;
		i = sl_tx_skip_ws(s, n, i + 1);
		size_t vs, ve;
		i = sl_tx_json_value(s, n, i, &vs, &ve);
		if (i == SIZE_MAX)
			return SIZE_MAX;
		if (ke - ks == keylen && memcmp(s + ks, key, keylen) == 0) {
			*val = s + vs;
			return ve - vs;
		}
		i = sl_tx_skip_ws(s, n, i);
		if (i >= n || s[i] != ',')
			return SIZE_MAX; /* '}' : absent, anything else: malformed */
		i = sl_tx_skip_ws(s, n, i + 1);
	}
}

#endif /* SL_TEXT_IMPL */
