/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dstream.h - the DStream graph: streams, their operators, output operations.
 *
 * Every stream has a static element type (checked when it is built) and a slide (the
 * batch interval for per-batch operators; windows, in a later module, have their own).
 * compute(t) returns the stream's rdd for batch time t, memoized for the batch so a
 * stream with several consumers is computed once (Spark's generatedRDDs); NULL means
 * "no RDD at this time" and propagates through per-batch operators.
 *
 * Invariants: streams are only added before start; parents are created before children,
 * so ds[] is in topological order; outputs run in registration order (Spark's
 * concurrentJobs = 1).
 */
#ifndef SL_DSTREAM_H
#define SL_DSTREAM_H

#include <stdatomic.h>

#include "env.h"
#include "expr.h"
#include "rdd.h"
#include "source.h"

enum sl_ds_kind {
	SL_DS_SOURCE,
	SL_DS_MAP,
	SL_DS_FLATMAP,
	SL_DS_FILTER,
	SL_DS_MAPVALUES,
	SL_DS_FLATMAPVALUES,
	SL_DS_UNION,
	SL_DS_TRANSFORM,
	SL_DS_COUNT,
	SL_DS_REDUCE,
	SL_DS_COUNTBYVALUE,
	SL_DS_REDUCEBYKEY,
	SL_DS_GROUPBYKEY,
	SL_DS_JOIN,
	SL_DS_COGROUP,
	SL_DS_REPARTITION,
	SL_DS_WINDOW,   /* window(W, S) (window.c) */
	SL_DS_KWINDOW,  /* the keyed and reducing windows (window.c) */
	SL_DS_STATE,    /* updateStateByKey (state.c) */
	SL_DS_MAPSTATE, /* mapWithState (state.c) */
	SL_DS_SNAPSHOT, /* mapWithState(...).stateSnapshots() (state.c) */
};

enum sl_out_kind { SL_OUT_PRINT, SL_OUT_SAVE_TEXT, SL_OUT_FOREACH };

/* transform: C code over a whole batch. *out may be the input (take a reference). */
typedef int (*sl_transform_fn)(void *arg, int64_t time, sl_rdd *in, sl_rdd **out,
			       sluice_error *err);
typedef int (*sl_foreach_fn)(void *arg, int64_t time, const sl_rdd *rdd, sluice_error *err);

typedef struct sl_graph sl_graph;
typedef struct sl_dstream sl_dstream;

struct sl_dstream {
	sl_graph *g;
	int id;
	int kind, sub;
	const sl_type *type;
	int64_t slide;
	sl_dstream *parent[2];
	int nparent;
	int depth; /* 1 + the deepest parent's (set at start: computing recurses that deep) */
	sl_lambda fn;
	int has_fn;
	sl_cmp_shape cmp; /* filter: a shape the filter kernel runs (has_cmp) */
	int has_cmp;
	/* reduceByKey(_ + _) whose parent is map(x => (x, c)), c a Long constant (word count):
	 * it counts the values of fuse_src (the map's parent) and multiplies by fuse_scale, so
	 * the map's (x, c) column is never built (the map still runs for its other consumers).
	 * For map(x => (f(x), c)) (fuse_map) fuse_src is a hidden map x => f(x) of the map's
	 * parent, placed just before this stream in the graph; sl_graph_unfuse_shared drops
	 * that fusion at start when something else reads the map (f would run twice), and
	 * points fused readers of one map at one hidden map. */
	sl_dstream *fuse_src;
	int64_t fuse_scale;
	int fuse_map;
	int nparts;       /* output partitions of shuffles; 0 = one per worker */
	size_t keys_hint; /* keyed shuffles: their last batch's keys per partition (shuffle.h) */
	sl_source *src;
	sl_transform_fn tfn;
	void *targ;
	int line, col;      /* where it was defined in the pipeline text (0 = API) */
	const char *opname; /* Spark's name of the operator */
	int64_t window;     /* window streams: W (slide holds S) */
	void *priv;         /* window/state operators: their retained state */
	/* per batch */
	int64_t memo_time;
	sl_rdd *memo;
	int memo_state; /* 0 none, 1 computed (memo may be NULL = no RDD), -1 failed */
	int source_ended;
	int used; /* reachable from an output operation (set at start) */
	/* metrics */
	_Atomic uint64_t skipped; /* records dropped because the function failed on them
				   * (the driver adds; stats read from any thread) */
	uint64_t records;         /* records produced */
};

typedef struct sl_output {
	int kind;
	sl_dstream *s;
	long num;
	char *prefix, *suffix;
	sl_foreach_fn fn;
	void *arg;
} sl_output;

struct sl_graph {
	sl_env *env;
	sl_dstream **ds;
	int nds, capds;
	sl_output *out;
	int nout, capout;
	int64_t zero_time;
};

int sl_graph_init(sl_graph *g, sl_env *env);
void sl_graph_fini(sl_graph *g);

/* Constructors: return the new stream (owned by the graph) or NULL with err set. */
sl_dstream *sl_ds_source(sl_graph *g, sl_source *src, sluice_error *err); /* takes src */
/* map/flatMap/filter/mapValues/flatMapValues/reduceByKey/reduce with a lambda AST. */
sl_dstream *sl_ds_unary_fn(sl_dstream *p, int kind, const sl_ast *fn, int nparts,
			   sluice_error *err);
/* count/countByValue/groupByKey/repartition. */
sl_dstream *sl_ds_unary(sl_dstream *p, int kind, int nparts, sluice_error *err);
/* union / join (sub = SL_JOIN_*) / cogroup. */
sl_dstream *sl_ds_binary(sl_dstream *a, sl_dstream *b, int kind, int sub, int nparts,
			 sluice_error *err);
sl_dstream *sl_ds_transform(sl_dstream *p, const sl_type *out_type, sl_transform_fn fn, void *arg,
			    sluice_error *err);
int sl_graph_add_output(sl_graph *g, const sl_output *o, sluice_error *err);

/* At start, after `used` is set: keep the hidden key maps (fuse_map) only where every
 * reader of the user's map is such a reduceByKey, and then they share the first one's
 * hidden map (f runs once a batch); else they sum the map's pairs. 0 or -ENOMEM. */
int sl_graph_unfuse_shared(sl_graph *g);
/* The rdd of stream d at batch time t (memoized; *out is a new reference or NULL). */
int sl_ds_compute(sl_dstream *d, int64_t t, sl_rdd **out, sluice_error *err);
/* Before a batch's outputs run: the window and state operators absorb batch t of their
 * parents (and compute themselves at their valid times), every batch, in graph order,
 * whether an output reads them at t or not. */
int sl_graph_advance(sl_graph *g, int64_t t, sluice_error *err);
/* Drop every memo (end of batch). */
void sl_graph_clear_memo(sl_graph *g);

#endif
