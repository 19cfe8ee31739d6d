#!/usr/bin/env bash
# bench/mpi_scaling.sh: training throughput of one process with T threads against P ranks of one thread
# (mpirun), with the gradient sum overlapped with the backward pass (IMA_MPI_OVERLAP=1) and without it
# (IMA_MPI_OVERLAP=0; unset, ima overlaps only across machines), on the digits model (--preset digits --latent 50, batch 256, the paper's objective so
# that stage 2 times the steps, not the local-ev targets), and the bytes the ranks sum per step.
# Each configuration runs REPS times, the configurations interleaved (A B A B ...) so that a change in the
# machine's load falls on all of them; the table holds the medians and every rep's value.
# Not a test. Prints a table (docs/scaling.md). Say whether the machine was idle when quoting it.
# usage: [REPS=3] [CONFIGS="1x1 1x2 2x1-on 2x1-off"] [KEEP=DIR] bash bench/mpi_scaling.sh [CORPUS [EPOCHS [BATCH]]]
#   CONFIGS: RANKSxTHREADS, then "-on" for IMA_MPI_OVERLAP=1, "-off" for 0, nothing for unset
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-/work/cache/digits-fsdd}
E=${2:-1}
B=${3:-256}
REPS=${REPS:-3}
CONFIGS=${CONFIGS:-"1x1 1x2 2x1-on 2x1-off"}
IMA=${IMA:-$PWD/build/ima}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
KEEP=${KEEP:-}  # a folder to keep every run's stderr in
ARGS=(train --preset digits --latent 50 --input "image=$D/train/image.npy" --input "speech=$D/train/speech.npy"
      --epochs1 "$E" --epochs2 "$E" --batch "$B" --importance-objective paper --seed 1)
# run CONFIG REP: one training run; appends "s1 s2 bytes/step sums/step hidden/waited" to $T/CONFIG.txt
run() {
    local cfg=$1 rep=$2 np th ov= launch=()
    np=${cfg%%x*}
    th=${cfg#*x}
    th=${th%-*}
    case $cfg in *-on) ov=1 ;; *-off) ov=0 ;; esac
    [ "$np" -gt 1 ] && launch=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x IMA_MPI_OVERLAP -np "$np")
    local err="$T/$cfg.$rep.err"
    IMA_MPI_OVERLAP=$ov OPENBLAS_NUM_THREADS=$th "${launch[@]}" "$IMA" "${ARGS[@]}" --threads "$th" \
        --out "$T/$cfg.safetensors" 2>"$err"
    local s1 s2 n bytes calls done started
    s1=$(awk '/stage 1 epoch/ {for (i = 1; i < NF; i++) if ($(i + 1) == "samples/s") v = $i} END {print v}' "$err")
    s2=$(awk '/stage 2 epoch/ {for (i = 1; i < NF; i++) if ($(i + 1) == "samples/s") v = $i} END {print v}' "$err")
    n=$(awk '/samples, [0-9]+ modalities/ {print $3}' "$err")
    read -r bytes calls < <(awk '/summed/ {print $6, $12}' "$err"; echo "0 0")
    read -r done started < <(awk '/overlap:/ {print $4, $6}' "$err"; echo "- -")
    local steps=$(( 2 * E * ((n + B - 1) / B) ))
    echo "$s1 $s2 $(awk -v b="$bytes" -v s="$steps" 'BEGIN {printf "%.0f", b / s}') \
$(awk -v c="$calls" -v s="$steps" 'BEGIN {printf "%.1f", c / s}') $done/$started" >>"$T/$cfg.txt"
    [ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$err" "$KEEP/"
    true
}
echo "corpus $D, batch $B, $E epoch(s) per stage, $REPS reps; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPS"); do
    for cfg in $CONFIGS; do run "$cfg" "$rep"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# median of column C of a file, and every value
col() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f", m}'; }
all() { awk -v c="$2" '{printf "%s%s", (NR > 1 ? ";" : ""), $c}' "$1"; }
printf '%-10s %8s %22s %8s %22s %14s %8s %18s\n' config stage1 "(reps)" stage2 "(reps)" bytes_per_step sums "sums hidden/waited"
for cfg in $CONFIGS; do
    f="$T/$cfg.txt"
    printf '%-10s %8s %22s %8s %22s %14s %8s %18s\n' "$cfg" "$(col "$f" 1)" "$(all "$f" 1)" "$(col "$f" 2)" \
        "$(all "$f" 2)" "$(head -1 "$f" | cut -d' ' -f3)" "$(head -1 "$f" | cut -d' ' -f4)" "$(all "$f" 5)"
done
grep -h "parameters:" "$T"/*.err | head -1
