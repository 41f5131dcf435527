/* SPDX-License-Identifier: Apache-2.0 */
/* keydict.c - key dictionary (layout in keydict.h). */
#include "keydict.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* The kernels see String keys as sl_kstr: the same layout as sl_str. */
static_assert(sizeof(sl_kstr) == sizeof(sl_str), "sl_kstr layout");
static_assert(offsetof(sl_kstr, p) == offsetof(sl_str, p), "sl_kstr layout");
static_assert(offsetof(sl_kstr, len) == offsetof(sl_str, len), "sl_kstr layout");

/* Rows per kernel call: the hashes, ids and gathered keys of a block stay in L1. */
#define CHUNK 1024

/* The table of `slots` slots: 2 words per slot, 64-byte aligned (a bucket is one line). */
static uint64_t *tab_new(sl_mem *m, size_t slots)
{
	uint64_t *t = sl_alloc_aligned(m, -1, 64, slots * 16);
	if (t)
		memset(t, 0, slots * 16);
	return t;
}

int sl_keydict_init(sl_keydict *d, sl_mem *m, const sl_type *key_type, size_t expect)
{
	memset(d, 0, sizeof(*d));
	d->mem = m;
	size_t slots = SL_KDICT_MIN_SLOTS;
	while (sl_kdict_cap(slots) < expect)
		slots *= 2;
	d->keys = sl_col_new(m, key_type, expect ? expect : 8);
	d->tab = tab_new(m, slots);
	d->hcap = expect ? expect : 8;
	d->hash = sl_alloc(m, -1, d->hcap * sizeof(uint64_t));
	if (!d->keys || !d->tab || !d->hash) {
		if (d->tab)
			sl_dealloc(m, d->tab, slots * 16);
		d->tab = NULL;
		sl_keydict_fini(d);
		return -ENOMEM;
	}
	d->mask = slots - 1;
	return 0;
}

void sl_keydict_fini(sl_keydict *d)
{
	if (d->dm)
		sl_dealloc(d->mem, d->dm, (d->dm_len + 1) * sizeof(uint32_t));
	sl_col_unref(d->keys);
	if (d->tab)
		sl_dealloc(d->mem, d->tab, (d->mask + 1) * 16);
	if (d->hash)
		sl_dealloc(d->mem, d->hash, d->hcap * sizeof(uint64_t));
	memset(d, 0, sizeof(*d));
}

void sl_keydict_clear(sl_keydict *d)
{
	memset(d->tab, 0, (d->mask + 1) * 16);
	if (d->dm) {
		memset(d->dm, 0, (d->dm_len + 1) * sizeof(uint32_t));
		d->dm_miss = SIZE_MAX; /* every key misses again */
	}
	sl_col *k = sl_col_new(d->mem, d->keys->type, d->n);
	if (k) {
		sl_col_unref(d->keys);
		d->keys = k;
	} else {
		d->keys->len = 0; /* keep the old column; its buffers stay referenced */
	}
	d->n = 0;
}

/* The id of row i of src, or -1 with *slot = the empty slot where it would go. */
static int64_t probe(const sl_keydict *d, const sl_col *src, size_t i, uint64_t h, size_t *slot)
{
	size_t p = sl_kdict_home(h, d->mask), tmask = 2 * d->mask + 1;
	uint32_t tag = sl_keydict_tag(h);
	for (;; p = (p + 8) & tmask) {
		for (size_t l = 0; l < 4; l++) {
			uint64_t s = d->tab[p + 4 + l];
			if (!s) {
				*slot = p + l;
				return -1;
			}
			if ((uint32_t)(s >> 32) == tag) {
				size_t id = (uint32_t)s - 1;
				if (d->hash[id] == h && sl_col_row_eq(d->keys, id, src, i))
					return (int64_t)id;
			}
		}
	}
}

int64_t sl_keydict_get(const sl_keydict *d, const sl_col *src, size_t i, uint64_t h)
{
	size_t j;
	return probe(d, src, i, h, &j);
}

/* Double the slots. The first empty slot from each key's home bucket, in id order: the
 * same placement the kernels' inserts make (and the inline keys: Long keys, else hashes). */
