/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyed.h - hashing, key-dictionary probes and hash partitioning, written once and compiled
 * once per ISA through reduce.h (which includes this file before its table).
 *
 * Invariants:
 * - Hashes are xxHash's XXH3_64bits of the key bytes, bit for bit: hash_i64 is XXH3's
 *   4-to-8-byte path specialised to 8 bytes (a plain loop the compiler vectorizes: 64-bit
 *   multiplies are vpmullq on AVX-512, three pmuludq on AVX2), hash_str calls the inlined
 *   XXH3 on each string. Tests compare both with libxxhash.
 * - The dictionary layout is in kernels.h (sl_kdict). The only ISA primitives are the bucket
 *   scans (SL_HAVE_BUCKET_SCAN): tag matches, empty slots and inline word matches (the Long
 *   key, or for other keys the hash) of the 4 lanes of a bucket as bit masks, and the key
 *   matches of the 8 lanes of a sum-table bucket (sl_bucket8_keys, sl_bucket8_keyp); the
 *   scalar ones below are the reference.
 *   Everything else is the same code in every ISA, so ids and table contents are identical
 *   everywhere.
 * - Nothing allocates; dict_put_i64 stops at d->limit and the caller grows the table.
 */
#ifndef SL_KEYED_H
#define SL_KEYED_H

#define XXH_INLINE_ALL
#include <xxhash.h>

/* XXH3_len_4to8_64b with len = 8 and seed 0: the secret's bytes 8..23 folded once. */
#define SL_XXH3_BITFLIP8 UINT64_C(0xc73ab174c5ecd5a2)
#define SL_XXH3_MX2      UINT64_C(0x9fb21c651e98df25)

static inline uint64_t sl_rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t sl_xxh3_i64(int64_t key)
{
	uint64_t x = (uint64_t)key;
	/* input64 = readLE32(p + 4) + (readLE32(p) << 32): the halves swapped */
	x = sl_rotl64(x, 32) ^ SL_XXH3_BITFLIP8;
	/* XXH3_rrmxmx(x, 8) */
	x ^= sl_rotl64(x, 49) ^ sl_rotl64(x, 24);
	x *= SL_XXH3_MX2;
	x ^= (x >> 35) + 8;
	x *= SL_XXH3_MX2;
	return x ^ (x >> 28);
}

static void hash_i64(const int64_t *restrict k, size_t n, uint64_t *restrict h)
{
	for (size_t i = 0; i < n; i++)
		h[i] = sl_xxh3_i64(k[i]);
}

static void hash_str(const sl_kstr *restrict s, size_t n, uint64_t *restrict h)
{
	for (size_t i = 0; i < n; i++)
		h[i] = XXH3_64bits(s[i].p, (size_t)s[i].len);
}

/*
 * Probing: a whole bucket (one line of tab, layout at sl_kdict) at a time. The ISA's
 * primitives (SL_HAVE_BUCKET_SCAN) take the line b: sl_bucket_hits(b, tag), a bit mask with
 * bit l << SL_HIT_SHIFT set for each lane l (l < 4) whose slot b[4 + l] has tag `tag`,
 * sl_bucket_empty(b), bit l set for each empty slot, and sl_bucket_keys(b, key), bit l set for
 * each inline key b[l] equal to key; the scalar reference below computes the same masks lane
 * by lane, without branches. The first empty slot of a probe path is where a new key goes, and
 * no key sits after it on that path (slots are only ever filled, at the first empty one), so
 * candidates are complete.
 *
 * SL_PROBE(d, hh, EQ, FOUND, EMPTY): EQ(id) tests the key of a tag match; FOUND(id) and
 * EMPTY(at) (at: the slot, the index of its inline key) are statements that must leave the
 * loop (goto, return).
 */
#ifndef SL_HAVE_BUCKET_SCAN
#define SL_HIT_SHIFT 0
static inline unsigned sl_bucket_hits(const uint64_t *b, uint32_t tag)
{
	unsigned hit = 0;
	for (unsigned l = 0; l < 4; l++)
		hit |= (unsigned)((uint32_t)(b[4 + l] >> 32) == tag) << l;
	return hit;
}

static inline unsigned sl_bucket_empty(const uint64_t *b)
{
	unsigned e = 0;
	for (unsigned l = 0; l < 4; l++)
		e |= (unsigned)(b[4 + l] == 0) << l;
	return e;
}

