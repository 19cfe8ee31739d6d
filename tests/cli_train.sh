#!/usr/bin/env bash
# cli_train.sh: ima toy / train / embed end to end, and every bad input the CLI must refuse with a
# one-line error naming the file or flag, a non-zero exit, and no partial output left behind.
# usage: bash cli_train.sh path/to/ima
set -u
IMA=$1
. "$(dirname "$0")/cli_lib.bash"

"$IMA" toy "$T/toy" --train 600 --test 200 >/dev/null 2>&1 || bad "ima toy failed"
A="$T/toy/train/a.npy"
B="$T/toy/train/b.npy"
COMMON=(--input "a=$A" --input "b=$B" --loss b=sse --hidden 16 --latent 4 --batch 64 --quiet)

# a normal run: every stage-1 term and the total fall between the first and last epoch
if "$IMA" train "${COMMON[@]}" --epochs1 8 --epochs2 3 --out "$T/m.safetensors" --log "$T/log.tsv" 2>"$T/err.txt"; then ok; else bad "train: $(cat "$T/err.txt")"; fi
[ -s "$T/m.safetensors" ] && ok || bad "no checkpoint written"
awk -F'\t' 'NR==2 {t0=$5; ra0=$7; rb0=$13} $2==1 {t1=$5; ra1=$7; rb1=$13}
     END {exit !(t1 < t0 && ra1 < ra0 && rb1 < rb0)}' "$T/log.tsv" && ok || bad "stage-1 loss terms did not fall: $(cat "$T/log.tsv")"
[ "$(awk 'END{print NR}' "$T/log.tsv")" = 12 ] && ok || bad "log should have a header and 11 epoch lines"

# resume continues, and an extended run is accepted
"$IMA" train --input "a=$A" --input "b=$B" --resume "$T/m.safetensors" --epochs2 4 --quiet --out "$T/m2.safetensors" 2>"$T/err.txt" && ok || bad "resume: $(cat "$T/err.txt")"

# a validation set: stage 2 keeps its best-scoring epoch (and says which)
VALID=(--valid-input "a=$T/toy/test/a.npy" --valid-input "b=$T/toy/test/b.npy")
"$IMA" train --input "a=$A" --input "b=$B" --loss b=sse --hidden 16 --latent 4 --batch 64 "${VALID[@]}" --epochs1 2 --epochs2 3 --out "$T/v.safetensors" 2>"$T/err.txt" && ok || bad "train with validation: $(cat "$T/err.txt")"
[ "$(grep -c 'validation score .* (kept epoch [1-3])' "$T/err.txt")" = 3 ] && ok || bad "no validation score per stage-2 epoch: $(cat "$T/err.txt")"
expect_fail "validation for one modality only" "--valid-input: give one for every modality" "$IMA" train "${COMMON[@]}" --valid-input "a=$T/toy/test/a.npy" --out "$T/x.safetensors"
# early stopping: IMA stage 1 and a baseline stop on the validation loss and keep the best epoch
"$IMA" train --input "a=$A" --input "b=$B" --loss b=sse --hidden 16 --latent 4 --batch 64 "${VALID[@]}" --epochs1 30 --epochs2 1 --patience 1 --out "$T/p.safetensors" 2>"$T/err.txt" && ok || bad "IMA --patience: $(cat "$T/err.txt")"
grep -q 'validation L_auto .* (best epoch [0-9]*)' "$T/err.txt" && ok || bad "IMA --patience: no validation L_auto per epoch: $(cat "$T/err.txt")"
"$IMA" train --model dae "${COMMON[@]}" "${VALID[@]}" --epochs 30 --patience 1 --out "$T/pd.safetensors" 2>"$T/err.txt" && ok || bad "dae --patience: $(cat "$T/err.txt")"
grep -q 'kept epoch [0-9]* of [0-9]*' "$T/err.txt" && ok || bad "dae --patience: no kept epoch: $(cat "$T/err.txt")"
expect_fail "baseline patience without validation" "--patience needs a validation set" "$IMA" train --model mvae "${COMMON[@]}" --patience 2 --out "$T/x.safetensors"

# embed with either modality missing gives finite z
for mods in "a" "b" "a b"; do
    args=()
    for m in $mods; do args+=(--input "$m=$T/toy/test/$m.npy"); done
    "$IMA" embed --checkpoint "$T/m.safetensors" "${args[@]}" --out "$T/emb_${mods// /}" 2>"$T/err.txt" && ok || bad "embed $mods: $(cat "$T/err.txt")"
    [ -s "$T/emb_${mods// /}/z_weighted.npy" ] && [ -s "$T/emb_${mods// /}/z_unweighted.npy" ] && ok || bad "embed $mods: z files missing"
done

