/* SPDX-License-Identifier: Apache-2.0 */
/*
 * args.c - binding call arguments to parameters by position, then by name (see args.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "parse.h"

/* "; did you mean 'x'?" for a name close to one of ps, else "; its parameters: a, b". */
static void name_hint(char *buf, size_t n, const char *name, const sl_param *ps, int np)
{
	const char *cand[17];
	int nc = np < 16 ? np : 16;
	for (int i = 0; i < nc; i++)
		cand[i] = ps[i].name;
	cand[nc] = NULL;
	const char *near = sl_nearest_name(name, cand);
	if (near) {
		snprintf(buf, n, "; did you mean '%s'?", near);
		return;
	}
	if (!np) {
		snprintf(buf, n, "; it takes none");
		return;
	}
	size_t l = (size_t)snprintf(buf, n, "; its parameters: ");
	for (int i = 0; i < np && l < n; i++)
		l += (size_t)snprintf(buf + l, n - l, "%s%s", i ? ", " : "", ps[i].name);
}

static int fail(sluice_error *err, const sl_arg *at, const char *usage)
{
	if (!err)
		return -EINVAL;
	if (at) {
		err->line = at->line;
		err->col = at->col;
	}
	size_t l = strlen(err->msg);
	if (usage && l + strlen(usage) + 12 < sizeof(err->msg))
		snprintf(err->msg + l, sizeof(err->msg) - l, " (usage: %s)", usage);
	return -EINVAL;
}

int sl_arg_error(sluice_error *err, const sl_arg *at, const char *usage, const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_error_set(err, -EINVAL, "%s", msg); /* a new error: no earlier position or context */
	return fail(err, at, usage);
}

int sl_args_bind(const char *fn, const sl_param *ps, int np, const sl_arg *args, int nargs,
		 sl_param_check check, const char *usage, const sl_arg **out, sluice_error *err)
{
	for (int i = 0; i < np; i++)
		out[i] = NULL;
	int pos = 0;                /* the first parameter a positional argument may take */
	const sl_arg *named = NULL; /* the first named argument */
	for (int a = 0; a < nargs; a++) {
		const sl_arg *x = &args[a];
		int k = -1;
		if (x->name) {
			if (!named)
				named = x;
			for (int i = 0; i < np; i++)
				if (!strcmp(ps[i].name, x->name))
					k = i;
			if (k < 0) {
				char hint[256];
				name_hint(hint, sizeof(hint), x->name, ps, np);
				sl_error_set(err, -EINVAL, "%s has no parameter named '%s'%s", fn,
					     x->name, hint);
				return fail(err, x, usage);
			}
			if (out[k]) {
				sl_error_set(err, -EINVAL, "%s: parameter '%s' given twice", fn,
					     ps[k].name);
				return fail(err, x, usage);
			}
			if (k < pos) {
				/* passed over by a positional argument: Scala would have bound
				 * that argument here */
				sl_error_set(err, -EINVAL,
					     "%s: parameter '%s' comes before the positional "
					     "arguments: write it in its place or name the "
					     "arguments after it",
					     fn, ps[k].name);
				return fail(err, x, usage);
			}
		} else {
			if (named) {
				sl_error_set(err, -EINVAL,
					     "%s: a positional argument cannot follow the named "
					     "argument '%s'",
					     fn, named->name);
				return fail(err, x, usage);
			}
			if (pos >= np) {
				sl_error_set(err, -EINVAL, "%s takes at most %d argument(s)", fn,
					     np);
				return fail(err, x, usage);
			}
			k = pos;
			if (check && check(x, &ps[k])) {
				/* pass over skippable parameters of another kind; if none fits,
				 * complain about the first one that cannot be passed over */
				int j = k;
				while (j < np && ps[j].need == SL_PARAM_SKIPPABLE &&
				       check(x, &ps[j]))
					j++;
				if (j < np)
					k = j;
			}
			pos = k + 1;
		}
		const char *why = check ? check(x, &ps[k]) : NULL;
		if (why) {
			sl_error_set(err, -EINVAL, "%s: parameter '%s' %s", fn, ps[k].name, why);
			return fail(err, x, usage);
		}
		out[k] = x;
	}
	for (int i = 0; i < np; i++)
		if (ps[i].need == SL_PARAM_REQUIRED && !out[i]) {
			sl_error_set(err, -EINVAL, "%s needs the parameter '%s'", fn, ps[i].name);
			return fail(err, NULL, usage);
		}
	return 0;
}
