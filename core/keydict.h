/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keydict.h - key dictionary: interns keys to dense ids 0, 1, 2, ... in first-seen order.
 *
 * Keyed operators aggregate into dense arrays indexed by key id, so the dictionary is
 * the only hashed structure on their path. It owns a column holding each distinct key
 * once (row id == key id), which is also the key column of the operator's output.
 *
 *   table (open addressing, linear probing, power-of-two slots)
 *     slot: { uint32 id + 1 (0 = empty), uint32 hash tag }     keys: col, row = id
 *                                                             hash: uint64[id]
 * Invariants: load factor <= 1/2; ids are never reused while the dictionary lives.
 * Not thread-safe: one dictionary per (operator, output partition).
 */
#ifndef SL_KEYDICT_H
#define SL_KEYDICT_H

#include <errno.h>
#include <string.h>

#include "col.h"

typedef struct sl_keydict {
	sl_mem *mem;
	sl_col *keys;   /* distinct keys, row = id */
	uint64_t *hash; /* hash of key id */
	size_t hcap;
	uint64_t *slot; /* (id + 1) << 32 | (uint32)hash, 0 = empty */
	size_t mask;
	size_t n; /* number of ids */
} sl_keydict;

int sl_keydict_init(sl_keydict *d, sl_mem *m, const sl_type *key_type, size_t expect);
void sl_keydict_fini(sl_keydict *d);
void sl_keydict_clear(sl_keydict *d); /* forget all keys, keep memory */
/* Id of row i of src (hash h), inserting it if new. Returns the id, or -ENOMEM. */
int64_t sl_keydict_put(sl_keydict *d, const sl_col *src, size_t i, uint64_t h);
/* Give the key just appended to d->keys the next id, in empty slot j. Returns the id or
 * -ENOMEM (the key row is then dropped again). For the inline fast paths below. */
int64_t sl_keydict_add_id(sl_keydict *d, size_t j, uint64_t h);

/*
 * Typed fast paths, inline because they run once per record: the dictionary's key type
 * must be Long / String. The probe compares a 32-bit tag before touching the key.
 */
static inline int64_t sl_keydict_put_i64(sl_keydict *d, int64_t key, uint64_t h)
{
	size_t j = h & d->mask;
	uint32_t tag = (uint32_t)h;
	const int64_t *k = d->keys->v.i64;
	for (;;) {
		uint64_t s = d->slot[j];
		if (!s)
			break;
		if ((uint32_t)s == tag && k[(s >> 32) - 1] == key)
			return (int64_t)((s >> 32) - 1);
		j = (j + 1) & d->mask;
	}
	if (sl_col_push_i64(d->keys, key))
		return -ENOMEM;
	return sl_keydict_add_id(d, j, h);
}

static inline int64_t sl_keydict_put_str(sl_keydict *d, const char *p, size_t n, uint64_t h)
{
	size_t j = h & d->mask;
	uint32_t tag = (uint32_t)h;
	for (;;) {
		uint64_t s = d->slot[j];
		if (!s)
			break;
		if ((uint32_t)s == tag) {
			size_t id = (s >> 32) - 1;
			const sl_str *k = &d->keys->v.s[id];
			if (d->hash[id] == h && k->len == n && !memcmp(k->p, p, n))
				return (int64_t)id;
		}
		j = (j + 1) & d->mask;
	}
	if (sl_col_push_str(d->keys, p, n))
		return -ENOMEM;
	return sl_keydict_add_id(d, j, h);
}

/* Id of row i of src, or -1 if absent. */
int64_t sl_keydict_get(const sl_keydict *d, const sl_col *src, size_t i, uint64_t h);

#endif
