/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_text.c - throughput of the text kernels (kernels/text.h), per kernel and per ISA, over
 * generated inputs of 256 MiB each (far above the L3, so "from memory"):
 *
 *   words  lines of 4..16 lowercase words (1..10 letters) separated by ' '
 *   csv    rows "<i64>,<decimal with 1..4 fraction digits>,<word>"
 *   ysb    Yahoo Streaming Benchmark events, one JSON object per line (~230 bytes)
 *
 * Rows (TSV): kernel, isa, GB/s of input consumed (median of 3), the memory-read baseline of
 * this run (one core summing a 512 MiB int64 array, median of 3) and the ratio, and whether the
 * answer matched the scalar one. Kernels the CPU lacks are skipped. Nothing here is a pass/fail
 * threshold.
 *
 *   bench_text [MiB per input (default 256) [kernel-name-prefix [isa]]]
 */
#include "baseline.h"

#include "text.h"

typedef struct isa {
	const char *name;
	int ok;
	size_t (*find_eol)(const char *, size_t);
	size_t (*split)(const char *, size_t, char, uint32_t *, size_t);
	size_t (*csv_i64)(const char *, size_t, unsigned, int64_t *, uint8_t *, size_t, size_t *);
	size_t (*csv_f64)(const char *, size_t, unsigned, double *, uint8_t *, size_t, size_t *);
	size_t (*json)(const char *, size_t, const char *, size_t, const char **);
} isa;

static isa isas[] = {
    {"scalar", 1, sl_find_eol_scalar, sl_split_offsets_scalar, sl_csv_column_i64_scalar,
     sl_csv_column_f64_scalar, sl_json_field_scalar},
    {"avx2", 0, sl_find_eol_avx2, sl_split_offsets_avx2, sl_csv_column_i64_avx2,
     sl_csv_column_f64_avx2, sl_json_field_avx2},
    {"avx512", 0, sl_find_eol_avx512, sl_split_offsets_avx512, sl_csv_column_i64_avx512,
     sl_csv_column_f64_avx512, sl_json_field_avx512},
};
#define NISA (sizeof(isas) / sizeof(isas[0]))

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t put_word(char *p)
{
	size_t len = 1 + rnd() % 10;
	for (size_t i = 0; i < len; i++)
		p[i] = (char)('a' + rnd() % 26);
	return len;
}

static char *gen_words(size_t n)
{
	char *b = malloc(n);
	size_t i = 0;
	while (i + 200 < n) {
		for (unsigned w = 4 + (unsigned)(rnd() % 13); w; w--) {
			i += put_word(b + i);
			b[i++] = w > 1 ? ' ' : '\n';
		}
	}
	memset(b + i, 'z', n - i - 1);
	b[n - 1] = '\n';
	return b;
}

static char *gen_csv(size_t n)
{
	char *b = malloc(n);
	size_t i = 0;
	while (i + 100 < n) {
		int64_t v = (int64_t)(rnd() % 2000000000) - 1000000000;
		unsigned fd = 1 + (unsigned)(rnd() % 4), frac = (unsigned)(rnd() % 10000);
		i += (size_t)sprintf(b + i, "%lld,%u.%0*u,", (long long)v,
				     (unsigned)(rnd() % 100000), (int)fd,
				     frac % (fd == 1   ? 10
					     : fd == 2 ? 100
					     : fd == 3 ? 1000
						       : 10000));
		i += put_word(b + i);
		b[i++] = '\n';
	}
	memset(b + i, '0',
	       n - i - 1); /* one long last row: a valid i64 only if short, either way */
	b[n - 1] = '\n';
	return b;
}

static void uuid(char *p)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 36; i++)
		p[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex[rnd() % 16];
}

