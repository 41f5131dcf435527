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
#include "io.h"

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
		int ak = args[a].kind;
		if (ps[k].kind == SL_ARG_STR ? ak != SL_ARG_STR : (ak != SL_ARG_INT)) {
			sl_error_set(err, -EINVAL, "%s: parameter '%s' must be %s", fn, ps[k].name,
				     ps[k].kind == SL_ARG_STR ? "a string" : "an integer");
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
	return sl_generator_source_new(env, a[0]->s, I(a[1], 100000), I(a[2], 0), I(a[3], 0),
				       (uint64_t)I(a[4], 42), err);
}

const sl_source_def sl_source_defs[] = {
    {"queueStream", make_queue, "queueStream(\"batches.jsonl\"[, partitions = N][, seed = S])"},
    {"textFile", make_textfile, "textFile(\"path\"[, blockBytes = N])"},
    {"generator", make_generator,
     "generator(\"lines\"|\"words\"|\"kv\"|\"numbers\"[, rate = R][, keys = K][, words = W][, seed "
     "= S])"},
    {NULL, NULL, NULL},
};
