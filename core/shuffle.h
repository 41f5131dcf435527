/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shuffle.h - keyed per-batch operators: hash-partition rows by key across output
 * partitions, then group each output partition with a key dictionary.
 *
 *   input partitions          phase 1 (one task per input partition)
 *   p0 [k v k v ...]  ──hash──>  rows bucketed by hash -> output partition
 *   p1 [...]                  phase 2 (one task per output partition)
 *                                dictionary: key -> dense id, in arrival order
 *                                aggregate into dense arrays (sum/min/max/count kernels)
 *                                or group rows by id (groupByKey, general reduce, joins)
 *
 * Keys land in output partition ((hash >> 32) * nout) >> 32; within a partition keys appear in
 * the order they first arrive (input partitions in order), so the result does not
 * depend on how the input was cut into blocks, only on nout.
 */
#ifndef SL_SHUFFLE_H
#define SL_SHUFFLE_H

#include "env.h"
#include "expr.h"
#include "rdd.h"

enum sl_keyed { SL_KEYED_REDUCE, SL_KEYED_GROUP, SL_KEYED_COUNT_VALUE };
enum sl_join { SL_JOIN_INNER, SL_JOIN_LEFT, SL_JOIN_RIGHT, SL_JOIN_FULL, SL_JOIN_COGROUP };

/* reduceByKey(fn) / groupByKey / countByValue over `in`; out has nout partitions of
 * out_type. 0, -ENOMEM, or -EINVAL with err set (a reduce function that failed).
 * keys_hint (NULL: none) is the operator's memory of its last batch with rows: the most
 * distinct keys one input partition had, read to size the map-side combine's key tables (up
 * to the partition's rows) so a steady stream does not grow them from scratch every batch,
 * and written back. Only the combining path (built-in numeric reducers, countByValue) uses
 * it. */
int sl_shuffle_keyed(sl_env *env, const sl_rdd *in, int mode, const sl_lambda *fn, int nout,
		     const sl_type *out_type, size_t *keys_hint, sl_rdd **out, sluice_error *err);
/* Joins and cogroup of two pair rdds with equal key types. */
int sl_shuffle_join(sl_env *env, const sl_rdd *a, const sl_rdd *b, int mode, int nout,
		    const sl_type *out_type, sl_rdd **out, sluice_error *err);
/* Reduce all rows of `in` with fn into one row (reduce()); *out holds 1 or 0 rows. With
 * where (a filter(x OP c) fused into the reduction: dstream.c sets it only for the built-in
 * numeric reducers), only the rows it keeps. */
int sl_reduce_all(sl_env *env, const sl_rdd *in, const sl_cmp_shape *where, const sl_lambda *fn,
		  sl_rdd **out, sluice_error *err);
/* How many rows of `in` a filter(x OP c) keeps (count() fused after it), or -ENOMEM. */
int64_t sl_filter_count(sl_env *env, const sl_rdd *in, const sl_cmp_shape *where);
/* Pairwise reduction of each group: vals rows [goff[g], goff[g+1]) reduce to one row g
 * of *out. Groups must be non-empty. Vectorized: log2(max group) evaluations of fn. */
int sl_reduce_groups(sl_mem *m, const sl_lambda *fn, sl_col *vals, const uint32_t *goff,
		     size_t ngroups, sl_col **out, sluice_error *err);

#endif