static char *gen_ysb(size_t n)
{
	static const char *types[] = {"view", "click", "purchase"};
	static const char *ads[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
	char *b = malloc(n);
	size_t i = 0;
	char u[3][37];
	u[0][36] = u[1][36] = u[2][36] = 0;
	while (i + 400 < n) {
		uuid(u[0]);
		uuid(u[1]);
		uuid(u[2]);
		i += (size_t)sprintf(
		    b + i,
		    "{\"user_id\":\"%s\",\"page_id\":\"%s\",\"ad_id\":\"%s\","
		    "\"ad_type\":\"%s\",\"event_type\":\"%s\",\"event_time\":\"%llu\","
		    "\"ip_address\":\"1.2.3.4\"}\n",
		    u[0], u[1], u[2], ads[rnd() % 5], types[rnd() % 3],
		    1700000000000ull + rnd() % 1000000000);
	}
	memset(b + i, ' ', n - i - 1);
	b[n - 1] = '\n';
	return b;
}

/* --- the measured loops: each returns a checksum of its answers ------------------------------ */

/* The framer's use: one call per line. */
static uint64_t run_find_eol(const isa *t, const char *b, size_t n)
{
	uint64_t sum = 0;
	for (size_t pos = 0; pos < n;) {
		size_t e = pos + t->find_eol(b + pos, n - pos);
		sum += e;
		pos = e + 1;
	}
	return sum;
}

#define CHUNK    ((size_t)1 << 20)
#define OUT_ROWS ((size_t)1 << 16)

static uint32_t *offs;
static int64_t *ivals;
static double *dvals;
static uint8_t *oks;

/* Offsets of every delimiter, 1 MiB of input at a time into a reused array. */
static uint64_t run_split(const isa *t, const char *b, size_t n, char delim)
{
	uint64_t sum = 0;
	for (size_t pos = 0; pos < n; pos += CHUNK) {
		size_t len = n - pos < CHUNK ? n - pos : CHUNK;
		size_t c = t->split(b + pos, len, delim, offs, CHUNK);
		sum += c;
		if (c)
			sum += offs[c - 1] + offs[c / 2];
	}
	return sum;
}

static uint64_t run_csv_i64(const isa *t, const char *b, size_t n)
{
	uint64_t sum = 0;
	for (size_t pos = 0; pos < n;) {
		size_t used;
		size_t r = t->csv_i64(b + pos, n - pos, 0, ivals, oks, OUT_ROWS, &used);
		for (size_t k = 0; k < r; k++)
			sum += (uint64_t)ivals[k] + oks[k];
		pos += used;
	}
	return sum;
}

static uint64_t run_csv_f64(const isa *t, const char *b, size_t n)
{
	uint64_t sum = 0;
	for (size_t pos = 0; pos < n;) {
		size_t used;
		size_t r = t->csv_f64(b + pos, n - pos, 1, dvals, oks, OUT_ROWS, &used);
		double s = 0;
		for (size_t k = 0; k < r; k++)
			s += dvals[k] + oks[k];
		sum = sum * 31 + (uint64_t)(int64_t)s + r;
		pos += used;
	}
	return sum;
}

static size_t *lines; /* start of each ysb line, and one past the end */
static size_t nlines;

/* Events already framed; the value of one key from each. */
static uint64_t run_json(const isa *t, const char *b, const char *key)
{
	uint64_t sum = 0;
	size_t kl = strlen(key);
	for (size_t l = 0; l < nlines; l++) {
		const char *v = NULL;
		size_t len = t->json(b + lines[l], lines[l + 1] - lines[l], key, kl, &v);
		sum += len == SIZE_MAX ? 1 : len * 7 + (unsigned char)v[0];
	}
	return sum;
}

enum { K_EOL, K_SPLIT_NL, K_SPLIT_SP, K_CSV_I64, K_CSV_F64, K_JSON_ET, K_JSON_IP, K_N };
static const char *kname[K_N] = {"find_eol(per line)",    "split_offsets('\\n')",
				 "split_offsets(' ')",    "csv_column_i64(col 0)",
				 "csv_column_f64(col 1)", "json_field(event_type)",
				 "json_field(ip_address)"};

static uint64_t run(int k, const isa *t, const char *words, const char *csv, const char *ysb,
		    size_t n)
{
	switch (k) {
	case K_EOL: return run_find_eol(t, words, n);
	case K_SPLIT_NL: return run_split(t, words, n, '\n');
	case K_SPLIT_SP: return run_split(t, words, n, ' ');
	case K_CSV_I64: return run_csv_i64(t, csv, n);
	case K_CSV_F64: return run_csv_f64(t, csv, n);
	case K_JSON_ET: return run_json(t, ysb, "event_type");
	default: return run_json(t, ysb, "ip_address");
	}
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 256;
	size_t n = mib << 20;
	__builtin_cpu_init();
	isas[1].ok = __builtin_cpu_supports("avx2");
	isas[2].ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");

	char *words = gen_words(n), *csv = gen_csv(n), *ysb = gen_ysb(n);
	offs = malloc((CHUNK + 64) * sizeof(uint32_t));
	ivals = malloc(OUT_ROWS * sizeof(int64_t));
	dvals = malloc(OUT_ROWS * sizeof(double));
	oks = malloc(OUT_ROWS);
	lines = malloc((n / 64 + 2) * sizeof(size_t));
	if (!words || !csv || !ysb || !offs || !ivals || !dvals || !oks || !lines) {
		fprintf(stderr, "bench_text: out of memory\n");
		return 1;
	}
	for (size_t pos = 0; pos < n;) {
		const char *nl = memchr(ysb + pos, '\n', n - pos);
		lines[nlines++] = pos;
		pos = (size_t)(nl - ysb) + 1;
	}
	lines[nlines] = n;

	double mem = bench_mem_read((size_t)512 << 20, 3);
	printf("kernel\tisa\tGB/s\tmem_read_GB/s\tratio\tcheck\n");
	const char *only_k = argc > 2 ? argv[2] : "", *only_isa = argc > 3 ? argv[3] : NULL;
	for (int k = 0; k < K_N; k++) {
		if (strncmp(kname[k], only_k, strlen(only_k)))
			continue;
		uint64_t want = 0;
		for (size_t i = 0; i < NISA; i++) {
			const isa *t = &isas[i];
			if (!t->ok || (i && only_isa && strcmp(only_isa, t->name)))
				continue;
			double times[3];
			uint64_t got = 0;
			for (int r = 0; r < 3; r++) {
				double t0 = bench_now();
				got = run(k, t, words, csv, ysb, n);
				times[r] = bench_now() - t0;
			}
			if (i == 0)
				want = got;
			double gbs = (double)n / bench_median(times, 3) / 1e9;
			printf("%s\t%s\t%.2f\t%.2f\t%.2f\t%s\n", kname[k], t->name, gbs, mem / 1e9,
			       gbs / (mem / 1e9), got == want ? "ok" : "MISMATCH");
			fflush(stdout);
		}
	}
	free(words);
	free(csv);
	free(ysb);
	free(offs);
	free(ivals);
	free(dvals);
	free(oks);
	free(lines);
	return 0;
}
