/* SPDX-License-Identifier: Apache-2.0 */
/*
 * textfile.c - textFile("path"): every line of a file or directory as one batch
 * (contract in io.h).
 *
 * Reading: each partition is one String column whose bytes sit in one buffer reserved
 * with sl_col_str_space; file data is read(2) straight into it and the lines are pushed
 * as views, so no line is copied, except the unfinished line at the end of a full
 * buffer, which moves to the front of the next partition's buffer. A line longer than
 * the buffer makes the buffer grow (a bigger one is reserved in the same column and the
 * partial line copied over; the column keeps the old one until it is freed). Terminators
 * are found with the context's find_eol kernel (a 64-byte compare per step).
 *
 * Line rule (Java's BufferedReader.readLine): "\n", "\r\n" and "\r" end a line; bytes
 * after the last terminator of a file are a line; lines never span files. A "\r" that
 * is the last byte read so far sets `cr`, so a "\n" that arrives with the next read is
 * taken as part of the same terminator.
 *
 * Invariants while filling a partition (buffer b of cap bytes, used bytes valid):
 *   ls <= scan <= used <= cap; [ls, used) is the unfinished line; every line before ls
 *   has been pushed.
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/env.h"
#include "../core/fmt.h"
#include "../kernels/kernels.h"

#define DEFAULT_BLOCK ((size_t)4 << 20)

typedef struct text_src {
	sl_source base;
	char *path;
	char **files; /* full paths, in reading order */
	size_t nfiles;
	size_t block;
	bool done;
} text_src;

/* The reading state of one next() call. */
typedef struct reader {
	text_src *t;
	size_t fi;  /* current file */
	int fd;     /* open fd of files[fi], or -1 */
	bool cr;    /* the last byte of the current file read so far was '\r' */
	size_t rem; /* bytes still expected (from stat sizes; a hint for sizing) */
	sluice_error *err;
} reader;

