/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io.h - built-in input sources and the text file sink.
 *
 * Every constructor returns a source the caller owns (free it with s->ops->free(s)),
 * or NULL with err filled: err->code is a negative errno, err->msg names what and
 * where ("<path>:<line>:<col>: ..." for positions inside a file), err->line/col are 0
 * and err->context is "" (they are positions in the pipeline text, which only the
 * caller knows). Nothing here prints; logging goes through env->log.
 *
 * The sources keep a pointer to env: it must outlive them. env->mem allocates the
 * columns; env->types holds compound element types.
 */
#ifndef SL_IO_H
#define SL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "../core/source.h"

/*
 * queueStream("file.jsonl") - Spark's queueStream(queue, oneAtATime = true).
 * Each line of the file is one batch: a JSON array of records, `null` (no RDD for that
 * batch) or blank (an empty batch). Records: string -> String, integer -> Long, other
 * number -> Double, true/false -> Boolean, array of 2..22 values -> tuple (nested
 * arrays nest). The stream type is that of the first record (String if the file has
 * none); Long and Double at the same position unify to Double. The whole file is read
 * and checked here. The (k+1)-th next() serves line k; the call that serves the last
 * line returns SL_SOURCE_END, and every later call returns SL_SOURCE_END with an empty
 * rdd (1 partition, 0 rows).
 * nparts > 0: each batch split into nparts contiguous, as-even-as-possible partitions;
 * 0: max(1, batch_ms / block_ms) of them; < 0: 1 to 8 partitions of random sizes (some
 * possibly empty) drawn from seed and the line number (deterministic).
 * Errors: -ENOENT etc. "cannot open '<path>': <strerror>"; -EINVAL
 * "<path>:<line>:<col>: <what>" for malformed JSON, bad records and type mismatches.
 */
sl_source *sl_queue_source_new(sl_env *env, const char *path, int nparts, uint64_t seed,
			       sluice_error *err);

/*
 * textFile("path") - a bounded String source: the run is a batch job.
 * path is a regular file or a directory (its regular files whose names do not start
 * with '.' or '_', by name, not recursive). Lines end at "\n", "\r\n" or "\r" (Java's
 * readLine); a last line without terminator counts, an empty file has no lines, and a
 * line never spans two files. The first next() returns every line as one rdd whose
 * partitions hold about block_bytes (default 4 MiB when 0) each, packed across file
 * boundaries; a line never spans partitions (a longer line gets a partition of its
 * own). It returns SL_SOURCE_END; later calls return SL_SOURCE_END and no rdd (NULL).
 * Files are listed and opened here (errors name the path and strerror); they are read
 * by next().
 */
sl_source *sl_textfile_source_new(sl_env *env, const char *path, size_t block_bytes,
				  sluice_error *err);

/*
 * generator(kind, rate, keys, seed) - synthetic unbounded load.
 * kind: "lines" (String: words_per_line words (8 when 0) separated by single spaces),
 * "words" (String), "kv" ((String, Long): a word and a value in 1..100), "numbers"
 * (Long in [0, keys)). rate: records per second (> 0). keys: vocabulary size (1000
 * when 0; >= 1): distinct pronounceable lowercase pseudo-words, word i the same in
 * every run. The batch at time t holds floor(rate*(t-zero)/1000) -
 * floor(rate*(t-B-zero)/1000) records (B = batch_ms, zero = the start() time, or
 * t - B at the first next() without start()), so the long-run rate is exact and a
 * batch is the same whenever it is recomputed; they are split into
 * max(1, batch_ms / block_ms) partitions generated in parallel on env->workers (if
 * set), each from a PRNG seeded by (seed, t, partition). Never ends.
 * Errors: -EINVAL naming the bad argument (an unknown kind lists the valid ones).
 */
sl_source *sl_generator_source_new(sl_env *env, const char *kind, int64_t rate, int64_t keys,
				   int64_t words_per_line, uint64_t seed, sluice_error *err);

/*
 * saveAsTextFiles(prefix, suffix) for one batch: writes directory
 * [prefix "-"] time ["." suffix] (Spark's rddToFileName; prefix may contain
 * directories, missing parents are created) holding part-00000 ... (one per partition,
 * empty ones too; each row as sl_fmt_row plus "\n") and an empty _SUCCESS. The
 * directory appears atomically: it is built as a hidden sibling
 * ".<name>.tmp-<pid>-<n>" with every file fsync'ed, then renamed into place; an
 * existing directory of that name is replaced (renamed to ".<name>.trash-<pid>-<n>",
 * then removed), anything else of that name (a file, a symbolic link) is left alone and
 * is an error (-EEXIST). r NULL ("no RDD") writes nothing and returns 0, as Spark's
 * foreachRDD is not called then. On error returns
 * -errno with err naming the path and strerror, and leaves no temporary directory.
 */
int sl_save_text_files(sl_env *env, const sl_rdd *r, const char *prefix, const char *suffix,
		       int64_t time_ms, sluice_error *err);

#endif
