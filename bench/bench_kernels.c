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
 * 4 K keys (>= 150 M at 100 K, >= 60 M at 1 M). The keyed rows (hash_i64, dict_put_i64,
 * keyed_sum_i64 = hash + probe/insert + add per row (dict_sum_i64, one pass) of a Long key
 * column into an empty dictionary; keyed_sum_i64_split the same in three calls (hash,
 * probe/insert into ids, grouped sum); keyed_count_i64 the count by key of the same keys
 * (dict_count_i64: countByValue, the fused word count); hash_str,
 * dict_find_str) are per key count (_k1024 ...), keys uniform per row;
 * keyed_sum_i64_dense: the same with keys 0..K-1, which take the direct map as Long keys in a
 * small range do in the engine (dict_direct_sum_i64: map lookup and add in one pass;
 * keyed_sum_i64_dense_split: dict_direct_i64 into ids, then grouped_sum_i64); those are the
 * figures to set beside DuckDB's ~240 M rows/s (1 K groups, 1 thread).
 *
 * Usage: build/bench/bench_kernels [MiB per column (default 512)] [kernel-name substring]
 *   e.g. `bench_kernels 512 keyed_sum` runs only the kernels whose name contains keyed_sum.
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

/* vi < vi2 = vi >> 7 (arithmetic on the same random bits): about half the rows pass. */
static int64_t b_filter_i64_col(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	size_t m = k->filter_i64_col(d->vi, d->vi2, d->n, SL_CMP_LT, d->outs);
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
    {"filter_i64_col_lt", b_filter_i64_col, 16 + 2, false},
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

/* argv[2]: run only the kernels whose name contains it (e.g. "keyed" or "dict_put") */
static const char *only;

static bool wanted(const char *name)
{
	return !only || strstr(name, only);
}

static void line(const char *size, const char *isa, const char *kernel, size_t rows, double sec,
		 double bytes, double base, const char *check)
{
	printf("%s\t%s\t%s\t%zu\t%.6f\t%.2f\t%.1f\t%.0f\t%s\n", size, isa, kernel, rows, sec,
	       bytes / sec / 1e9, (double)rows / sec / 1e6, 100.0 * bytes / sec / base, check);
}

/* ---- keyed: hashing, dictionary probes, the whole keyed aggregation ---------------------- */

/* A key dictionary table built from the kernels alone (core/keydict.c does the same with
 * growth): sized for `keys` distinct keys, so dict_put_i64 never stops at the limit. */
typedef struct bench_dict {
	sl_kdict d;
	size_t slots;
} bench_dict;

static void dict_new(bench_dict *b, size_t keys)
{
	b->slots = SL_KDICT_MIN_SLOTS; /* as core/keydict.c sizes its tables */
	while (sl_kdict_cap(b->slots) < keys)
		b->slots *= 2;
	b->d.tab = bench_alloc(b->slots * 16);
	b->d.keys = bench_alloc(sl_kdict_cap(b->slots) * 8);
	b->d.hash = bench_alloc(sl_kdict_cap(b->slots) * 8);
	if (!b->d.tab || !b->d.keys || !b->d.hash) {
		fprintf(stderr, "bench_kernels: out of memory for a dictionary\n");
		exit(1);
	}
	b->d.mask = b->slots - 1;
	b->d.limit = sl_kdict_cap(b->slots);
	b->d.sums = bench_alloc(sizeof(sl_ksums));
	if (!b->d.sums) {
		fprintf(stderr, "bench_kernels: out of memory for a sum table\n");
		exit(1);
	}
	b->d.sums->ready = 0;
}

static void dict_reset(bench_dict *b)
{
	memset(b->d.tab, 0, b->slots * 16);
	b->d.n = 0;
}

static void dict_free(bench_dict *b)
{
	free(b->d.tab);
	free(b->d.keys);
	free(b->d.hash);
	free(b->d.sums);
}

static bench_dict bdict;
static const sl_kstr *bstrs; /* string keys per row */

static int64_t b_hash_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	k->hash_i64(d->vi2, d->n, (uint64_t *)d->outi);
	return d->outi[d->n / 2];
}

