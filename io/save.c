/* SPDX-License-Identifier: Apache-2.0 */
/*
 * save.c - saveAsTextFiles(prefix, suffix): one directory of part files per batch
 * (contract in io.h).
 *
 * Layout of the directory for batch time T (Spark's rddToFileName):
 *   [prefix-]T[.suffix]/part-00000 ... part-<nparts-1>, _SUCCESS
 * Each part file holds its partition's rows, each formatted by sl_fmt_row and ended
 * by "\n"; an empty partition gives an empty file.
 *
 * Atomicity: everything is written into a hidden sibling ".<name>.tmp-<pid>-<n>"
 * (n: the first free number), each file fsync'ed, then the temp dir and its parent are
 * fsync'ed around the renames:
 *   final exists?  rename final -> ".<name>.trash-<pid>-<n>"
 *   rename temp -> final;  remove the trash (recursively)
 * A reader sees either the old complete directory, nothing for an instant (between the
 * two renames, only when replacing), or the new complete one; never a partial one. On
 * failure the temp dir is removed and a moved-away old directory is put back.
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fmt.h"

#define FLUSH_AT (64 * 1024)

/* Remove path and, if it is a directory, everything below it. Best effort. */
static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		size_t pl = strlen(path);
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			size_t n = pl + strlen(e->d_name) + 2;
			char *sub = malloc(n);
			if (!sub)
				continue;
			snprintf(sub, n, "%s/%s", path, e->d_name);
			rm_rf(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	/* some file systems cannot fsync directories; that is not a failure here */
	return rc == -EINVAL || rc == -EROFS ? 0 : rc;
}

