/* SPDX-License-Identifier: Apache-2.0 */
/*
 * col.c - typed column vectors (layout and invariants in col.h).
 *
 * Growth doubles the row capacity; string bytes go into sl_buf chunks of at least
 * BUF_MIN bytes so many short strings share one allocation. Gathers and slices never
 * copy string bytes: they copy views and take references on the source's buffers.
 */
#define _GNU_SOURCE
#include "col.h"

#include <errno.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* header + bytes = 64 KiB exactly: a size the allocation seam recycles */
#define BUF_MIN (64 * 1024 - sizeof(sl_buf))

static size_t elem_size(const sl_type *t)
{
	switch (t->kind) {
	case SL_I64: return sizeof(int64_t);
	case SL_F64: return sizeof(double);
	case SL_BOOL: return 1;
	case SL_STR: return sizeof(sl_str);
	case SL_LIST: return sizeof(uint32_t); /* off[], one extra slot */
	default: return 0;
	}
}

static void buf_unref(sl_buf *b)
{
	/* acq_rel: the last owner must see every write made through other references. */
	if (b && atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) == 1)
		sl_dealloc(b->mem, b, sizeof(sl_buf) + b->cap);
}

static int grow_level(sl_col *c, size_t need)
{
	size_t es = elem_size(c->type);
	size_t ncap = c->cap ? c->cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (ncap == c->cap)
		return 0;
	int list = c->type->kind == SL_LIST;
	if (es) {
		size_t oldb = c->v.p ? (c->cap + (size_t)list) * es : 0;
		void *p = sl_realloc(c->mem, c->node, c->v.p, oldb, (ncap + (size_t)list) * es);
		if (!p)
			return -ENOMEM;
		c->v.p = p;
		if (list && !oldb)
			c->v.off[0] = 0;
	}
	if (c->type->kind == SL_OPT) {
		uint8_t *p = sl_realloc(c->mem, c->node, c->valid, c->valid ? c->cap : 0, ncap);
		if (!p)
			return -ENOMEM;
		c->valid = p;
	}
	c->cap = ncap;
	return 0;
}

sl_col *sl_col_new(sl_mem *m, const sl_type *t, size_t cap)
{
	return sl_col_new_on(m, -1, t, cap);
}

sl_col *sl_col_new_on(sl_mem *m, int node, const sl_type *t, size_t cap)
{
	sl_col *c = sl_calloc(m, -1, sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->ref, 1);
	c->type = t;
	c->mem = m;
	c->node = node;
	if (t->n) {
		c->kid = sl_calloc(m, -1, t->n * sizeof(sl_col *));
		if (!c->kid)
			goto fail;
		for (int i = 0; i < t->n; i++) {
			c->kid[i] = sl_col_new_on(m, node, t->kid[i], t->kind == SL_LIST ? 0 : cap);
			if (!c->kid[i])
				goto fail;
		}
	}
	if (grow_level(c, cap ? cap : 1))
		goto fail;
	return c;
fail:
	sl_col_unref(c);
	return NULL;
}

sl_col *sl_col_tuple_of(sl_mem *m, const sl_type *t, sl_col *const *kids)
{
	sl_col *c = sl_calloc(m, -1, sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->ref, 1);
	c->type = t;
	c->mem = m;
	c->node = kids[0]->node;
	c->kid = sl_calloc(m, -1, t->n * sizeof(sl_col *));
	if (!c->kid) {
		sl_dealloc(m, c, sizeof(*c));
		return NULL;
	}
	c->len = kids[0]->len;
	c->cap = c->len;
	for (int i = 0; i < t->n; i++)
		c->kid[i] = sl_col_ref(kids[i]);
	return c;
}

sl_col *sl_col_ref(sl_col *c)
{
	/* relaxed: taking a reference needs no ordering, the caller already holds one. */
	if (c)
		atomic_fetch_add_explicit(&c->ref, 1, memory_order_relaxed);
	return c;
}

void sl_col_unref(sl_col *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->ref, 1, memory_order_acq_rel) != 1)
		return;
	sl_mem *m = c->mem;
	if (c->kid) {
		for (int i = 0; i < c->type->n; i++)
			sl_col_unref(c->kid[i]);
		sl_dealloc(m, c->kid, c->type->n * sizeof(sl_col *));
	}
	size_t es = elem_size(c->type);
	if (c->v.p)
		sl_dealloc(m, c->v.p, (c->cap + (c->type->kind == SL_LIST)) * es);
	if (c->valid)
		sl_dealloc(m, c->valid, c->cap);
	for (int i = 0; i < c->nbufs; i++)
		buf_unref(c->bufs[i]);
	if (c->bufs)
		sl_dealloc(m, c->bufs, (size_t)c->capbufs * sizeof(sl_buf *));
	sl_dealloc(m, c, sizeof(*c));
}