# ---- bad inputs ----
printf '\x93NUMPY\x01\x00' >"$T/trunc.npy"
expect_fail "truncated npy" "trunc.npy" "$IMA" train --input "a=$T/trunc.npy" --out "$T/x.safetensors"
[ ! -e "$T/x.safetensors" ] && ok || bad "a checkpoint was left behind after a failed start"
head -c 2000 "$A" >"$T/cut.npy"
expect_fail "cut npy" "cut.npy" "$IMA" train --input "a=$T/cut.npy" --out "$T/x.safetensors"
"$IMA" toy "$T/small" --train 10 --test 5 >/dev/null 2>&1
expect_fail "row mismatch" "rows" "$IMA" train --input "a=$A" --input "b=$T/small/train/b.npy" --out "$T/x.safetensors"
expect_fail "bce data outside [0,1]" "label.npy.*outside" "$IMA" train --input "a=$T/toy/train/label.npy" --input "b=$B" --out "$T/x.safetensors" --epochs1 1 --epochs2 0 --quiet
expect_fail "unknown flag" "unknown option '--bogus'" "$IMA" train --bogus 3
expect_fail "malformed value" "--epochs1: expected an integer" "$IMA" train "${COMMON[@]}" --epochs1 ten --out "$T/x.safetensors"
expect_fail "malformed rho" "--rho: expected a number" "$IMA" train "${COMMON[@]}" --rho a=1.5 --out "$T/x.safetensors"
expect_fail "unknown modality in flag" "no modality named 'c'" "$IMA" train "${COMMON[@]}" --hidden c=5 --out "$T/x.safetensors"
expect_fail "non-writable output" "nodir" "$IMA" train "${COMMON[@]}" --epochs1 1 --epochs2 0 --out "$T/nodir/m.safetensors"
expect_fail "width vs checkpoint" "expects width" "$IMA" embed --checkpoint "$T/m.safetensors" --input "a=$B" --out "$T/embx"
[ ! -e "$T/embx/z_weighted.npy" ] && ok || bad "embed left output after a width error"
expect_fail "unknown modality in embed" "no modality of that name" "$IMA" embed --checkpoint "$T/m.safetensors" --input "c=$A" --out "$T/embx"
head -c 3000 "$T/m.safetensors" >"$T/cut.safetensors"
expect_fail "truncated checkpoint" "cut.safetensors" "$IMA" embed --checkpoint "$T/cut.safetensors" --input "a=$A" --out "$T/embx"
expect_fail "unknown command" "unknown command" "$IMA" frobnicate
expect_fail "missing out" "--out" "$IMA" train --input "a=$A"
expect_fail "model flag with resume" "model flags \\(--latent\\) are not allowed" "$IMA" train --input "a=$A" --input "b=$B" --resume "$T/m.safetensors" --latent 8 --out "$T/x.safetensors"
expect_fail "flag value on a switch" "unknown option '--quiet=1'" "$IMA" train "${COMMON[@]}" --quiet=1 --out "$T/x.safetensors"
# every modality masked in a row
printf '\x93NUMPY\x01\x00\x76\x00{'"'"'descr'"'"': '"'"'|u1'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (600,), }' >"$T/zero.npy"
# pad the header to 128 bytes total: 10 fixed + 118 header incl. newline
python_free_pad() { local f=$1 len; len=$(stat -c %s "$f"); while [ "$len" -lt 127 ]; do printf ' ' >>"$f"; len=$((len + 1)); done; printf '\n' >>"$f"; head -c 600 /dev/zero >>"$f"; }
python_free_pad "$T/zero.npy"
expect_fail "all masked" "every modality masked" "$IMA" train "${COMMON[@]}" --mask "a=$T/zero.npy" --mask "b=$T/zero.npy" --out "$T/x.safetensors"
# a NaN in the data: write a float32 .npy by hand with one NaN
printf '\x93NUMPY\x01\x00\x76\x00{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (2, 2), }' >"$T/nan.npy"
len=$(stat -c %s "$T/nan.npy"); while [ "$len" -lt 127 ]; do printf ' ' >>"$T/nan.npy"; len=$((len + 1)); done; printf '\n' >>"$T/nan.npy"
printf '\x00\x00\x80\x3f\x00\x00\xc0\x7f\x00\x00\x80\x3f\x00\x00\x80\x3f' >>"$T/nan.npy"
expect_fail "NaN input" "nan.npy.*(NaN|row)" "$IMA" train --input "a=$T/nan.npy" --out "$T/x.safetensors"
# Fortran order
printf '\x93NUMPY\x01\x00\x76\x00{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': True, '"'"'shape'"'"': (2, 2), }' >"$T/fort.npy"
len=$(stat -c %s "$T/fort.npy"); while [ "$len" -lt 127 ]; do printf ' ' >>"$T/fort.npy"; len=$((len + 1)); done; printf '\n' >>"$T/fort.npy"
head -c 16 /dev/zero >>"$T/fort.npy"
expect_fail "Fortran order" "fort.npy.*ortran" "$IMA" train --input "a=$T/fort.npy" --out "$T/x.safetensors"
# a loss that becomes non-finite stops training, names the term, keeps the last good checkpoint
cp "$T/m.safetensors" "$T/keep.safetensors"
expect_fail "diverging loss" "non-finite" "$IMA" train "${COMMON[@]}" --lr1 1e5 --epochs1 30 --epochs2 0 --out "$T/div.safetensors"
[ -s "$T/div.safetensors" ] && "$IMA" embed --checkpoint "$T/div.safetensors" --input "a=$A" --out "$T/embdiv" 2>/dev/null && ok || bad "no usable last good checkpoint after divergence"
ls "$T" | grep -q '\.tmp\.' && bad "temporary files left behind: $(ls "$T")" || ok

cli_finish cli_train
