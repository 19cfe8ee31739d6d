#!/usr/bin/env bash
# cli_reliability.sh: issue #11 from the command line: a wrapping .npy shape, resuming a digits-size
# model, exact resume, outputs all-or-nothing (embed, eval tsne), stale temporary files and log.tsv
# across --resume, FIFO inputs, messages, `ima data digits --out` into missing parents, corpus modes.
# usage: bash cli_reliability.sh path/to/ima
set -u
IMA=$1
. "$(dirname "$0")/cli_lib.bash"

# exit code exactly 1 (not an abort's 134, not a hang's 124) and stderr matching PATTERN, in at most 3
# lines (besides the sanitizer build's warnings about allocations it refused, allocator_may_return_null)
expect_1() {
    local name=$1 pat=$2
    shift 2
    timeout 60 "$@" >"$T/out.txt" 2>"$T/err.txt"
    local rc=$?
    if [ "$rc" != 1 ]; then
        bad "$name: exit $rc (expected 1): $(head -c 400 "$T/err.txt")"
    elif ! grep -qE -- "$pat" "$T/err.txt"; then
        bad "$name: stderr does not match '$pat': $(head -c 400 "$T/err.txt")"
    elif [ "$(grep -cvE '^==[0-9]+==WARNING: AddressSanitizer failed to allocate' "$T/err.txt")" -gt 3 ]; then
        bad "$name: the message takes $(wc -l <"$T/err.txt") lines: $(cat "$T/err.txt")"
    else ok; fi
}

# a little-endian 16-bit mono WAV of N samples of noise at RATE Hz
wav() {
    local path=$1 rate=$2 n=$3
    le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
    {
        printf 'RIFF'; le32 $((36 + 2 * n)); printf 'WAVEfmt '; le32 16; printf '\x01\x00\x01\x00'
        le32 "$rate"; le32 $((2 * rate)); printf '\x02\x00\x10\x00'; printf 'data'; le32 $((2 * n))
        head -c $((2 * n)) /dev/urandom
    } >"$path"
}