int sl_col_reserve(sl_col *c, size_t extra)
{
	return c->len + extra <= c->cap ? 0 : grow_level(c, c->len + extra);
}

#define ROOM(c)                                                                                    \
	do {                                                                                       \
		if ((c)->len == (c)->cap && grow_level((c), (c)->len + 1))                         \
			return -ENOMEM;                                                            \
	} while (0)

int sl_col_push_i64(sl_col *c, int64_t v)
{
	ROOM(c);
	c->v.i64[c->len++] = v;
	return 0;
}

int sl_col_push_f64(sl_col *c, double v)
{
	ROOM(c);
	c->v.f64[c->len++] = v;
	return 0;
}

int sl_col_push_bool(sl_col *c, bool v)
{
	ROOM(c);
	c->v.b[c->len++] = v;
	return 0;
}

static int add_buf(sl_col *c, sl_buf *b)
{
	if (c->nbufs == c->capbufs) {
		int n = c->capbufs ? c->capbufs * 2 : 4;
		sl_buf **p = sl_realloc(c->mem, -1, c->bufs, (size_t)c->capbufs * sizeof(*p),
					(size_t)n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->bufs = p;
		c->capbufs = n;
	}
	c->bufs[c->nbufs++] = b;
	return 0;
}

char *sl_col_str_space(sl_col *c, size_t n)
{
	sl_buf *b = c->nbufs ? c->bufs[c->nbufs - 1] : NULL;
	/* Only the column that created a buffer appends to it (ref == 1 and it's ours);
	 * a shared buffer is read-only because other columns' views point into it. */
	if (!b || b->cap - b->len < n || atomic_load_explicit(&b->ref, memory_order_relaxed) != 1) {
		size_t cap = n > BUF_MIN ? n : BUF_MIN;
		b = sl_alloc(c->mem, c->node, sizeof(sl_buf) + cap);
		if (!b)
			return NULL;
		atomic_init(&b->ref, 1);
		b->mem = c->mem;
		b->len = 0;
		b->cap = cap;
		if (add_buf(c, b)) {
			sl_dealloc(c->mem, b, sizeof(sl_buf) + cap);
			return NULL;
		}
	}
	char *p = b->data + b->len;
	b->len += n;
	return p;
}

int sl_col_push_view(sl_col *c, const char *p, size_t n)
{
	ROOM(c);
	c->v.s[c->len++] = (sl_str){p, n};
	return 0;
}

int sl_col_push_str(sl_col *c, const char *p, size_t n)
{
	ROOM(c);
	char *d = sl_col_str_space(c, n);
	if (!d)
		return -ENOMEM;
	if (n)
		memcpy(d, p, n);
	c->v.s[c->len++] = (sl_str){d, n};
	return 0;
}

int sl_col_push_none(sl_col *c)
{
	ROOM(c);
	int e = sl_col_push_zero(c->kid[0]);
	if (e)
		return e;
	c->valid[c->len++] = 0;
	return 0;
}

int sl_col_commit(sl_col *c)
{
	switch (c->type->kind) {
	case SL_TUPLE:
		c->len++;
		if (c->len > c->cap)
			c->cap = c->len;
		return 0;
	case SL_LIST:
		ROOM(c);
		c->v.off[++c->len] = (uint32_t)c->kid[0]->len;
		return 0;
	case SL_OPT:
		ROOM(c);
		c->valid[c->len++] = 1;
		return 0;
	default: return -EINVAL;
	}
}

int sl_col_share_bufs(sl_col *dst, const sl_col *src)
{
	if (src->type->kind == SL_STR) {
		for (int i = 0; i < src->nbufs; i++) {
			int have = 0;
			for (int j = 0; j < dst->nbufs && !have; j++)
				have = dst->bufs[j] == src->bufs[i];
			if (have)
				continue;
			if (add_buf(dst, src->bufs[i]))
				return -ENOMEM;
			atomic_fetch_add_explicit(&src->bufs[i]->ref, 1, memory_order_relaxed);
		}
		return 0;
	}
	for (int k = 0; k < src->type->n && k < dst->type->n; k++)
		if (sl_col_share_bufs(dst->kid[k], src->kid[k]))
			return -ENOMEM;
	return 0;
}

/*
 * Push row i of src onto d. copy = 0: strings become views (the caller shared src's
 * buffers with d once); copy = 1: string bytes are copied into d's own buffers.
 */
static int push_row(sl_col *d, const sl_col *s, size_t i, int copy)
{
	switch (s->type->kind) {
	case SL_I64: return sl_col_push_i64(d, s->v.i64[i]);
	case SL_F64: return sl_col_push_f64(d, s->v.f64[i]);
	case SL_BOOL: return sl_col_push_bool(d, s->v.b[i]);
	case SL_STR:
		return copy ? sl_col_push_str(d, s->v.s[i].p, s->v.s[i].len)
			    : sl_col_push_view(d, s->v.s[i].p, s->v.s[i].len);
	case SL_TUPLE:
		for (int k = 0; k < s->type->n; k++)
			if (push_row(d->kid[k], s->kid[k], i, copy))
				return -ENOMEM;
		return sl_col_commit(d);
	case SL_LIST:
		for (uint32_t j = s->v.off[i]; j < s->v.off[i + 1]; j++)
			if (push_row(d->kid[0], s->kid[0], j, copy))
				return -ENOMEM;
		return sl_col_commit(d);
	case SL_OPT:
		if (!s->valid[i])
			return sl_col_push_none(d);
		if (push_row(d->kid[0], s->kid[0], i, copy))
			return -ENOMEM;
		return sl_col_commit(d);
	}
	return -EINVAL;
}

static inline int push_row_raw(sl_col *d, const sl_col *s, size_t i)
{
	return push_row(d, s, i, 0);
}

int sl_col_push_row_shared(sl_col *dst, const sl_col *src, size_t i)
{
	return push_row(dst, src, i, 0);
}

int sl_col_push_row_copy(sl_col *dst, const sl_col *src, size_t i)
{
	return push_row(dst, src, i, 1);
}

int sl_col_push_row(sl_col *dst, const sl_col *src, size_t i)
{
	int e = sl_col_share_bufs(dst, src);
	return e ? e : push_row_raw(dst, src, i);
}

/* dst->v.F[dst->len + i] = the rows, or Z for UINT32_MAX */
#define GATHER_FROM(F, Z)                                                                          \
	for (size_t i = 0; i < n; i++)                                                             \
	dst->v.F[dst->len + i] =                                                                   \
	    rows[i] == UINT32_MAX ? (Z) : srcs[which ? which[i] : 0]->v.F[rows[i]]

int sl_col_gather_from(sl_col *dst, const sl_col *const *srcs, size_t nsrcs, const uint32_t *which,
		       const uint32_t *rows, size_t n)
{
	if (sl_col_reserve(dst, n))
		return -ENOMEM;
	switch (dst->type->kind) {
	case SL_I64: GATHER_FROM(i64, 0); break;
	case SL_F64: GATHER_FROM(f64, 0); break;
	case SL_BOOL: GATHER_FROM(b, 0); break;
	case SL_STR: GATHER_FROM(s, ((sl_str){"", 0})); break;
	case SL_TUPLE: {
		const sl_col **kid = sl_alloc(dst->mem, -1, (nsrcs ? nsrcs : 1) * sizeof(*kid));
		if (!kid)
			return -ENOMEM;
		int rc = 0;
		for (int k = 0; k < dst->type->n && !rc; k++) {
			for (size_t q = 0; q < nsrcs; q++)
				kid[q] = srcs[q] ? srcs[q]->kid[k] : NULL;
			rc = sl_col_gather_from(dst->kid[k], kid, nsrcs, which, rows, n);
		}
		sl_dealloc(dst->mem, kid, (nsrcs ? nsrcs : 1) * sizeof(*kid));
		if (rc)
			return rc;
		break;
	}
	default:
		for (size_t i = 0; i < n; i++)
			if (rows[i] == UINT32_MAX
				? sl_col_push_zero(dst)
				: push_row(dst, srcs[which ? which[i] : 0], rows[i], 0))
				return -ENOMEM;
		return 0;
	}
	dst->len += n;
	return 0;
}

int sl_col_push_zero(sl_col *c)
{
	switch (c->type->kind) {
	case SL_I64: return sl_col_push_i64(c, 0);
	case SL_F64: return sl_col_push_f64(c, 0);
	case SL_BOOL: return sl_col_push_bool(c, 0);
	case SL_STR: return sl_col_push_view(c, "", 0);
	case SL_TUPLE:
		for (int k = 0; k < c->type->n; k++)
			if (sl_col_push_zero(c->kid[k]))
				return -ENOMEM;
		return sl_col_commit(c);
	case SL_LIST: return sl_col_commit(c);
	case SL_OPT: return sl_col_push_none(c);
	}
	return -EINVAL;
}

/* Gather into a fresh column; fast loops for flat levels. */
static int gather_into(sl_col *d, const sl_col *s, const uint32_t *idx, size_t n)
{
	if (sl_col_reserve(d, n))
		return -ENOMEM;
	switch (s->type->kind) {
	case SL_I64:
		for (size_t j = 0; j < n; j++)
			d->v.i64[d->len + j] = s->v.i64[idx[j]];
		break;
	case SL_F64:
		for (size_t j = 0; j < n; j++)
			d->v.f64[d->len + j] = s->v.f64[idx[j]];
		break;
	case SL_BOOL:
		for (size_t j = 0; j < n; j++)
			d->v.b[d->len + j] = s->v.b[idx[j]];
		break;
	case SL_STR:
		for (size_t j = 0; j < n; j++)
			d->v.s[d->len + j] = s->v.s[idx[j]];
		break;
	case SL_TUPLE:
		for (int k = 0; k < s->type->n; k++)
			if (gather_into(d->kid[k], s->kid[k], idx, n))
				return -ENOMEM;
		break;
	case SL_LIST:
	case SL_OPT:
		for (size_t j = 0; j < n; j++)
			if (push_row_raw(d, s, idx[j]))
				return -ENOMEM;
		return 0;
	}
	d->len += n;
	return 0;
}

sl_col *sl_col_gather(const sl_col *src, const uint32_t *idx, size_t n)
{
	sl_col *d = sl_col_new(src->mem, src->type, n);
	if (!d)
		return NULL;
	if (sl_col_share_bufs(d, src) || gather_into(d, src, idx, n)) {
		sl_col_unref(d);
		return NULL;
	}
	return d;
}

sl_col *sl_col_slice(const sl_col *src, size_t from, size_t n)
{
	if (from == 0 && n == src->len)
		return sl_col_ref((sl_col *)src);
	uint32_t *idx = sl_alloc(src->mem, -1, (n ? n : 1) * sizeof(uint32_t));
	if (!idx)
		return NULL;
	for (size_t j = 0; j < n; j++)
		idx[j] = (uint32_t)(from + j);
	sl_col *d = sl_col_gather(src, idx, n);
	sl_dealloc(src->mem, idx, (n ? n : 1) * sizeof(uint32_t));
	return d;
}

static int append_all(sl_col *d, const sl_col *s)
{
	size_t n = s->len;
	if (sl_col_reserve(d, n))
		return -ENOMEM;
	switch (s->type->kind) {
	case SL_I64:
	case SL_F64:
	case SL_BOOL:
	case SL_STR:
		memcpy((char *)d->v.p + d->len * elem_size(s->type), s->v.p,
		       n * elem_size(s->type));
		break;
	case SL_TUPLE:
		for (int k = 0; k < s->type->n; k++)
			if (append_all(d->kid[k], s->kid[k]))
				return -ENOMEM;
		break;
	default:
		for (size_t i = 0; i < n; i++)
			if (push_row_raw(d, s, i))
				return -ENOMEM;
		return 0;
	}
	d->len += n;
	return 0;
}

sl_col *sl_col_concat(sl_mem *m, const sl_type *t, sl_col *const *cols, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += cols[i] ? cols[i]->len : 0;
	sl_col *d = sl_col_new(m, t, total);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!cols[i])
			continue;
		if (sl_col_share_bufs(d, cols[i]) || append_all(d, cols[i])) {
			sl_col_unref(d);
			return NULL;
		}
	}
	return d;
}

