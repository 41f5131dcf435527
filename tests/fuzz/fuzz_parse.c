/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_parse.c - libFuzzer target for core/parse.c, the pipeline language's lexer and parser
 * (and sl_error_context, which quotes a source line with a caret in every error).
 *
 * Any input, in a buffer of exactly its size (no terminating NUL to lean on): parse it. On
 * success the error struct is zeroed. On failure the code is -EINVAL or -ENOMEM; -EINVAL
 * has a position inside the text (1-based line at most one past the last newline, column
 * >= 1), a message and a context line, all NUL-terminated inside their arrays. Then
 * sl_error_context is asked for positions taken from the input, in and out of range.
 * Built by tests/fuzz/build.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_parse: %s\n", what);
	abort();
}

static void check_strings(const sluice_error *e)
{
	if (!memchr(e->msg, 0, sizeof(e->msg)) || !memchr(e->context, 0, sizeof(e->context)))
		fail("an unterminated message or context");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *text = malloc(n ? n : 1);
	if (!text)
		return 0;
	memcpy(text, data, n);
	int lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	sluice_error err;
	memset(&err, 0x5a, sizeof(err));
	sl_program *p = sl_parse(text, n, &err);
	if (p) {
		static const sluice_error zero;
		if (memcmp(&err, &zero, sizeof(err)))
			fail("a program, and an error struct not zeroed");
		sl_program_free(p);
	} else {
		check_strings(&err);
		if (err.code == -EINVAL) {
			if (err.line < 1 || err.line > lines || err.col < 1)
				fail("a syntax error outside the text");
			if (!err.msg[0])
				fail("a syntax error with no message");
		} else if (err.code != -ENOMEM) {
			fail("an error code that is neither -EINVAL nor -ENOMEM");
		}
	}
	/* positions from the input's first bytes, some past the end */
	for (size_t k = 0; k + 2 <= n && k < 8; k += 2) {
		sluice_error e;
		memset(&e, 0, sizeof(e));
		sl_error_context(&e, text, n, data[k] % (lines + 2), data[k + 1]);
		check_strings(&e);
	}
	free(text);
	return 0;
}