static int64_t b_hash_str(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	k->hash_str(bstrs, d->n, (uint64_t *)d->outi);
	return d->outi[d->n / 2];
}

/* Probe pre-hashed keys (outi) into an empty dictionary: arg keys get ids. */
static int64_t b_dict_put_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	dict_reset(&bdict);
	k->dict_put_i64(&bdict.d, d->vi2, (const uint64_t *)d->outi, d->n, d->ids);
	return (int64_t)bdict.d.n * 1000003 + d->ids[d->n / 2];
}

/* Strings: the dictionary holds every key already (the steady state of a stream). */
static int64_t b_dict_find_str(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	size_t nmiss =
	    k->dict_find_str(&bdict.d, bstrs, (const uint64_t *)d->outi, d->n, d->ids, d->sel);
	return (int64_t)nmiss * 1000003 + d->ids[d->n / 2];
}

/* The whole keyed aggregation of (Long key, Long value) rows, sum by key, into an empty
 * dictionary, as the combining shuffle does it per partition for Long keys outside the direct
 * map: one dict_sum_i64 call over all the rows (hash, probe/insert and add per row; up to 4 K
 * keys through its sum table). This is what reduceByKey(_ + _) does per partition. */
static int64_t b_keyed_sum_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	dict_reset(&bdict);
	k->dict_sum_i64(&bdict.d, d->vi2, d->vi, d->n, d->acc);
	return d->acc[0] ^ d->acc[bdict.d.n / 2] ^ (int64_t)bdict.d.n;
}

/* countByValue of the same Long keys (dict_count_i64: the sum table's path with every value
 * 1; what the fused word count of Long keys runs per partition). */
static int64_t b_keyed_count_i64(const sl_kernels *k, bench_data *d, size_t arg)
{
	(void)arg;
	dict_reset(&bdict);
	k->dict_count_i64(&bdict.d, d->vi2, d->n, d->acc);
	return d->acc[0] ^ d->acc[bdict.d.n / 2] ^ (int64_t)bdict.d.n;
}

/* The same in three calls per block of 1024 rows (hash_i64, dict_put_i64, grouped_sum_i64),
 * no sum table: what the one pass and the sum table save together. */
static int64_t b_keyed_sum_i64_split(const sl_kernels *k, bench_data *d, size_t arg)
{
	enum { B = 1024 };
	uint64_t h[B];
	uint32_t ids[B];
	dict_reset(&bdict);
	memset(d->acc, 0, arg * sizeof(int64_t));
	for (size_t r = 0; r < d->n; r += B) {
		size_t m = d->n - r < B ? d->n - r : B;
		k->hash_i64(d->vi2 + r, m, h);
		k->dict_put_i64(&bdict.d, d->vi2 + r, h, m, ids);
		k->grouped_sum_i64(ids, d->vi + r, m, d->acc);
	}
	return d->acc[0] ^ d->acc[bdict.d.n / 2] ^ (int64_t)bdict.d.n;
}

/* The same with dense keys 0..arg-1 (vi: the values, outs: the keys as row offsets, so
 * read from d->sel as keys): per block, the direct map (dict_direct_i64) gives the ids of
 * known keys; the misses are hashed and inserted (dict_put_i64) and cached in the map; then
 * the grouped sum. What core/keydict.c does for Long keys in a small range. */
static uint32_t *bdm;
static int64_t *bdense;

/* The map's length for keys 0..arg-1, with the dictionary, map and accumulators emptied. */
static size_t dense_reset(bench_data *d, size_t arg)
{
	size_t len = 4096;
	while (len < 2 * arg)
		len *= 2;
	dict_reset(&bdict);
	memset(bdm, 0, (len + 1) * 4);
	memset(d->acc, 0, arg * sizeof(int64_t));
	return len;
}

