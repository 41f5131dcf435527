#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build the parser fuzz targets with clang's libFuzzer (+ASan +UBSan) and run each one: the
# text kernels (lines, numbers, CSV, JSON fields), core/json.c (queueStream's JSON lines) and
# core/parse.c (the pipeline language).
#   tests/fuzz/build.sh [seconds-per-target (default 10)] [outdir (default build-fuzz)]
# Needs clang (14) and libclang-rt-14-dev (libFuzzer). Exits non-zero if a target finds a
# mismatch or a crash; the reproducer is left in the outdir (crash-*, see libFuzzer's output).
set -eu
secs=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$root/build-fuzz}
CC=${CC:-clang}
mkdir -p "$out"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=gnu17 -O1 -g -Wall -Wextra -Werror -I$root/kernels"

# The kernels get the same per-ISA flags as in the real build.
$CC $cflags $san -fsanitize=fuzzer-no-link -fno-tree-vectorize \
	-c "$root/kernels/text_scalar.c" -o "$out/text_scalar.o"
$CC $cflags $san -fsanitize=fuzzer-no-link -mavx2 \
	-c "$root/kernels/text_avx2.c" -o "$out/text_avx2.o"
$CC $cflags $san -fsanitize=fuzzer-no-link -mavx512f -mavx512bw -mavx512vl -mavx512dq \
	-c "$root/kernels/text_avx512.c" -o "$out/text_avx512.o"

n=0
for t in lines numbers csv json; do
	n=$((n + 1))
	$CC $cflags $san -fsanitize=fuzzer -DSL_FUZZ_TARGET=$n "$root/tests/fuzz/fuzz_text.c" \
		"$out/text_scalar.o" "$out/text_avx2.o" "$out/text_avx512.o" -lm \
		-o "$out/fuzz_text_$t"
done

$CC $cflags $san -fsanitize=fuzzer -I"$root/core" "$root/tests/fuzz/fuzz_json.c" \
	"$root/core/json.c" -lm -o "$out/fuzz_json"

$CC $cflags $san -fsanitize=fuzzer -I"$root/core" -I"$root/include" \
	"$root/tests/fuzz/fuzz_parse.c" "$root/core/parse.c" "$root/core/env.c" -lm \
	-o "$out/fuzz_parse"

fail=0
for t in text_lines text_numbers text_csv text_json json parse; do
	mkdir -p "$out/corpus_$t"
	if [ -d "$root/tests/fuzz/seed_$t" ]; then cp "$root/tests/fuzz/seed_$t"/* "$out/corpus_$t/"; fi
	echo "== fuzz_$t: ${secs}s"
	if (cd "$out" && "./fuzz_$t" -max_total_time="$secs" -max_len=4200 \
		-print_final_stats=1 "corpus_$t" >"fuzz_$t.log" 2>&1); then
		grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units)" "$out/fuzz_$t.log" || true
	else
		tail -n 40 "$out/fuzz_$t.log"
		echo "fuzz_$t: FAILED (log and reproducer in $out)"
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "fuzz: all targets clean"
exit "$fail"