static inline unsigned sl_bucket_keys(const uint64_t *b, int64_t key)
{
	unsigned m = 0;
	for (unsigned l = 0; l < 4; l++)
		m |= (unsigned)(b[l] == (uint64_t)key) << l;
	return m;
}

static inline unsigned sl_bucket8_keys(const uint64_t *b, int64_t key)
{
	unsigned m = 0;
	for (unsigned l = 0; l < 8; l++)
		m |= (unsigned)(b[l] == (uint64_t)key) << l;
	return m;
}
#endif

#define SL_PROBE(d, hh, EQ, FOUND, EMPTY)                                                          \
	do {                                                                                       \
		uint32_t tag_ = sl_kdict_tag(hh);                                                  \
		size_t tmask_ = 2 * (d)->mask + 1, p_ = sl_kdict_home(hh, (d)->mask);              \
		for (;;) {                                                                         \
			const uint64_t *b_ = (d)->tab + p_;                                        \
			for (unsigned hit_ = sl_bucket_hits(b_, tag_); hit_; hit_ &= hit_ - 1) {   \
				uint32_t id_ =                                                     \
				    (uint32_t)b_[4 + (__builtin_ctz(hit_) >> SL_HIT_SHIFT)] - 1;   \
				if (EQ(id_))                                                       \
					FOUND(id_);                                                \
			}                                                                          \
			unsigned e_ = sl_bucket_empty(b_);                                         \
			if (e_)                                                                    \
				EMPTY(p_ + (unsigned)__builtin_ctz(e_));                           \
			p_ = (p_ + 8) & tmask_;                                                    \
		}                                                                                  \
	} while (0)

/* The id of Long key `key` (hash hh), or UINT32_MAX with *at = the first empty slot of its
 * path: per bucket, the first inline key equal to key is its slot unless that slot is empty
 * (then key is 0 and absent, and that is the first empty slot); no match and an empty slot:
 * absent. No tags, no keys[id]. */
static inline uint32_t sl_probe_i64(const uint64_t *tab, size_t mask, uint64_t hh, int64_t key,
				    size_t *at)
{
	size_t tmask = 2 * mask + 1, p = sl_kdict_home(hh, mask);
	for (;;) {
		const uint64_t *b = tab + p;
		unsigned m = sl_bucket_keys(b, key);
		if (m) {
			unsigned l = (unsigned)__builtin_ctz(m);
			if (b[4 + l])
				return (uint32_t)b[4 + l] - 1;
			*at = p + l;
			return UINT32_MAX;
		}
		unsigned e = sl_bucket_empty(b);
		if (e) {
			*at = p + (unsigned)__builtin_ctz(e);
			return UINT32_MAX;
		}
		p = (p + 8) & tmask;
	}
}

/* Tables past this many slots (2 MiB) miss the L2: probes prefetch their home bucket
 * SL_PROBE_AHEAD rows ahead (the hashes of the whole block are known). Smaller tables do
 * without, which saves the instructions. */
#define SL_PROBE_AHEAD    16
#define SL_PREFETCH_SLOTS ((size_t)1 << 17)

static inline void sl_probe_prefetch(const sl_kdict *d, const uint64_t *h, size_t i, size_t n)
{
	if (i + SL_PROBE_AHEAD < n)
		__builtin_prefetch(&d->tab[sl_kdict_home(h[i + SL_PROBE_AHEAD], d->mask)]);
}

/* The rows loop of a probe kernel, twice: with and without prefetching (PF, as above). */
#define SL_ROWS(d, h, n, PF, ...)                                                                  \
	do {                                                                                       \
		if ((d)->mask + 1 > SL_PREFETCH_SLOTS) {                                           \
			for (size_t i = 0; i < (n); i++) {                                         \
				PF(d, h, i, n);                                                    \
				__VA_ARGS__                                                        \
			}                                                                          \
		} else {                                                                           \
			for (size_t i = 0; i < (n); i++) {                                         \
				__VA_ARGS__                                                        \
			}                                                                          \
		}                                                                                  \
	} while (0)

#define SL_GOTO_FOUND(id)                                                                          \
	do {                                                                                       \
		found = (id);                                                                      \
		goto found_;                                                                       \
	} while (0)
#define SL_GOTO_EMPTY(j)                                                                           \
	do {                                                                                       \
		at = (j);                                                                          \
		goto empty_;                                                                       \
	} while (0)