static int grow(sl_keydict *d)
{
	size_t ns = (d->mask + 1) * 2, nmask = ns - 1;
	uint64_t *t = tab_new(d->mem, ns);
	if (!t)
		return -ENOMEM;
	const int64_t *k = d->keys->type->kind == SL_I64 ? d->keys->v.i64 : NULL;
	for (size_t id = 0; id < d->n; id++) {
		size_t j = sl_kdict_home(d->hash[id], nmask);
		while (t[j + 4])
			j = sl_kdict_next(j, nmask);
		t[j + 4] = (uint64_t)sl_keydict_tag(d->hash[id]) << 32 | (uint64_t)(id + 1);
		t[j] = k ? (uint64_t)k[id] : d->hash[id];
	}
	sl_dealloc(d->mem, d->tab, (d->mask + 1) * 16);
	d->tab = t;
	d->mask = nmask;
	return 0;
}

static int hash_room(sl_keydict *d, size_t want)
{
	if (d->hcap >= want)
		return 0;
	size_t nc = d->hcap * 2 > want ? d->hcap * 2 : want;
	uint64_t *nh = sl_realloc(d->mem, -1, d->hash, d->hcap * 8, nc * 8);
	if (!nh)
		return -ENOMEM;
	d->hash = nh;
	d->hcap = nc;
	return 0;
}

int64_t sl_keydict_add_id(sl_keydict *d, size_t j, uint64_t h)
{
	if (hash_room(d, d->n + 1)) {
		d->keys->len--;
		return -ENOMEM;
	}
	size_t id = d->n++;
	d->hash[id] = h;
	d->tab[j] = d->keys->type->kind == SL_I64 ? (uint64_t)d->keys->v.i64[id] : h;
	d->tab[j + 4] = (uint64_t)sl_keydict_tag(h) << 32 | (uint64_t)(id + 1);
	if (d->n > sl_kdict_cap(d->mask + 1) && grow(d))
		return -ENOMEM;
	return (int64_t)id;
}

int64_t sl_keydict_put(sl_keydict *d, const sl_col *src, size_t i, uint64_t h)
{
	size_t j;
	int64_t id = probe(d, src, i, h, &j);
	if (id >= 0)
		return id;
	if (sl_col_push_row_copy(d->keys, src, i))
		return -ENOMEM;
	return sl_keydict_add_id(d, j, h);
}

/* The kernels' view of the table. */
static void kview(const sl_keydict *d, sl_kdict *v)
{
	v->tab = d->tab;
	v->mask = d->mask;
	v->keys = d->keys->type->kind == SL_I64 ? d->keys->v.i64 : NULL;
	v->hash = d->hash;
	v->skeys = d->keys->type->kind == SL_STR ? (const sl_kstr *)d->keys->v.s : NULL;
	v->n = d->n;
	v->limit = sl_kdict_cap(d->mask + 1);
	v->sums = NULL;
}

/* The kernels' view of a Long dictionary with room for what the view allows (v->limit ids):
 * the table grown if full, the hash array and the key column sized. 0 or -ENOMEM. */
static int kview_room(sl_keydict *d, sl_kdict *v)
{
	if (d->n >= sl_kdict_cap(d->mask + 1) && grow(d))
		return -ENOMEM;
	size_t lim = sl_kdict_cap(d->mask + 1);
	if (hash_room(d, lim) || (d->keys->cap < lim && sl_col_reserve(d->keys, lim - d->n)))
		return -ENOMEM;
	kview(d, v);
	return 0;
}

/* Long keys: the kernel inserts until the table must grow; grow, go on. With hash set, the
 * hashes h[0..n) are known; without, the kernel computes them into h as it goes. */
static int put_i64_kernel(sl_keydict *d, const sl_kernels *k, const int64_t *keys, uint64_t *h,
			  bool hash, size_t n, uint32_t *ids)
{
	size_t done = 0;
	while (done < n) {
		sl_kdict v;
		if (kview_room(d, &v))
			return -ENOMEM;
		if (hash)
			done += k->dict_put_i64(&v, keys + done, h + done, n - done, ids + done);
		else
			done +=
			    k->dict_put_hash_i64(&v, keys + done, n - done, h + done, ids + done);
		d->n = v.n;
		d->keys->len = v.n;
	}
	return 0;
}

