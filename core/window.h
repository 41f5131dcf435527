/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.h - window operators: window, countByWindow, reduceByWindow,
 * reduceByKeyAndWindow (naive and with an inverse), countByValueAndWindow,
 * groupByKeyAndWindow (spark-semantics.md §2, §3).
 *
 * Every batch of the parent (its valid times) is absorbed when it is generated, valid for the
 * window or not (sl_ds_advance): window() keeps the parent's rdds for W; the keyed forms
 * reduce the batch per key at once (the per-batch shuffle with its kernels) into a "pane".
 *
 *   pane (per output partition)   ids: window key ids, ascending   v: one value per id
 *   window key dictionary         key -> dense id, in first-seen order (the output order)
 *
 * Panes are combined by merging their sorted id lists; a key in both gets f(a, b) (one
 * vectorized evaluation per merge, or a typed loop for the built-in sum/min/max and the
 * inverse `_ - _`). At a valid time t:
 *   - with an inverse function (Spark's ReducedWindowedDStream): the previous window's
 *     result, minus (invF) the panes that left, plus (f) the panes that entered, then
 *     filterFunc: the cost is the data that moved, whatever W is;
 *   - without one: a two-stack queue of panes (each pane merged O(1) times amortised, one
 *     merge per query), so min, max, concatenation and any f cost O(1) merges per slide.
 * Keys that no retained pane or result holds any more are dropped from the dictionary
 * when it has grown to twice the live keys (ids are renumbered in order, so sorted lists
 * stay sorted): memory follows the live keys, not every key ever seen.
 */
#ifndef SL_WINDOW_H
#define SL_WINDOW_H

#include "dstream.h"
#include "state.h"

/* How the keyed window forms get their (key, value) pairs per batch. */
enum sl_win_mode {
	SL_WIN_PAIRS, /* (K, V) stream: reduceByKeyAndWindow */
	SL_WIN_VALUE, /* key = element, value = count: countByValueAndWindow */
	SL_WIN_GROUP, /* (K, V) -> (K, CompactBuffer[V]): groupByKeyAndWindow */
	SL_WIN_CONST, /* one key for the whole stream: reduceByWindow, countByWindow */
};

typedef struct sl_win_spec {
	int mode;
	const sl_ast *f;      /* reduce function (NULL: count) */
	const sl_ast *inv;    /* inverse function (NULL: naive form) */
	const sl_ast *filter; /* filterFunc on (K, V) (inverse form only) */
	int drop_zero;        /* countByValueAndWindow: drop keys whose count is 0 */
	int64_t W, S;         /* window and slide, ms; S = 0: the parent's slide */
	int nparts;           /* output partitions (0: one per worker) */
	const char *opname;
} sl_win_spec;

/* window(W, S): the union of the parent's rdds in (t - W, t]. */
sl_dstream *sl_ds_window(sl_dstream *p, int64_t W, int64_t S, sluice_error *err);
/* The keyed and reducing forms. */
sl_dstream *sl_ds_keyed_window(sl_dstream *p, const sl_win_spec *spec, sluice_error *err);

/* Called for every batch time t (valid for the parent or not), parents first. */
int sl_window_absorb(sl_dstream *d, int64_t t, sluice_error *err);
/* The window's rdd at a valid time t. */
int sl_window_compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err);
void sl_window_free(sl_dstream *d);
/* The retained state (sl_ds_visit_state in state.h). */
int sl_window_visit(sl_dstream *d, sl_state_visit_fn fn, void *arg);

#endif