/* Open files[fi] (r->fd stays -1 when every file has been read). 0 or -errno. */
static int rd_open(reader *r)
{
	r->cr = false;
	if (r->fi >= r->t->nfiles)
		return 0;
	const char *f = r->t->files[r->fi];
	r->fd = open(f, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return sl_error_set(r->err, -errno, "cannot open '%s': %s", f, strerror(errno));
	return 0;
}

/* Fill column c (a fresh String column) with whole lines, starting with the unfinished
 * line (*carry, *ncarry) of the previous partition, until the lines pushed hold at least
 * block bytes (terminators included) or the buffer is full or the input ends. On
 * return (*carry, *ncarry) is what the next partition starts with (bytes read but not
 * yet taken; empty at the end of input). 0 or -errno. */
static int fill(reader *r, sl_col *c, const char **carry, size_t *ncarry)
{
	size_t block = r->t->block;
	size_t (*eol)(const char *, size_t) = r->t->base.env->kern->find_eol;
	size_t hint = r->rem < block ? r->rem : block;
	size_t cap = *ncarry + hint + 1; /* +1: room to see EOF without another buffer */
	char *b = sl_col_str_space(c, cap);
	if (!b)
		return -ENOMEM;
	size_t used = *ncarry, ls = 0, scan = 0;
	if (*ncarry)
		memcpy(b, *carry, *ncarry);
	bool full = false;
	while (!full) {
		/* push every complete line in [scan, used); the ISA's find_eol skips to each
		 * terminator */
		while (scan < used && !full) {
			if (r->cr) {
				r->cr = false;
				if (b[scan] == '\n' && scan == ls) {
					ls = ++scan;
					continue;
				}
			}
			scan += eol(b + scan, used - scan);
			if (scan == used)
				break;
			if (sl_col_push_view(c, b + ls, scan - ls))
				return -ENOMEM;
			if (b[scan] == '\r') {
				if (scan + 1 < used) {
					if (b[scan + 1] == '\n')
						scan++;
				} else {
					r->cr = true;
				}
			}
			ls = ++scan;
			full = ls >= block;
		}
		if (full || r->fd < 0) /* enough, or no more input */
			break;
		if (used == cap) {
			if (c->len > 0)
				break; /* the unfinished line goes to the next partition */
			/* one line fills the whole buffer: continue it in a bigger one */
			size_t ncap = cap * 2 + hint;
			char *nb = sl_col_str_space(c, ncap);
			if (!nb)
				return -ENOMEM;
			memcpy(nb, b + ls, used - ls);
			used -= ls;
			scan -= ls;
			ls = 0;
			b = nb;
			cap = ncap;
		}
		ssize_t n = read(r->fd, b + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sl_error_set(r->err, -errno, "cannot read '%s': %s",
					    r->t->files[r->fi], strerror(errno));
		if (n > 0) {
			used += (size_t)n;
			/* more than stat said: the files grew; guess a block more */
			r->rem = r->rem >= (size_t)n ? r->rem - (size_t)n : block;
			continue;
		}
		/* end of this file: its last line needs no terminator */
		close(r->fd);
		r->fd = -1;
		if (ls < used && sl_col_push_view(c, b + ls, used - ls))
			return -ENOMEM;
		ls = scan = used;
		r->cr = false;
		r->fi++;
		int rc = rd_open(r);
		if (rc)
			return rc;
		full = c->len > 0 && ls >= block;
	}
	*carry = b + ls;
	*ncarry = used - ls;
	return 0;
}

static int read_all(text_src *t, int64_t time, sl_rdd **out, sluice_error *err)
{
	sl_env *env = t->base.env;
	reader r = {.t = t, .fd = -1, .err = err};
	for (size_t i = 0; i < t->nfiles; i++) {
		struct stat st;
		if (stat(t->files[i], &st) == 0 && st.st_size > 0)
			r.rem += (size_t)st.st_size;
	}
	sl_col **part = NULL;
	size_t np = 0, capp = 0;
	int rc = rd_open(&r);
	const char *carry = NULL;
	size_t ncarry = 0;
	while (!rc) {
		if (np == capp) {
			capp = capp ? capp * 2 : 8;
			sl_col **p = realloc(part, capp * sizeof *p);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			part = p;
		}
		sl_col *c = sl_col_new(env->mem, &sl_type_str, 0);
		if (!c) {
			rc = -ENOMEM;
			break;
		}
		part[np++] = c;
		rc = fill(&r, c, &carry, &ncarry);
		if (!rc && r.fd < 0 && !ncarry)
			break;
	}
	if (r.fd >= 0)
		close(r.fd);
	/* a partition gets nothing when the input ends at its start: drop such ones */
	if (!rc) {
		size_t k = 0;
		for (size_t i = 0; i < np; i++) {
			if (part[i]->len == 0 && (k > 0 || i + 1 < np))
				sl_col_unref(part[i]);
			else
				part[k++] = part[i];
		}
		np = k;
	}
	sl_rdd *rdd = NULL;
	if (!rc && !(rdd = sl_rdd_new(env->mem, &sl_type_str, time, np)))
		rc = -ENOMEM;
	if (rc) {
		for (size_t i = 0; i < np; i++)
			sl_col_unref(part[i]);
		free(part);
		if (rc == -ENOMEM)
			sl_error_set(err, rc, "textFile '%s': out of memory", t->path);
		return rc;
	}
	for (size_t i = 0; i < np; i++)
		rdd->part[i] = part[i];
	free(part);
	*out = rdd;
	return 0;
}

static int t_start(sl_source *s, int64_t zero_time, sluice_error *err)
{
	(void)s;
	(void)zero_time;
	(void)err;
	return 0;
}

static int t_next(sl_source *s, int64_t time, sl_rdd **out, sluice_error *err)
{
	text_src *t = (text_src *)s;
	*out = NULL;
	if (t->done)
		return SL_SOURCE_END;
	int rc = read_all(t, time, out, err);
	if (rc)
		return rc;
	t->done = true;
	return SL_SOURCE_END;
}

static void t_free(sl_source *s)
{
	text_src *t = (text_src *)s;
	if (!t)
		return;
	for (size_t i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	free(t->path);
	free(t);
}

static const sl_source_ops text_ops = {
    .name = "textFile",
    .start = t_start,
    .next = t_next,
    .stop = NULL,
    .free = t_free,
};

/* ---- listing ---- */

static int add_file(text_src *t, char *f, size_t *cap)
{
	if (t->nfiles == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		char **v = realloc(t->files, *cap * sizeof *v);
		if (!v) {
			free(f);
			return -ENOMEM;
		}
		t->files = v;
	}
	t->files[t->nfiles++] = f;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Check that f can be opened for reading. */
static int probe(const char *f, sluice_error *err)
{
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_set(err, -errno, "cannot open '%s': %s", f, strerror(errno));
	close(fd);
	return 0;
}

static int list(text_src *t, sluice_error *err)
{
	struct stat st;
	size_t cap = 0;
	const char *path = t->path;
	if (stat(path, &st) != 0)
		return sl_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		char *f = strdup(path);
		if (!f || add_file(t, f, &cap))
			return sl_error_set(err, -ENOMEM, "textFile '%s': out of memory", path);
		return probe(path, err);
	}
	if (!S_ISDIR(st.st_mode))
		return sl_error_set(err, -EINVAL, "cannot read '%s': %s", path,
				    "not a regular file or directory");
	DIR *d = opendir(path);
	if (!d)
		return sl_error_set(err, -errno, "cannot open directory '%s': %s", path,
				    strerror(errno));
	size_t pl = strlen(path);
	bool slash = pl && path[pl - 1] == '/';
	int rc = 0;
	struct dirent *e;
	while (!rc && (errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue;
		size_t n = pl + strlen(e->d_name) + 2;
		char *f = malloc(n);
		if (!f) {
			rc = -ENOMEM;
			break;
		}
		snprintf(f, n, "%s%s%s", path, slash ? "" : "/", e->d_name);
		if (stat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(f);
			continue;
		}
		rc = add_file(t, f, &cap);
	}
	int rderr = !e && errno ? errno : 0;
	closedir(d);
	if (rc)
		return sl_error_set(err, rc, "textFile '%s': out of memory", path);
	if (rderr)
		return sl_error_set(err, -rderr, "cannot read directory '%s': %s", path,
				    strerror(rderr));
	if (t->nfiles > 1)
		qsort(t->files, t->nfiles, sizeof *t->files, by_name);
	for (size_t i = 0; i < t->nfiles; i++)
		if ((rc = probe(t->files[i], err)))
			return rc;
	return 0;
}

/* Contract: see io.h. */
sl_source *sl_textfile_source_new(sl_env *env, const char *path, size_t block_bytes,
				  sluice_error *err)
{
	if (!env || !path) {
		sl_error_set(err, -EINVAL, "textFile: missing %s", env ? "path" : "environment");
		return NULL;
	}
	text_src *t = calloc(1, sizeof *t);
	if (!t || !(t->path = strdup(path))) {
		free(t);
		sl_error_set(err, -ENOMEM, "textFile '%s': out of memory", path);
		return NULL;
	}
	t->base.ops = &text_ops;
	t->base.type = &sl_type_str;
	t->base.env = env;
	t->base.bounded = 1;
	t->block = block_bytes ? block_bytes : DEFAULT_BLOCK;
	if (list(t, err)) {
		t_free(&t->base);
		return NULL;
	}
	return &t->base;
}