static inline uint64_t mix(uint64_t h, uint64_t k)
{
	/* Order-dependent combine, then a full avalanche (xxh3's). */
	return XXH3_64bits_withSeed(&k, sizeof(k), h);
}

uint64_t sl_col_hash_row(const sl_col *c, size_t i)
{
	switch (c->type->kind) {
	case SL_I64: return XXH3_64bits(&c->v.i64[i], 8);
	case SL_F64: return XXH3_64bits(&c->v.f64[i], 8);
	case SL_BOOL: return XXH3_64bits(&c->v.b[i], 1);
	case SL_STR: return XXH3_64bits(c->v.s[i].p, c->v.s[i].len);
	case SL_TUPLE: {
		uint64_t h = 0x9e3779b97f4a7c15ull;
		for (int k = 0; k < c->type->n; k++)
			h = mix(h, sl_col_hash_row(c->kid[k], i));
		return h;
	}
	case SL_LIST: {
		uint64_t h = 0x51;
		for (uint32_t j = c->v.off[i]; j < c->v.off[i + 1]; j++)
			h = mix(h, sl_col_hash_row(c->kid[0], j));
		return h;
	}
	case SL_OPT: return c->valid[i] ? mix(1, sl_col_hash_row(c->kid[0], i)) : 0x0b;
	}
	return 0;
}

