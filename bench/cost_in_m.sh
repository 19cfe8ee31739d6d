#!/usr/bin/env bash
# cost_in_m.sh: runs bench_cost_in_m (training time per epoch and parameters against the number of modalities M
# for IMA, MVAE and JMVAE-KL) and plots the result with gnuplot.
# Writes bench/cost_in_m.md (table, fitted growth, notes), bench/cost_in_m.tsv and bench/cost_in_m.png.
# usage: bash bench/cost_in_m.sh [BUILD_DIR (build)] [bench_cost_in_m options: --rows N --repeats R]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../build}
shift || true
BIN=$BUILD/bench_cost_in_m
[ -x "$BIN" ] || { echo "cost_in_m.sh: $BIN not found (cmake --build $BUILD first)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "cost_in_m.sh: gnuplot is not on PATH" >&2; exit 1; }
OPENBLAS_NUM_THREADS=1 "$BIN" "$HERE/cost_in_m" "$@"
# columns of cost_in_m.tsv: 1 M, 2 ima_s, 3 ima_params, 4 mvae_s, 5 mvae_terms, 6 mvae_full_terms, 7 mvae_full_s,
# 8 mvae_params, 9 jmvae_s, 10 jmvae_encoders, 11 jmvae_params, 12 jmvae_full_encoders, 13 jmvae_full_params,
# 14 jmvae_full_s
gnuplot <<GP
set terminal pngcairo size 1200,520 font ",11"
set output "$HERE/cost_in_m.png"
set datafile separator "\t"
set key top left
set logscale y
set grid
set xlabel "modalities M"
set xtics (2, 3, 4, 6, 8)
set multiplot layout 1,2 title "Training cost against M (D = H = 64, d = 16, 4,096 rows, batch 256, 1 thread)"
set ylabel "CPU seconds per epoch"
set title "CPU seconds per epoch (dashed: full subset coverage, extrapolated / estimated)"
plot "$HERE/cost_in_m.tsv" every ::1 using 1:2 with linespoints lw 2 pt 7 lc rgb "#7b2cbf" title "IMA (stage 1 + stage 2)", \
     "" every ::1 using 1:4 with linespoints lw 2 pt 5 lc rgb "#2a9d8f" title "MVAE, <= 16 subset terms", \
     "" every ::1 using 1:7 with linespoints lw 2 pt 4 dt 2 lc rgb "#2a9d8f" title "MVAE, 2^M - 1 terms", \
     "" every ::1 using 1:9 with linespoints lw 2 pt 9 lc rgb "#e76f51" title "JMVAE-KL, M + 1 encoders", \
     "" every ::1 using 1:14 with linespoints lw 2 pt 8 dt 2 lc rgb "#e76f51" title "JMVAE-KL, 2^M - 1 encoders"
set ylabel "parameters"
set title "parameters (exact counts)"
plot "$HERE/cost_in_m.tsv" every ::1 using 1:3 with linespoints lw 2 pt 7 lc rgb "#7b2cbf" title "IMA", \
     "" every ::1 using 1:8 with linespoints lw 2 pt 5 lc rgb "#2a9d8f" title "MVAE", \
     "" every ::1 using 1:11 with linespoints lw 2 pt 9 lc rgb "#e76f51" title "JMVAE-KL, M + 1 encoders", \
     "" every ::1 using 1:13 with linespoints lw 2 pt 8 dt 2 lc rgb "#e76f51" title "JMVAE-KL, 2^M - 1 encoders"
unset multiplot
GP
echo "cost_in_m.sh: wrote $HERE/cost_in_m.md, cost_in_m.tsv and cost_in_m.png" >&2
