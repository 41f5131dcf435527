/* SPDX-License-Identifier: Apache-2.0 */
/*
 * args.h - binding a call's arguments to its parameters, for the sources (io/registry.c) and
 * the operators (core/build.c) of the pipeline language, with Scala's rules:
 *
 *   - positional arguments come first and take the parameters in order;
 *   - named arguments (`slideDuration = 1s`) then bind by name, in any order;
 *   - a positional argument after a named one, a name the callee does not have, a
 *     parameter given twice, too many arguments, a required parameter missing, and an
 *     argument of the wrong kind are errors that name the parameter and the argument's
 *     position, followed by the callee's usage.
 *
 * sluice folds some of Spark's overloads into one parameter list (reduceByKeyAndWindow(f,
 * W) and reduceByKeyAndWindow(f, invF, W, S)): a positional argument passes over a
 * SL_PARAM_SKIPPABLE parameter whose kind it does not have, as Scala's overload resolution
 * would pick the overload without that parameter. A parameter passed over can then not be
 * named (in Scala the positional arguments would have covered it).
 */
#ifndef SL_ARGS_H
#define SL_ARGS_H

#include "source.h"

enum sl_param_need {
	SL_PARAM_OPTIONAL = 0,
	SL_PARAM_REQUIRED = 1,
	SL_PARAM_SKIPPABLE = 2, /* optional, and passed over by a positional of another kind */
};

typedef struct sl_param {
	const char *name; /* Spark's parameter name */
	int kind;         /* what the argument must be, for the caller's check (SL_ARG_*) */
	int need;         /* enum sl_param_need */
} sl_param;

/*
 * What is wrong with binding argument a to parameter p: NULL if it may bind, else the rest of
 * a sentence about the parameter ("must be a string").
 */
typedef const char *(*sl_param_check)(const sl_arg *a, const sl_param *p);

/*
 * sl_args_bind - bind args[0..nargs) to ps[0..np) of the callee fn, by the rules above.
 * check may be NULL (any argument fits any parameter; nothing is passed over); usage (may
 * be NULL) is appended to every error as " (usage: ...)".
 *   Returns 0 with out[i] = the argument bound to ps[i], or NULL; or -EINVAL with err
 *   filled: line and col are the offending argument's, or left as they were when a
 *   required parameter is missing (the caller points at the call). err may be NULL.
 *   Ownership: out points into args; nothing is allocated.
 */
int sl_args_bind(const char *fn, const sl_param *ps, int np, const sl_arg *args, int nargs,
		 sl_param_check check, const char *usage, const sl_arg **out, sluice_error *err);

/*
 * sl_arg_error - an error about the value of argument `at` (bound, of the right kind, but
 * out of range): err gets the printf-formatted message, at's line and col (when at is not
 * NULL) and " (usage: ...)" when usage is not NULL. Returns -EINVAL.
 */
int sl_arg_error(sluice_error *err, const sl_arg *at, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
