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
#include <string.h>

/* A string view; the same layout as core's sl_str (checked there with static asserts). */
typedef struct sl_kstr {
	const char *p;
	uint64_t len;
} sl_kstr;

/*
 * The hash table of a key dictionary (core/keydict.h owns it; the kernels only probe and, for
 * Long keys, insert without allocating). mask + 1 slots (a power of two >= 4) in buckets of
 * 4, one 64-byte line per bucket, so a probe of its home bucket touches one cache line:
 *
 *   tab[0 .. 2 * (mask + 1))  uint64, 64-byte aligned; bucket b is the line tab[8b .. 8b + 8):
 *                      tab[8b + l]      the inline key of lane l (l < 4): the Long key of the
 *                                       slot's id in Long dictionaries, its hash in the
 *                                       others; 0 when the slot is empty
 *                      tab[8b + 4 + l]  the slot: tag << 32 | (id + 1), 0 = empty
 *                      A slot is named by the index of its inline key (its word is 4 further).
 *   keys[id], hash[id] the Long key (keys; NULL for other key types) and hash of every id;
 *   skeys[id]          the String key of every id (string dictionaries; else NULL)
 *
 * A key with hash h has tag (uint32)(h >> 32) | 1 (never 0) and home bucket at
 * sl_kdict_home(h, mask) = h & (2 * mask + 1) & ~7 (the hash's bits 3 and up); it sits in the
 * first slot that was empty, scanning the lanes of its home bucket and then the following
 * buckets (wrapping). So the full slots of a bucket are its first lanes. Lookups compare the
 * tags of a whole bucket at once, then the key of each tag match; a bucket with an empty slot
 * ends the search. No deletions. The table layout after a sequence of inserts is the same in
 * every ISA; ids are dense, in insertion order.
 * Long probes compare the key with the 4 inline keys of a bucket at once (no tag, no keys[id]
 * load); the first equal lane that is not empty holds its id (keys are unique among the full
 * slots; an empty slot's 0 can equal only the key 0, and then it is the first empty lane).
 * String probes compare the hash with the inline hashes the same way, then the key of the
 * first full match (no hash[id] load; a miss there takes the tag probe).
 *
 * Load: at most sl_kdict_cap(mask + 1) keys (core/keydict.c grows the table beyond): a
 * quarter of the slots while the table is at most SL_KDICT_SMALL slots (1 MiB), half beyond.
 * Buckets of 4 overflow more often than wider ones (at half load about 4 % of the keys sit
 * past their home bucket, against 1 % with buckets of 8), and each such row is a mispredicted
 * branch: for tables in cache that cost 15-20 % of keyed_sum_i64 (bench_kernels, 1 K and 4 K
 * keys), so they are kept sparser; larger tables are bound by their cache misses, one line per
 * row (two with the keys and slots in separate arrays: 100 K keys went from ~133 to ~167 M
 * rows/s on AVX-512).
 */
/*
 * dict_sum_i64's sum table: a small open-addressing table of its own, keyed by the Long key,
 * whose buckets hold each key's running sum beside it, so a row whose key is in its home
 * bucket is one compare of 8 inline keys and one add into the neighbouring line: no slot, no
 * id, no acc[id] (the dictionary's ids are assigned as keys first enter it, so they are the
 * same as without it). nb buckets (a power of two, 64 .. SL_KSUMS_BUCKETS) of two lines:
 *
 *   tab[16b .. 16b + 8)       the inline keys of bucket b; lanes past cnt[b] hold empty[b]
 *   tab[16b + 8 .. 16b + 16)  their sums (0 in empty lanes)
 *
 * Home bucket of a key with hash h: (h >> 7) & (nb - 1), i.e. the byte offset h & ((nb - 1)
 * << 7). empty[b] is a key whose home is ~b (in SL_KSUMS_BUCKETS's bits), never b for any nb
 * >= 2, so a key can only match an empty lane of a bucket that is not its home, and home-bucket
 * compares need no occupancy mask. The keys and sums of the entries, pos[j] (the index in tab
 * of the key) and id[j] for j < the call's entry count, are folded into acc[id] and the lanes
 * emptied before dict_sum_i64 returns: the table is empty between calls. Owned by
 * core/keydict.c (allocated 64-byte aligned, `ready` set to 0; the kernel fills it on first
 * use).
 */
#define SL_KSUMS_BUCKETS 1024
/* A call takes the table when it has SL_KSUMS_ROWS rows per entry the table can hold (4 per
 * bucket; at least SL_KSUMS_MIN_BUCKETS buckets, as many as the dictionary's keys need):
 * each distinct key of the call takes the out-of-line path once (its id from the
 * dictionary), and the table is emptied at the end. (8 rows lost to the probe of tab at 16
 * rows per key: bench_kernels' L2 row, 65 536 rows of 4 K keys, 355 -> 303 M rows/s on
 * AVX-512; at 64 rows per key the table wins, 458 -> 631.) */
