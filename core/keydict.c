/* SPDX-License-Identifier: Apache-2.0 */
/* keydict.c - key dictionary (layout in keydict.h). */
#include "keydict.h"

#include <errno.h>
#include <string.h>

int sl_keydict_init(sl_keydict *d, sl_mem *m, const sl_type *key_type, size_t expect)
{
	memset(d, 0, sizeof(*d));
	d->mem = m;
	size_t slots = 16;
	while (slots < expect * 2)
		slots *= 2;
	d->keys = sl_col_new(m, key_type, expect ? expect : 8);
	d->slot = sl_calloc(m, -1, slots * sizeof(uint64_t));
	d->hcap = expect ? expect : 8;
	d->hash = sl_alloc(m, -1, d->hcap * sizeof(uint64_t));
	if (!d->keys || !d->slot || !d->hash) {
		if (d->slot)
			sl_dealloc(m, d->slot, slots * sizeof(uint64_t));
		d->slot = NULL;
		sl_keydict_fini(d);
		return -ENOMEM;
	}
	d->mask = slots - 1;
	return 0;
}

void sl_keydict_fini(sl_keydict *d)
{
	sl_col_unref(d->keys);
	if (d->slot)
		sl_dealloc(d->mem, d->slot, (d->mask + 1) * sizeof(uint64_t));
	if (d->hash)
		sl_dealloc(d->mem, d->hash, d->hcap * sizeof(uint64_t));
	memset(d, 0, sizeof(*d));
}

void sl_keydict_clear(sl_keydict *d)
{
	memset(d->slot, 0, (d->mask + 1) * sizeof(uint64_t));
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
	size_t j = h & d->mask;
	uint32_t tag = (uint32_t)h;
	for (;;) {
		uint64_t s = d->slot[j];
		if (!s)
			break;
		if ((uint32_t)s == tag) {
			size_t id = (s >> 32) - 1;
			if (d->hash[id] == h && sl_col_row_eq(d->keys, id, src, i))
				return (int64_t)id;
		}
		j = (j + 1) & d->mask;
	}
	*slot = j;
	return -1;
}

int64_t sl_keydict_get(const sl_keydict *d, const sl_col *src, size_t i, uint64_t h)
{
	size_t j;
	return probe(d, src, i, h, &j);
}

static int grow(sl_keydict *d)
{
	size_t ns = (d->mask + 1) * 2;
	uint64_t *s = sl_calloc(d->mem, -1, ns * sizeof(uint64_t));
	if (!s)
		return -ENOMEM;
	for (size_t id = 0; id < d->n; id++) {
		size_t j = d->hash[id] & (ns - 1);
		while (s[j])
			j = (j + 1) & (ns - 1);
		s[j] = (uint64_t)(id + 1) << 32 | (uint32_t)d->hash[id];
	}
	sl_dealloc(d->mem, d->slot, (d->mask + 1) * sizeof(uint64_t));
	d->slot = s;
	d->mask = ns - 1;
	return 0;
}

int64_t sl_keydict_add_id(sl_keydict *d, size_t j, uint64_t h)
{
	if (d->n == d->hcap) {
		uint64_t *nh = sl_realloc(d->mem, -1, d->hash, d->hcap * 8, d->hcap * 16);
		if (!nh) {
			d->keys->len--;
			return -ENOMEM;
		}
		d->hash = nh;
		d->hcap *= 2;
	}
	size_t id = d->n++;
	d->hash[id] = h;
	d->slot[j] = (uint64_t)(id + 1) << 32 | (uint32_t)h;
	if (d->n * 2 > d->mask + 1 && grow(d))
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
