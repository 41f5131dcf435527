/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - the sources the pipeline language can name, with their arguments.
 *
 * Arguments are positional in the order of each `ps` list, then named (`rate = 1000`);
 * core/args.c binds them, checks names and kinds and reports the argument's position.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../core/args.h"
#include "filestream.h"
#include "io.h"
#include "socket.h"

/* What a source's argument of kind a->kind may bind to: SL_ARG_DURATION takes a bare
 * integer too (milliseconds). */
static const char *check(const sl_arg *a, const sl_param *p)
{
	static const char *what[] = {[SL_ARG_STR] = "must be a string",
				     [SL_ARG_INT] = "must be an integer",
				     [SL_ARG_DURATION] = "must be a duration (e.g. 2s, 500ms)",
				     [SL_ARG_BOOL] = "must be true or false",
				     [SL_ARG_FLOAT] = "must be a number"};
	if (a->kind == p->kind || (p->kind == SL_ARG_DURATION && a->kind == SL_ARG_INT))
		return NULL;
	return what[p->kind];
}

#define I(a, dflt) ((a) ? (a)->i : (dflt))

static sl_source *make_queue(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const sl_param ps[] = {{"path", SL_ARG_STR, SL_PARAM_REQUIRED},
				      {"partitions", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"seed", SL_ARG_INT, SL_PARAM_OPTIONAL}};
	const sl_arg *a[3];
	if (sl_args_bind("queueStream", ps, 3, args, nargs, check, sl_source_defs[0].usage, a, err))
		return NULL;
	if (a[1] && (a[1]->i > (1 << 20) || a[1]->i < -(1 << 20))) {
		sl_arg_error(err, a[1], sl_source_defs[0].usage,
			     "queueStream: partitions must be in -1048576..1048576, got %lld",
			     (long long)a[1]->i);
		return NULL;
	}
	return sl_queue_source_new(env, a[0]->s, (int)I(a[1], 0), (uint64_t)I(a[2], 1), err);
}

static sl_source *make_textfile(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const sl_param ps[] = {{"path", SL_ARG_STR, SL_PARAM_REQUIRED},
				      {"blockBytes", SL_ARG_INT, SL_PARAM_OPTIONAL}};
	const sl_arg *a[2];
	if (sl_args_bind("textFile", ps, 2, args, nargs, check, sl_source_defs[1].usage, a, err))
		return NULL;
	if (a[1] && a[1]->i < 1) {
		sl_arg_error(err, a[1], sl_source_defs[1].usage,
			     "textFile: blockBytes must be >= 1, got %lld", (long long)a[1]->i);
		return NULL;
	}
	return sl_textfile_source_new(env, a[0]->s, (size_t)I(a[1], 0), err);
}

static sl_source *make_generator(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const sl_param ps[] = {{"kind", SL_ARG_STR, SL_PARAM_REQUIRED},
				      {"rate", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"keys", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"words", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"seed", SL_ARG_INT, SL_PARAM_OPTIONAL}};
	const sl_arg *a[5];
	if (sl_args_bind("generator", ps, 5, args, nargs, check, sl_source_defs[2].usage, a, err))
		return NULL;
	/* 0 means "the default" to sl_generator_source_new: refuse it when written */
	for (int i = 2; i <= 3; i++)
		if (a[i] && a[i]->i < 1) {
			sl_arg_error(err, a[i], sl_source_defs[2].usage,
				     "generator: %s must be >= 1, got %lld", ps[i].name,
				     (long long)a[i]->i);
			return NULL;
		}
	return sl_generator_source_new(env, a[0]->s, I(a[1], 100000), I(a[2], 0), I(a[3], 0),
				       (uint64_t)I(a[4], 42), err);
}

/* Receiver options shared by the socket sources: maxRecord (bytes), maxRate (records/s). */
static sl_source *as_sources(sl_env *env, sl_receiver **rs, int n, const sl_arg *max_rate,
			     const sl_source_def *def, sluice_error *err)
{
	sl_receiver *r = rs[0];
	if (max_rate) {
		if (max_rate->i < 1) {
			for (int i = 0; i < n; i++)
				rs[i]->ops->free(rs[i]);
			sl_arg_error(err, max_rate, def->usage,
				     "%s: maxRate must be >= 1 records/s, got %lld", def->name,
				     (long long)max_rate->i);
			return NULL;
		}
		/* relaxed: before the io thread exists; the source reads it as this stream's cap */
		atomic_store_explicit(&r->rate_limit, max_rate->i, memory_order_relaxed);
	}
	return sl_receivers_source_new(env, rs, n, err);
}

