#!/usr/bin/env bash
# cli_baselines.sh: ima train --model mvae|jmvae|dae and ima embed with baseline checkpoints, end to end on the
# built-in toy data; every bad input refused with a one-line error naming the flag or file and a non-zero exit.
# usage: bash cli_baselines.sh path/to/ima
set -u
IMA=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_fail NAME PATTERN CMD...: non-zero exit and stderr matching PATTERN
expect_fail() {
    local name=$1 pat=$2
    shift 2
    if "$@" >"$T/out.txt" 2>"$T/err.txt"; then
        bad "$name: exited 0"
    elif ! grep -qE -- "$pat" "$T/err.txt"; then
        bad "$name: stderr does not match '$pat': $(cat "$T/err.txt")"
    else ok; fi
}

# npy_zeros FILE ROWS COLS: a float32 .npy of zeros (header padded to 128 bytes)
npy_zeros() {
    local f=$1 len
    printf '\x93NUMPY\x01\x00\x76\x00{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (%d, %d), }' "$2" "$3" >"$f"
    len=$(stat -c %s "$f"); while [ "$len" -lt 127 ]; do printf ' ' >>"$f"; len=$((len + 1)); done; printf '\n' >>"$f"
    head -c $(($2 * $3 * 4)) /dev/zero >>"$f"
}

"$IMA" toy "$T/toy" --train 600 --test 200 >/dev/null 2>&1 || bad "ima toy failed"
A="$T/toy/train/a.npy"
B="$T/toy/train/b.npy"
COMMON=(--input "a=$A" --input "b=$B" --loss b=sse --hidden 16 --latent 4 --batch 64)

for model in mvae jmvae dae; do
    # training: a checkpoint, per-epoch lines with the loss terms, a log whose total and reconstructions fall
    if "$IMA" train --model "$model" "${COMMON[@]}" --epochs 8 --lr 3e-3 --out "$T/$model.safetensors" \
        --log "$T/$model.tsv" 2>"$T/err.txt"; then ok; else bad "$model: train: $(cat "$T/err.txt")"; fi
    [ -s "$T/$model.safetensors" ] && ok || bad "$model: no checkpoint written"
    grep -qE "^epoch 8/8 .*loss [0-9.]+ +rec\[a\] [0-9.]+ +rec\[b\]" "$T/err.txt" && ok || bad "$model: no epoch line: $(cat "$T/err.txt")"
    awk -F'\t' 'NR==2 {t0=$3; ra0=$4; rb0=$5} NR>1 {t1=$3; ra1=$4; rb1=$5}
         END {exit !(NR == 9 && t1 < 0.9 * t0 && ra1 < ra0 && rb1 < rb0)}' "$T/$model.tsv" && ok ||
        bad "$model: the loss did not fall: $(cat "$T/$model.tsv")"
    # embed with either modality missing, and with both: finite z (eval retrieval refuses NaN and infinities)
    for mods in "a" "b" "a b"; do
        args=()
        for m in $mods; do args+=(--input "$m=$T/toy/test/$m.npy"); done
        out="$T/emb_${model}_${mods// /}"
        "$IMA" embed --checkpoint "$T/$model.safetensors" "${args[@]}" --out "$out" 2>"$T/err.txt" && ok ||
            bad "$model: embed $mods: $(cat "$T/err.txt")"
        [ -s "$out/z.npy" ] && [ ! -e "$out/z_weighted.npy" ] && ok || bad "$model: embed $mods: z.npy missing"
        "$IMA" eval retrieval --rep "$out/z.npy" --labels "$T/toy/test/label.npy" >"$T/ret.txt" 2>&1 &&
            grep -q "200 samples, width 4" "$T/ret.txt" && ok || bad "$model: embed $mods: z not finite or wrong shape: $(cat "$T/ret.txt")"
    done
done
# the representation with a modality missing differs from the joint one
cmp -s "$T/emb_jmvae_a/z.npy" "$T/emb_jmvae_ab/z.npy" && bad "jmvae: z with b missing equals the joint z" || ok

# model-specific flags, the digits architecture beside Table 4 (a zero data set of the digits widths)
npy_zeros "$T/image.npy" 8 784
npy_zeros "$T/speech.npy" 8 696
"$IMA" train --model mvae --preset digits --gaussian-decoders --input "image=$T/image.npy" --input "speech=$T/speech.npy" \
    --epochs 0 --batch 8 --out "$T/t4.safetensors" 2>"$T/err.txt" && ok || bad "table 4 mvae: $(cat "$T/err.txt")"
grep -q "2,000,360 parameters; Table 4 (MVAE): 2,000,360 (equal)" "$T/err.txt" && ok || bad "table 4 mvae: $(cat "$T/err.txt")"
"$IMA" train --model jmvae --preset digits --gaussian-decoders --alpha 0.1 --input "image=$T/image.npy" \
    --input "speech=$T/speech.npy" --epochs 1 --batch 8 --out "$T/t4j.safetensors" --quiet 2>"$T/err.txt" && ok || bad "table 4 jmvae: $(cat "$T/err.txt")"
