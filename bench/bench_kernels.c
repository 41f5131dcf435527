/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_kernels.c - throughput of the reduction/filter/grouped/pane kernels per ISA, next to
 * the memory-read baseline of the same run (baseline.h: one core summing an int64 array).
 *
 * For each size (a DRAM-resident array, 512 MiB per column by default, and an L2-resident
 * one, 512 KiB), each ISA the CPU runs (scalar, avx2, avx512) and each kernel, prints TSV:
 *     size <TAB> isa <TAB> kernel <TAB> rows <TAB> sec <TAB> GB/s <TAB> Mrows/s <TAB>
 *     pct_of_baseline <TAB> check
 * GB/s counts the bytes the kernel must read (and write: filter output, gather, panes); sec
 * is the median of the passes; check is "ok" when the answer equals scalar's (f64 sums within
 * 1e-9 relative: their summation order differs by ISA). Baseline lines have isa "-".
 * Issue 4 goals: sum/min/max/filter >= 80 % of the baseline; grouped sum >= 500 Mrows/s up to
 * 4 K keys (>= 150 M at 100 K, >= 60 M at 1 M).
 *
 * Usage: build/bench/bench_kernels [MiB per column]   (default 512)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "kernels.h"

static uint64_t rng_state = 1;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static volatile int64_t sink;

typedef struct bench_data {
	size_t n;
	int64_t *vi, *vi2, *outi;
	double *vf;
	uint32_t *sel, *ids, *outs;
	size_t nsel;
	int64_t *acc;
} bench_data;

/* What one timed call does; returns a checksum compared between ISAs. */
typedef int64_t (*bench_fn)(const sl_kernels *k, bench_data *d, size_t arg);

static int64_t f64_check(double x)
{
	int64_t b;
	memcpy(&b, &x, sizeof(b));
	return b;
}

static int64_t b_sum_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return k->sum_i64(d->vi, d->n);
}

static int64_t b_min_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return k->min_i64(d->vi, d->n);
}

static int64_t b_max_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return k->max_i64(d->vi, d->n);
}

static int64_t b_sum_f64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	/* Compared with a tolerance: scaled to an integer with 9 significant digits. */
	double s = k->sum_f64(d->vf, d->n);
	return (int64_t)(s / (double)d->n * 1e9);
}

static int64_t b_min_f64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return f64_check(k->min_f64(d->vf, d->n));
}

static int64_t b_max_f64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return f64_check(k->max_f64(d->vf, d->n));
}

static int64_t b_count_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return (int64_t)k->count_i64(d->vi, d->n, SL_CMP_LT, 0);
}

/* Filters at 50 % selectivity (random signs): the worst case for branches. */
static int64_t b_filter_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	size_t m = k->filter_i64(d->vi, d->n, SL_CMP_LT, 0, d->outs);
	return (int64_t)m + (m ? d->outs[m / 2] : 0);
}

static int64_t b_filter_f64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	size_t m = k->filter_f64(d->vf, d->n, SL_CMP_GE, 1.5, d->outs);
	return (int64_t)m + (m ? d->outs[m / 2] : 0);
}

static int64_t b_sum_i64_sel(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	return k->sum_i64_sel(d->vi, d->sel, d->nsel);
}

static int64_t b_gather_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	k->gather_i64(d->vi, d->sel, d->nsel, d->outi);
	return d->outi[d->nsel / 3];
}

/* arg = number of keys; ids were drawn for that many keys by the caller. */
static int64_t b_grouped_sum_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	memset(d->acc, 0, arg * sizeof(int64_t));
	k->grouped_sum_i64(d->ids, d->vi, d->n, d->acc);
	return d->acc[arg / 2] + d->acc[0];
}

static int64_t b_pane_add_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	k->pane_add_i64(d->outi, d->vi2, d->n);
	return 0; /* the destination accumulates across passes */
}

static int64_t b_pane_max_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	k->pane_max_i64(d->outi, d->vi2, d->n);
	return d->outi[d->n / 2];
}

typedef struct bench_case {
	const char *name;
	bench_fn fn;
	double bytes_per_row; /* read + written */
	bool rows_are_sel;    /* rows = nsel rather than n */
} bench_case;

static const bench_case cases[] = {
    {"sum_i64", b_sum_i64, 8, false},
    {"min_i64", b_min_i64, 8, false},
    {"max_i64", b_max_i64, 8, false},
    {"sum_f64", b_sum_f64, 8, false},
    {"min_f64", b_min_f64, 8, false},
    {"max_f64", b_max_f64, 8, false},
    {"count_i64_lt", b_count_i64, 8, false},
    {"filter_i64_lt", b_filter_i64, 8 + 2, false}, /* ~half the rows write 4 bytes */
    {"filter_f64_ge", b_filter_f64, 8 + 2, false},
    {"sum_i64_sel50", b_sum_i64_sel, 4 + 8, true}, /* sel + (strided) values */
    {"gather_i64_sel50", b_gather_i64, 4 + 8 + 8, true},
    {"pane_add_i64", b_pane_add_i64, 24, false},
    {"pane_max_i64", b_pane_max_i64, 24, false},
};