#define SL_EQ_STR(id)                                                                              \
	(d->hash[id] == hh && d->skeys[id].len == s[i].len &&                                      \
	 sl_kbytes_eq(d->skeys[id].p, s[i].p, (size_t)s[i].len))

/* dict_put_i64's whole probe of one row, out of line: find or insert. Returns 0 and *id, or
 * 1 when the key is new and the table is at its limit (nothing inserted). */
static __attribute__((noinline)) int dict_put_i64_slow(sl_kdict *d, int64_t key, uint64_t hh,
						       uint32_t *id)
{
	size_t at = 0;
	uint32_t found = sl_probe_i64(d->tab, d->mask, hh, key, &at);
	if (found == UINT32_MAX) {
		if (d->n >= d->limit)
			return 1;
		found = (uint32_t)d->n++;
		d->keys[found] = key;
		d->hash[found] = hh;
		d->tab[at] = (uint64_t)key;
		d->tab[at + 4] = (uint64_t)sl_kdict_tag(hh) << 32 | (uint64_t)(found + 1);
	}
	*id = found;
	return 0;
}

/* Whether lane mask m has a lane set, with *l the lowest one as an index. On AVX2 and
 * AVX-512 (dispatch.c also requires BMI1 for them) one tzcnt does both: it writes the whole
 * register and sets CF for a zero operand, where `m ? __builtin_ctz(m)` is a test, a branch, the
 * count and a sign extension of its int before it indexes (GCC). */
static inline int sl_first_lane(unsigned m, size_t *l)
{
#if defined(__x86_64__) && defined(__AVX2__)
	_Bool none;
	__asm__("tzcnt %2, %0" : "=r"(*l), "=@ccc"(none) : "r"((size_t)m));
	return !none;
#else
	*l = m ? (size_t)(unsigned)__builtin_ctz(m) : 0;
	return m != 0;
#endif
}

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SL_LOW_HALF 4
#else
#define SL_LOW_HALF 0
#endif

/* The id + 1 of a Long key found in its home bucket, or 0: sl_probe_i64's first step (an
 * empty slot matching the key 0 gives 0 too). One line of the table, one vector compare
 * (hmask = (2 * mask + 1) & ~7), then the slot's low half by itself, at an address that
 * folds the lane ((uint32_t)slot[l] is a 64-bit load and a zero-extending mov); acc[x - 1]
 * is then one displacement. dict_sum_i64's row is 16 instructions on AVX-512 with it
 * (22 before; bench_kernels keyed_sum_i64, docs/benchmarks.md).
 * dict_find_str calls it (through sl_home_key) with the hash as the key: a candidate only,
 * whose key it then compares. */
static inline uint32_t sl_bucket_slot(const uint64_t *b, int64_t key)
{
	const uint64_t *slot = b + 4;
	size_t l;
	uint32_t x = 0;
	if (sl_first_lane(sl_bucket_keys(b, key), &l))
		memcpy(&x, (const char *)&slot[l] + SL_LOW_HALF, sizeof(x));
	return x;
}

static inline uint32_t sl_home_slot(const uint64_t *tab, size_t hmask, uint64_t hh, int64_t key)
{
	return sl_bucket_slot(tab + (hh & hmask), key);
}

/* sl_home_slot as an id, UINT32_MAX when not found. */
static inline uint32_t sl_home_key(const uint64_t *tab, size_t hmask, uint64_t hh, int64_t key)
{
	return sl_home_slot(tab, hmask, hh, key) - 1;
}

/* The common case inline: the key is known and sits in its home bucket. Everything else (a
 * later bucket, a new key) takes the out-of-line probe, which keeps this loop small enough
 * for the compiler to hold it in registers. (A vertical probe, 8 rows at a time with gathers
 * of the inline keys and slots, was measured on Zen 4 at about half this loop's rate: one
 * 8-lane gather costs about twice 8 scalar loads there.) */
static inline __attribute__((always_inline)) int
put_i64_row(sl_kdict *d, const uint64_t *tab, size_t hmask, int64_t key, uint64_t hh, uint32_t *id)
{
	uint32_t x = sl_home_key(tab, hmask, hh, key);
	if (__builtin_expect(x != UINT32_MAX, 1)) {
		*id = x;
		return 0;
	}
	return dict_put_i64_slow(d, key, hh, id);
}

