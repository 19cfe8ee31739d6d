#!/usr/bin/env bash
# scripts/summarize_demo.sh OUT: print what the demo model learned, from the files demo.sh wrote.
set -euo pipefail
OUT=$1
IMA=${IMA:-build/ima}
LOG="$OUT/train_log.tsv"
echo "loss terms, first and last epoch of each stage (round stage epoch ... total glob rec/align/corr/local/mean_y/dead per modality):"
awk -F'\t' 'NR==1 {print; next} {key=$1"-"$2} !(key in first) {first[key]=$0} {last[key]=$0}
            END {for (k in first) {print first[k]; print last[k]}}' "$LOG" | sort -t$'\t' -k1,1n -k2,2n -k3,3n | column -t
if $IMA eval --help >/dev/null 2>&1; then
    D="$OUT/data/test"
    for rep in embed_ab/z_weighted embed_ab/z_unweighted embed_a/z_weighted embed_b/z_weighted; do
        echo
        echo "retrieval on the test split, representation $rep:"
        $IMA eval retrieval --rep "$OUT/$rep.npy" --labels "$D/label.npy" --k 10,50 || true
    done
    for m in a b; do
        echo
        echo "importance of modality $m against the known noise samples:"
        $IMA eval importance --y "$OUT/embed_ab/y_$m.npy" --noise "$D/${m}_noise.npy" || true
    done
fi
