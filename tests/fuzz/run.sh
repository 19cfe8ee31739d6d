#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [HARNESS...]: builds the libFuzzer harnesses with clang (ASan + UBSan) in
# build-fuzz/ and runs each for SECONDS (default 30), one after the other. HARNESS names: npy safetensors
# idx wav manifest corpus_manifest (default: all). Each starts from the committed seeds in
# tests/fuzz/seeds/NAME (read only); what it finds new goes to build-fuzz/corpus/NAME, a crash to
# build-fuzz/artifacts/NAME/. Exit status: non-zero when a harness found a crash, a leak or a timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
[ $# -gt 0 ] && shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(npy safetensors idx wav manifest corpus_manifest)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DIMA_FUZZ=ON -DIMA_NATIVE=OFF >/dev/null
targets=()
for n in "${names[@]}"; do targets+=(--target "fuzz_$n"); done
cmake --build build-fuzz -j2 "${targets[@]}" >/dev/null

status=0
for n in "${names[@]}"; do
    mkdir -p "build-fuzz/corpus/$n" "build-fuzz/artifacts/$n"
    log="build-fuzz/fuzz_$n.log"
    # -rss_limit_mb / -malloc_limit_mb: an input that makes ima allocate over 2 GB is a finding;
    # -timeout: one input taking over 10 s is a finding (a hang, e.g. a blocking read)
    if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "./build-fuzz/fuzz_$n" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$n/" \
        "build-fuzz/corpus/$n" "tests/fuzz/seeds/$n" >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
        echo "fuzz_$n: ${secs}s, $runs runs, $cov, no findings"
    else
        status=1
        echo "fuzz_$n: FINDING (see $log and build-fuzz/artifacts/$n/):"
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5
    fi
done
exit $status