static size_t dict_put_i64(sl_kdict *d, const int64_t *k, const uint64_t *h, size_t n,
			   uint32_t *ids)
{
	const uint64_t *tab = d->tab;
	size_t hmask = (2 * d->mask + 1) & ~(size_t)7;
	SL_ROWS(d, h, n, sl_probe_prefetch, {
		if (put_i64_row(d, tab, hmask, k[i], h[i], &ids[i]))
			return i;
	});
	return n;
}

/* Hash SL_HASH_CHUNK rows (hash_i64's vector loop), then probe them while their hashes are
 * fresh, instead of a separate hashing pass over the caller's block: measured 5-13 % faster
 * than hash_i64 + dict_put_i64 for tables in cache (a fixed 8-row loop was not vectorized by
 * GCC). Tables that need prefetching want the hashes of rows ahead, so they hash the block
 * first. */
#define SL_HASH_CHUNK 32
static size_t dict_put_hash_i64(sl_kdict *d, const int64_t *k, size_t n, uint64_t *h, uint32_t *ids)
{
	if (d->mask + 1 > SL_PREFETCH_SLOTS) {
		hash_i64(k, n, h);
		return dict_put_i64(d, k, h, n, ids);
	}
	const uint64_t *tab = d->tab;
	size_t hmask = (2 * d->mask + 1) & ~(size_t)7;
	for (size_t i = 0; i < n; i += SL_HASH_CHUNK) {
		size_t end = n - i < SL_HASH_CHUNK ? n : i + SL_HASH_CHUNK;
		hash_i64(k + i, end - i, h + i);
		for (size_t r = i; r < end; r++)
			if (put_i64_row(d, tab, hmask, k[r], h[r], &ids[r]))
				return r;
	}
	return n;
}

/* A chunk's start in the one-pass sums: its keys and values (v NULL: none) prefetched
 * SL_STREAM_AHEAD bytes on, and out[r] = add + (XXH3 of k[r] & mask) for r < m (a home
 * bucket's offset in tab, or its address in the sum table), in one vectorized loop. */
static inline __attribute__((always_inline)) void sl_chunk_homes(const int64_t *k, const int64_t *v,
								 size_t m, uint64_t add,
								 uint64_t mask, uint64_t *out)
{
	for (size_t r = 0; r < m; r += 8) {
		SL_STREAM_PREFETCH(k + r);
		if (v)
			SL_STREAM_PREFETCH(v + r);
	}
	for (size_t r = 0; r < m; r++)
		out[r] = add + (sl_xxh3_i64(k[r]) & mask);
}

/* The sum table (kernels.h: sl_ksums). Scalar code compares 8 lanes one by one, more than the probe
 * of tab costs (bench_kernels keyed_sum_i64, scalar: 16 to 4 K keys 210-241 M rows/s without the
 * table, 153-161 with): only the vector ISAs take the sum table. */
#ifdef SL_HAVE_BUCKET_SCAN
#define SL_KSUMS_ISA 1
#else
#define SL_KSUMS_ISA 0
#endif
#ifndef SL_HAVE_BUCKET8_KEYP
#define sl_bucket8_keyp(b, kp) sl_bucket8_keys(b, *(kp))
#endif

/* Fill the empty keys and lanes once: empty[b] is the first x = 1, 2, ... whose home
 * bits are ~b (about 7 400 hashes). */
static __attribute__((noinline)) void ksums_ready(sl_ksums *s)
{
	const size_t nb = SL_KSUMS_BUCKETS;
	size_t left = nb;
	memset(s->cnt, 0, sizeof(s->cnt));
	for (uint64_t x = 1; left; x++) {
		size_t b = ~(size_t)(sl_xxh3_i64((int64_t)x) >> 7) & (nb - 1);
		if (!s->cnt[b]) {
			s->cnt[b] = 1;
			s->empty[b] = x;
			left--;
		}
	}
	memset(s->cnt, 0, sizeof(s->cnt));
	for (size_t b = 0; b < nb; b++)
		for (size_t l = 0; l < 8; l++) {
			s->tab[16 * b + l] = s->empty[b];
			s->tab[16 * b + 8 + l] = 0;
		}
	s->ready = 1;
}

/* acc[id] += the sum of each of the call's ne entries, and the table emptied. */
static void ksums_fold(sl_ksums *s, size_t ne, int64_t *acc)
{
	for (size_t j = 0; j < ne; j++) {
		size_t p = s->pos[j], b = p / 16;
		acc[s->id[j]] = (int64_t)((uint64_t)acc[s->id[j]] + s->tab[p + 8]);
		s->tab[p] = s->empty[b];
		s->tab[p + 8] = 0;
		s->cnt[b] = 0;
	}
}