#define SL_KSUMS_ROWS        32
#define SL_KSUMS_MIN_BUCKETS 64
typedef struct sl_ksums {
	_Alignas(64) uint64_t tab[SL_KSUMS_BUCKETS * 16];
	uint64_t empty[SL_KSUMS_BUCKETS];
	uint32_t pos[SL_KSUMS_BUCKETS * 4];
	uint32_t id[SL_KSUMS_BUCKETS * 4];
	uint8_t cnt[SL_KSUMS_BUCKETS];
	uint32_t ready;
} sl_ksums;

typedef struct sl_kdict {
	uint64_t *tab;
	size_t mask;
	int64_t *keys;
	uint64_t *hash;
	const sl_kstr *skeys;
	size_t n;       /* ids in use */
	size_t limit;   /* dict_put_i64 stops before n would exceed it (room in keys, hash; load) */
	sl_ksums *sums; /* dict_sum_i64's sum table, or NULL (then it probes tab) */
} sl_kdict;

#define SL_KDICT_SMALL ((size_t)1 << 16)

/* The fewest slots a dictionary starts with: 64 buckets, 4 KiB. Fewer keys than its quarter
 * are spread sparser, so a small key set rarely fills a bucket: 16 random keys in 16 buckets
 * put 5 or more in one for about 4 % of key sets, and then 1/16 of the rows take the
 * out-of-line probe with a mispredicted branch (bench_kernels' 16-key set did: dict_put_i64
 * in cache 612 -> 1007 M rows/s with this floor, keyed_sum_i64 from memory 222 -> 307). */
#define SL_KDICT_MIN_SLOTS ((size_t)256)

/* The most keys a table of `slots` slots holds (see above). */
static inline size_t sl_kdict_cap(size_t slots)
{
	return slots <= SL_KDICT_SMALL ? slots / 4 : slots / 2;
}

/* The index in tab of the home bucket's line of hash h. */
static inline size_t sl_kdict_home(uint64_t h, size_t mask)
{
	return (size_t)h & ((2 * mask + 1) & ~(size_t)7);
}

/* The inline-key index after j along a probe path: the next lane, or the first lane of the
 * next bucket (its line is 8 words on), wrapping at the end of the table. */
static inline size_t sl_kdict_next(size_t j, size_t mask)
{
	return (j & 3) == 3 ? (j + 5) & (2 * mask + 1) : j + 1;
}

static inline uint32_t sl_kdict_tag(uint64_t h)
{
	return (uint32_t)(h >> 32) | 1u;
}

/* a[0..n) == b[0..n), inline for the short keys words are: two overlapping loads per side up
 * to 16 bytes (never outside the strings), memcmp beyond. */
static inline int sl_kbytes_eq(const char *a, const char *b, size_t n)
{
	uint64_t x0, x1, y0, y1;
	if (n >= 8 && n <= 16) {
		memcpy(&x0, a, 8), memcpy(&x1, a + n - 8, 8);
		memcpy(&y0, b, 8), memcpy(&y1, b + n - 8, 8);
		return ((x0 ^ y0) | (x1 ^ y1)) == 0;
	}
	if (n >= 4 && n < 8) {
		uint32_t u0, u1, v0, v1;
		memcpy(&u0, a, 4), memcpy(&u1, a + n - 4, 4);
		memcpy(&v0, b, 4), memcpy(&v1, b + n - 4, 4);
		return ((u0 ^ v0) | (u1 ^ v1)) == 0;
	}
	if (n < 4) {
		unsigned diff = 0;
		for (size_t i = 0; i < n; i++)
			diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
		return diff == 0;
	}
	return !memcmp(a, b, n);
}