# a v1 .npy header for DICT, padded to 128 bytes (the data, if any, follows)
npyhdr() { printf '\x93NUMPY\x01\x00\x76\x00%s%*s\n' "$1" $((128 - 10 - ${#1} - 1)) ''; }

"$IMA" toy "$T/toy" --train 300 --test 100 >/dev/null 2>&1 || bad "ima toy failed"
A="$T/toy/train/a.npy"
B="$T/toy/train/b.npy"
COMMON=(--input "a=$A" --input "b=$B" --loss b=sse --hidden 16 --latent 4 --batch 32 --quiet)

# ---- 1. a shape whose product wraps (2^62 x 0 rows in 128 bytes) -------------------------------
npyhdr "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0), }" >"$T/huge.npy"
[ "$(wc -c <"$T/huge.npy")" = 128 ] && ok || bad "huge.npy is $(wc -c <"$T/huge.npy") bytes"
expect_1 "wrapping shape (train)" "huge.npy.*0 columns" "$IMA" train --input "a=$T/huge.npy" --input "b=$T/huge.npy" \
    --input "c=$T/huge.npy" --input "d=$T/huge.npy" --out "$T/x.safetensors"

# ---- 3. resume a digits-size model (latent 50): no 2^20-row placeholder ----------------------------
head -c $((16 * 784)) /dev/zero >"$T/img.raw"
head -c $((16 * 696)) /dev/zero >"$T/sp.raw"
for x in "img 784" "sp 696"; do
    set -- $x
    { npyhdr "{'descr': '|u1', 'fortran_order': False, 'shape': (16, $2), }"; cat "$T/$1.raw"; } >"$T/$1.npy"
done
DIG=(--input "image=$T/img.npy" --input "speech=$T/sp.npy")
if "$IMA" train "${DIG[@]}" --preset digits --latent 50 --batch 8 --epochs1 1 --epochs2 0 --quiet \
    --out "$T/dig.safetensors" 2>"$T/err.txt"; then ok; else bad "digits-size train: $(cat "$T/err.txt")"; fi
timeout 120 "$IMA" train "${DIG[@]}" --resume "$T/dig.safetensors" --epochs1 2 --quiet --out "$T/dig2.safetensors" \
    2>"$T/err.txt" && ok || bad "resume of a digits-size checkpoint: exit $?: $(cat "$T/err.txt")"

# ---- 3. exact resume: 2 rounds of 3 + 1 epochs in one run == round 1, then resumed for round 2 -------
"$IMA" train "${COMMON[@]}" --epochs1 3 --epochs2 1 --rounds 2 --seed 5 --out "$T/whole.safetensors" 2>/dev/null || bad "whole run"
"$IMA" train "${COMMON[@]}" --epochs1 3 --epochs2 1 --rounds 1 --seed 5 --out "$T/half.safetensors" 2>/dev/null || bad "first half"
"$IMA" train "${COMMON[@]:0:4}" --resume "$T/half.safetensors" --rounds 2 --quiet \
    --out "$T/rest.safetensors" 2>"$T/err.txt" || bad "second half: $(cat "$T/err.txt")"
"$IMA" embed --checkpoint "$T/whole.safetensors" --input "a=$T/toy/test/a.npy" --out "$T/ew" 2>/dev/null
"$IMA" embed --checkpoint "$T/rest.safetensors" --input "a=$T/toy/test/a.npy" --out "$T/er" 2>/dev/null
cmp -s "$T/ew/z_weighted.npy" "$T/er/z_weighted.npy" && cmp -s "$T/ew/u_a.npy" "$T/er/u_a.npy" && ok ||
    bad "round 1 + resume + round 2 differ from one uninterrupted run (bitwise)"

# ---- 2, 6. train_state fields a file may not hold (edited in place, same length) ---------------------
perl -pe 's/\\"batch_size\\":32,/\\"batch_size\\":-1,/' "$T/half.safetensors" >"$T/b1.safetensors"
cmp -s "$T/half.safetensors" "$T/b1.safetensors" && bad "batch_size not edited"
expect_1 "resume with batch_size -1" "b1.safetensors: metadata train_state: field 'batch_size'" "$IMA" train \
    "${COMMON[@]:0:4}" --resume "$T/b1.safetensors" --rounds 2 --out "$T/x.safetensors"
perl -pe 's/\\"lr\\":0.0010000000474974513/\\"lr\\":-1.000000000000000000/' "$T/half.safetensors" >"$T/lr.safetensors"
cmp -s "$T/half.safetensors" "$T/lr.safetensors" && bad "lr not edited"
expect_1 "resume with lr -1" "lr.safetensors: metadata train_state.adam_stage1: field 'lr'" "$IMA" train \
    "${COMMON[@]:0:4}" --resume "$T/lr.safetensors" --rounds 2 --out "$T/x.safetensors"

# ---- 7. outputs all or none -----------------------------------------------------------------------
mkdir -p "$T/emb/z_weighted.npy" # a folder where one output must go: the write of that file fails
expect_1 "embed into a blocked output" "z_weighted.npy" "$IMA" embed --checkpoint "$T/whole.safetensors" \
    --input "a=$T/toy/test/a.npy" --input "b=$T/toy/test/b.npy" --out "$T/emb"
[ -z "$(ls "$T/emb" | grep -v '^z_weighted.npy$')" ] && ok || bad "embed left partial outputs: $(ls "$T/emb")"
expect_1 "tsne with an unwritable --png" "nowhere" "$IMA" eval tsne --rep "$T/ew/z_weighted.npy" \
    --labels "$T/toy/test/label.npy" --out "$T/map.npy" --png "$T/nowhere/map.png"
[ ! -e "$T/map.npy" ] && ok || bad "a failed tsne left map.npy"

# ---- 8. stale temporary files; log.tsv across --resume ---------------------------------------------
: >"$T/m.safetensors.tmp.Ab12Cd"
: >"$T/m.safetensors.tmp.keepme-not-ours"
"$IMA" train "${COMMON[@]}" --epochs1 2 --epochs2 0 --out "$T/m.safetensors" --log "$T/log.tsv" 2>/dev/null || bad "train"
[ ! -e "$T/m.safetensors.tmp.Ab12Cd" ] && ok || bad "a stale .tmp file of the checkpoint was left"
[ -e "$T/m.safetensors.tmp.keepme-not-ours" ] && ok || bad "a file that is no temporary of ours was removed"
# as if killed after logging round 2's epoch 1 but before its checkpoint: the row must not appear twice
printf '2\t1\t1\t0.1\t9\t9\n' >>"$T/log.tsv"
"$IMA" train "${COMMON[@]:0:4}" --resume "$T/m.safetensors" --rounds 2 --quiet --out "$T/m.safetensors" \
    --log "$T/log.tsv" 2>/dev/null || bad "resume with a log"
[ "$(head -1 "$T/log.tsv" | cut -f1-3)" = "$(printf 'round\tstage\tepoch')" ] && ok || bad "log header missing"
[ "$(cut -f1-3 "$T/log.tsv" | tail -n +2 | tr '\t\n' ' ;')" = "1 1 1;1 1 2;2 1 1;2 1 2;" ] && ok ||
    bad "log rows after resume: $(cut -f1-3 "$T/log.tsv" | tr '\t\n' ' ;')"
# a log that lost its header (killed before epoch 1): resume writes it
: >"$T/log2.tsv"
"$IMA" train "${COMMON[@]:0:4}" --resume "$T/m.safetensors" --rounds 3 --quiet --out "$T/m.safetensors" \
    --log "$T/log2.tsv" 2>/dev/null || bad "resume with an empty log"
[ "$(head -1 "$T/log2.tsv" | cut -f1)" = round ] && [ "$(wc -l <"$T/log2.tsv")" = 3 ] && ok ||
    bad "empty log after resume: $(cat "$T/log2.tsv")"

# ---- 9. a FIFO as input is refused at once, not waited on ------------------------------------------
mkfifo "$T/fifo.npy"
expect_1 "FIFO as --input" "fifo.npy.*not a regular file" "$IMA" train --input "a=$T/fifo.npy" --out "$T/x.safetensors"
expect_1 "FIFO as --checkpoint" "fifo.npy.*not a regular file" "$IMA" embed --checkpoint "$T/fifo.npy" \
    --input "a=$A" --out "$T/e2"

# ---- 10. messages -----------------------------------------------------------------------------------
printf '\x93NUMPY\x01\x00\x20\x00(bad header\nsecond line)        ' >"$T/twoline.npy"
expect_1 "header text on one line" "twoline.npy.*header" "$IMA" train --input "a=$T/twoline.npy" --out "$T/x.safetensors"
[ "$(wc -l <"$T/err.txt")" = 1 ] && ok || bad "header message spans lines: $(cat "$T/err.txt")"
expect_1 "a 2-D mask names the mask" "b.npy: header field 'shape': expected a 1-D integer array" "$IMA" train \
    --input "a=$A" --mask "a=$B" --input "b=$B" --out "$T/x.safetensors"
npyhdr "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }" >"$T/empty.npy"
expect_1 "classify on 0 test rows" "empty.npy: 0 rows" "$IMA" eval classify --train-rep "$T/ew/z_weighted.npy" \
    --train-labels "$T/toy/test/label.npy" --valid-rep "$T/ew/z_weighted.npy" --valid-labels "$T/toy/test/label.npy" \
    --test-rep "$T/empty.npy" --test-labels "$T/toy/test/label.npy"

# ---- 10, 11: ima data digits: a folder as --manifest, --out into missing parents, umask modes -------
mkdir -p "$T/mn"
idx() { # idx FILE MAGIC N [28 28]: an idx file of N items (pixels 0, labels i % 10)
    local f=$1 magic=$2 n=$3
    { printf "\\x00\\x00\\x08\\x0$((magic - 2048))"; printf "\\x00\\x00\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))"
      if [ "$magic" = 2051 ]; then printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((n * 784)) /dev/zero
      else for ((i = 0; i < n; i++)); do printf "\\x0$((i % 10))"; done; fi; } >"$f"
}
idx "$T/mn/train-images-idx3-ubyte" 2051 80
idx "$T/mn/train-labels-idx1-ubyte" 2049 80
idx "$T/mn/t10k-images-idx3-ubyte" 2051 20
idx "$T/mn/t10k-labels-idx1-ubyte" 2049 20
expect_1 "a folder as --manifest" "$T/mn.*folder" "$IMA" data digits --mnist "$T/mn" --manifest "$T/mn" --out "$T/c0"
# the output location is checked before any recording is read
: >"$T/afile"
expect_1 "--out under a file" "afile" "$IMA" data digits --mnist "$T/mn" --synth 3 --out "$T/afile/c"
grep -q "^images:" "$T/err.txt" && bad "the output was checked only after reading the inputs" || ok
mkdir -p "$T/rec"
for s in alice bob carol dave; do for d in 0 1 2 3 4 5 6 7 8 9; do wav "$T/rec/${d}_${s}_0.wav" 8000 6000; done; done
printf 'not audio' >"$T/rec/3_erin_0.wav"
(umask 022 && "$IMA" data digits --mnist "$T/mn" --recordings "$T/rec" --out "$T/new/sub/corpus" >"$T/out.txt" 2>"$T/err.txt") &&
    ok || bad "data digits into missing parents: $(tail -3 "$T/err.txt")"
[ -f "$T/new/sub/corpus/manifest.json" ] && ok || bad "no corpus in new/sub/corpus"
[ "$(stat -c %a "$T/new/sub/corpus" 2>/dev/null)" = 755 ] && ok || bad "corpus folder mode $(stat -c %a "$T/new/sub/corpus" 2>/dev/null), expected 755 (umask 022)"
grep -q "speech bandwidth: 4000 Hz.*; 0 utterances" "$T/err.txt" && ok || bad "build log bandwidth: $(grep bandwidth "$T/err.txt")"
grep -q '"bandwidth_hz":[[:space:]]*4000' "$T/new/sub/corpus/manifest.json" && ok || bad "manifest lacks the bandwidth"
w=$(grep "skipped" "$T/err.txt" | grep "3_erin_0.wav" | head -1)
[ -n "$w" ] && [ "$(grep -o "3_erin_0.wav" <<<"$w" | wc -l)" = 1 ] && ok || bad "skip warning: '$w'"

# ---- 12. recordings of a higher bandwidth are band-limited to the corpus's, and the log says so ----
for d in 0 1 2 3 4 5 6 7 8 9; do wav "$T/rec/${d}_frank_0.wav" 16000 12000; done
"$IMA" data digits --mnist "$T/mn" --recordings "$T/rec" --out "$T/c16" >"$T/out.txt" 2>"$T/err.txt" ||
    bad "corpus with 16 kHz recordings: $(tail -3 "$T/err.txt")"
grep -q "speech bandwidth: 4000 Hz (half the lowest sample rate of the recordings); 10 utterances" "$T/err.txt" && ok ||
    bad "build log: $(grep bandwidth "$T/err.txt")"
grep -q '"band_limited":[[:space:]]*10' "$T/c16/manifest.json" && ok || bad "manifest: band_limited"

# ---- 13. out of memory is an error naming the size, not an abort (exit 134) -----------------------
# exact t-SNE of 2^20 points wants (N, N - 1) neighbour lists: 8 TiB
{ npyhdr "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1), }"; head -c 4194304 /dev/zero; } >"$T/big.npy"
expect_1 "exact t-SNE of 2^20 points" "out of memory: cannot allocate [0-9]+ bytes" "$IMA" eval tsne \
    --rep "$T/big.npy" --out "$T/bigmap.npy" --exact --trust-k 0
[ ! -e "$T/bigmap.npy" ] && ok || bad "a failed tsne left bigmap.npy"
# a corpus whose manifest.json is a FIFO: inspect warns and goes on (it blocked, or read into a 1-byte buffer)
mkdir -p "$T/fifo_corpus"
for s in train valid test; do ln -s "$T/c16/$s" "$T/fifo_corpus/$s"; done
mkfifo "$T/fifo_corpus/manifest.json"
timeout 60 "$IMA" data inspect "$T/fifo_corpus" --png "$T/sheet.png" >"$T/out.txt" 2>"$T/err.txt"
rc=$?
[ "$rc" != 124 ] && [ "$rc" -lt 128 ] && grep -q "manifest.json: is a fifo, not a regular file" "$T/err.txt" && ok ||
    bad "inspect with a FIFO manifest: exit $rc: $(head -c 300 "$T/err.txt")"

cli_finish cli_reliability
