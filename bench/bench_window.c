/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_window - keyed windowed aggregation (issue 5): records/s of
 *   generator("numbers", keys = K) -> countByValueAndWindow(W, S)            (count)
 *   generator("numbers", keys = K) -> map(x => (x, x))
 *                                  -> reduceByKeyAndWindow(_ + _, _ - _, W, S) (sum)
 * with a 100 ms batch on the manual clock (as fast as it runs), 1 K and 100 K keys, 1 and 2
 * workers, W/S = 5 s / 1 s and 60 s / 1 s. Then the steady-state cost of one batch as W
 * grows (1, 5, 20, 60 s), which must stay flat for an invertible reduce. The generator is
 * part of the timed pipeline (a generator-only row shows its share). Each run checks its
 * answer: the last window's counts add up to the records of the window. The memory-read
 * baseline of the same run is printed: records/s x 16 bytes over it.
 *
 * usage: bench_window [records_per_batch] [seconds]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "sluice.h"

#define BATCH_MS 100

struct tally {
	int64_t last_sum, last_time, outputs;
};

static int take(void *arg, int64_t t, const sluice_batch *b)
{
	struct tally *ta = arg;
	int64_t s = 0;
	for (size_t p = 0; p < sluice_batch_partitions(b); p++) {
		const sluice_column *c = sluice_batch_partition(b, p);
		const int64_t *v = sluice_column_i64(sluice_column_child(c, 1));
		size_t n = sluice_column_length(c);
		for (size_t i = 0; i < n; i++)
			s += v[i];
	}
	ta->last_sum = s;
	ta->last_time = t;
	ta->outputs++;
	return 0;
}

static int count_only(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	((struct tally *)arg)->last_sum += (int64_t)sluice_batch_count(b);
	return 0;
}

static sluice_context *start(const char *op, int64_t keys, int64_t per_batch, int64_t W,
			     int workers, struct tally *ta)
{
	char p[512];
	int gen = !strcmp(op, "generator_only");
	snprintf(p, sizeof(p),
		 "val g = generator(\"numbers\", rate = %" PRId64 ", keys = %" PRId64 ")\n"
		 "val out = %s",
		 per_batch * (1000 / BATCH_MS), keys,
		 gen                    ? "g"
		 : !strcmp(op, "count") ? "g.countByValueAndWindow(%lldms, 1s)"
					: "g.map(x => (x, x)).reduceByKeyAndWindow(_ + _, _ - _, "
					  "%lldms, 1s)");
	char q[600];
	snprintf(q, sizeof(q), p, (long long)W);
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = SLUICE_CLOCK_MANUAL;
	cfg.batch_interval_ms = BATCH_MS;
	cfg.workers = workers;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	if (!ctx || sluice_context_pipeline(ctx, q, strlen(q), &err) ||
	    sluice_stream_foreach_batch(sluice_context_stream(ctx, "out"), gen ? count_only : take,
					ta, &err) ||
	    sluice_context_start(ctx, &err)) {
		fprintf(stderr, "bench_window: %s\n", err.msg);
		exit(1);
	}
	return ctx;
}

static void verify(const char *op, struct tally *ta, int64_t per_batch, int64_t W)
{
	if (strcmp(op, "count"))
		return;
	/* the last output covers W of full batches */
	int64_t want = per_batch * (W / BATCH_MS);
	if (ta->last_sum != want) {
		fprintf(stderr,
			"bench_window: wrong answer: window at %" PRId64 " ms counts %" PRId64
			", expected %" PRId64 "\n",
			ta->last_time, ta->last_sum, want);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	int64_t per_batch = argc > 1 ? atoll(argv[1]) : 1000000;
	int64_t secs = argc > 2 ? atoll(argv[2]) : 10;
	double mem = bench_mem_read((size_t)512 << 20, 5);
	printf("benchmark\top\tkeys\tworkers\twindow_s\trecords\tMrecords_per_s\tGBps_at_16B\t"
	       "mem_read_GBps\tratio\n");
	const char *ops[] = {"generator_only", "count", "sum"};
	int64_t keyset[] = {1000, 100000};
	int64_t wins[] = {5000, 60000};
	for (int o = 0; o < 3; o++)
		for (int ks = 0; ks < 2; ks++)
			for (int w = 1; w <= 2; w++)
				for (int wi = 0; wi < 2; wi++) {
					if ((o == 0 && (ks || wi)) || (wi == 1 && (ks || o == 2)))
						continue;
					int64_t W = wins[wi], run_ms = W + secs * 1000;
					double t[3];
					for (int r = 0; r < 3; r++) {
						struct tally ta = {0};
						sluice_context *ctx =
						    start(ops[o], keyset[ks], per_batch, W, w, &ta);
						double t0 = bench_now();
						sluice_context_advance(ctx, run_ms);
						t[r] = bench_now() - t0;
						verify(ops[o], &ta, per_batch, W);
						sluice_context_free(ctx);
					}
					int64_t recs = per_batch * (run_ms / BATCH_MS);
					double rps = (double)recs / bench_median(t, 3);
					printf("windowed\t%s\t%" PRId64 "\t%d\t%" PRId64
					       "\t%" PRId64 "\t%.1f\t%.2f\t%.1f\t%.3f\n",
					       ops[o], keyset[ks], w, W / 1000, recs, rps / 1e6,
					       rps * 16 / 1e9, mem / 1e9, rps * 16 / mem);
					fflush(stdout);
				}
	/* steady-state cost of a batch as the window grows: fill the window, then time */
	printf("\nbenchmark\top\tkeys\tworkers\twindow_s\tus_per_batch\tmem_read_GBps\n");
	int64_t grow[] = {1000, 5000, 20000, 60000};
	for (int o = 1; o < 3; o++)
		for (int g = 0; g < 4; g++) {
			double t[3];
			for (int r = 0; r < 3; r++) {
				struct tally ta = {0};
				sluice_context *ctx =
				    start(ops[o], 1000, per_batch / 10, grow[g], 1, &ta);
				sluice_context_advance(ctx, grow[g]);
				double t0 = bench_now();
				sluice_context_advance(ctx, 5000);
				t[r] = bench_now() - t0;
				verify(ops[o], &ta, per_batch / 10, grow[g]);
				sluice_context_free(ctx);
			}
			printf("per_batch\t%s\t1000\t1\t%" PRId64 "\t%.1f\t%.1f\n", ops[o],
			       grow[g] / 1000, bench_median(t, 3) / (5000 / BATCH_MS) * 1e6,
			       mem / 1e9);
			fflush(stdout);
		}
	return 0;
}
