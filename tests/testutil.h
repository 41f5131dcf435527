/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testutil.h - what several Criterion suites set up the same way: an sl_env with its own
 * memory seam and type arena (Spark's default intervals: 1 s batches, 200 ms blocks) and the
 * kernel table SLUICE_ISA names (the best one this CPU runs when unset: .ci/run runs the whole
 * suite once per ISA), and a fresh temporary directory removed afterwards.
 */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "fmt.h"
#include "kernels.h"

/*
 * The kernel ISA the tests run: SLUICE_ISA (scalar, avx2, avx512) or NULL for the best one.
 * Tests that create a context pass it as cfg.isa (the library itself never reads the
 * environment). A forced ISA this CPU lacks fails the test rather than testing another one.
 */
static inline const char *sl_test_isa(void)
{
	const char *isa = getenv("SLUICE_ISA");
	return isa && *isa ? isa : NULL;
}

static inline void sl_test_env_init(sl_env *env)
{
	memset(env, 0, sizeof(*env));
	cr_assert_eq(sl_mem_new(&env->mem, 0), 0);
	env->types = sl_types_new();
	cr_assert_not_null(env->types);
	env->batch_ms = 1000;
	env->block_ms = 200;
	int err = 0;
	env->kern = sl_kernels_select(sl_test_isa(), &err);
	cr_assert_not_null(env->kern, "SLUICE_ISA=%s: %s", sl_test_isa(),
			   err == -ENOTSUP ? "not supported by this CPU" : "unknown ISA");
}

static inline void sl_test_env_fini(sl_env *env)
{
	sl_workers_free(env->workers);
	sl_types_free(env->types);
	sl_mem_free(env->mem);
}

/* mkdtemp under /tmp; dir must hold at least 64 bytes. */
static inline void sl_test_tmpdir(char *dir, const char *tag)
{
	snprintf(dir, 64, "/tmp/sluice_%s_XXXXXX", tag);
	cr_assert_not_null(mkdtemp(dir));
}

/* Remove dir recursively (write bits restored first, for tests that removed them). */
static inline void sl_test_rmdir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
	cr_expect_eq(system(cmd), 0);
}

/* The lines of d[0..n) as Java's readLine splits them (\n, \r\n, \r; a last line without
 * terminator is a line), each appended to out followed by sep: the reference the line
 * splitting of the file sources is checked against. */
static inline void sl_test_ref_lines(const char *d, size_t n, const char *sep, sl_sbuf *out)
{
	size_t ls = 0, sl = strlen(sep);
	for (size_t i = 0; i < n; i++) {
		if (d[i] != '\n' && d[i] != '\r')
			continue;
		sl_sbuf_put(out, d + ls, i - ls);
		sl_sbuf_put(out, sep, sl);
		if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
			i++;
		ls = i + 1;
	}
	if (ls < n) {
		sl_sbuf_put(out, d + ls, n - ls);
		sl_sbuf_put(out, sep, sl);
	}
}

#endif