/* A row whose key is not in its home bucket: later buckets of its path (their full lanes
 * only: there an empty key can match), then a new entry in the first bucket with room, its id
 * from the dictionary (a new key's accumulator zeroed). 0, or 1 when the dictionary is at its
 * limit, 2 when the table is (nothing changed then). */
static __attribute__((noinline)) int ksums_slow(sl_kdict *d, sl_ksums *s, size_t nb, int64_t key,
						int64_t v, int64_t *acc, size_t *ne)
{
	uint64_t hh = sl_xxh3_i64(key);
	size_t b = (size_t)(hh >> 7) & (nb - 1);
	for (;;) {
		uint64_t *bk = s->tab + 16 * b;
		unsigned c = s->cnt[b], m = sl_bucket8_keys(bk, key) & ((1u << c) - 1);
		if (m) {
			bk[8 + __builtin_ctz(m)] += (uint64_t)v;
			return 0;
		}
		if (c < 8)
			break;
		b = (b + 1) & (nb - 1);
	}
	if (*ne >= nb * 4)
		return 2;
	uint32_t id;
	size_t n0 = d->n;
	if (dict_put_i64_slow(d, key, hh, &id))
		return 1;
	if (d->n > n0)
		acc[id] = 0;
	size_t p = 16 * b + s->cnt[b]++;
	s->tab[p] = (uint64_t)key;
	s->tab[p + 8] = (uint64_t)v;
	s->pos[*ne] = (uint32_t)p;
	s->id[*ne] = id;
	++*ne;
	return 0;
}

/* Rows hashed at a time by the sum table's loop: 64 ran 4K keys 1.07x faster than 32 and
 * 1.13x faster than 128 (bench_kernels keyed_sum_i64_k4096, alternated). */
#define SL_KSUMS_CHUNK 64

/* dict_sum_i64 (v NULL: dict_count_i64, each value 1) through the sum table of nb buckets:
 * rows until the end, the dictionary's limit (*stop = 1) or the table's (*stop = 2); returns
 * the rows summed, all folded into acc. Inlined into each with v a constant or not. */
static inline __attribute__((always_inline)) size_t ksums_rows(sl_kdict *d, size_t nb,
							       const int64_t *k, const int64_t *v,
							       size_t n, int64_t *acc, int *stop)
{
	sl_ksums *s = d->sums;
	uint64_t at[SL_KSUMS_CHUNK];
	size_t omask = (nb - 1) << 7, ne = 0;
	uint64_t base = (uint64_t)(uintptr_t)s->tab;
	*stop = 0;
	for (size_t i = 0; i < n; i += SL_KSUMS_CHUNK) {
		size_t m = n - i < SL_KSUMS_CHUNK ? n - i : SL_KSUMS_CHUNK;
		sl_chunk_homes(k + i, v ? v + i : NULL, m, base, omask, at);
#pragma GCC unroll 2
		for (size_t r = 0; r < m; r++) {
			uint64_t *bk = (uint64_t *)(uintptr_t)at[r];
			size_t l;
			if (__builtin_expect(sl_first_lane(sl_bucket8_keyp(bk, k + i + r), &l),
					     1)) {
				bk[8 + l] += v ? (uint64_t)v[i + r] : 1;
				continue;
			}
			int st = ksums_slow(d, s, nb, k[i + r], v ? v[i + r] : 1, acc, &ne);
			if (st) {
				ksums_fold(s, ne, acc);
				*stop = st;
				return i + r;
			}
		}
	}
	ksums_fold(s, ne, acc);
	return n;
}

/* reduceByKey(_ + _) of Long values by Long keys in one pass (dict_sum_i64): first through
 * the sum table where it applies (ksums_calls; from memory, AVX-512, 1 K random keys ran
 * 1.54x and 4 K 1.33x faster with it, medians of 5: docs/benchmarks.md), the rest probing
 * tab (dict_sum_i64_tab). */
#define SL_SUM_BLOCK 1024
static inline __attribute__((always_inline)) size_t
dict_sum_i64_tab(sl_kdict *d, const int64_t *k, const int64_t *v, size_t n, int64_t *acc);

/* The leading rows a call sums through the sum table (kernels.h: sl_ksums), table by table
 * (each twice the last when one fills up), while the dictionary's keys fit one and the rows
 * left are enough. *stop: the dictionary reached its limit. */
