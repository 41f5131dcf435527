/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filestream.c - textFileStream(dir): Spark's FileInputDStream with TextInputFormat
 * (contract and selection rules in filestream.h).
 *
 *                       |<------ remember window D ------>|
 *   ignore threshold -->|                                 |<-- batch time t
 *   ....................|____.____.____.____.____.____.___|...........> mtime
 *        ignored             checked against seen[]          later batches
 *
 * Each next(t) lists the directory once, keeps the entries that pass the rules, reads
 * them in name order and records their names in seen[] with the batch time; at the end
 * of next(t) the entries of batches older than t - D are forgotten (Spark's
 * clearMetadata). Forgetting goes by the batch that selected a file, not by its mtime,
 * as in Spark: a file rewritten after it was forgotten, with an mtime inside the window
 * again, is read again. Within the window, changes to a selected file are ignored.
 *
 * Why initial = zero_time (the brief suggested startTime = zero_time + B): Spark takes
 * the clock when the stream is created, at or before the clock at start(); start() gets
 * zeroTime = floor(now / B) * B <= now, the closest bound on that side the driver gives
 * us. startTime lies after now and would drop files written between start() and the
 * first batch: Spark's InputStreamsSuite.testFileStream (B = 2 s, clock 12000 at start,
 * so zeroTime 12000 and startTime 14000) writes its first file with mtime 13000 and
 * expects it in batch 14000 (tests/test_filestream.c replays it). Under a manual clock
 * both Spark and this use the clock at start when it is a multiple of B. The cost: with
 * the real clock, files modified less than B before start() are read even with
 * newFilesOnly.
 *
 * Reading: bytes are read(2) straight into reservations of a String column's buffers
 * (sl_col_str_space) and the lines pushed as views, so no line is copied except the
 * unfinished one at the end of a chunk. A file is read in chunks of at most
 * SL_FILESTREAM_BLOCK bytes plus that carried-over line; a chunk sized from fstat is one
 * byte bigger than the rest of the file, so its end of file is seen in the same
 * reservation. Every chunk is one partition:
 *   - a file of SMALL_FILE bytes or more gets a new column per chunk, which owns its
 *     buffer;
 *   - smaller files share the column `small` (a column's first buffer is 64 KiB, so a
 *     column per small file would pin 64 KiB each); their partitions are slices of it
 *     (views copied, bytes shared), cut when a big file comes, when small holds
 *     FLUSH_BUFS buffers (so a slice pins only a few) and at the end of the batch.
 *
 * Invariants:
 *   - seen[0..nseen) is sorted by name (strcmp) and names are unique;
 *   - when next(t) returns, every seen[i].batch >= t - D;
 *   - while a batch is read, its partitions in order are part[0..npart) then the rows
 *     [cut[k], cut[k + 1]) of small, k < ncut - 1; cut[0] = 0 and, between files,
 *     cut[ncut - 1] = small->len; no partition is empty;
 *   - a file that cannot be read leaves npart, small->len and ncut as before it (its
 *     bytes stay, unreferenced, in the buffers until the batch is freed).
 */
#include "filestream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct seen_file {
	char *name;
	int64_t batch; /* time of the batch that selected it */
} seen_file;

typedef struct fs_src {
	sl_source base;
	char *dir;
	bool new_files_only;
	bool started;
	int64_t min_remember; /* ms, > 0 */
	int64_t initial;      /* the ignore threshold's floor; set by start() */
	const char *sep;      /* "/" between dir and a name, or "" when dir ends with one */
	seen_file *seen;
	size_t nseen;
	uint64_t errors;
} fs_src;

/* A directory entry selected for the batch being built. */
typedef struct cand {
	char *name;
	int serr; /* errno of stat() for a dangling symlink (its own mtime selected it) */
} cand;

/* Files smaller than this share one staging column (col.c's smallest buffer). */
#define SMALL_FILE ((size_t)64 << 10)
/* The staging column is cut into partitions once it holds this many buffers. */
#define FLUSH_BUFS 8

/* What one next() builds. */
typedef struct batch {
	fs_src *f;
	int64_t time;
	sl_col **part; /* finished partitions, in order */
	size_t npart, cappart;
	sl_col *small; /* lines of small files not yet in part[] (NULL: none) */
	size_t *cut;
	size_t ncut, capcut;
} batch;

