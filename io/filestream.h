/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filestream.h - textFileStream(dir): Spark's FileInputDStream over text files.
 *
 * An unbounded String source that watches one directory and turns the files that appear
 * in it into batches. Spark's selection rules (spark-semantics.md §11), with B the batch
 * interval and t the batch time (all ms):
 *
 *   D           = B * ceil(minRemember / B)            the remember window
 *   initial     = zero_time (start()'s argument) if newFilesOnly, else 0
 *   threshold_t = max(initial, t - D)
 *
 *   a directory entry is selected for batch t iff
 *     its name does not start with '.',
 *     it is a regular file (symlinks followed),
 *     threshold_t < mtime <= t            (mtime in ms, truncated like Java's lastModified),
 *     its name was not selected by a batch at time >= t - B - D (the remembered batches;
 *     Spark's clearMetadata forgets a batch once it is older than D at the end of the
 *     next one).
 */
#ifndef SL_FILESTREAM_H
#define SL_FILESTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "../core/source.h"

/* Spark's spark.streaming.fileStream.minRememberDuration default (60 s). */
#define SL_FILESTREAM_MIN_REMEMBER_MS 60000
/* A file bigger than this is cut into partitions of about this many bytes. */
#define SL_FILESTREAM_BLOCK ((size_t)4 << 20)

/*
 * sl_filestream_source_new - textFileStream(dir[, newFilesOnly]).
 *   dir: the directory to watch (not recursive; subdirectories and other non-regular
 *   entries are ignored). new_files_only: Spark's newFilesOnly (1 by default): nonzero
 *   ignores files whose mtime is <= the zero_time given to start(); 0 also reads the
 *   files already there whose mtime lies in the remember window. min_remember_ms: Spark's
 *   minRememberDuration, 60000 when 0.
 *
 *   Batch t (next(s, t, ...)) reads the selected files in name order (strcmp) and
 *   returns all their lines as one rdd: Java readLine framing ("\n", "\r\n" or "\r" end
 *   a line; bytes after the last terminator are a line; a line never spans files), one
 *   partition per file, a file bigger than SL_FILESTREAM_BLOCK cut into partitions of
 *   about that size on line boundaries. Empty files add no partition (a warning is
 *   logged, as Spark does); a batch without lines is an empty rdd (one partition, zero
 *   rows), never NULL. next() never returns SL_SOURCE_END (bounded = 0).
 *
 *   A selected file that cannot be read (open or read fails, a dangling symlink, a file
 *   that stopped being regular) is skipped: its lines are dropped, an SL_LOG_ERROR
 *   message naming the file and the cause goes to env->log, the error counter grows
 *   (sl_filestream_errors) and the batch goes on. The file counts as selected, so it is
 *   not retried. A directory that cannot be listed at batch time (removed, renamed)
 *   gives an empty batch, one logged error and one count.
 *
 *   Returns the source (the caller frees it with s->ops->free(s)), or NULL with err
 *   filled: -EINVAL for a NULL argument or min_remember_ms < 0; -ENOENT, -ENOTDIR,
 *   -EACCES ... "textFileStream: cannot open directory '<dir>': <strerror>"; -ENOMEM.
 *   next() fails a batch only on -ENOMEM (err names the directory and the batch time);
 *   the files of a failed batch are not marked selected, so the next batch retries them.
 *
 *   Ownership: dir is copied; env is borrowed and must outlive the source.
 *   Threads: the driver calls start/next/free from one thread at a time.
 */
sl_source *sl_filestream_source_new(sl_env *env, const char *dir, int new_files_only,
				    int64_t min_remember_ms, sluice_error *err);

/*
 * sl_filestream_errors - how many selected files were skipped because they could not be
 *   read, plus directory listings that failed, since s was created.
 *   Returns the count, or 0 when s is NULL or not a textFileStream source.
 *   Threads: read it from the thread that drives s.
 */
uint64_t sl_filestream_errors(const sl_source *s);

#endif
