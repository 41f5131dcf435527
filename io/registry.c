/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - the sources the pipeline language can name, with their arguments.
 *
 * Arguments are positional in the order of each `params` list or named (`rate = 1000`);
 * each entry checks kinds and names and reports the argument's position on error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../core/parse.h"
#include "filestream.h"
#include "io.h"
#include "socket.h"

struct param {
	const char *name;
	int kind; /* SL_ARG_STR or SL_ARG_INT */
	int required;
};

/* Match args against params; out[i] = the arg for param i or NULL. */
static int bind1(const char *fn, const struct param *ps, int np, const sl_arg *args, int nargs,
		 const sl_arg **out, sluice_error *err);

/* Bind, and on error say how the call should look. */
static int bind(const char *fn, const struct param *ps, int np, const sl_arg *args, int nargs,
		const sl_arg **out, sluice_error *err, const char *usage)
{
	int rc = bind1(fn, ps, np, args, nargs, out, err);
	size_t l = strlen(err->msg);
	if (rc && l + strlen(usage) + 12 < sizeof(err->msg))
		snprintf(err->msg + l, sizeof(err->msg) - l, " (usage: %s)", usage);
	return rc;
}

static int bind1(const char *fn, const struct param *ps, int np, const sl_arg *args, int nargs,
		 const sl_arg **out, sluice_error *err)
{
	for (int i = 0; i < np; i++)
		out[i] = NULL;
	int pos = 0;
	for (int a = 0; a < nargs; a++) {
		int k = -1;
		if (args[a].name) {
			for (int i = 0; i < np; i++)
				if (!strcmp(ps[i].name, args[a].name))
					k = i;
			if (k < 0) {
				sl_error_set(err, -EINVAL, "%s has no parameter named '%s'", fn,
					     args[a].name);
				goto at;
			}
		} else {
			k = pos++;
			if (k >= np) {
				sl_error_set(err, -EINVAL, "%s takes at most %d argument(s)", fn,
					     np);
				goto at;
			}
		}
		if (out[k]) {
			sl_error_set(err, -EINVAL, "%s: parameter '%s' given twice", fn,
				     ps[k].name);
			goto at;
		}
		int ak = args[a].kind, want = ps[k].kind;
		int ok = ak == want || (want == SL_ARG_DURATION && ak == SL_ARG_INT);
		if (!ok) {
			static const char *what[] = {[SL_ARG_STR] = "a string",
						     [SL_ARG_INT] = "an integer",
						     [SL_ARG_DURATION] =
							 "a duration (e.g. 2s, 500ms)",
						     [SL_ARG_BOOL] = "true or false",
						     [SL_ARG_FLOAT] = "a number"};
			sl_error_set(err, -EINVAL, "%s: parameter '%s' must be %s", fn, ps[k].name,
				     what[want]);
			goto at;
		}
		out[k] = &args[a];
		continue;
	at:
		err->line = args[a].line;
		err->col = args[a].col;
		return -EINVAL;
	}
	for (int i = 0; i < np; i++)
		if (ps[i].required && !out[i]) {
			sl_error_set(err, -EINVAL, "%s needs the parameter '%s'", fn, ps[i].name);
			return -EINVAL;
		}
	return 0;
}

#define I(a, dflt) ((a) ? (a)->i : (dflt))

static sl_source *make_queue(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const struct param ps[] = {
	    {"path", SL_ARG_STR, 1}, {"partitions", SL_ARG_INT, 0}, {"seed", SL_ARG_INT, 0}};
	const sl_arg *a[3];
	if (bind("queueStream", ps, 3, args, nargs, a, err, sl_source_defs[0].usage))
		return NULL;
	if (a[1] && (a[1]->i > (1 << 20) || a[1]->i < -(1 << 20))) {
		sl_error_set(err, -EINVAL,
			     "queueStream: partitions must be in -1048576..1048576, got %lld",
			     (long long)a[1]->i);
		return NULL;
	}
	return sl_queue_source_new(env, a[0]->s, (int)I(a[1], 0), (uint64_t)I(a[2], 1), err);
}

static sl_source *make_textfile(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const struct param ps[] = {{"path", SL_ARG_STR, 1}, {"blockBytes", SL_ARG_INT, 0}};
	const sl_arg *a[2];
	if (bind("textFile", ps, 2, args, nargs, a, err, sl_source_defs[1].usage))
		return NULL;
	if (a[1] && a[1]->i < 1) {
		sl_error_set(err, -EINVAL, "textFile: blockBytes must be >= 1");
		return NULL;
	}
	return sl_textfile_source_new(env, a[0]->s, (size_t)I(a[1], 0), err);
}

static sl_source *make_generator(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const struct param ps[] = {{"kind", SL_ARG_STR, 1},
					  {"rate", SL_ARG_INT, 0},
					  {"keys", SL_ARG_INT, 0},
					  {"words", SL_ARG_INT, 0},
					  {"seed", SL_ARG_INT, 0}};
	const sl_arg *a[5];
	if (bind("generator", ps, 5, args, nargs, a, err, sl_source_defs[2].usage))
		return NULL;
	/* 0 means "the default" to sl_generator_source_new: refuse it when written */
	if ((a[2] && a[2]->i < 1) || (a[3] && a[3]->i < 1)) {
		sl_error_set(err, -EINVAL, "generator: %s must be >= 1, got %lld",
			     a[2] && a[2]->i < 1 ? "keys" : "words",
			     (long long)(a[2] && a[2]->i < 1 ? a[2]->i : a[3]->i));
		return NULL;
	}
	return sl_generator_source_new(env, a[0]->s, I(a[1], 100000), I(a[2], 0), I(a[3], 0),
				       (uint64_t)I(a[4], 42), err);
}

