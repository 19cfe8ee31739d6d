#!/usr/bin/env bash
# bench/mpi_scaling.sh: training throughput of one process with T threads against P ranks of one thread
# (mpirun), on the digits model (--preset digits --latent 50, batch 256, the paper's objective so that
# stage 2 times the steps, not the local-ev targets), and the bytes the ranks sum per step.
# Not a test. Prints a table (docs/scaling.md). Say whether the machine was idle when quoting it.
# usage: bash bench/mpi_scaling.sh [CORPUS [EPOCHS [BATCH]]]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-/work/cache/digits-fsdd}
E=${2:-1}
B=${3:-256}
IMA=${IMA:-$PWD/build/ima}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ARGS=(train --preset digits --latent 50 --input "image=$D/train/image.npy" --input "speech=$D/train/speech.npy"
      --epochs1 "$E" --epochs2 "$E" --batch "$B" --importance-objective paper --seed 1)
# run NAME RANKS THREADS
run() {
    local name=$1 np=$2 th=$3 launch=()
    [ "$np" -gt 1 ] && launch=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np")
    OPENBLAS_NUM_THREADS=$th "${launch[@]}" "$IMA" "${ARGS[@]}" --threads "$th" --out "$T/$name.safetensors" 2>"$T/$name.err"
    local s1 s2 n bytes calls
    s1=$(awk '/stage 1 epoch/ {for (i = 1; i < NF; i++) if ($(i + 1) == "samples/s") v = $i} END {print v}' "$T/$name.err")
    s2=$(awk '/stage 2 epoch/ {for (i = 1; i < NF; i++) if ($(i + 1) == "samples/s") v = $i} END {print v}' "$T/$name.err")
    n=$(awk '/samples, [0-9]+ modalities/ {print $3}' "$T/$name.err")
    read -r bytes calls < <(awk '/summed/ {print $6, $12}' "$T/$name.err"; echo "0 0")
    local steps=$(( 2 * E * ((n + B - 1) / B) ))
    printf '%-24s %6s %8s %12s %12s %16s %10s\n' "$name" "$np" "$th" "$s1" "$s2" \
        "$(awk -v b="$bytes" -v s="$steps" 'BEGIN {printf "%.0f", b / s}')" \
        "$(awk -v c="$calls" -v s="$steps" 'BEGIN {printf "%.1f", c / s}')"
}
echo "corpus $D, batch $B, $E epoch(s) per stage; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-24s %6s %8s %12s %12s %16s %10s\n' config ranks threads stage1_sps stage2_sps bytes_per_step sums_per_step
run "1 rank x 1 thread" 1 1
run "1 rank x 2 threads" 1 2
run "2 ranks x 1 thread" 2 1
grep -h "parameters:" "$T"/*.err | head -1
