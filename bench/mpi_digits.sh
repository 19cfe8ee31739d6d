#!/usr/bin/env bash
# bench/mpi_digits.sh: `mpirun -np 2 ima train` on the full digits corpus against one process, per seed,
# each model scored by the repro's measures on the test split (ima embed, then ima eval retrieval P@10 /
# P@50 of the importance-weighted z and ima eval importance of each modality's noise detection).
# Not a test (minutes per run). Results: OUT/summary.tsv (docs/scaling.md).
# usage: bash bench/mpi_digits.sh [CORPUS [OUT [EPOCHS1 EPOCHS2 [SEEDS]]]]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-/work/cache/digits-fsdd}
OUT=${2:-/work/cache/mpi/digits}
E1=${3:-10}
E2=${4:-3}
SEEDS=${5:-"1 2"}
IMA=${IMA:-$PWD/build/ima}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1
printf 'seed\tranks\ttrain_s\tP@10\tP@50\tF1_image\tAUC_image\tF1_speech\tAUC_speech\n' >"$OUT/summary.tsv"
for seed in $SEEDS; do
    for np in 1 2; do
        run="$OUT/seed$seed-np$np"
        mkdir -p "$run"
        launch=()
        [ "$np" -gt 1 ] && launch=(mpirun --allow-run-as-root --oversubscribe -np "$np")
        t0=$(date +%s.%N)
        "${launch[@]}" "$IMA" train --preset digits --latent 50 --input "image=$D/train/image.npy" \
            --input "speech=$D/train/speech.npy" --epochs1 "$E1" --epochs2 "$E2" --batch 256 --seed "$seed" \
            --importance-objective local-ev --threads 1 --quiet --out "$run/model.safetensors" --log "$run/log.tsv" \
            2>"$run/train.err"
        t1=$(date +%s.%N)
        "$IMA" embed --checkpoint "$run/model.safetensors" --input "image=$D/test/image.npy" \
            --input "speech=$D/test/speech.npy" --out "$run/test" >/dev/null 2>&1
        "$IMA" eval retrieval --rep "$run/test/z_weighted.npy" --labels "$D/test/label.npy" --k 10,50 \
            --json "$run/retrieval.json" >/dev/null
        for mod in image speech; do
            "$IMA" eval importance --y "$run/test/y_$mod.npy" --noise "$D/test/${mod}_noise.npy" \
                --json "$run/importance_$mod.json" >/dev/null
        done
        /usr/bin/python3 - "$run" "$seed" "$np" "$t0" "$t1" >>"$OUT/summary.tsv" <<'PY'
import json, sys
run, seed, np_, t0, t1 = sys.argv[1:6]
r = json.load(open(f"{run}/retrieval.json"))
imp = {m: json.load(open(f"{run}/importance_{m}.json")) for m in ("image", "speech")}
row = [seed, np_, f"{float(t1) - float(t0):.0f}"]
a = r["all"]
row += [f"{a['p@10']:.4f}", f"{a['p@50']:.4f}"]
for m in ("image", "speech"):
    row += [f"{imp[m]['f1']:.4f}", f"{imp[m]['auc']:.4f}"]
print("\t".join(row))
PY
    done
done
cat "$OUT/summary.tsv"