/* The nm rows miss[] of the block at key row r that the map missed: hashed, inserted, their
 * ids in mid[] and cached in the map (keys are their own map index: base 0). */
static void dense_misses(const sl_kernels *k, size_t r, const uint32_t *miss, size_t nm,
			 uint32_t *mid)
{
	uint64_t h[1024];
	int64_t mk[1024];
	k->gather_i64(bdense + r, miss, nm, mk);
	k->hash_i64(mk, nm, h);
	k->dict_put_i64(&bdict.d, mk, h, nm, mid);
	for (size_t q = 0; q < nm; q++)
		bdm[mk[q]] = mid[q] + 1;
}

static int64_t b_keyed_sum_dense_split(const sl_kernels *k, bench_data *d, size_t arg)
{
	enum { B = 1024 };
	uint32_t ids[B], miss[B], mid[B];
	size_t len = dense_reset(d, arg);
	for (size_t r = 0; r < d->n; r += B) {
		size_t m = d->n - r < B ? d->n - r : B;
		size_t nm = k->dict_direct_i64(bdm, 0, len, bdense + r, m, ids, miss);
		if (nm) {
			dense_misses(k, r, miss, nm, mid);
			for (size_t q = 0; q < nm; q++)
				ids[miss[q]] = mid[q];
		}
		k->grouped_sum_i64(ids, d->vi + r, m, d->acc);
	}
	return d->acc[0] ^ d->acc[bdict.d.n / 2] ^ (int64_t)bdict.d.n;
}

/* The same in one pass per block (dict_direct_sum_i64: map lookup and add), the misses
 * inserted and added afterwards: what core/keydict.c does. */
static int64_t b_keyed_sum_dense(const sl_kernels *k, bench_data *d, size_t arg)
{
	enum { B = 1024 };
	uint32_t miss[B], mid[B];
	size_t len = dense_reset(d, arg);
	for (size_t r = 0; r < d->n; r += B) {
		size_t m = d->n - r < B ? d->n - r : B;
		size_t nm =
		    k->dict_direct_sum_i64(bdm, 0, len, bdense + r, d->vi + r, m, d->acc, miss);
		if (nm) {
			dense_misses(k, r, miss, nm, mid);
			for (size_t q = 0; q < nm; q++)
				d->acc[mid[q]] += d->vi[r + miss[q]];
		}
	}
	return d->acc[0] ^ d->acc[bdict.d.n / 2] ^ (int64_t)bdict.d.n;
}

static uint64_t key_of(uint64_t i)
{
	uint64_t z = i * 0x9e3779b97f4a7c15u + 12345;
	z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9u;
	return z ^ (z >> 29);
}

