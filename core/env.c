/* SPDX-License-Identifier: Apache-2.0 */
/* env.c - logging through the embedder's callback. */
#include "env.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Copy in to out (cap bytes with the NUL) with control bytes escaped: \n, \r, \t, else
 * \xNN. Messages quote records (a skipped record in a warning), and a record's newline or
 * terminal escape must not break the one-message-one-line rule or reach a terminal raw.
 * Truncates at a whole escape.
 */
static void escape_controls(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)in; *c; c++) {
		char e[5] = {(char)*c, 0};
		if (*c == '\n' || *c == '\r' || *c == '\t')
			snprintf(e, sizeof(e), "\\%c", *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't');
		else if (*c < 0x20 || *c == 0x7f)
			snprintf(e, sizeof(e), "\\x%02x", *c);
		size_t n = strlen(e);
		if (o + n >= cap)
			break;
		memcpy(out + o, e, n);
		o += n;
	}
	out[o] = 0;
}

void sl_log(const sl_env *env, int level, const char *fmt, ...)
{
	if (!env || !env->log)
		return;
	char msg[1024], esc[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	escape_controls(msg, esc, sizeof(esc));
	env->log(env->log_arg, level, esc);
}

void sl_error_at(sluice_error *err, int line, int col)
{
	if (err)
		err->line = line, err->col = col;
}

int sl_error_set(sluice_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	/* a new error: no position or source line of an earlier one (an embedder may reuse
	 * one sluice_error for many calls) */
	err->line = err->col = 0;
	err->context[0] = 0;
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++) /* one line: line breaks become spaces, as always */
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	escape_controls(msg, err->msg, sizeof(err->msg));
	return code;
}
