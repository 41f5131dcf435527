/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.h - stateful operators: updateStateByKey and mapWithState (spark-semantics.md §6).
 *
 * State lives per output partition (the per-batch shuffle puts a key in the same partition
 * every batch) in dense arrays indexed by a state id from a key dictionary:
 *
 *   dict.keys[sid]   the key             present[sid]  the key has a state
 *   vals row sid     the state value     upd[sid]      time of its last update (mapWithState)
 *
 * updateStateByKey calls its function for every key every batch (Spark's rule), so it
 * evaluates the function once per batch over all keys as columns and keeps the survivors:
 * keys whose function returned None are gone, and the dictionary is rebuilt from the
 * survivors, so memory follows the live keys.
 *
 * mapWithState calls its function once per record, in order per key. Records are grouped
 * by key, then evaluated in rounds: round r holds the r-th record of every key that has
 * one, so each round is one vectorized evaluation that sees the state the previous round
 * left. The function's body may hold statements (`state.update(e)`, `state.remove()`,
 * `if (c) ...`, `val`s); the builder turns them into one pure expression that returns the
 * new state, its flags and the mapped value (see state.c). Timed-out keys are found in
 * the batches whose state Spark would checkpoint (every 10 batches by default; opt in to
 * every batch with `.timeoutEveryBatch()`).
 */
#ifndef SL_STATE_H
#define SL_STATE_H

#include "dstream.h"

typedef struct sl_state_spec {
	const sl_ast *f;       /* the function */
	const sl_ast *initial; /* initial state: a constant Seq of (K, S) pairs, or NULL */
	int64_t timeout;       /* mapWithState: idle duration (ms), 0 = none */
	int every_batch;       /* mapWithState: look for timeouts every batch (sluice opt-in) */
	int nparts;
	int line, col; /* where the operator was written, for errors at run time */
} sl_state_spec;

sl_dstream *sl_ds_update_state(sl_dstream *p, const sl_state_spec *s, sluice_error *err);
sl_dstream *sl_ds_map_with_state(sl_dstream *p, const sl_state_spec *s, sluice_error *err);
/* stateSnapshots() of a mapWithState stream: every (key, state) after each batch. */
sl_dstream *sl_ds_state_snapshots(sl_dstream *m, sluice_error *err);
/* checkpoint(d) on a state stream: the interval of its (timeout) full scans. */
int sl_ds_set_checkpoint(sl_dstream *d, int64_t interval, sluice_error *err);

int sl_state_compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err);
void sl_state_free(sl_dstream *d);

/*
 * The interface a checkpoint serializes (and the tests read): every piece of retained
 * operator state of stream d, one call per (kind, partition). keys/vals are columns of n
 * rows (vals NULL for none), times n update times or NULL. kind is "pane" (a window's
 * per-batch partial aggregate at `time`), "window" (the previous window result of an
 * inverse reduce), "state" (updateStateByKey / mapWithState). Returns the first non-zero
 * return of fn, or 0.
 */
typedef int (*sl_state_visit_fn)(void *arg, const char *kind, int part, int64_t time,
				 const sl_col *keys, const sl_col *vals, const int64_t *times,
				 size_t n);
int sl_ds_visit_state(sl_dstream *d, sl_state_visit_fn fn, void *arg);

#endif
