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
/* Typed fast paths: the dictionary's key type must be Long / String. */
int64_t sl_keydict_put_i64(sl_keydict *d, int64_t key, uint64_t h);
int64_t sl_keydict_put_str(sl_keydict *d, const char *p, size_t n, uint64_t h);
/* Id of row i of src, or -1 if absent. */
int64_t sl_keydict_get(const sl_keydict *d, const sl_col *src, size_t i, uint64_t h);

#endif
