/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_expr - per-record expressions over one batch partition of text lines, as the engine
 * evaluates a map's lambda (core/expr.c), beside the memory-read baseline of the same run.
 *
 * Input: CSV rows "<i64>,<decimal with 1..4 fraction digits>,<word>" (the bench_text csv rows).
 * Each lambda runs over the same lines laid out two ways:
 *   buffer   the lines back to back in one buffer, "\n"-terminated, as textFile and the
 *            receivers lay them out: csvField(i).toLong / .toDouble take the bulk column
 *            kernels (csv_column_i64 / _f64), one call per run of 1024 rows;
 *   strings  every line a separate string (no terminator between them): the same lambdas
 *            go row by row (csv_field, then parse_i64 / parse_f64 per row).
 * Rows (TSV): lambda, layout, ISA, GB/s of line bytes (median of 5), M rows/s, the memory-read
 * baseline and the ratio, and the sum of the results (the same for both layouts).
 *
 *   bench_expr [MiB of lines (default 64)]      SLUICE_ISA=scalar|avx2|avx512 picks the ISA
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "expr.h"
#include "kernels.h"
#include "parse.h"

static double run(const char *fn, sl_env *env, sl_col *lines, double *sum)
{
	sluice_error err = {0};
	sl_program *p = sl_parse(fn, strlen(fn), &err);
	const sl_type *pt[2] = {&sl_type_str, NULL};
	sl_lambda l;
	if (!p || sl_lambda_compile(&l, env->types, p->stmt[0].expr, 1, pt, &err)) {
		fprintf(stderr, "bench_expr: %s: %s\n", fn, err.msg);
		exit(1);
	}
	double t[5];
	for (int r = 0; r < 5; r++) {
		sl_xeval ev;
		sl_xeval_init(&ev, env->mem);
		ev.kern = env->kern;
		double t0 = bench_now();
		sl_col *out = sl_lambda_eval(&l, (sl_col *const[]){lines}, lines->len, &ev);
		t[r] = bench_now() - t0;
		if (!out || ev.nbad) {
			fprintf(stderr, "bench_expr: %s failed (%zu bad rows)\n", fn, ev.nbad);
			exit(1);
		}
		double s = 0;
		for (size_t i = 0; i < out->len; i++)
			s += out->type->kind == SL_F64 ? out->v.f64[i] : (double)out->v.i64[i];
		*sum = s;
		sl_col_unref(out);
		sl_xeval_fini(&ev);
	}
	sl_lambda_fini(&l);
	sl_program_free(p);
	return bench_median(t, 5);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	if (!mib) {
		fprintf(stderr, "usage: bench_expr [MiB of lines]\n");
		return 2;
	}
	sl_env env = {0};
	int err = 0;
	const char *isa = getenv("SLUICE_ISA");
	env.kern = sl_kernels_select(isa && *isa ? isa : NULL, &err);
	if (sl_mem_new(&env.mem, 0) || !(env.types = sl_types_new()) || !env.kern) {
		fprintf(stderr, "bench_expr: cannot set up (ISA '%s')\n", isa ? isa : "best");
		return 1;
	}
	size_t cap = mib << 20;
	sl_col *buf = sl_col_new(env.mem, &sl_type_str, cap / 16);
	sl_col *each = sl_col_new(env.mem, &sl_type_str, cap / 16);
	char *b = buf ? sl_col_str_space(buf, cap + 64) : NULL;
	if (!b || !each) {
		fprintf(stderr, "bench_expr: out of memory\n");
		return 1;
	}
	uint64_t x = 88172645463325252u;
	size_t at = 0, bytes = 0;
	while (at + 64 < cap) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int frac = (int)(x >> 60) % 4 + 1;
		int n = snprintf(b + at, 64, "%lld,%.*f,w%u", (long long)(x >> 20) - (1ll << 43),
				 frac, (double)(x % 1000000) / 100.0, (unsigned)(x % 9973));
		if (sl_col_push_view(buf, b + at, (size_t)n) ||
		    sl_col_push_str(each, b + at, (size_t)n))
			return 1;
		b[at + (size_t)n] = '\n';
		at += (size_t)n + 1;
		bytes += (size_t)n + 1;
	}
	double base = bench_mem_read((size_t)512 << 20, 3);
	printf("lambda\tlayout\tisa\tGB/s\tMrows/s\tmem_read_GB/s\tratio\tsum\n");
	const char *fns[] = {"_.csvField(0).toLong", "_.csvField(1).toDouble"};
	for (size_t f = 0; f < 2; f++) {
		for (int lay = 0; lay < 2; lay++) {
			double sum = 0, sec = run(fns[f], &env, lay ? each : buf, &sum);
			printf("%s\t%s\t%s\t%.2f\t%.1f\t%.2f\t%.2f\t%.6g\n", fns[f],
			       lay ? "strings" : "buffer", env.kern->isa, (double)bytes / sec / 1e9,
			       (double)buf->len / sec / 1e6, base / 1e9, (double)bytes / sec / base,
			       sum);
		}
	}
	sl_col_unref(buf);
	sl_col_unref(each);
	sl_types_free(env.types);
	sl_mem_free(env.mem);
	return 0;
}
