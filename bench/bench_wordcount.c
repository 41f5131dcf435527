/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_wordcount - rows/s of generator -> map((_, 1)) -> reduceByKey(_ + _), the
 * per-batch word count, on the manual clock (as fast as the machine allows), for Long
 * keys and String words at 1 K and 100 K keys, on 1 and 2 workers. It checks its answer
 * (the counts add up to the rows generated) and prints the memory-read baseline of the
 * same run: rows/s x 16 bytes (one key + one count) over the read bandwidth says how far
 * from the memory limit the whole pipeline is. Generation is included in the time; a
 * generator-only row shows its share.
 *
 * The join rows: each generated (key, 1) joined with its key's count in the batch,
 *   val c = g.map((_, 1)); c.join(c.reduceByKey(_ + _))
 * one output row per generated row (checked), so rows/s is that of the whole join: both
 * sides shuffled, the counts interned, every row looked up and its pair written.
 *
 * The filter rows: generated Long keys, the half above keys / 2 counted or summed,
 *   g.filter(_ > K / 2).count()    g.filter(_ > K / 2).reduce(_ + _)
 * (count() and reduce() right after a filter(x OP c) run over the filter's selection, no
 * kept row gathered; checked: the count is at most the rows and the sum positive). Most
 * of their time is generation: compare with the generator-only row.
 *
 * The wide rows: the word count of Long keys spread over the Long range,
 *   g.map(x => (x * 2654435761L, 1)).reduceByKey(_ + _)
 * which take no direct map (the span is too wide): the count runs over a hidden map of the
 * keys (the word-count fusion of map(x => (f(x), c))), hashing and probing per block instead
 * of the direct map's array lookup; set them beside the numbers rows of the same key count
 * (checked as the word count).
 *
 * usage: bench_wordcount [rows_per_batch] [batches] [wordcount|join|filter|wide|all (default)]
 * (the generator-only rows, the baseline of generation, always run)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "sluice.h"

struct tally {
	int64_t sum, keys;
};

static int check(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct tally *ta = arg;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const int64_t *v = sluice_column_i64(sluice_column_child(c, 1));
		size_t n = sluice_column_length(c);
		for (size_t i = 0; i < n; i++)
			ta->sum += v[i];
		ta->keys += (int64_t)n;
	}
	return 0;
}

/* The one Long of a count() or reduce() result, summed over the batches. */
static int sum_values(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	struct tally *ta = arg;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		for (size_t i = 0; i < sluice_column_length(c); i++)
			ta->sum += sluice_column_i64(c)[i];
		ta->keys += (int64_t)sluice_column_length(c);
	}
	return 0;
}

static int count_only(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	((struct tally *)arg)->sum += (int64_t)sluice_batch_count(b);
	return 0;
}

enum { GEN, WORDCOUNT, JOIN, FILTER_COUNT, FILTER_SUM, WIDE };

static double run(const char *kind, int64_t keys, int64_t rows, int batches, int workers, int op,
		  struct tally *ta)
{
	char p[512], f[64];
	snprintf(f, sizeof(f), "g.filter(_ > %" PRId64 ").%s", keys / 2,
		 op == FILTER_COUNT ? "count()" : "reduce(_ + _)");
	snprintf(p, sizeof(p),
		 "val g = generator(\"%s\", rate = %" PRId64 ", keys = %" PRId64 ")\n"
		 "val c = g.map((_, 1))\n"
		 "val out = %s",
		 kind, rows, keys,
		 op == JOIN           ? "c.join(c.reduceByKey(_ + _))"
		 : op == WIDE         ? "g.map(x => (x * 2654435761L, 1)).reduceByKey(_ + _)"
		 : op >= FILTER_COUNT ? f
				      : "c.reduceByKey(_ + _)");
	int gen_only = op == GEN;
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = SLUICE_CLOCK_MANUAL;
	cfg.workers = workers;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	if (!ctx || sluice_context_pipeline(ctx, p, strlen(p), &err) ||
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, gen_only ? "g" : "out"),
					op == WORDCOUNT || op == WIDE ? check
					: op >= FILTER_COUNT          ? sum_values
								      : count_only,
					ta, &err) ||
	    sluice_context_start(ctx, &err)) {
		fprintf(stderr, "bench_wordcount: %s\n", err.msg);
		exit(1);
	}
	double t0 = bench_now();
	sluice_context_advance(ctx, (int64_t)batches * 1000);
	double dt = bench_now() - t0;
	sluice_context_free(ctx);
	return dt;
}

int main(int argc, char **argv)
{
	int64_t rows = argc > 1 ? atoll(argv[1]) : 10000000;
	int batches = argc > 2 ? atoi(argv[2]) : 5;
	const char *which = argc > 3 ? argv[3] : "all";
	if (strcmp(which, "all") && strcmp(which, "wordcount") && strcmp(which, "join") &&
	    strcmp(which, "filter") && strcmp(which, "wide")) {
		fprintf(stderr,
			"bench_wordcount: unknown benchmark '%s' (wordcount, join, filter, wide, "
			"all)\n",
			which);
		return 2;
	}
	double mem = bench_mem_read((size_t)512 << 20, 5);
	printf("benchmark\tkind\tkeys\tworkers\trows\tMrows_per_s\tGBps_at_16B_per_row\tmem_read_"
	       "GBps\tratio\n");
	const char *kinds[] = {"numbers", "words"};
	int64_t keyset[] = {1000, 100000};
	static const char *const opname[] = {"generator_only", "wordcount",  "join",
					     "filter_count",   "filter_sum", "wide"};
	for (int op = GEN; op <= WIDE; op++)
		for (int k = 0; k < 2; k++)
			for (int ks = 0; ks < 2; ks++)
				for (int w = 1; w <= 2; w++) {
					const char *group = op == FILTER_COUNT || op == FILTER_SUM
								? "filter"
								: opname[op];
					if ((op == GEN && (ks || w == 2)) ||
					    (op >= FILTER_COUNT && k) ||
					    (op != GEN && strcmp(which, "all") &&
					     strcmp(which, group)))
						continue;
					double t[3];
					for (int r = 0; r < 3; r++) {
						struct tally ta = {0};
						t[r] = run(kinds[k], keyset[ks], rows, batches, w,
							   op, &ta);
						int bad =
						    op == FILTER_COUNT
							? ta.sum <= 0 || ta.sum > rows * batches ||
							      ta.keys != batches
						    : op == FILTER_SUM
							? ta.sum <= 0 || ta.keys != batches
							: ta.sum != rows * batches ||
							      (op != JOIN &&
							       ta.keys > keyset[ks] * batches);
						if (bad) {
							fprintf(stderr,
								"bench_wordcount: wrong answer: "
								"%" PRId64 " rows, %" PRId64
								" keys\n",
								ta.sum, ta.keys);
							return 1;
						}
					}
					double rps = (double)(rows * batches) / bench_median(t, 3);
					printf("%s\t%s\t%" PRId64 "\t%d\t%" PRId64
					       "\t%.1f\t%.2f\t%.1f\t%.3f\n",
					       opname[op], kinds[k], keyset[ks], w, rows * batches,
					       rps / 1e6, rps * 16 / 1e9, mem / 1e9,
					       rps * 16 / mem);
				}
	return 0;
}
