/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.c - queueStream("file.jsonl"): Spark's queueStream with oneAtATime = true,
 * the queue given as a file of JSON lines (contract in io.h).
 *
 * File format: line k (1-based) is batch k: `[rec, rec, ...]`, `null` (no RDD) or
 * whitespace only (empty batch). A final "\n" does not start another batch.
 *
 * Invariants:
 *   - the whole file is parsed and type-checked at creation into q->doc; batch k is
 *     built from the tree of its line at the (k+1)-th next(), so a batch is never held
 *     twice in memory and building is a plain copy;
 *   - every record in the file conforms to q->base.type (Long leaves of the type may
 *     hold JSON integers or, after promotion, the type has Double there and integers
 *     are converted while building);
 *   - partition cuts depend only on (nparts, seed, line index, record count), never on
 *     the call history.
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fmt.h"
#include "../core/json.h"

typedef struct queue_src {
	sl_source base;
	sl_json_doc *doc;
	char *path;
	const sl_json **line; /* per line: the array, or NULL (null line or blank line) */
	uint8_t *isnull;      /* per line: 1 for `null` */
	size_t nlines;
	size_t served; /* next() calls so far */
	int nparts;
	uint64_t seed;
} queue_src;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- typing records ---- */

/* NULL if v can be a record (or a tuple field), else the offending node. */
static const sl_json *invalid(const sl_json *v)
{
	switch (v->kind) {
	case SL_JSON_STR:
	case SL_JSON_NUM:
	case SL_JSON_BOOL: return NULL;
	case SL_JSON_ARR:
		if (v->len < 2 || v->len > SL_TUPLE_MAX)
			return v;
		for (size_t k = 0; k < v->len; k++) {
			const sl_json *b = invalid(v->kid[k]);
			if (b)
				return b;
		}
		return NULL;
	}
	return v;
}

/* Type of a valid record (allocated in ts). NULL on ENOMEM. */
static const sl_type *infer(sl_types *ts, const sl_json *v)
{
	switch (v->kind) {
	case SL_JSON_STR: return &sl_type_str;
	case SL_JSON_BOOL: return &sl_type_bool;
	case SL_JSON_NUM: return v->is_int ? &sl_type_i64 : &sl_type_f64;
	}
	const sl_type *kid[SL_TUPLE_MAX];
	for (size_t k = 0; k < v->len; k++)
		if (!(kid[k] = infer(ts, v->kid[k])))
			return NULL;
	return sl_type_tuple(ts, (int)v->len, kid);
}

/* Unify type t with valid record v. 0: *out = t or t with some Long fields made Double
 * (allocated only when something changed); 1: mismatch; -ENOMEM. */
static int unify(sl_types *ts, const sl_type *t, const sl_json *v, const sl_type **out)
{
	*out = t;
	switch (v->kind) {
	case SL_JSON_STR: return t->kind == SL_STR ? 0 : 1;
	case SL_JSON_BOOL: return t->kind == SL_BOOL ? 0 : 1;
	case SL_JSON_NUM:
		if (t->kind == SL_F64 || (t->kind == SL_I64 && v->is_int))
			return 0;
		if (t->kind != SL_I64)
			return 1;
		*out = &sl_type_f64;
		return 0;
	}
	if (t->kind != SL_TUPLE || t->n != v->len)
		return 1;
	const sl_type *kid[SL_TUPLE_MAX];
	int changed = 0;
	for (size_t k = 0; k < v->len; k++) {
		int rc = unify(ts, t->kid[k], v->kid[k], &kid[k]);
		if (rc)
			return rc;
		changed |= kid[k] != t->kid[k];
	}
	if (changed && !(*out = sl_type_tuple(ts, (int)v->len, kid)))
		return -ENOMEM;
	return 0;
}

static int push_rec(sl_col *c, const sl_json *v)
{
	switch (c->type->kind) {
	case SL_I64: return sl_col_push_i64(c, v->i);
	case SL_F64: return sl_col_push_f64(c, v->is_int ? (double)v->i : v->d);
	case SL_BOOL: return sl_col_push_bool(c, v->b);
	case SL_STR: return sl_col_push_str(c, v->s, v->len);
	case SL_TUPLE:
		for (size_t k = 0; k < v->len; k++) {
			int rc = push_rec(c->kid[k], v->kid[k]);
			if (rc)
				return rc;
		}
		return sl_col_commit(c);
	}
	return -EINVAL;
}

