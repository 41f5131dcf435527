/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dispatch.c - choose a kernel table. Compiled without ISA flags (it runs on any x86-64);
 * it only reads CPUID through __builtin_cpu_supports and keeps no state.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "kernels.h"

/* Both vector tables also use tzcnt (BMI1; keyed.h's sl_first_lane): every AVX2 CPU has it,
 * but a virtual CPU may expose AVX2 without it, and there tzcnt runs as bsf. */
static bool sl_cpu_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
}

static bool sl_cpu_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("bmi");
}

const sl_kernels *sl_kernels_select(const char *force, int *err)
{
	int dummy;
	if (!err)
		err = &dummy;
	*err = 0;
	if (!force || !*force) {
		if (sl_cpu_avx512())
			return &sl_kernels_avx512;
		if (sl_cpu_avx2())
			return &sl_kernels_avx2;
		return &sl_kernels_scalar;
	}
	if (!strcmp(force, "scalar"))
		return &sl_kernels_scalar;
	if (!strcmp(force, "avx2") || !strcmp(force, "avx512")) {
		bool ok = force[3] == '2' ? sl_cpu_avx2() : sl_cpu_avx512();
		if (!ok) {
			*err = -ENOTSUP;
			return NULL;
		}
		return force[3] == '2' ? &sl_kernels_avx2 : &sl_kernels_avx512;
	}
	*err = -EINVAL;
	return NULL;
}
