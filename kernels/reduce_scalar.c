/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reduce_scalar.c - the scalar reference build of reduce.h. kernels/meson.build compiles this
 * file with -fno-tree-vectorize (no loop or SLP vectorization: SSE2 is part of x86-64, so GCC
 * would otherwise vectorize at -O2 and the "reference" would be a vector build). One f64
 * partial sum: sum_f64 is the plain left-to-right sum.
 */
#define SL_ISA      scalar
#define SL_ISA_NAME "scalar"
#define SL_LANES    1
#define SL_F64_ACC  1
#include "reduce.h"
