/* SPDX-License-Identifier: Apache-2.0 */
/* env.c - logging through the embedder's callback. */
#include "env.h"

#include <stdarg.h>
#include <stdio.h>

void sl_log(const sl_env *env, int level, const char *fmt, ...)
{
	if (!env || !env->log)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	env->log(env->log_arg, level, msg);
}

int sl_error_set(sluice_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	for (char *c = err->msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return code;
}