void sl_col_hash(const sl_col *c, uint64_t *out)
{
	size_t n = c->len;
	switch (c->type->kind) {
	case SL_I64:
		for (size_t i = 0; i < n; i++)
			out[i] = XXH3_64bits(&c->v.i64[i], 8);
		return;
	case SL_STR:
		for (size_t i = 0; i < n; i++)
			out[i] = XXH3_64bits(c->v.s[i].p, c->v.s[i].len);
		return;
	default:
		for (size_t i = 0; i < n; i++)
			out[i] = sl_col_hash_row(c, i);
	}
}

bool sl_col_row_eq(const sl_col *a, size_t i, const sl_col *b, size_t j)
{
	switch (a->type->kind) {
	case SL_I64: return a->v.i64[i] == b->v.i64[j];
	case SL_F64: return !memcmp(&a->v.f64[i], &b->v.f64[j], 8); /* Java Double.equals */
	case SL_BOOL: return a->v.b[i] == b->v.b[j];
	case SL_STR:
		return a->v.s[i].len == b->v.s[j].len &&
		       !memcmp(a->v.s[i].p, b->v.s[j].p, a->v.s[i].len);
	case SL_TUPLE:
		for (int k = 0; k < a->type->n; k++)
			if (!sl_col_row_eq(a->kid[k], i, b->kid[k], j))
				return false;
		return true;
	case SL_LIST: {
		uint32_t la = a->v.off[i + 1] - a->v.off[i], lb = b->v.off[j + 1] - b->v.off[j];
		if (la != lb)
			return false;
		for (uint32_t k = 0; k < la; k++)
			if (!sl_col_row_eq(a->kid[0], a->v.off[i] + k, b->kid[0], b->v.off[j] + k))
				return false;
		return true;
	}
	case SL_OPT:
		if (a->valid[i] != b->valid[j])
			return false;
		return !a->valid[i] || sl_col_row_eq(a->kid[0], i, b->kid[0], j);
	}
	return false;
}

