#!/usr/bin/env bash
# Builds scripts/importance_lab.c against build/libima.a and runs it (arguments passed through).
set -euo pipefail
cd "$(dirname "$0")/.."
cc -O2 -std=c11 -Iinclude -Isrc scripts/importance_lab.c build/libima.a -o build/importance_lab \
  $(pkg-config --libs openblas libcjson sndfile fftw3f samplerate zlib 2>/dev/null) -lespeak-ng -lm -lpthread
exec build/importance_lab "$@"
