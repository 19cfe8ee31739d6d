#!/usr/bin/env bash
# Writes docs/repro-fsdd-report.md from an `ima repro digits --seeds` output folder (default
# out/fsdd): what ran, the targets of issues 9 and 14 per seed (scripts/fsdd_targets.py), the mean +- sd tables, and seed 1's own tables.
# usage: scripts/fsdd_report.sh [OUT] [NOTE_FILE]   (NOTE_FILE: markdown inserted under "What ran")
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/fsdd}
NOTE=${2:-}
DST=docs/repro-fsdd-report.md
{
    echo "# IMA on MNIST x FSDD: the local-ev importance objective (beyond the paper) beside the paper's"
    echo
    echo "## What ran"
    echo
    [ -n "$NOTE" ] && cat "$NOTE" && echo
    /usr/bin/python3 scripts/fsdd_targets.py "$OUT" | sed 's/^## /## Targets: /'
    echo
    echo "Limits of #9: F1 at y < 0.5 >= 0.95 (latent 50) / 0.90 (latent 2) in both modalities; ranking AUC >= 0.99 / 0.97;"
    echo "weighted z P@10 >= unweighted + 0.005 and >= oracle - 0.005; MLP accuracy weighted >= unweighted."
    echo
    sed -n '/^## Tables 1 and 5/,$p' "$OUT/report.md" | sed 's/^## /## Over the seeds: /'
    echo
    echo "## Seed 1 in full (from $OUT/seed-1/report.md; figures not copied)"
    echo
    sed -n '/^## Settings/,/^## Figures/p' "$OUT/seed-1/report.md" | sed '$d' | sed 's/^## /### /'
} >"$DST.tmp"
mv "$DST.tmp" "$DST"
echo "wrote $DST"
