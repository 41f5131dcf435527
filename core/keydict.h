/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keydict.h - key dictionary: interns keys to dense ids 0, 1, 2, ... in first-seen order.
 *
 * Keyed operators aggregate into dense arrays indexed by key id, so the dictionary is
 * the only hashed structure on their path. It owns a column holding each distinct key
 * once (row id == key id), which is also the key column of the operator's output.
 *
 *   tab[] (open addressing, power-of-two slots,      keys: col, row = id
 *     buckets of 4 slots, one 64-byte line each)     hash: uint64[id]
 *     line b = tab[8b .. 8b + 8): 4 inline keys (Long keys: the key of the slot's id; other
 *     keys: its hash; 0 when empty), then 4 slots (uint64: tag << 32 | (id + 1), 0 = empty)
 *     tag = (uint32)(hash >> 32) | 1; home bucket at sl_kdict_home(hash, mask); linear
 *     probing from the first lane of the home bucket, bucket by bucket (the layout is
 *     kernels.h's sl_kdict: the kernels probe it a whole bucket at a time, and insert Long
 *     keys); a slot is named by the index of its inline key, its slot word is 4 further
 *
 * Long keys within a small range also get a direct map (DuckDB's perfect hash aggregate):
 *
 *   dm[0 .. dm_len]  uint32: dm[key - dm_base] = id + 1, 0 = not known (dm[dm_len] = 0 always)
 *
 * decided by the first non-empty block sl_keydict_put_rows sees (range <=
 * SL_KEYDICT_DIRECT_MAX). It is
 * a cache in front of the table: an entry is set only for a key the table holds, keys outside
 * the range or not yet cached take the hash path, so ids are the same with or without it.
 *
 * Invariants: n <= sl_kdict_cap(slots) (a quarter of the slots for tables up to 1 MiB, half
 * beyond; so every probe ends at an empty slot); ids are never reused while the dictionary
 * lives; hashes are XXH3 (sl_col_hash_row), so ids and partitions do not
 * depend on the kernel ISA. Not thread-safe: one dictionary per (operator, partition).
 *
 * Two ways in: one row at a time (sl_keydict_put, _get, the inline _put_i64/_put_str), or
 * a column at a time through the kernels (sl_keydict_put_rows / _put_gather), which hash a
 * block of keys with one kernel call and probe it with another.
 */
#ifndef SL_KEYDICT_H
#define SL_KEYDICT_H

#include <errno.h>
#include <string.h>

#include "col.h"
#include "kernels.h"

typedef struct sl_keydict {
	sl_mem *mem;
	sl_col *keys;   /* distinct keys, row = id */
	uint64_t *hash; /* hash of key id */
	size_t hcap;
	uint64_t *tab; /* 2 * (mask + 1) words: buckets of 4 inline keys and 4 slots */
	size_t mask;   /* slots - 1 */
	size_t n;      /* number of ids */
	uint32_t *dm;  /* direct map (Long keys), dm_len + 1 entries, or NULL */
	int64_t dm_base;
	size_t dm_len;
	int dm_tried; /* the first non-empty block was looked at */
	/* rows the direct map missed in the last block summed through it (keys new to it or
	 * out of its range): many make sl_keydict_sum_i64 take two passes on the next block
	 * (see sum_i64_direct); dm_two_pass counts those blocks (for tests) */
	size_t dm_miss;
	size_t dm_two_pass;
	/* the sum table (kernels.h: sl_ksums) sl_keydict_sum_i64 and sl_keydict_count_i64
	 * lend their kernel, or NULL (then it probes tab). Borrowed: the caller sets it (zeroed
	 * memory the first time, e.g. a worker's sl_workers_scratch) for the calls of one thread
	 * and clears it before another thread may call; fini does not free it. Empty between
	 * calls. */
	sl_ksums *sums;
} sl_keydict;

/* Largest direct map (entries; 4 MiB). */
#define SL_KEYDICT_DIRECT_MAX ((size_t)1 << 20)

int sl_keydict_init(sl_keydict *d, sl_mem *m, const sl_type *key_type, size_t expect);
void sl_keydict_fini(sl_keydict *d);
void sl_keydict_clear(sl_keydict *d); /* forget all keys, keep memory */
/* Id of row i of src (hash h), inserting it if new. Returns the id, or -ENOMEM. */
int64_t sl_keydict_put(sl_keydict *d, const sl_col *src, size_t i, uint64_t h);
/* Give the key just appended to d->keys the next id, in empty slot j (the index of its inline
 * key in tab). Returns the id or -ENOMEM (the key row is then dropped again). For the inline
 * fast paths below. */
int64_t sl_keydict_add_id(sl_keydict *d, size_t j, uint64_t h);

/*
 * sl_keydict_put_rows - intern rows [from, from + n) of src, a column at a time.
 *   Writes ids[0..n) (their ids, new keys getting the next ids in row order); h is scratch
 *   room for n hashes (what it holds afterwards is unspecified). k is the kernel table (hashing and
 * probing); src has the dictionary's key type. Returns 0 or -ENOMEM (then some rows may have been
 *   interned). Any n; works on any key type (Long and String keys run in the kernels).
 */
int sl_keydict_put_rows(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from,
			size_t n, uint64_t *h, uint32_t *ids);
/*
 * sl_keydict_sum_i64 - reduceByKey(_ + _) in one pass for Long keys and Long values: intern
 *   rows [from, from + n) of src (Long keys) as sl_keydict_put_rows does and add vals[i] to
 *   the accumulator of row i's id in acc (a Long column, row = id; it grows with the
 *   dictionary, a new id's row starting at its first value, and acc->len = d->n after).
 *   Keys in a small range go through the direct map (decided on the first call's first
 *   1024 rows): lookup and add in one kernel pass, the misses interned after. Others: the
 *   kernel dict_sum_i64, through d->sums when it is set (one call over many rows per key
 *   pays off; see kernels.h). 0, or -ENOMEM (then some rows may have been folded; acc->len
 *   = d->n still).
 */
int sl_keydict_sum_i64(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from, size_t n,
		       const int64_t *vals, sl_col *acc);
/*
 * sl_keydict_count_i64 - countByValue of Long keys, as sl_keydict_sum_i64 with every value 1:
 *   keys in a small range look up and count in one kernel pass (dict_direct_sum_i64), others
 *   go through the kernel dict_count_i64 (through d->sums when set). 0, or -ENOMEM (then
 *   some rows may have been counted; acc->len = d->n still).
 */
int sl_keydict_count_i64(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from,
			 size_t n, sl_col *acc);
/*
 * sl_keydict_put_gather - intern rows sel[0..n) of src whose hashes are already known
 *   (h[i] is the hash of row sel[i]): ids[i] = the id of row sel[i]. 0 or -ENOMEM.
 *   For merging other dictionaries' keys (src = their keys, h gathered from their hash).
 */
int sl_keydict_put_gather(sl_keydict *d, const sl_kernels *k, const sl_col *src,
			  const uint32_t *sel, size_t n, const uint64_t *h, uint32_t *ids);

/*
 * sl_keydict_find_gather - look rows sel[0..n) of src up without inserting (h[i] is the hash
 *   of row sel[i]): ids[i] = the id of row sel[i], or UINT32_MAX when the dictionary does not
 *   hold it. Long and String keys run in the kernels (dict_find_i64 / dict_find_str); other
 *   key types probe a row at a time. Never fails. For the probe side of a join.
 */
void sl_keydict_find_gather(const sl_keydict *d, const sl_kernels *k, const sl_col *src,
			    const uint32_t *sel, size_t n, const uint64_t *h, uint32_t *ids);

static inline uint32_t sl_keydict_tag(uint64_t h)
{
	return sl_kdict_tag(h);
}

/*
 * Typed fast paths, inline because they run once per record: the dictionary's key type
 * must be Long / String. The Long probe compares the inline key of each full slot; the
 * String probe compares the inline hash before touching the key.
 */
static inline int64_t sl_keydict_put_i64(sl_keydict *d, int64_t key, uint64_t h)
{
	size_t j = sl_kdict_home(h, d->mask);
	for (;;) {
		uint64_t s = d->tab[j + 4];
		if (!s)
			break;
		if (d->tab[j] == (uint64_t)key)
			return (int64_t)((uint32_t)s - 1);
		j = sl_kdict_next(j, d->mask);
	}
	if (sl_col_push_i64(d->keys, key))
		return -ENOMEM;
	return sl_keydict_add_id(d, j, h);
}

static inline int64_t sl_keydict_put_str(sl_keydict *d, const char *p, size_t n, uint64_t h)
{
	size_t j = sl_kdict_home(h, d->mask);
	for (;;) {
		uint64_t s = d->tab[j + 4];
		if (!s)
			break;
		if (d->tab[j] == h) {
			const sl_str *k = &d->keys->v.s[(uint32_t)s - 1];
			if (k->len == n && sl_kbytes_eq(k->p, p, n))
				return (int64_t)((uint32_t)s - 1);
		}
		j = sl_kdict_next(j, d->mask);
	}
	if (sl_col_push_str(d->keys, p, n))
		return -ENOMEM;
	return sl_keydict_add_id(d, j, h);
}

/* Id of row i of src, or -1 if absent. */
int64_t sl_keydict_get(const sl_keydict *d, const sl_col *src, size_t i, uint64_t h);

#endif