static int64_t mtime_ms(const struct stat *st)
{
	/* tv_nsec is in [0, 1e9): this is floor(mtime in ms), Java's lastModified */
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* Remember window D = B * ceil(minRemember / B), capped so that t - D cannot overflow. */
static int64_t remember_ms(const fs_src *f)
{
	const int64_t cap = INT64_MAX / 4;
	int64_t b = f->base.env->batch_ms > 0 ? f->base.env->batch_ms : 1;
	int64_t q = f->min_remember / b + (f->min_remember % b != 0);
	return q <= cap / b ? q * b : cap;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const cand *)a)->name, ((const cand *)b)->name);
}

static bool was_seen(const fs_src *f, const char *name)
{
	size_t lo = 0, hi = f->nseen;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->seen[mid].name, name);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Merge the names of c[0..n) (sorted, none in seen) into seen, taking them. */
static int remember(fs_src *f, cand *c, size_t n, int64_t time)
{
	if (!n)
		return 0;
	size_t total = f->nseen + n;
	seen_file *m = malloc(total * sizeof *m);
	if (!m)
		return -ENOMEM;
	size_t i = 0, j = 0, k = 0;
	while (i < f->nseen || j < n) {
		if (j == n || (i < f->nseen && strcmp(f->seen[i].name, c[j].name) < 0))
			m[k++] = f->seen[i++];
		else
			m[k++] = (seen_file){c[j++].name, time};
	}
	for (j = 0; j < n; j++)
		c[j].name = NULL;
	free(f->seen);
	f->seen = m;
	f->nseen = total;
	return 0;
}

/* Spark's clearMetadata(t): forget the files of batches older than t - D. */
static void forget(fs_src *f, int64_t time)
{
	int64_t cutoff = time - remember_ms(f);
	size_t k = 0;
	for (size_t i = 0; i < f->nseen; i++) {
		if (f->seen[i].batch < cutoff)
			free(f->seen[i].name);
		else
			f->seen[k++] = f->seen[i];
	}
	f->nseen = k;
}

