/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_overhead - fixed cost of one batch: manual clock, empty batches through
 * source -> map -> filter -> reduceByKey -> foreachBatch, and through a bare source ->
 * foreachBatch. Prints TSV rows (median of 5 runs) beside the memory-read baseline.
 *
 * usage: bench_overhead [batches] [workers]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "sluice.h"

static int sink(void *arg, int64_t t, const sluice_batch *b)
{
	(void)t;
	*(size_t *)arg += sluice_batch_count(b);
	return 0;
}

static double run(const char *pipeline, int64_t batches, int workers, size_t *rows)
{
	sluice_config cfg;
	sluice_config_init(&cfg);
	cfg.clock = SLUICE_CLOCK_MANUAL;
	cfg.batch_interval_ms = 1;
	cfg.workers = workers;
	sluice_error err = {0};
	sluice_context *ctx = sluice_context_new(&cfg, &err);
	if (!ctx || sluice_context_pipeline(ctx, pipeline, strlen(pipeline), &err)) {
		fprintf(stderr, "bench_overhead: %s\n", err.msg);
		exit(1);
	}
	sluice_stream *s = sluice_context_stream(ctx, "out");
	if (sluice_stream_foreach_batch(s, sink, rows, &err) || sluice_context_start(ctx, &err)) {
		fprintf(stderr, "bench_overhead: %s\n", err.msg);
		exit(1);
	}
	double t0 = bench_now();
	if (sluice_context_advance(ctx, batches) != batches) {
		fprintf(stderr, "bench_overhead: batches did not run\n");
		exit(1);
	}
	double dt = bench_now() - t0;
	sluice_context_free(ctx);
	return dt / (double)batches;
}

int main(int argc, char **argv)
{
	int64_t batches = argc > 1 ? atoll(argv[1]) : 20000;
	int workers = argc > 2 ? atoi(argv[2]) : 2;
	double mem = bench_mem_read((size_t)512 << 20, 5);
	static const struct {
		const char *name, *pipeline;
	} cases[] = {
	    {"source_only", "val out = generator(\"numbers\", rate = 1, keys = 10)"},
	    {"map_filter_reduceByKey", "val out = generator(\"numbers\", rate = 1, keys = "
				       "10).map(x => (x % 7, x)).filter(_._2 >= 0)"
				       ".reduceByKey(_ + _)"},
	};
	printf("benchmark\tcase\tworkers\tbatches\tus_per_batch\tgoal_us\tmem_read_GBps\n");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double t[5];
		size_t rows = 0;
		for (int r = 0; r < 5; r++)
			t[r] = run(cases[c].pipeline, batches, workers, &rows);
		/* the generator emits 1 record/s: a handful over all batches, so the check is
		 * that the pipeline saw exactly what was generated */
		if (rows > (size_t)(batches * 5 / 1000 + 5)) {
			fprintf(stderr, "bench_overhead: unexpected row count %zu\n", rows);
			return 1;
		}
		printf("overhead\t%s\t%d\t%lld\t%.2f\t20\t%.1f\n", cases[c].name, workers,
		       (long long)batches, bench_median(t, 5) * 1e6, mem / 1e9);
	}
	return 0;
}