static inline __attribute__((always_inline)) size_t
ksums_calls(sl_kdict *d, const int64_t *k, const int64_t *v, size_t n, int64_t *acc, int *stop)
{
	size_t done = 0, least = SL_KSUMS_MIN_BUCKETS;
	*stop = 0;
	while (SL_KSUMS_ISA && d->sums && done < n) {
		/* room for the keys the dictionary holds, or half what it is sized for (a fresh
		 * dictionary sized from a key-count hint): at most one doubling on the way */
		size_t want = d->n > d->limit / 2 ? d->n : d->limit / 2, nb = least;
		while (nb * 4 < want)
			nb *= 2;
		/* rows enough for the keys the table may take, or the dictionary is sized for */
		size_t keys = nb * 4 > d->limit ? nb * 4 : d->limit;
		if (nb > SL_KSUMS_BUCKETS || n - done < SL_KSUMS_ROWS * keys)
			break;
		if (!d->sums->ready)
			ksums_ready(d->sums);
		int st;
		done += ksums_rows(d, nb, k + done, v ? v + done : NULL, n - done, acc, &st);
		if (st == 1) {
			*stop = 1;
			break;
		}
		least = 2 * nb;
	}
	return done;
}

static size_t dict_sum_i64(sl_kdict *d, const int64_t *k, const int64_t *v, size_t n, int64_t *acc)
{
	int stop;
	size_t done = ksums_calls(d, k, v, n, acc, &stop);
	if (stop)
		return done;
	return done + dict_sum_i64_tab(d, k + done, v + done, n - done, acc);
}

/* countByValue of Long keys: dict_sum_i64 with every value 1 (the same two paths; v is a
 * constant NULL in each, so the per-row test folds away). */
static size_t dict_count_i64(sl_kdict *d, const int64_t *k, size_t n, int64_t *acc)
{
	int stop;
	size_t done = ksums_calls(d, k, NULL, n, acc, &stop);
	if (stop)
		return done;
	return done + dict_sum_i64_tab(d, k + done, NULL, n - done, acc);
}

/* dict_sum_i64 without the sum table. Tables in cache: per
 * SL_HASH_CHUNK rows, hash into home bucket offsets (the hash itself is needed only by a
 * miss, which computes it again: two instructions fewer a row), then per row probe and
 * acc[id] += v (the hit inline, as put_i64_row; a miss out of line, and a new key's
 * accumulator set to its value). Larger
 * tables: per SL_SUM_BLOCK rows, hash the block and probe it with prefetching
 * (dict_put_i64), zero the accumulators of the keys it added, grouped sum. In the first
 * loop each chunk prefetches the keys and values SL_STREAM_AHEAD bytes on (from memory at
 * 16 keys about a quarter faster, at 1 K and 4 K inside the noise: docs/benchmarks.md).
 * One pass saves the ids' store and reload and a second walk over the rows. From memory it
 * is ahead of the three-call path at 16 to 4 K keys (bench_kernels keyed_sum_i64 against
 * keyed_sum_i64_split, one binary: 16 keys by about a third, 1 K and 4 K by up to 15 %),
 * and whole wide-key pipelines run 4-10 % faster; with the data in L2 it is behind at 1 K
 * and 4 K keys (docs/benchmarks.md). */
static inline __attribute__((always_inline)) size_t
dict_sum_i64_tab(sl_kdict *d, const int64_t *k, const int64_t *v, size_t n, int64_t *acc)
{
	if (d->mask + 1 > SL_PREFETCH_SLOTS) {
		uint64_t h[SL_SUM_BLOCK];
		uint32_t ids[SL_SUM_BLOCK];
		for (size_t i = 0; i < n; i += SL_SUM_BLOCK) {
			size_t m = n - i < SL_SUM_BLOCK ? n - i : SL_SUM_BLOCK, n0 = d->n;
			hash_i64(k + i, m, h);
			size_t got = dict_put_i64(d, k + i, h, m, ids);
			if (d->n > n0)
				memset(acc + n0, 0, (d->n - n0) * sizeof(*acc));
			if (v)
				grouped_sum_i64(ids, v + i, got, acc);
			else
				grouped_count(ids, got, acc);
			if (got < m)
				return i + got;
		}
		return n;
	}
	uint64_t home[SL_HASH_CHUNK];
	const uint64_t *tab = d->tab;
	size_t hmask = (2 * d->mask + 1) & ~(size_t)7;
	for (size_t i = 0; i < n; i += SL_HASH_CHUNK) {
		size_t m = n - i < SL_HASH_CHUNK ? n - i : SL_HASH_CHUNK;
		sl_chunk_homes(k + i, v ? v + i : NULL, m, 0, hmask, home);
		for (size_t r = 0; r < m; r++) {
			uint32_t x = sl_bucket_slot(tab + home[r], k[i + r]);
			if (__builtin_expect(x != 0, 1)) {
				acc[(size_t)x - 1] = (int64_t)((uint64_t)acc[(size_t)x - 1] +
							       (v ? (uint64_t)v[i + r] : 1));
				continue;
			}
			/* a variable of its own: x's address taken would keep x on the stack */
			uint32_t y;
			size_t n0 = d->n;
			if (dict_put_i64_slow(d, k[i + r], sl_xxh3_i64(k[i + r]), &y))
				return i + r;
			uint64_t add = v ? (uint64_t)v[i + r] : 1;
			acc[y] = d->n > n0 ? (int64_t)add : (int64_t)((uint64_t)acc[y] + add);
		}
	}
	return n;
}