static void free_cands(cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

/*
 * The entries of directory d selected for batch `time` with ignore threshold thr, sorted
 * by name, in *out (*n of them). 0 or -ENOMEM; a listing error is -errno (not logged).
 */
static int select_files(fs_src *f, DIR *d, int64_t time, int64_t thr, cand **out, size_t *n)
{
	cand *c = NULL;
	size_t nc = 0, cap = 0;
	int fd = dirfd(d), rc = 0;
	struct dirent *e;
	while ((errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue; /* Spark's default filter; also skips "." and ".." */
		switch (e->d_type) {
		case DT_DIR:
		case DT_FIFO:
		case DT_SOCK:
		case DT_CHR:
		case DT_BLK: continue;
		}
		struct stat st;
		int serr = 0;
		if (fstatat(fd, e->d_name, &st, 0) != 0) {
			/* a dangling symlink is selected by its own mtime and reported when read;
			 * an entry that vanished since readdir is simply gone */
			serr = errno;
			if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISLNK(st.st_mode))
				continue;
		} else if (!S_ISREG(st.st_mode)) {
			continue;
		}
		int64_t m = mtime_ms(&st);
		if (m <= thr || m > time || was_seen(f, e->d_name))
			continue;
		if (nc == cap) {
			cap = cap ? cap * 2 : 16;
			cand *v = realloc(c, cap * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			c = v;
		}
		if (!(c[nc].name = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		c[nc++].serr = serr;
	}
	if (!rc && !e && errno)
		rc = -errno;
	if (rc) {
		free_cands(c, nc);
		return rc;
	}
	if (nc > 1)
		qsort(c, nc, sizeof *c, by_name);
	*out = c;
	*n = nc;
	return 0;
}

/* Append column c to the partitions, taking the reference. 0 or -ENOMEM (c unref'd). */
static int push_part(batch *bt, sl_col *c)
{
	if (bt->npart == bt->cappart) {
		size_t cap = bt->cappart ? bt->cappart * 2 : 16;
		sl_col **v = realloc(bt->part, cap * sizeof *v);
		if (!v) {
			sl_col_unref(c);
			return -ENOMEM;
		}
		bt->part = v;
		bt->cappart = cap;
	}
	bt->part[bt->npart++] = c;
	return 0;
}

/* End the current partition of small at its last row (nothing when it would be empty). */
static int cut_small(batch *bt)
{
	size_t rows = bt->small->len;
	if (rows == bt->cut[bt->ncut - 1])
		return 0;
	if (bt->ncut == bt->capcut) {
		size_t cap = bt->capcut * 2;
		size_t *v = realloc(bt->cut, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		bt->cut = v;
		bt->capcut = cap;
	}
	bt->cut[bt->ncut++] = rows;
	return 0;
}

/* Move the partitions pending in small to part[] and drop small. 0 or -ENOMEM. */
static int flush_small(batch *bt)
{
	int rc = 0;
	for (size_t k = 0; !rc && k + 1 < bt->ncut; k++) {
		sl_col *c = sl_col_slice(bt->small, bt->cut[k], bt->cut[k + 1] - bt->cut[k]);
		rc = c ? push_part(bt, c) : -ENOMEM;
	}
	sl_col_unref(bt->small);
	bt->small = NULL;
	bt->ncut = 1;
	return rc;
}

static const char *find(const char *p, const char *end, char ch)
{
	const char *q = memchr(p, ch, (size_t)(end - p));
	return q ? q : end;
}

/*
 * Push the lines of b[0..used) that are complete (Java readLine) as views into c; with
 * eof the bytes after the last terminator are a line too. A "\r" in the last byte
 * without eof is not yet a terminator: a "\n" may follow in the next read. Returns the
 * offset of the unfinished line (used when eof), or -1 on ENOMEM.
 */
static ptrdiff_t push_lines(sl_col *c, const char *b, size_t used, bool eof)
{
	const char *end = b + used, *ls = b;
	/* next '\n' and '\r' at or after ls (end: none); each moves forward only */
	const char *nl = find(b, end, '\n'), *cr = find(b, end, '\r');
	for (;;) {
		if (nl < ls)
			nl = find(ls, end, '\n');
		if (cr < ls)
			cr = find(ls, end, '\r');
		const char *t = nl < cr ? nl : cr;
		if (t == end)
			break;
		const char *next = t + 1;
		if (t == cr) {
			if (next == end && !eof)
				break;
			if (next < end && *next == '\n')
				next++;
		}
		if (sl_col_push_view(c, ls, (size_t)(t - ls)))
			return -1;
		ls = next;
	}
	if (eof && ls < end) {
		if (sl_col_push_view(c, ls, (size_t)(end - ls)))
			return -1;
		ls = end;
	}
	return ls - b;
}

/*
 * Append the lines of the open regular file fd (size bytes by fstat) to the batch: to
 * small (one partition per chunk) or, with own, to a new partition per chunk. 0, or
 * -ENOMEM; a read error sets *ferr = errno and returns 0 (the caller rolls back).
 */
static int read_lines(batch *bt, int fd, size_t size, bool own, int *ferr)
{
	const size_t block = SL_FILESTREAM_BLOCK;
	sl_col *c = bt->small;
	const char *carry = NULL;
	size_t ncarry = 0, off = 0;
	bool eof = false;
	while (!eof) {
		if (own) {
			c = sl_col_new(bt->f->base.env->mem, &sl_type_str, 0);
			if (!c || push_part(bt, c))
				return -ENOMEM;
		}
		/* the rest of the file by fstat (+1 to see its end); a block when it grew */
		size_t want = off < size ? size - off : off ? block : 0;
		if (want > block)
			want = block;
		size_t cap = ncarry + want + 1, used = ncarry;
		char *b = sl_col_str_space(c, cap);
		if (!b)
			return -ENOMEM;
		if (ncarry)
			memcpy(b, carry, ncarry);
		ptrdiff_t ls;
		for (;;) {
			while (used < cap && !eof) {
				ssize_t n = read(fd, b + used, cap - used);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					*ferr = errno;
					return 0;
				}
				eof = n == 0;
				used += (size_t)n;
				off += (size_t)n;
			}
			if ((ls = push_lines(c, b, used, eof)) < 0)
				return -ENOMEM;
			if (eof || ls > 0)
				break;
			/* one line fills the whole reservation: continue it in a bigger one */
			size_t ncap = cap * 2;
			char *nb = sl_col_str_space(c, ncap);
			if (!nb)
				return -ENOMEM;
			memcpy(nb, b, used);
			b = nb;
			cap = ncap;
		}
		carry = b + ls;
		ncarry = used - (size_t)ls;
		if (!own && cut_small(bt))
			return -ENOMEM;
	}
	return 0;
}

/* Read file c->name of directory dfd into bt; skip it (logged, counted) when it cannot
 * be read. 0 or -ENOMEM. */
static int read_file(batch *bt, int dfd, const cand *c)
{
	fs_src *f = bt->f;
	const char *why = NULL;
	int e = c->serr;
	int fd = -1, rc = 0;
	size_t npart = bt->npart, rows = bt->small ? bt->small->len : 0, ncut = bt->ncut;
	bool own = false;
	struct stat st;
	if (e) {
		why = strerror(e);
	} else if ((fd = openat(dfd, c->name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0) {
		why = strerror(errno);
	} else if (fstat(fd, &st) != 0) {
		why = strerror(errno);
	} else if (!S_ISREG(st.st_mode)) {
		/* replaced by something else since it was listed: never read a FIFO */
		why = "not a regular file";
	} else {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		size_t size = st.st_size > 0 ? (size_t)st.st_size : 0;
		own = size >= SMALL_FILE;
		if (own && bt->small)
			rc = flush_small(bt); /* its partitions come first */
		else if (!own && !bt->small &&
			 !(bt->small = sl_col_new(f->base.env->mem, &sl_type_str, 0)))
			rc = -ENOMEM;
		if (!rc) {
			npart = bt->npart;
			rc = read_lines(bt, fd, size, own, &e);
		}
		if (!rc && e)
			why = strerror(e);
	}
	if (fd >= 0)
		close(fd);
	if (rc || why) {
		/* drop what the file added */
		while (bt->npart > npart)
			sl_col_unref(bt->part[--bt->npart]);
		if (bt->small && !own) {
			bt->small->len = rows;
			bt->ncut = ncut;
		}
	} else if (own) {
		/* a chunk may get no line (the file shrank): drop such partitions */
		size_t k = npart;
		for (size_t i = npart; i < bt->npart; i++) {
			if (bt->part[i]->len)
				bt->part[k++] = bt->part[i];
			else
				sl_col_unref(bt->part[i]);
		}
		bt->npart = k;
	}
	if (rc)
		return rc;
	if (why) {
		f->errors++;
		sl_log(f->base.env, SL_LOG_ERROR,
		       "textFileStream '%s': batch %lld: skipping file '%s%s%s': %s", f->dir,
		       (long long)bt->time, f->dir, f->sep, c->name, why);
	} else if (bt->npart == npart && (own || bt->small->len == rows)) {
		sl_log(f->base.env, SL_LOG_WARN,
		       "textFileStream '%s': batch %lld: file '%s%s%s' has no data in it "
		       "(files should be moved into the directory once complete)",
		       f->dir, (long long)bt->time, f->dir, f->sep, c->name);
	}
	if (bt->small && bt->small->nbufs >= FLUSH_BUFS)
		return flush_small(bt);
	return 0;
}

/* The rdd of the batch, taking its partitions (one empty partition when there is
 * none). NULL on ENOMEM. */
static sl_rdd *make_rdd(batch *bt)
{
	sl_env *env = bt->f->base.env;
	if (bt->small && flush_small(bt))
		return NULL;
	if (!bt->npart) {
		sl_col *c = sl_col_new(env->mem, &sl_type_str, 0);
		if (!c || push_part(bt, c))
			return NULL;
	}
	sl_rdd *r = sl_rdd_new(env->mem, &sl_type_str, bt->time, bt->npart);
	if (!r)
		return NULL;
	for (size_t k = 0; k < bt->npart; k++)
		r->part[k] = bt->part[k];
	bt->npart = 0;
	return r;
}

/* ---- source ops ---- */

static int fs_start(sl_source *s, int64_t zero_time, sluice_error *err)
{
	(void)err;
	fs_src *f = (fs_src *)s;
	f->initial = f->new_files_only ? zero_time : 0;
	f->started = true;
	return 0;
}

static int fs_next(sl_source *s, int64_t time, sl_rdd **out, sluice_error *err)
{
	fs_src *f = (fs_src *)s;
	sl_env *env = s->env;
	*out = NULL;
	if (!f->started) {
		/* no start(): the zero time is the batch before the first one */
		f->initial = f->new_files_only ? time - env->batch_ms : 0;
		f->started = true;
	}
	int64_t thr = time - remember_ms(f);
	if (thr < f->initial)
		thr = f->initial;
	batch bt = {.f = f, .time = time, .ncut = 1, .capcut = 16};
	cand *c = NULL;
	size_t nc = 0;
	DIR *d = NULL;
	int rc = -ENOMEM;
	if (!(bt.cut = malloc(bt.capcut * sizeof *bt.cut)))
		goto out;
	bt.cut[0] = 0;
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && !(d = fdopendir(dfd))) {
		int e = errno;
		close(dfd);
		errno = e;
	}
	rc = d ? select_files(f, d, time, thr, &c, &nc) : -errno;
	if (rc && rc != -ENOMEM) {
		/* Spark logs a listing failure and makes the batch empty */
		f->errors++;
		sl_log(env, SL_LOG_ERROR,
		       "textFileStream '%s': batch %lld: cannot list directory: %s", f->dir,
		       (long long)time, strerror(-rc));
		rc = 0;
	}
	for (size_t i = 0; !rc && i < nc; i++)
		rc = read_file(&bt, dirfd(d), &c[i]);
	if (d)
		closedir(d);
	if (!rc && !(*out = make_rdd(&bt)))
		rc = -ENOMEM;
	if (!rc && (rc = remember(f, c, nc, time))) {
		sl_rdd_unref(*out);
		*out = NULL;
	}
out:
	if (!rc)
		forget(f, time);
	free_cands(c, nc);
	while (bt.npart)
		sl_col_unref(bt.part[--bt.npart]);
	free(bt.part);
	sl_col_unref(bt.small);
	free(bt.cut);
	if (rc)
		return sl_error_set(err, rc, "textFileStream '%s': batch %lld: out of memory",
				    f->dir, (long long)time);
	return 0;
}

static void fs_free(sl_source *s)
{
	fs_src *f = (fs_src *)s;
	if (!f)
		return;
	for (size_t i = 0; i < f->nseen; i++)
		free(f->seen[i].name);
	free(f->seen);
	free(f->dir);
	free(f);
}

static const sl_source_ops fs_ops = {
    .name = "textFileStream",
    .start = fs_start,
    .next = fs_next,
    .free = fs_free,
};

/* Contract: see filestream.h. */
sl_source *sl_filestream_source_new(sl_env *env, const char *dir, int new_files_only,
				    int64_t min_remember_ms, sluice_error *err)
{
	if (!env || !dir) {
		sl_error_set(err, -EINVAL, "textFileStream: missing %s",
			     env ? "directory" : "environment");
		return NULL;
	}
	if (min_remember_ms < 0) {
		sl_error_set(err, -EINVAL,
			     "textFileStream '%s': minRememberDuration must be >= 0 ms, got %lld",
			     dir, (long long)min_remember_ms);
		return NULL;
	}
	DIR *d = opendir(dir);
	if (!d) {
		sl_error_set(err, -errno, "textFileStream: cannot open directory '%s': %s", dir,
			     strerror(errno));
		return NULL;
	}
	closedir(d);
	fs_src *f = calloc(1, sizeof *f);
	if (!f || !(f->dir = strdup(dir))) {
		free(f);
		sl_error_set(err, -ENOMEM, "textFileStream '%s': out of memory", dir);
		return NULL;
	}
	f->base.ops = &fs_ops;
	f->base.type = &sl_type_str;
	f->base.env = env;
	f->base.bounded = 0;
	size_t dl = strlen(dir);
	f->sep = dl && dir[dl - 1] == '/' ? "" : "/";
	f->new_files_only = new_files_only != 0;
	f->min_remember = min_remember_ms ? min_remember_ms : SL_FILESTREAM_MIN_REMEMBER_MS;
	return &f->base;
}

/* Contract: see filestream.h. */
uint64_t sl_filestream_errors(const sl_source *s)
{
	if (!s || s->ops != &fs_ops)
		return 0;
	return ((const fs_src *)s)->errors;
}