/* mkdir -p of dir (every component). */
static int make_dirs(char *dir, sluice_error *err)
{
	size_t n = strlen(dir);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && dir[i] != '/')
			continue;
		if (dir[i - 1] == '/')
			continue;
		char save = dir[i];
		dir[i] = '\0';
		int rc = 0;
		if (mkdir(dir, 0777) != 0 && errno != EEXIST)
			rc = -errno;
		struct stat st;
		if (!rc && stat(dir, &st) != 0)
			rc = -errno;
		if (!rc && !S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (rc)
			sl_error_set(err, rc, "cannot create directory '%s': %s", dir,
				     strerror(-rc));
		dir[i] = save;
		if (rc)
			return rc;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write one part file (col may be NULL = empty) and fsync it. */
static int write_part(const char *path, const sl_col *c, sl_sbuf *b, sluice_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return sl_error_set(err, -errno, "cannot create '%s': %s", path, strerror(errno));
	int rc = 0;
	b->len = 0;
	for (size_t i = 0; c && !rc && i < c->len; i++) {
		rc = sl_fmt_row(b, c, i);
		if (!rc)
			rc = sl_sbuf_put(b, "\n", 1);
		if (!rc && b->len >= FLUSH_AT) {
			rc = write_all(fd, b->p, b->len);
			b->len = 0;
		}
	}
	if (!rc && b->len)
		rc = write_all(fd, b->p, b->len);
	if (!rc && fsync(fd) != 0 && errno != EINVAL)
		rc = -errno;
	if (close(fd) != 0 && !rc && errno != EINTR)
		rc = -errno;
	if (rc)
		sl_error_set(err, rc, "cannot write '%s': %s", path, strerror(-rc));
	return rc;
}

/* "<dir>/.<base>.<tag>-<pid>-<n>" for the first n where nothing exists yet (tmp: also
 * created as a directory). Returns a malloc'd path or NULL with *rc set. */
static char *sibling(const char *dir, const char *base, const char *tag, bool create, int *rc)
{
	size_t n = strlen(dir) + strlen(base) + strlen(tag) + 64;
	char *p = malloc(n);
	if (!p) {
		*rc = -ENOMEM;
		return NULL;
	}
	for (unsigned k = 0; k < 100000; k++) {
		snprintf(p, n, "%s/.%s.%s-%ld-%u", dir, base, tag, (long)getpid(), k);
		if (create) {
			if (mkdir(p, 0777) == 0)
				return p;
			if (errno != EEXIST) {
				*rc = -errno;
				free(p);
				return NULL;
			}
			continue;
		}
		struct stat st;
		if (lstat(p, &st) != 0 && errno == ENOENT)
			return p;
	}
	free(p);
	*rc = -EEXIST;
	return NULL;
}

/* Everything after the name is known: write tmp, swap it in. */
static int save_into(const sl_rdd *r, const char *dir, const char *base, const char *final,
		     sluice_error *err)
{
	int rc = 0;
	char *tmp = sibling(dir, base, "tmp", true, &rc);
	if (!tmp)
		return sl_error_set(err, rc, "cannot create a temporary directory in '%s': %s", dir,
				    strerror(-rc));
	size_t fl = strlen(tmp) + 32;
	char *file = malloc(fl);
	sl_sbuf b = {0};
	char *trash = NULL;
	if (!file) {
		rc = sl_error_set(err, -ENOMEM, "saveAsTextFiles '%s': out of memory", final);
		goto out;
	}
	for (size_t p = 0; !rc && p < r->nparts; p++) {
		snprintf(file, fl, "%s/part-%05zu", tmp, p);
		rc = write_part(file, r->part[p], &b, err);
	}
	if (!rc) {
		snprintf(file, fl, "%s/_SUCCESS", tmp);
		rc = write_part(file, NULL, &b, err);
	}
	if (!rc && (rc = fsync_dir(tmp)))
		sl_error_set(err, rc, "cannot sync '%s': %s", tmp, strerror(-rc));
	if (rc)
		goto out;
	struct stat st;
	if (lstat(final, &st) == 0) {
		/* only a directory is an earlier output to replace; a file (or a link) of that
		 * name is somebody else's */
		if (!S_ISDIR(st.st_mode)) {
			rc = sl_error_set(err, -EEXIST,
					  "cannot write '%s': it exists and is not a directory",
					  final);
			goto out;
		}
		if (!(trash = sibling(dir, base, "trash", false, &rc)) ||
		    rename(final, trash) != 0) {
			rc = rc ? rc : -errno;
			sl_error_set(err, rc, "cannot replace '%s': %s", final, strerror(-rc));
			free(trash);
			trash = NULL;
			goto out;
		}
	}
	if (rename(tmp, final) != 0) {
		rc = -errno;
		sl_error_set(err, rc, "cannot rename '%s' to '%s': %s", tmp, final, strerror(-rc));
		if (trash)
			rename(trash, final);
		free(trash);
		trash = NULL;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (trash)
		rm_rf(trash);
	fsync_dir(dir);
out:
	if (tmp)
		rm_rf(tmp);
	free(tmp);
	free(trash);
	free(file);
	sl_sbuf_fini(&b);
	return rc;
}

/* Contract: see io.h. */
int sl_save_text_files(sl_env *env, const sl_rdd *r, const char *prefix, const char *suffix,
		       int64_t time_ms, sluice_error *err)
{
	(void)env;
	if (!r)
		return 0;
	sl_sbuf name = {0};
	int rc = 0;
	if (prefix && *prefix)
		rc = sl_sbuf_printf(&name, "%s-", prefix);
	if (!rc)
		rc = sl_sbuf_printf(&name, "%" PRId64, time_ms);
	if (!rc && suffix && *suffix)
		rc = sl_sbuf_printf(&name, ".%s", suffix);
	if (rc) {
		sl_sbuf_fini(&name);
		return sl_error_set(err, -ENOMEM, "saveAsTextFiles: out of memory");
	}
	/* split into parent directory and base name */
	char *slash = strrchr(name.p, '/');
	char *dir, *base;
	if (!slash) {
		dir = strdup(".");
		base = strdup(name.p);
	} else {
		dir = strndup(name.p, slash == name.p ? 1 : (size_t)(slash - name.p));
		base = strdup(slash + 1);
	}
	if (!dir || !base) {
		rc = sl_error_set(err, -ENOMEM, "saveAsTextFiles: out of memory");
	} else if (!*base) {
		rc = sl_error_set(err, -EINVAL, "saveAsTextFiles: output name '%s' ends with '/'",
				  name.p);
	} else {
		rc = make_dirs(dir, err);
		if (!rc)
			rc = save_into(r, dir, base, name.p, err);
	}
	free(dir);
	free(base);
	sl_sbuf_fini(&name);
	return rc;
}