/* dict_find_i64's probe beyond the home bucket, out of line. */
static __attribute__((noinline)) uint32_t dict_find_i64_slow(const sl_kdict *d, int64_t key,
							     uint64_t hh)
{
	size_t at = 0;
	return sl_probe_i64(d->tab, d->mask, hh, key, &at);
}

static size_t dict_find_i64(const sl_kdict *d, const int64_t *k, const uint64_t *h, size_t n,
			    uint32_t *ids, uint32_t *miss)
{
	const uint64_t *tab = d->tab;
	size_t hmask = (2 * d->mask + 1) & ~(size_t)7, nmiss = 0;
	SL_ROWS(d, h, n, sl_probe_prefetch, {
		uint32_t id = sl_home_key(tab, hmask, h[i], k[i]);
		if (__builtin_expect(id == UINT32_MAX, 0))
			id = dict_find_i64_slow(d, k[i], h[i]);
		if (id == UINT32_MAX)
			miss[nmiss++] = (uint32_t)i;
		else
			ids[i] = id;
	});
	return nmiss;
}

/* dict_find_str's whole probe of one row, out of line: its id, or UINT32_MAX if absent. */
static __attribute__((noinline)) uint32_t dict_find_str_slow(const sl_kdict *d, const sl_kstr *s,
							     const uint64_t *h, size_t i)
{
	uint64_t hh = h[i];
	uint32_t found;
	size_t at;
	SL_PROBE(d, hh, SL_EQ_STR, SL_GOTO_FOUND, SL_GOTO_EMPTY);
empty_:
	(void)at;
	return UINT32_MAX;
found_:
	return found;
}

/* As dict_put_i64: the first slot of the home bucket whose inline hash is the row's (sl_home_key
 * on the hashes) inline, its key compared; the rest out of line, with tags. */
static size_t dict_find_str(const sl_kdict *d, const sl_kstr *s, const uint64_t *h, size_t n,
			    uint32_t *ids, uint32_t *miss)
{
	const uint64_t *tab = d->tab;
	const sl_kstr *skeys = d->skeys;
	size_t hmask = (2 * d->mask + 1) & ~(size_t)7, nmiss = 0;
	SL_ROWS(d, h, n, sl_probe_prefetch, {
		uint32_t id = sl_home_key(tab, hmask, h[i], (int64_t)h[i]);
		if (__builtin_expect(id != UINT32_MAX && skeys[id].len == s[i].len &&
					 sl_kbytes_eq(skeys[id].p, s[i].p, (size_t)s[i].len),
				     1)) {
			ids[i] = id;
			continue;
		}
		id = dict_find_str_slow(d, s, h, i);
		if (id == UINT32_MAX)
			miss[nmiss++] = (uint32_t)i;
		else
			ids[i] = id;
	});
	return nmiss;
}

/* Branch-free: out-of-range keys read the sentinel dm[len] = 0. SL_DIRECT_BLOCK(dm, base, len,
 * k, ids, miss, nmiss, i) is the ISA's optional SL_LANES-rows step (gathers). */