int sl_col_row_cmp(const sl_col *a, size_t i, const sl_col *b, size_t j)
{
	switch (a->type->kind) {
	case SL_I64: return (a->v.i64[i] > b->v.i64[j]) - (a->v.i64[i] < b->v.i64[j]);
	case SL_F64: return (a->v.f64[i] > b->v.f64[j]) - (a->v.f64[i] < b->v.f64[j]);
	case SL_BOOL: return (int)a->v.b[i] - (int)b->v.b[j];
	case SL_STR: {
		sl_str x = a->v.s[i], y = b->v.s[j];
		size_t l = x.len < y.len ? x.len : y.len;
		int r = l ? memcmp(x.p, y.p, l) : 0;
		return r ? r : (x.len > y.len) - (x.len < y.len);
	}
	case SL_TUPLE:
		for (int k = 0; k < a->type->n; k++) {
			int r = sl_col_row_cmp(a->kid[k], i, b->kid[k], j);
			if (r)
				return r;
		}
		return 0;
	case SL_LIST: {
		uint32_t la = a->v.off[i + 1] - a->v.off[i], lb = b->v.off[j + 1] - b->v.off[j];
		for (uint32_t k = 0; k < la && k < lb; k++) {
			int r =
			    sl_col_row_cmp(a->kid[0], a->v.off[i] + k, b->kid[0], b->v.off[j] + k);
			if (r)
				return r;
		}
		return (la > lb) - (la < lb);
	}
	case SL_OPT:
		if (!a->valid[i] || !b->valid[j])
			return (int)a->valid[i] - (int)b->valid[j];
		return sl_col_row_cmp(a->kid[0], i, b->kid[0], j);
	}
	return 0;
}