/* Rows/s of the keyed kernels for each key count; keys drawn uniformly per row. */
static void bench_keyed(const char *size, bench_data *d, double base, int reps,
			const sl_kernels **isas, int nisas)
{
	static const size_t keys[] = {16, 1024, 4096, 100000, 1000000};
	size_t n = d->n;
	for (size_t g = 0; g < sizeof(keys) / sizeof(keys[0]); g++) {
		size_t K = keys[g];
		if (K > n / 16)
			continue;
		/* string keys: "w<number>" spelled into one buffer, 4..10 bytes */
		char *text = malloc(K * 12);
		sl_kstr *set = malloc(K * sizeof(*set)), *rows = bench_alloc(n * sizeof(*rows));
		if (!text || !set || !rows) {
			fprintf(stderr, "bench_kernels: out of memory for string keys\n");
			exit(1);
		}
		size_t at = 0;
		for (size_t i = 0; i < K; i++) {
			int len = snprintf(text + at, 12, "w%zu", key_of(i) % 1000000000u);
			set[i] = (sl_kstr){text + at, (uint64_t)len};
			at += (size_t)len;
		}
		bdense = bench_alloc(n * 8);
		bdm = calloc(4 * K + 4097, 4);
		if (!bdense || !bdm) {
			fprintf(stderr, "bench_kernels: out of memory for dense keys\n");
			exit(1);
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t r = rng() % K;
			d->vi2[i] = (int64_t)key_of(r);
			bdense[i] = (int64_t)r;
			rows[i] = set[r];
		}
		bstrs = rows;
		dict_new(&bdict, K);
		struct {
			const char *name;
			bench_fn fn;
			double bytes;
			int str;
		} kc[] = {
		    {"hash_i64", b_hash_i64, 16, 0},
		    {"dict_put_i64", b_dict_put_i64, 20, 0},
		    {"keyed_sum_i64", b_keyed_sum_i64, 16, 0},
		    {"keyed_sum_i64_split", b_keyed_sum_i64_split, 16, 0},
		    {"keyed_count_i64", b_keyed_count_i64, 8, 0},
		    {"keyed_sum_i64_dense", b_keyed_sum_dense, 16, 0},
		    {"keyed_sum_i64_dense_split", b_keyed_sum_dense_split, 16, 0},
		    {"hash_str", b_hash_str, 24, 1},
		    {"dict_find_str", b_dict_find_str, 28, 1},
		};
		for (size_t c = 0; c < sizeof(kc) / sizeof(kc[0]); c++) {
			int64_t ref = 0;
			char name[64];
			snprintf(name, sizeof(name), "%s_k%zu", kc[c].name, K);
			if (!wanted(name))
				continue;
			if (kc[c].fn == b_dict_put_i64 || kc[c].fn == b_dict_find_str)
				(kc[c].str ? b_hash_str : b_hash_i64)(isas[0], d, 0);
			if (kc[c].fn == b_dict_find_str) {
				/* fill the dictionary with every key (scalar probes, inserted by
				 * hand in first-seen order) */
				dict_reset(&bdict);
				bdict.d.skeys = set;
				uint64_t hk[1];
				for (size_t i = 0; i < K; i++) {
					isas[0]->hash_str(&set[i], 1, hk);
					size_t j = sl_kdict_home(hk[0], bdict.d.mask);
					while (bdict.d.tab[j + 4])
						j = (j & 3) == 3 ? (j + 5) & (2 * bdict.d.mask + 1)
								 : j + 1;
					bdict.d.hash[i] = hk[0];
					bdict.d.tab[j] = hk[0];
					bdict.d.tab[j + 4] =
					    (uint64_t)sl_kdict_tag(hk[0]) << 32 | (i + 1);
				}
				bdict.d.n = K;
			}
			for (int ik = 0; ik < nisas; ik++) {
				int64_t got;
				double sec = run(isas[ik], d, kc[c].fn, K, reps, &got);
				if (ik == 0)
					ref = got;
				line(size, isas[ik]->isa, name, n, sec, kc[c].bytes * (double)n,
				     base, got == ref ? "ok" : "MISMATCH");
			}
		}
		dict_free(&bdict);
		free(bdense);
		free(bdm);
		free(text);
		free(set);
		free(rows);
	}
}

static void bench_size(const char *size, size_t bytes, int reps, const sl_kernels **isas, int nisas)
{
	bench_data d = {.n = bytes / 8};
	size_t n = d.n;
	d.vi = bench_alloc(n * 8);
	d.vi2 = bench_alloc(n * 8);
	d.outi = bench_alloc(n * 8);
	d.vf = bench_alloc(n * 8);
	d.sel = bench_alloc(n * 4);
	d.ids = bench_alloc(n * 4);
	d.outs = bench_alloc(n * 4);
	d.acc = bench_alloc((1u << 20) * 8);
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
		if (!wanted(cases[c].name))
			continue;
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
		if (!wanted(name))
			continue;
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
	bench_keyed(size, &d, base, reps, isas, nisas);
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
	only = argc > 2 ? argv[2] : NULL;
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