static const char *what(const sl_json *v, char buf[64])
{
	if (v->kind != SL_JSON_ARR)
		return sl_json_kind_name(v->kind);
	snprintf(buf, 64, "an array of %zu value%s", v->len, v->len == 1 ? "" : "s");
	return buf;
}

/* ---- building batches ---- */

/* Partition boundaries for a batch of n records: cut[0] = 0 <= ... <= cut[p] = n. */
static size_t cuts(const queue_src *q, size_t k, size_t n, size_t cut[9], size_t **big)
{
	size_t p;
	*big = NULL;
	if (q->nparts < 0) {
		uint64_t st = q->seed ^ (0xd1b54a32d192ed03ULL * (k + 1));
		p = 1 + splitmix(&st) % 8;
		cut[0] = 0;
		cut[p] = n;
		for (size_t i = 1; i < p; i++) {
			size_t x = (size_t)(splitmix(&st) % (n + 1)), j = i;
			while (j > 1 && cut[j - 1] > x) {
				cut[j] = cut[j - 1];
				j--;
			}
			cut[j] = x;
		}
		return p;
	}
	if (q->nparts > 0) {
		p = (size_t)q->nparts;
	} else {
		int64_t b = q->base.env->block_ms;
		int64_t r = b > 0 ? q->base.env->batch_ms / b : 1;
		p = r > 1 ? (size_t)r : 1;
	}
	size_t *c = cut;
	if (p > 8) {
		c = *big = malloc((p + 1) * sizeof *c);
		if (!c)
			return 0;
	}
	/* Spark's ParallelCollectionRDD.slice: [i*n/p, (i+1)*n/p) */
	for (size_t i = 0; i <= p; i++)
		c[i] = (size_t)((unsigned __int128)i * n / p);
	return p;
}

static int build(queue_src *q, size_t k, int64_t time, sl_rdd **out, sluice_error *err)
{
	sl_env *env = q->base.env;
	const sl_json *arr = k < q->nlines ? q->line[k] : NULL;
	size_t n = arr ? arr->len : 0;
	size_t small[9], *big, p;
	if (k >= q->nlines) {
		p = 1;
		small[0] = small[1] = 0;
		big = NULL;
	} else if (!(p = cuts(q, k, n, small, &big))) {
		goto nomem;
	}
	size_t *cut = big ? big : small;
	sl_rdd *r = sl_rdd_new(env->mem, q->base.type, time, p);
	if (!r) {
		free(big);
		goto nomem;
	}
	for (size_t i = 0; i < p; i++) {
		sl_col *c = sl_col_new(env->mem, q->base.type, cut[i + 1] - cut[i]);
		r->part[i] = c;
		if (!c)
			goto fail;
		for (size_t j = cut[i]; j < cut[i + 1]; j++)
			if (push_rec(c, arr->kid[j]))
				goto fail;
	}
	free(big);
	*out = r;
	return 0;
fail:
	free(big);
	sl_rdd_unref(r);
nomem:
	return sl_error_set(err, -ENOMEM,
			    "queueStream '%s': out of memory building the batch of line %zu",
			    q->path, k + 1);
}

/* ---- source ops ---- */

static int q_start(sl_source *s, int64_t zero_time, sluice_error *err)
{
	(void)s;
	(void)zero_time;
	(void)err;
	return 0;
}

static int q_next(sl_source *s, int64_t time, sl_rdd **out, sluice_error *err)
{
	queue_src *q = (queue_src *)s;
	size_t k = q->served;
	*out = NULL;
	if (k < q->nlines)
		q->served++;
	int end = k + 1 >= q->nlines;
	if (k < q->nlines && q->isnull[k])
		return end ? SL_SOURCE_END : 0;
	int rc = build(q, k, time, out, err);
	if (rc)
		return rc;
	return end ? SL_SOURCE_END : 0;
}

static void q_free(sl_source *s)
{
	queue_src *q = (queue_src *)s;
	if (!q)
		return;
	sl_json_doc_free(q->doc);
	free(q->line);
	free(q->isnull);
	free(q->path);
	free(q);
}

static const sl_source_ops queue_ops = {
    .name = "queueStream",
    .start = q_start,
    .next = q_next,
    .stop = NULL,
    .free = q_free,
};

/* ---- creation ---- */