static double run(const sl_kernels *k, bench_data *d, bench_fn fn, size_t arg, int reps,
		  int64_t *check)
{
	double t[32];
	*check = fn(k, d, arg); /* warm-up, and the answer */
	for (int r = 0; r < reps; r++) {
		double t0 = bench_now();
		sink += fn(k, d, arg);
		t[r] = bench_now() - t0;
	}
	return bench_median(t, reps);
}

static void line(const char *size, const char *isa, const char *kernel, size_t rows, double sec,
		 double bytes, double base, const char *check)
{
	printf("%s\t%s\t%s\t%zu\t%.6f\t%.2f\t%.1f\t%.0f\t%s\n", size, isa, kernel, rows, sec,
	       bytes / sec / 1e9, (double)rows / sec / 1e6, 100.0 * bytes / sec / base, check);
}

static void bench_size(const char *size, size_t bytes, int reps, const sl_kernels **isas, int nisas)
{
	bench_data d = {.n = bytes / 8};
	size_t n = d.n;
	d.vi = aligned_alloc(64, n * 8);
	d.vi2 = aligned_alloc(64, n * 8);
	d.outi = aligned_alloc(64, n * 8);
	d.vf = aligned_alloc(64, n * 8);
	d.sel = aligned_alloc(64, n * 4);
	d.ids = aligned_alloc(64, n * 4);
	d.outs = aligned_alloc(64, n * 4);
	d.acc = aligned_alloc(64, (1u << 20) * 8);
	if (!d.vi || !d.vi2 || !d.outi || !d.vf || !d.sel || !d.ids || !d.outs || !d.acc) {
		fprintf(stderr, "bench_kernels: out of memory for %zu rows\n", n);
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng();
		d.vi[i] = (int64_t)r;
		d.vi2[i] = (int64_t)(r >> 7);
		d.outi[i] = 0;
		d.vf[i] = 1.0 + (double)(r >> 11) * 0x1p-53;
		if ((r >> 3) & 1)
			d.sel[d.nsel++] = (uint32_t)i;
	}

	double base = bench_mem_read(bytes, reps);
	line(size, "-", "mem_read_baseline", n, (double)bytes / base, (double)bytes, base, "-");

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int64_t ref = 0;
		for (int ik = 0; ik < nisas; ik++) {
			int64_t got;
			if (cases[c].fn == b_pane_add_i64 || cases[c].fn == b_pane_max_i64)
				memset(d.outi, 0, n * 8);
			double sec = run(isas[ik], &d, cases[c].fn, 0, reps, &got);
			if (ik == 0)
				ref = got;
			bool ok = cases[c].fn == b_sum_f64 ? llabs(got - ref) <= 1 : got == ref;
			size_t rows = cases[c].rows_are_sel ? d.nsel : n;
			line(size, isas[ik]->isa, cases[c].name, rows, sec,
			     cases[c].bytes_per_row * (double)rows, base, ok ? "ok" : "MISMATCH");
		}
	}

	static const size_t keys[] = {16, 1024, 4096, 100000, 1000000};
	for (size_t g = 0; g < sizeof(keys) / sizeof(keys[0]); g++) {
		if (keys[g] > n / 16)
			continue; /* resetting acc would dominate */
		for (size_t i = 0; i < n; i++)
			d.ids[i] = (uint32_t)(rng() % keys[g]);
		char name[64];
		snprintf(name, sizeof(name), "grouped_sum_i64_k%zu", keys[g]);
		int64_t ref = 0;
		for (int ik = 0; ik < nisas; ik++) {
			int64_t got;
			double sec = run(isas[ik], &d, b_grouped_sum_i64, keys[g], reps, &got);
			if (ik == 0)
				ref = got;
			line(size, isas[ik]->isa, name, n, sec, 12.0 * (double)n, base,
			     got == ref ? "ok" : "MISMATCH");
		}
	}
	free(d.vi);
	free(d.vi2);
	free(d.outi);
	free(d.vf);
	free(d.sel);
	free(d.ids);
	free(d.outs);
	free(d.acc);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
	const sl_kernels *isas[3];
	int nisas = 0;
	const char *names[] = {"scalar", "avx2", "avx512"};
	for (int i = 0; i < 3; i++) {
		int err;
		const sl_kernels *k = sl_kernels_select(names[i], &err);
		if (k)
			isas[nisas++] = k;
	}
	printf("size\tisa\tkernel\trows\tsec\tGB/s\tMrows/s\tpct_of_baseline\tcheck\n");
	bench_size("L2", 512 << 10, 31, isas, nisas);
	char size[32];
	snprintf(size, sizeof(size), "%zuMiB", mib);
	bench_size(size, mib << 20, 5, isas, nisas);
	return 0;
}