grep -q "3,309,660 parameters; Table 4 (JMVAE-KL): 3,309,660 (equal)" "$T/err.txt" && ok || bad "table 4 jmvae: $(cat "$T/err.txt")"
"$IMA" train --model jmvae --preset digits --input "image=$T/image.npy" --input "speech=$T/speech.npy" \
    --epochs 0 --batch 8 --out "$T/t4b.safetensors" 2>"$T/err.txt" && grep -q "2,846,580 parameters; Table 4 (JMVAE-KL): 3,309,660 (the paper's decoders have Gaussian heads" "$T/err.txt" && ok || bad "bce heads vs table 4: $(cat "$T/err.txt")"
# DAE encoder with Hc = 8 on Dc = 40: 40*8+8 + 8*8+8 + 8*4+4 = 436
"$IMA" train --model dae "${COMMON[@]}" --dae-feature-drop 0.1 --dae-modality-drop 0.5 --joint-hidden 8 --epochs 1 \
    --out "$T/dae2.safetensors" --quiet 2>"$T/err.txt" && grep -q "joint 436," "$T/err.txt" && ok || bad "dae flags: $(cat "$T/err.txt")"

# ---- bad inputs ----
expect_fail "unknown model" "--model: expected ima, mvae, jmvae or dae, got 'vae'" "$IMA" train --model vae "${COMMON[@]}" --out "$T/x.safetensors"
expect_fail "rho with mvae" "--rho applies to IMA only, not to --model mvae" "$IMA" train --model mvae "${COMMON[@]}" --rho 0.3 --out "$T/x.safetensors"
expect_fail "epochs2 with dae" "--epochs2 applies to IMA only" "$IMA" train --model dae "${COMMON[@]}" --epochs2 3 --out "$T/x.safetensors"
expect_fail "resume with jmvae" "--resume applies to IMA only" "$IMA" train --model jmvae "${COMMON[@]}" --resume "$T/jmvae.safetensors" --out "$T/x.safetensors"
expect_fail "alpha with mvae" "--alpha applies to jmvae only, not to --model mvae" "$IMA" train --model mvae "${COMMON[@]}" --alpha 1 --out "$T/x.safetensors"
expect_fail "alpha with ima" "--alpha applies to the baselines only" "$IMA" train "${COMMON[@]}" --alpha 1 --out "$T/x.safetensors"
expect_fail "malformed alpha" "--alpha: expected a number" "$IMA" train --model jmvae "${COMMON[@]}" --alpha x --out "$T/x.safetensors"
expect_fail "subsets with M = 2" "--mvae-subsets: with 2 modalities" "$IMA" train --model mvae "${COMMON[@]}" --mvae-subsets 2 --out "$T/x.safetensors"
expect_fail "gaussian with bce" "--gaussian-decoders: modality 'a' has --loss bce" "$IMA" train --model mvae "${COMMON[@]}" --loss a=bce --gaussian-decoders --out "$T/x.safetensors"
expect_fail "bce data outside [0,1]" "label.npy.*outside" "$IMA" train --model dae --input "a=$T/toy/train/label.npy" --out "$T/x.safetensors"
[ ! -e "$T/x.safetensors" ] && ok || bad "a checkpoint was left behind after a refused start"
head -c 3000 "$T/jmvae.safetensors" >"$T/cut.safetensors"
expect_fail "truncated baseline checkpoint" "cut.safetensors" "$IMA" embed --checkpoint "$T/cut.safetensors" --input "a=$A" --out "$T/embx"
expect_fail "width vs baseline checkpoint" "expects width" "$IMA" embed --checkpoint "$T/mvae.safetensors" --input "a=$B" --out "$T/embx"
expect_fail "unknown modality" "no modality of that name" "$IMA" embed --checkpoint "$T/dae.safetensors" --input "c=$A" --out "$T/embx"
[ ! -e "$T/embx/z.npy" ] && ok || bad "embed left output after an error"
# a diverging loss stops, names the epoch and the term, and leaves the last good checkpoint usable
expect_fail "diverging loss" "jmvae, epoch 1, batch [0-9]+: .*non-finite.*last good checkpoint" "$IMA" train --model jmvae "${COMMON[@]}" --lr 1e5 --epochs 5 --out "$T/div.safetensors"
"$IMA" embed --checkpoint "$T/div.safetensors" --input "a=$A" --out "$T/embdiv" 2>/dev/null && ok || bad "no usable last good checkpoint after divergence"
ls "$T" | grep -q '\.tmp\.' && bad "temporary files left behind: $(ls "$T")" || ok

echo "cli_baselines: $pass passed, $fail failed"
[ "$fail" = 0 ]