static int put_i64(sl_keydict *d, const sl_kernels *k, const int64_t *keys, const uint64_t *h,
		   size_t n, uint32_t *ids)
{
	/* h is only read when hash is set */
	return put_i64_kernel(d, k, keys, (uint64_t *)h, true, n, ids);
}

/* String keys: the kernel finds the known ones; the misses are inserted in row order (a
 * key missing twice in the block is inserted by its first miss and found by the second). */
static int put_str(sl_keydict *d, const sl_kernels *k, const sl_str *s, const uint64_t *h, size_t n,
		   uint32_t *ids)
{
	uint32_t miss[CHUNK];
	for (size_t from = 0; from < n; from += CHUNK) {
		size_t m = n - from < CHUNK ? n - from : CHUNK;
		sl_kdict v;
		kview(d, &v);
		size_t nm =
		    k->dict_find_str(&v, (const sl_kstr *)s + from, h + from, m, ids + from, miss);
		for (size_t q = 0; q < nm; q++) {
			size_t r = from + miss[q];
			int64_t id = sl_keydict_put_str(d, s[r].p, s[r].len, h[r]);
			if (id < 0)
				return -ENOMEM;
			ids[r] = (uint32_t)id;
		}
	}
	return 0;
}

/*
 * Whether to direct-map Long keys, decided once, on the first non-empty block of an empty
 * dictionary:
 * when its keys span at most half of the largest map, the map gets twice their span (a power
 * of two, at least 4096 entries), centred on it, so later keys a little outside still fit.
 */
static void direct_decide(sl_keydict *d, const sl_kernels *k, const int64_t *v, size_t n)
{
	if (!n)
		return; /* decide on the first block with keys */
	d->dm_tried = 1;
	int64_t lo = k->min_i64(v, n), hi = k->max_i64(v, n);
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
	if (span == 0 || span > SL_KEYDICT_DIRECT_MAX / 2)
		return;
	size_t len = 4096;
	while (len < 2 * span)
		len *= 2;
	uint32_t *dm = sl_calloc(d->mem, -1, (len + 1) * sizeof(uint32_t));
	if (!dm)
		return; /* the hash path alone is fine */
	/* u = key - base is computed modulo 2^64: a one-to-one map of [base, base + len) even
	 * where that wraps around (keys near INT64_MIN/MAX) */
	d->dm = dm;
	d->dm_miss = SIZE_MAX; /* every key misses at first */
	d->dm_len = len;
	d->dm_base = (int64_t)((uint64_t)lo - (len - span) / 2);
}

/* The nm rows miss[] of keys that the direct map did not know: hashed and interned in row
 * order (mid[q] = the id of row miss[q]), then cached in the map where in its range. 0 or
 * -ENOMEM (then some may be interned, none cached: later lookups find them by hash). */
static int intern_misses(sl_keydict *d, const sl_kernels *k, const int64_t *keys,
			 const uint32_t *miss, size_t nm, uint32_t *mid)
{
	int64_t mk[CHUNK];
	uint64_t h[CHUNK];
	k->gather_i64(keys, miss, nm, mk);
	k->hash_i64(mk, nm, h);
	int rc = put_i64(d, k, mk, h, nm, mid);
	if (rc)
		return rc;
	for (size_t q = 0; q < nm; q++) {
		uint64_t u = (uint64_t)mk[q] - (uint64_t)d->dm_base;
		if (u < d->dm_len)
			d->dm[u] = mid[q] + 1;
	}
	return 0;
}

/* Long keys through the direct map; the misses (new keys, keys out of range) are interned
 * (intern_misses). *misses (if not NULL) grows by their number. */
static int put_i64_direct(sl_keydict *d, const sl_kernels *k, const int64_t *v, size_t n,
			  uint32_t *ids, size_t *misses)
{
	uint32_t miss[CHUNK], mid[CHUNK];
	for (size_t from = 0; from < n; from += CHUNK) {
		size_t m = n - from < CHUNK ? n - from : CHUNK;
		size_t nm =
		    k->dict_direct_i64(d->dm, d->dm_base, d->dm_len, v + from, m, ids + from, miss);
		if (misses)
			*misses += nm;
		if (!nm)
			continue;
		int rc = intern_misses(d, k, v + from, miss, nm, mid);
		if (rc)
			return rc;
		for (size_t q = 0; q < nm; q++)
			ids[from + miss[q]] = mid[q];
	}
	return 0;
}