/* Receiver options shared by the socket sources: maxRecord (bytes), maxRate (records/s). */
static sl_source *as_sources(sl_env *env, sl_receiver **rs, int n, const sl_arg *max_rate,
			     sluice_error *err)
{
	sl_receiver *r = rs[0];
	if (max_rate) {
		if (max_rate->i < 1) {
			for (int i = 0; i < n; i++)
				rs[i]->ops->free(rs[i]);
			sl_error_set(err, -EINVAL, "maxRate must be >= 1 records/s");
			return NULL;
		}
		/* relaxed: before the io thread exists; the source reads it as this stream's cap */
		atomic_store_explicit(&r->rate_limit, max_rate->i, memory_order_relaxed);
	}
	return sl_receivers_source_new(env, rs, n, err);
}

static sl_source *as_source(sl_env *env, sl_receiver *r, const sl_arg *max_rate, sluice_error *err)
{
	return r ? as_sources(env, &r, 1, max_rate, err) : NULL;
}

static int max_record_of(const sl_arg *a, size_t *out, sluice_error *err)
{
	*out = 0;
	if (!a)
		return 0;
	if (a->i < 1) {
		sl_error_set(err, -EINVAL, "maxRecord must be >= 1 byte");
		return -EINVAL;
	}
	*out = (size_t)a->i;
	return 0;
}

static sl_source *make_socket_text(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const struct param ps[] = {{"host", SL_ARG_STR, 1},
					  {"port", SL_ARG_INT, 1},
					  {"restartDelay", SL_ARG_DURATION, 0},
					  {"maxRecord", SL_ARG_INT, 0},
					  {"maxRate", SL_ARG_INT, 0}};
	const sl_arg *a[5];
	size_t maxrec;
	if (bind("socketTextStream", ps, 5, args, nargs, a, err, sl_source_defs[3].usage) ||
	    max_record_of(a[3], &maxrec, err))
		return NULL;
	if (a[1]->i < 1 || a[1]->i > 65535) {
		sl_error_set(err, -EINVAL, "socketTextStream: port %lld is not in 1..65535",
			     (long long)a[1]->i);
		return NULL;
	}
	if (a[2] && (a[2]->i < 0 || a[2]->i > 86400000)) {
		sl_error_set(err, -EINVAL,
			     "socketTextStream: restartDelay must be from 0 to 24h, got %lld ms",
			     (long long)a[2]->i);
		return NULL;
	}
	sl_receiver *r = sl_socket_text_stream_new(
	    env, a[0]->s, (int)a[1]->i, a[2] ? a[2]->i : SL_SOCKET_RESTART_DELAY_MS, maxrec, err);
	return as_source(env, r, a[4], err);
}

static sl_source *make_socket_server(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const struct param ps[] = {{"address", SL_ARG_STR, 1},
					  {"maxRecord", SL_ARG_INT, 0},
					  {"maxRate", SL_ARG_INT, 0},
					  {"ioThreads", SL_ARG_INT, 0}};
	const sl_arg *a[4];
	size_t maxrec;
	if (bind("socketServerStream", ps, 4, args, nargs, a, err, sl_source_defs[4].usage) ||
	    max_record_of(a[1], &maxrec, err))
		return NULL;
	int64_t nio = a[3] ? a[3]->i : 1;
	if (nio < 1 || nio > SL_SOCKET_IO_THREADS_MAX) {
		sl_error_set(err, -EINVAL,
			     "socketServerStream: ioThreads must be in 1..%d (got %lld)",
			     SL_SOCKET_IO_THREADS_MAX, (long long)nio);
		return NULL;
	}
	sl_receiver *rs[SL_SOCKET_IO_THREADS_MAX];
	rs[0] = sl_socket_server_stream_new(env, a[0]->s, maxrec, err);
	if (!rs[0])
		return NULL;
	if (sl_socket_server_io_threads(rs[0], (int)nio, rs, err)) {
		rs[0]->ops->free(rs[0]);
		return NULL;
	}
	return as_sources(env, rs, (int)nio, a[2], err);
}

static sl_source *make_filestream(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const struct param ps[] = {{"directory", SL_ARG_STR, 1},
					  {"newFilesOnly", SL_ARG_BOOL, 0},
					  {"minRememberDuration", SL_ARG_DURATION, 0}};
	const sl_arg *a[3];
	if (bind("textFileStream", ps, 3, args, nargs, a, err, sl_source_defs[5].usage))
		return NULL;
	if (a[2] && a[2]->i < 1) {
		sl_error_set(err, -EINVAL, "textFileStream: minRememberDuration must be > 0");
		return NULL;
	}
	return sl_filestream_source_new(env, a[0]->s, a[1] ? (int)a[1]->i : 1, a[2] ? a[2]->i : 0,
					err);
}

const sl_source_def sl_source_defs[] = {
    {"queueStream", make_queue, "queueStream(\"batches.jsonl\"[, partitions = N][, seed = S])"},
    {"textFile", make_textfile, "textFile(\"path\"[, blockBytes = N])"},
    {"generator", make_generator,
     "generator(\"lines\"|\"words\"|\"kv\"|\"numbers\"[, rate = R][, keys = K][, words = W][, seed "
     "= S])"},
    {"socketTextStream", make_socket_text,
     "socketTextStream(\"host\", port[, restartDelay = 2s][, maxRecord = bytes][, maxRate = N])"},
    {"socketServerStream", make_socket_server,
     "socketServerStream(\"[host]:port\"[, maxRecord = bytes][, maxRate = N][, ioThreads = N])"},
    {"textFileStream", make_filestream,
     "textFileStream(\"dir\"[, newFilesOnly = true][, minRememberDuration = 60s])"},
    {NULL, NULL, NULL},
};
