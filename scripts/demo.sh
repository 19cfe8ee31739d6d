#!/usr/bin/env bash
# scripts/demo.sh: the main job on a fresh machine: install, build, make the default data set,
# train IMA on it, embed the test split with each modality missing in turn, and print what it learned.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
IMA=build/ima
OUT=out/demo
mkdir -p "$OUT"
$IMA toy "$OUT/data"
$IMA train --input a="$OUT/data/train/a.npy" --input b="$OUT/data/train/b.npy" --loss b=sse \
    --hidden 64 --latent 8 --rho 0.85 --epochs1 30 --epochs2 10 --batch 128 \
    --out "$OUT/model.safetensors" --log "$OUT/train_log.tsv"
for mods in "a b" "a" "b"; do
    args=()
    for m in $mods; do args+=(--input "$m=$OUT/data/test/$m.npy"); done
    $IMA embed --checkpoint "$OUT/model.safetensors" "${args[@]}" --out "$OUT/embed_${mods// /}"
done
echo
echo "What the model learned (test split): see $OUT/train_log.tsv for every loss term per epoch."
bash scripts/summarize_demo.sh "$OUT"