/* Zero accumulators (a Long column, row = id) for the ids d gained: acc->len = d->n. The
 * room was reserved before the inserts, so this cannot fail and acc keeps up with d even
 * when an insert fails midway. */
static void acc_follow(const sl_keydict *d, sl_col *acc)
{
	if (acc->len < d->n) {
		memset(acc->v.i64 + acc->len, 0, (d->n - acc->len) * sizeof(int64_t));
		acc->len = d->n;
	}
}

/* sl_keydict_sum_i64 (vals NULL: sl_keydict_count_i64) through the direct map: per block,
 * look up and add in one kernel pass; the misses are interned (intern_misses), their
 * accumulators started at 0 and their values (or 1) added. Each miss is a mispredicted
 * branch in that loop, so after a block with many (a fresh dictionary, a batch of many keys,
 * keys out of the map's range) the next block takes two passes instead: put_i64_direct's
 * branch-free lookup into ids, then the grouped kernel; it counts its misses too, and the
 * one pass comes back once they are few. */
#define DIRECT_MISS_MAX (CHUNK / 16)
static int sum_i64_direct(sl_keydict *d, const sl_kernels *k, const int64_t *keys, size_t n,
			  const int64_t *vals, sl_col *acc)
{
	uint32_t miss[CHUNK], mid[CHUNK];
	for (size_t from = 0; from < n; from += CHUNK) {
		size_t m = n - from < CHUNK ? n - from : CHUNK;
		if (d->dm_miss > DIRECT_MISS_MAX) {
			size_t nm = 0;
			if (sl_col_reserve(acc, d->n + m - acc->len))
				return -ENOMEM;
			d->dm_two_pass++;
			int rc = put_i64_direct(d, k, keys + from, m, mid, &nm);
			acc_follow(d, acc);
			if (rc)
				return rc;
			if (vals)
				k->grouped_sum_i64(mid, vals + from, m, acc->v.i64);
			else
				k->grouped_count(mid, m, acc->v.i64);
			d->dm_miss = nm;
			continue;
		}
		size_t nm = k->dict_direct_sum_i64(d->dm, d->dm_base, d->dm_len, keys + from,
						   vals ? vals + from : NULL, m, acc->v.i64, miss);
		d->dm_miss = nm;
		if (!nm)
			continue;
		if (sl_col_reserve(acc, d->n + nm - acc->len))
			return -ENOMEM;
		int rc = intern_misses(d, k, keys + from, miss, nm, mid);
		acc_follow(d, acc);
		if (rc)
			return rc;
		for (size_t q = 0; q < nm; q++) {
			int64_t *a = &acc->v.i64[mid[q]];
			*a = (int64_t)((uint64_t)*a + (vals ? (uint64_t)vals[from + miss[q]] : 1));
		}
	}
	return 0;
}

/* sl_keydict_sum_i64, or with vals NULL sl_keydict_count_i64: the direct map, else per table
 * size the kernel (dict_sum_i64 / dict_count_i64) over what is left, the table grown when it
 * stops at its limit. */
static int sum_or_count_i64(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from,
			    size_t n, const int64_t *vals, sl_col *acc)
{
	const int64_t *keys = src->v.i64 + from;
	if (!d->dm_tried && !d->n)
		direct_decide(d, k, keys, n < CHUNK ? n : CHUNK); /* on the first block */
	if (d->dm)
		return sum_i64_direct(d, k, keys, n, vals, acc);
	size_t done = 0;
	while (done < n) {
		sl_kdict v;
		if (kview_room(d, &v) ||
		    (acc->cap < v.limit && sl_col_reserve(acc, v.limit - acc->len)))
			return -ENOMEM;
		v.sums = d->sums;
		done += vals ? k->dict_sum_i64(&v, keys + done, vals + done, n - done, acc->v.i64)
			     : k->dict_count_i64(&v, keys + done, n - done, acc->v.i64);
		d->n = v.n;
		d->keys->len = v.n;
		acc->len = v.n;
	}
	return 0;
}