static sl_source *as_source(sl_env *env, sl_receiver *r, const sl_arg *max_rate,
			    const sl_source_def *def, sluice_error *err)
{
	return r ? as_sources(env, &r, 1, max_rate, def, err) : NULL;
}

static int max_record_of(const sl_arg *a, const sl_source_def *def, size_t *out, sluice_error *err)
{
	*out = 0;
	if (!a)
		return 0;
	if (a->i < 1)
		return sl_arg_error(err, a, def->usage, "%s: maxRecord must be >= 1 byte, got %lld",
				    def->name, (long long)a->i);
	*out = (size_t)a->i;
	return 0;
}

static sl_source *make_socket_text(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const sl_param ps[] = {{"host", SL_ARG_STR, SL_PARAM_REQUIRED},
				      {"port", SL_ARG_INT, SL_PARAM_REQUIRED},
				      {"restartDelay", SL_ARG_DURATION, SL_PARAM_OPTIONAL},
				      {"maxRecord", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"maxRate", SL_ARG_INT, SL_PARAM_OPTIONAL}};
	const sl_arg *a[5];
	size_t maxrec;
	if (sl_args_bind("socketTextStream", ps, 5, args, nargs, check, sl_source_defs[3].usage, a,
			 err) ||
	    max_record_of(a[3], &sl_source_defs[3], &maxrec, err))
		return NULL;
	if (a[1]->i < 1 || a[1]->i > 65535) {
		sl_arg_error(err, a[1], sl_source_defs[3].usage,
			     "socketTextStream: port %lld is not in 1..65535", (long long)a[1]->i);
		return NULL;
	}
	if (a[2] && (a[2]->i < 0 || a[2]->i > 86400000)) {
		sl_arg_error(err, a[2], sl_source_defs[3].usage,
			     "socketTextStream: restartDelay must be from 0 to 24h, got %lld ms",
			     (long long)a[2]->i);
		return NULL;
	}
	sl_receiver *r = sl_socket_text_stream_new(
	    env, a[0]->s, (int)a[1]->i, a[2] ? a[2]->i : SL_SOCKET_RESTART_DELAY_MS, maxrec, err);
	return as_source(env, r, a[4], &sl_source_defs[3], err);
}

static sl_source *make_socket_server(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const sl_param ps[] = {{"address", SL_ARG_STR, SL_PARAM_REQUIRED},
				      {"maxRecord", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"maxRate", SL_ARG_INT, SL_PARAM_OPTIONAL},
				      {"ioThreads", SL_ARG_INT, SL_PARAM_OPTIONAL}};
	const sl_arg *a[4];
	size_t maxrec;
	if (sl_args_bind("socketServerStream", ps, 4, args, nargs, check, sl_source_defs[4].usage,
			 a, err) ||
	    max_record_of(a[1], &sl_source_defs[4], &maxrec, err))
		return NULL;
	int64_t nio = a[3] ? a[3]->i : 1;
	if (nio < 1 || nio > SL_SOCKET_IO_THREADS_MAX) {
		sl_arg_error(err, a[3], sl_source_defs[4].usage,
			     "socketServerStream: ioThreads must be in 1..%d, got %lld",
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
	return as_sources(env, rs, (int)nio, a[2], &sl_source_defs[4], err);
}

static sl_source *make_filestream(sl_env *env, const sl_arg *args, int nargs, sluice_error *err)
{
	static const sl_param ps[] = {{"directory", SL_ARG_STR, SL_PARAM_REQUIRED},
				      {"newFilesOnly", SL_ARG_BOOL, SL_PARAM_OPTIONAL},
				      {"minRememberDuration", SL_ARG_DURATION, SL_PARAM_OPTIONAL}};
	const sl_arg *a[3];
	if (sl_args_bind("textFileStream", ps, 3, args, nargs, check, sl_source_defs[5].usage, a,
			 err))
		return NULL;
	if (a[2] && a[2]->i < 1) {
		sl_arg_error(err, a[2], sl_source_defs[5].usage,
			     "textFileStream: minRememberDuration must be > 0, got %lld ms",
			     (long long)a[2]->i);
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