static size_t dict_direct_i64(const uint32_t *dm, int64_t base, size_t len, const int64_t *k,
			      size_t n, uint32_t *ids, uint32_t *miss)
{
	size_t nmiss = 0, i = 0;
#ifdef SL_DIRECT_BLOCK
	for (; i + SL_LANES <= n; i += SL_LANES)
		nmiss = SL_DIRECT_BLOCK(dm, base, len, k, ids, miss, nmiss, i);
#endif
	for (; i < n; i++) {
		uint64_t u = (uint64_t)k[i] - (uint64_t)base;
		uint32_t x = dm[u < len ? u : len];
		ids[i] = x - 1;
		miss[nmiss] = (uint32_t)i;
		nmiss += x == 0;
	}
	return nmiss;
}

/* dict_direct_i64 and grouped_sum_i64 (v NULL: grouped_count) in one pass: the ids never go
 * through memory. A miss is rare once the map knows the keys, so it branches. Per 8 rows (a
 * line of keys and one of values) both streams are prefetched ahead. The same plain loop in
 * every ISA: an AVX-512 step with dict_direct_i64's gather, the ids spilled and added one by
 * one, was slower than it (4 K keys from memory ~650 against ~870 M rows/s). */
#define SL_DIRECT_SUM_ROW(i, ADD)                                                                  \
	do {                                                                                       \
		uint64_t u_ = (uint64_t)k[i] - (uint64_t)base;                                     \
		uint32_t x_ = dm[u_ < len ? u_ : len];                                             \
		if (__builtin_expect(x_ == 0, 0))                                                  \
			miss[nmiss++] = (uint32_t)(i);                                             \
		else                                                                               \
			acc[x_ - 1] = (int64_t)((uint64_t)acc[x_ - 1] + (uint64_t)(ADD));          \
	} while (0)

#define SL_DIRECT_SUM_LOOP(VPF, ADD)                                                               \
	do {                                                                                       \
		for (; i + 8 <= n; i += 8) {                                                       \
			SL_STREAM_PREFETCH(k + i);                                                 \
			VPF;                                                                       \
			SL_DIRECT_SUM_ROW(i, ADD(i));                                              \
			SL_DIRECT_SUM_ROW(i + 1, ADD(i + 1));                                      \
			SL_DIRECT_SUM_ROW(i + 2, ADD(i + 2));                                      \
			SL_DIRECT_SUM_ROW(i + 3, ADD(i + 3));                                      \
			SL_DIRECT_SUM_ROW(i + 4, ADD(i + 4));                                      \
			SL_DIRECT_SUM_ROW(i + 5, ADD(i + 5));                                      \
			SL_DIRECT_SUM_ROW(i + 6, ADD(i + 6));                                      \
			SL_DIRECT_SUM_ROW(i + 7, ADD(i + 7));                                      \
		}                                                                                  \
		for (; i < n; i++)                                                                 \
			SL_DIRECT_SUM_ROW(i, ADD(i));                                              \
	} while (0)
#define SL_ADD_VALUE(i) v[i]
#define SL_ADD_ONE(i)   1

static size_t dict_direct_sum_i64(const uint32_t *dm, int64_t base, size_t len, const int64_t *k,
				  const int64_t *v, size_t n, int64_t *acc, uint32_t *miss)
{
	size_t nmiss = 0, i = 0;
	if (v)
		SL_DIRECT_SUM_LOOP(SL_STREAM_PREFETCH(v + i), SL_ADD_VALUE);
	else
		SL_DIRECT_SUM_LOOP((void)0, SL_ADD_ONE);
	return nmiss;
}

static inline uint32_t sl_dest(uint64_t h, uint32_t nout)
{
	return (uint32_t)(((h >> 32) * (uint64_t)nout) >> 32);
}

static void partition(const uint64_t *h, size_t n, uint32_t nout, uint32_t *start, uint32_t *order)
{
	memset(start, 0, ((size_t)nout + 1) * sizeof(uint32_t));
	if (nout == 1) {
		start[1] = (uint32_t)n;
		for (size_t i = 0; i < n; i++)
			order[i] = (uint32_t)i;
		return;
	}
	for (size_t i = 0; i < n; i++)
		start[sl_dest(h[i], nout) + 1]++;
	for (uint32_t p = 0; p < nout; p++)
		start[p + 1] += start[p];
	/* start[p] is the write cursor of p; afterwards it is the end of p = start of p + 1 */
	for (size_t i = 0; i < n; i++)
		order[start[sl_dest(h[i], nout)]++] = (uint32_t)i;
	for (uint32_t p = nout; p > 0; p--)
		start[p] = start[p - 1];
	start[0] = 0;
}

#endif
