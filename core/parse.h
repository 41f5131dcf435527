/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.h - lexer and parser for the pipeline language, plus the error helpers
 * (caret context, "did you mean") that the rest of the engine reuses for its own
 * semantic errors so that every message the user sees has the same shape.
 */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stddef.h>

#include "ast.h"
#include "env.h"
#include "../include/sluice.h"

/*
 * Deepest expression nesting (brackets, lambdas, unary operators) the parser recurses
 * into, and the tallest tree it hands out (long operator and method chains are built
 * without recursion but make tall trees). Beyond either, parsing fails with
 * "expression nested too deeply" instead of overflowing a stack here or in the code
 * that walks the tree recursively.
 */
#define SL_PARSE_MAX_DEPTH  256
#define SL_PARSE_MAX_HEIGHT 2048

/*
 * sl_parse - parse pipeline text into a program.
 * @text: the source; @len bytes, need not be NUL-terminated (may be NULL when @len is 0).
 * @err: filled on failure (may be NULL); zeroed on success.
 *
 * Returns the program (free with sl_program_free), or NULL with *err filled:
 * code -EINVAL for a syntax error, with line/col of the offending token, a one-line msg
 * and context holding the source line and a caret; code -ENOMEM (msg "out of memory",
 * no position) when an allocation fails. Empty input is a program with nstmt == 0.
 * Never prints; reentrant (no global state besides the test hook below).
 */
sl_program *sl_parse(const char *text, size_t len, sluice_error *err);

/* sl_program_free - free a program and every node, name and string in it. NULL is a no-op. */
void sl_program_free(sl_program *p);

/*
 * sl_error_context - point err at line @line, column @col (1-based, bytes) of @text.
 * Sets err->line/col and fills err->context with that source line, "\n", and a caret line
 * whose prefix keeps tabs as tabs so the caret lines up under the column. Very long lines
 * are shown as a window around the column with "..." marking the cut ends; control bytes
 * are shown as '?'. A line that does not exist gives an empty context. err may be NULL.
 */
void sl_error_context(sluice_error *err, const char *text, size_t len, int line, int col);

/*
 * sl_nearest_name - the candidate closest to @name by case-insensitive optimal string
 * alignment (Damerau-Levenshtein with adjacent transpositions) distance, provided that
 * distance is <= max(2, strlen(name) / 3); otherwise (or on allocation failure) NULL.
 * @candidates is NULL-terminated; ties go to the earliest candidate.
 */
const char *sl_nearest_name(const char *name, const char *const *candidates);

/*
 * Test hook only (leave at 0 in production): when set to N > 0, the Nth allocation the
 * parser makes from then on fails, so tests can walk every out-of-memory path. It counts
 * down to 0 and is then off again. Not thread-safe.
 */
extern int sl_parse_fail_alloc;

#endif