/* Element-wise arithmetic operators (map_i64 / map_f64). */
typedef enum sl_arith {
	SL_ARITH_ADD,
	SL_ARITH_SUB,
	SL_ARITH_MUL,
	SL_ARITH_DIV, /* Double only */
} sl_arith;

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

	/* two-column filter: out[] = the i with a[i] OP b[i], ascending; returns the count (same
	 * IEEE semantics as above). n must fit in uint32_t. */
	size_t (*filter_i64_col)(const int64_t *a, const int64_t *b, size_t n, sl_cmp op,
				 uint32_t *out);
	size_t (*filter_f64_col)(const double *a, const double *b, size_t n, sl_cmp op,
				 uint32_t *out);

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

	/* Hashing: h[i] = XXH3_64bits(&k[i], 8) (the little-endian bytes of the Long), and
	 * XXH3_64bits(s[i].p, s[i].len); bit-identical to xxHash's in every ISA. */
	void (*hash_i64)(const int64_t *k, size_t n, uint64_t *h);
	void (*hash_str)(const sl_kstr *s, size_t n, uint64_t *h);

	/* Key dictionary probes (layout at sl_kdict), rows in order.
	 * dict_put_i64: ids[i] = the id of k[i] (hash h[i]), inserting new keys with the next
	 *   id (keys[id], hash[id], a slot and its inline key; d->n grows). Stops before an
	 *   insert that would make d->n exceed d->limit; returns the rows done (n when all are),
	 *   so the caller grows the table and goes on from there. The table must have an empty
	 *   slot. dict_find_i64 / dict_find_str: ids[i] = the id of the key, or miss[nmiss++] = i
	 *   when it is absent (ids[i] is then unspecified); return nmiss. The table is not
	 *   changed. */
	size_t (*dict_put_i64)(sl_kdict *d, const int64_t *k, const uint64_t *h, size_t n,
			       uint32_t *ids);
	/* dict_put_hash_i64: the same as hash_i64 then dict_put_i64, in one pass: h[i] = the
	 *   hash of k[i] for the rows done (the return value), ids as dict_put_i64. */
	size_t (*dict_put_hash_i64)(sl_kdict *d, const int64_t *k, size_t n, uint64_t *h,
				    uint32_t *ids);
	/* dict_sum_i64: reduceByKey(_ + _) of v by k in one pass: the ids dict_put_i64 would
	 *   give, and acc[id] += v[i] (wrapping) for the rows done (the return value, as
	 *   dict_put_i64's); a key the call inserts gets acc[id] = its first value, so acc
	 *   needs room for d->limit ids and nothing of it beyond d->n is read. With d->sums
	 *   the AVX2 and AVX-512 kernels go through the sum table (sl_ksums) where the call has
	 *   enough rows per key (scalar ones never do): the same ids, table and sums.
	 * dict_count_i64: the same with every value 1 (countByValue, the fused word count). */
	size_t (*dict_sum_i64)(sl_kdict *d, const int64_t *k, const int64_t *v, size_t n,
			       int64_t *acc);
	size_t (*dict_count_i64)(sl_kdict *d, const int64_t *k, size_t n, int64_t *acc);
	size_t (*dict_find_i64)(const sl_kdict *d, const int64_t *k, const uint64_t *h, size_t n,
				uint32_t *ids, uint32_t *miss);
	size_t (*dict_find_str)(const sl_kdict *d, const sl_kstr *s, const uint64_t *h, size_t n,
				uint32_t *ids, uint32_t *miss);

	/* Direct-mapped ids for Long keys in a small range (a "perfect hash", as DuckDB's for
	 * small integer ranges): dm[u] is id + 1, or 0 when not known, for u = k - base < len
	 * (computed in uint64_t, so keys below base are out of range too); dm[len] must be 0.
	 * ids[i] = the id of k[i] when dm knows it, else miss[nmiss++] = i (ids[i] is then
	 * unspecified); returns nmiss. No hashing, no key comparison: dm is exact. */
	size_t (*dict_direct_i64)(const uint32_t *dm, int64_t base, size_t len, const int64_t *k,
				  size_t n, uint32_t *ids, uint32_t *miss);
	/* dict_direct_sum_i64: dict_direct_i64 and grouped_sum_i64 in one pass: acc[id] += v[i]
	 *   (wrapping) for each row whose key dm knows, miss[nmiss++] = i for the others (their
	 *   values are not added); returns nmiss. v NULL: count, acc[id] += 1
	 *   (grouped_count). */
	size_t (*dict_direct_sum_i64)(const uint32_t *dm, int64_t base, size_t len,
				      const int64_t *k, const int64_t *v, size_t n, int64_t *acc,
				      uint32_t *miss);

	/* Element-wise arithmetic: o[i] = a[i] OP b[i], or a[i] OP c when b is NULL; o may be a
	 * or b. Long: ADD, SUB, MUL wrap (two's complement); Double: ADD, SUB, MUL, DIV in IEEE
	 * (no contraction), bit-identical in every ISA except that a NaN result may carry
	 * another sign or payload (compilers commute operands; Java prints every NaN alike and
	 * Double.equals does not tell them apart either). Other ops are not kernels (division by
	 * zero and remainders need per-row checks). */
	void (*map_i64)(sl_arith op, const int64_t *a, const int64_t *b, int64_t c, size_t n,
			int64_t *o);
	void (*map_f64)(sl_arith op, const double *a, const double *b, double c, size_t n,
			double *o);

	/* The text kernels of text.h (contracts there), this ISA's build. */
	size_t (*find_eol)(const char *p, size_t n);
	size_t (*split_offsets)(const char *p, size_t n, char delim, uint32_t *offs, size_t max);
	int (*parse_i64)(const char *p, size_t n, int64_t *out);
	int (*parse_f64)(const char *p, size_t n, double *out);
	size_t (*csv_field)(const char *line, size_t n, unsigned col, const char **field);
	size_t (*csv_column_i64)(const char *buf, size_t n, unsigned col, int64_t *vals,
				 uint8_t *ok, size_t max, size_t *used);
	size_t (*csv_column_f64)(const char *buf, size_t n, unsigned col, double *vals, uint8_t *ok,
				 size_t max, size_t *used);
	size_t (*json_field)(const char *obj, size_t n, const char *key, size_t keylen,
			     const char **val);

	/* Hash partitioning: row i goes to partition (h[i] >> 32) * nout >> 32 (nout >= 1).
	 * Writes start[0..nout] (partition p is order[start[p] .. start[p + 1])) and order[0..n)
	 * (the rows, ascending within each partition: a stable counting sort). */
	void (*partition)(const uint64_t *h, size_t n, uint32_t nout, uint32_t *start,
			  uint32_t *order);
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