int sl_keydict_sum_i64(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from, size_t n,
		       const int64_t *vals, sl_col *acc)
{
	return sum_or_count_i64(d, k, src, from, n, vals, acc);
}

int sl_keydict_count_i64(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from,
			 size_t n, sl_col *acc)
{
	return sum_or_count_i64(d, k, src, from, n, NULL, acc);
}

int sl_keydict_put_rows(sl_keydict *d, const sl_kernels *k, const sl_col *src, size_t from,
			size_t n, uint64_t *h, uint32_t *ids)
{
	switch (src->type->kind) {
	case SL_I64:
		if (!d->dm_tried && !d->n)
			direct_decide(d, k, src->v.i64 + from, n);
		if (d->dm)
			return put_i64_direct(d, k, src->v.i64 + from, n, ids, NULL);
		return put_i64_kernel(d, k, src->v.i64 + from, h, false, n, ids);
	case SL_STR:
		k->hash_str((const sl_kstr *)src->v.s + from, n, h);
		return put_str(d, k, src->v.s + from, h, n, ids);
	default:
		for (size_t i = 0; i < n; i++) {
			h[i] = sl_col_hash_row(src, from + i);
			int64_t id = sl_keydict_put(d, src, from + i, h[i]);
			if (id < 0)
				return -ENOMEM;
			ids[i] = (uint32_t)id;
		}
		return 0;
	}
}

/* A block of keys gathered from src by row numbers (Long or String columns). */
union keyblock {
	int64_t i64[CHUNK];
	sl_str s[CHUNK];
};

static void gather_keys(const sl_kernels *k, const sl_col *src, const uint32_t *sel, size_t m,
			union keyblock *g)
{
	if (src->type->kind == SL_I64) {
		k->gather_i64(src->v.i64, sel, m, g->i64);
		return;
	}
	for (size_t i = 0; i < m; i++)
		g->s[i] = src->v.s[sel[i]];
}

int sl_keydict_put_gather(sl_keydict *d, const sl_kernels *k, const sl_col *src,
			  const uint32_t *sel, size_t n, const uint64_t *h, uint32_t *ids)
{
	int kind = src->type->kind;
	if (kind != SL_I64 && kind != SL_STR) {
		for (size_t i = 0; i < n; i++) {
			int64_t id = sl_keydict_put(d, src, sel[i], h[i]);
			if (id < 0)
				return -ENOMEM;
			ids[i] = (uint32_t)id;
		}
		return 0;
	}
	union keyblock g;
	for (size_t from = 0; from < n; from += CHUNK) {
		size_t m = n - from < CHUNK ? n - from : CHUNK;
		gather_keys(k, src, sel + from, m, &g);
		int rc = kind == SL_I64 ? put_i64(d, k, g.i64, h + from, m, ids + from)
					: put_str(d, k, g.s, h + from, m, ids + from);
		if (rc)
			return rc;
	}
	return 0;
}

void sl_keydict_find_gather(const sl_keydict *d, const sl_kernels *k, const sl_col *src,
			    const uint32_t *sel, size_t n, const uint64_t *h, uint32_t *ids)
{
	int kind = src->type->kind;
	if (kind != SL_I64 && kind != SL_STR) {
		for (size_t i = 0; i < n; i++) {
			int64_t id = sl_keydict_get(d, src, sel[i], h[i]);
			ids[i] = id < 0 ? UINT32_MAX : (uint32_t)id;
		}
		return;
	}
	sl_kdict v;
	kview(d, &v);
	union keyblock g;
	uint32_t miss[CHUNK];
	for (size_t from = 0; from < n; from += CHUNK) {
		size_t m = n - from < CHUNK ? n - from : CHUNK;
		gather_keys(k, src, sel + from, m, &g);
		size_t nm =
		    kind == SL_I64
			? k->dict_find_i64(&v, g.i64, h + from, m, ids + from, miss)
			: k->dict_find_str(&v, (const sl_kstr *)g.s, h + from, m, ids + from, miss);
		for (size_t q = 0; q < nm; q++)
			ids[from + miss[q]] = UINT32_MAX;
	}
}