static int read_all(const char *path, char **buf, size_t *len, sluice_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return sl_error_set(err, -EISDIR, "cannot read '%s': %s", path, strerror(EISDIR));
	}
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (!b) {
			close(fd);
			return sl_error_set(err, -ENOMEM, "cannot read '%s': out of memory", path);
		}
		if (n == cap) {
			char *nb = realloc(b, cap * 2);
			if (!nb)
				free(b);
			b = nb;
			cap *= 2;
			continue;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			close(fd);
			return sl_error_set(err, -e, "cannot read '%s': %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
}

/* Parse and type every line of text into q. 0 or -errno with err filled. */
static int load(queue_src *q, const char *text, size_t len, sluice_error *err)
{
	sl_types *ts = q->base.env->types;
	size_t cap = 0;
	int first_line = 0;
	const sl_type *t = NULL;
	char tn[200], rn[200], wb[64];
	/* a UTF-8 byte-order mark (some editors write one) is not part of line 1 */
	size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
	for (size_t pos = bom, ln = 1; pos < len; ln++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (q->nlines == cap) {
			cap = cap ? cap * 2 : 64;
			const sl_json **l = realloc(q->line, cap * sizeof *l);
			if (l)
				q->line = l;
			uint8_t *z = realloc(q->isnull, cap);
			if (z)
				q->isnull = z;
			if (!l || !z)
				return sl_error_set(err, -ENOMEM, "%s: out of memory", q->path);
		}
		size_t k = q->nlines++;
		q->line[k] = NULL;
		q->isnull[k] = 0;
		size_t i = pos;
		while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
			i++;
		const char *ls = text + pos;
		size_t ll = end - pos;
		pos = end + 1;
		if (i == end)
			continue; /* blank: empty batch */
		sl_json *root;
		sl_json_error je;
		int rc = sl_json_parse(q->doc, ls, ll, (int)ln, 1, &root, &je);
		if (rc == -ENOMEM)
			return sl_error_set(err, rc, "%s:%zu: out of memory", q->path, ln);
		if (rc)
			return sl_error_set(err, rc, "%s:%d:%d: %s", q->path, je.line, je.col,
					    je.msg);
		if (root->kind == SL_JSON_NULL) {
			q->isnull[k] = 1;
			continue;
		}
		if (root->kind != SL_JSON_ARR)
			return sl_error_set(err, -EINVAL,
					    "%s:%d:%d: a line must be a JSON array of records "
					    "or null, found %s",
					    q->path, root->line, root->col,
					    sl_json_kind_name(root->kind));
		q->line[k] = root;
		for (size_t j = 0; j < root->len; j++) {
			const sl_json *v = root->kid[j], *bad = invalid(v);
			if (bad)
				return sl_error_set(
				    err, -EINVAL,
				    "%s:%d:%d: a record must be a string, a number, "
				    "a boolean or an array of 2 to %d of those (a tuple), "
				    "found %s",
				    q->path, bad->line, bad->col, SL_TUPLE_MAX, what(bad, wb));
			if (!t) {
				if (!(t = infer(ts, v)))
					return sl_error_set(err, -ENOMEM, "%s: out of memory",
							    q->path);
				first_line = v->line;
				continue;
			}
			const sl_type *nt;
			rc = unify(ts, t, v, &nt);
			if (rc < 0)
				return sl_error_set(err, rc, "%s: out of memory", q->path);
			if (rc) {
				const sl_type *rt = infer(ts, v);
				return sl_error_set(err, -EINVAL,
						    "%s:%d:%d: record has type %s but the stream's "
						    "type is %s (from line %d)",
						    q->path, v->line, v->col,
						    sl_type_name(rt, rn, sizeof rn),
						    sl_type_name(t, tn, sizeof tn), first_line);
			}
			t = nt;
		}
	}
	q->base.type = t ? t : &sl_type_str;
	return 0;
}

/* Contract: see io.h. */
sl_source *sl_queue_source_new(sl_env *env, const char *path, int nparts, uint64_t seed,
			       sluice_error *err)
{
	if (!env || !path) {
		sl_error_set(err, -EINVAL, "queueStream: missing %s", env ? "path" : "environment");
		return NULL;
	}
	queue_src *q = calloc(1, sizeof *q);
	if (!q || !(q->path = strdup(path)) || !(q->doc = sl_json_doc_new())) {
		sl_error_set(err, -ENOMEM, "queueStream '%s': out of memory", path);
		if (q)
			q_free(&q->base);
		return NULL;
	}
	q->base.ops = &queue_ops;
	q->base.env = env;
	q->base.bounded = 0;
	q->nparts = nparts;
	q->seed = seed;
	char *text = NULL;
	size_t len = 0;
	int rc = read_all(path, &text, &len, err);
	if (!rc)
		rc = load(q, text, len, err);
	free(text);
	if (rc) {
		q_free(&q->base);
		return NULL;
	}
	return &q->base;
}
