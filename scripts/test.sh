#!/usr/bin/env bash
# scripts/test.sh [--sanitize]: build and run the whole test suite (ctest).
# --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer (+ float-cast-overflow) in build-sanitize/.
# allocator_may_return_null: an allocation too large for the machine returns NULL (as malloc does), so the
# tests can check that ima reports it instead of ending the process.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
    cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DIMA_SANITIZE=ON >/dev/null
    cmake --build build-sanitize -j2
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-sanitize --output-on-failure -j2
else
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j2
    ctest --test-dir build --output-on-failure -j2
fi
