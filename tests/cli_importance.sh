#!/usr/bin/env bash
# cli_importance.sh: `ima train --importance-objective local-ev` on a 3-modality set with a missing
# modality (docs/importance.md), the objective in the checkpoint, embedding from it, and the refusal
# of an unknown objective name (ima train and ima repro digits).
# usage: bash cli_importance.sh path/to/ima
set -u
IMA=$1
. "$(dirname "$0")/cli_lib.bash"

"$IMA" toy "$T/toy" --train 600 --test 200 >/dev/null 2>&1 || bad "ima toy failed"
A="$T/toy/train/a.npy"
B="$T/toy/train/b.npy"
# a third modality c: a noisy view of a's first 10 values; 20% of the rows lack it
/usr/bin/python3 - "$A" "$T" <<'PY' || bad "python3 could not write the third modality"
import sys
import numpy as np
a = np.load(sys.argv[1])
rng = np.random.default_rng(3)
c = np.clip(a[:, :10] * 0.8 + 0.1 * rng.standard_normal((a.shape[0], 10)), 0, 1).astype(np.float32)
mask = (rng.uniform(size=a.shape[0]) >= 0.2).astype(np.uint8)
np.save(sys.argv[2] + "/c.npy", c)
np.save(sys.argv[2] + "/c_mask.npy", mask)
PY
ARGS=(--input "a=$A" --input "b=$B" --input "c=$T/c.npy" --mask "c=$T/c_mask.npy" --loss b=sse --hidden 16 --latent 4
      --batch 64 --importance-objective local-ev --local-ev-k 20)
if "$IMA" train "${ARGS[@]}" --epochs1 3 --epochs2 2 --out "$T/m.safetensors" 2>"$T/err.txt"; then ok; else bad "train M=3 local-ev: $(cat "$T/err.txt")"; fi
[ "$(grep -c 'teach\[c\]' "$T/err.txt")" = 2 ] && ok || bad "no teach[c] term on the two stage-2 lines: $(cat "$T/err.txt")"
if grep -qE 'teach\[[abc]\] (nan|inf|0 )' "$T/err.txt"; then bad "a teach term is not a positive number: $(cat "$T/err.txt")"; else ok; fi
grep -qF '\"importance_objective\":\"local-ev\"' "$T/m.safetensors" && ok || bad "the checkpoint does not record the objective"
grep -qF '\"local_ev_k\":20' "$T/m.safetensors" && ok || bad "the checkpoint does not record local_ev_k"
"$IMA" embed --checkpoint "$T/m.safetensors" --input "a=$T/toy/test/a.npy" --input "b=$T/toy/test/b.npy" --out "$T/emb" 2>"$T/err.txt" && ok || bad "embed: $(cat "$T/err.txt")"
[ -s "$T/emb/y_a.npy" ] && [ -s "$T/emb/z_weighted.npy" ] && ok || bad "embed: y_a / z_weighted missing"
# resume keeps the objective (no model flags allowed with --resume)
"$IMA" train --input "a=$A" --input "b=$B" --input "c=$T/c.npy" --mask "c=$T/c_mask.npy" --resume "$T/m.safetensors" --epochs2 3 --out "$T/m2.safetensors" 2>"$T/err.txt" && ok || bad "resume: $(cat "$T/err.txt")"
grep -q 'teach\[a\]' "$T/err.txt" && ok || bad "resumed stage 2 is not local-ev: $(cat "$T/err.txt")"

# --fusion-sharpness 4 (beyond the paper): recorded in the checkpoint; training is the same as the
# paper's fusion (the same seed gives the same y), the weighted z differs (representations only)
"$IMA" train "${ARGS[@]}" --epochs1 3 --epochs2 2 --fusion-sharpness 4 --out "$T/k4.safetensors" 2>"$T/err.txt" && ok || bad "train --fusion-sharpness 4: $(cat "$T/err.txt")"
grep -qF '\"fusion_sharpness\":4' "$T/k4.safetensors" && ok || bad "the checkpoint does not record fusion_sharpness 4"
"$IMA" embed --checkpoint "$T/k4.safetensors" --input "a=$T/toy/test/a.npy" --input "b=$T/toy/test/b.npy" --out "$T/emb4" 2>"$T/err.txt" && ok || bad "embed k4: $(cat "$T/err.txt")"
/usr/bin/python3 - "$T/emb" "$T/emb4" <<'PY' && ok || bad "fusion sharpness: y should match the K = 1 model's and z_weighted should differ"
import sys
import numpy as np
a, b = sys.argv[1], sys.argv[2]
assert np.array_equal(np.load(a + "/y_a.npy"), np.load(b + "/y_a.npy"))
assert not np.array_equal(np.load(a + "/z_weighted.npy"), np.load(b + "/z_weighted.npy"))
PY
expect_fail "--fusion-sharpness 0.5" "fusion.sharpness" "$IMA" train "${ARGS[@]}" --fusion-sharpness 0.5 --out "$T/x.safetensors"

expect_fail "unknown objective" "importance-objective.*paper, local-ev.*'magic'" "$IMA" train "${ARGS[@]}" --importance-objective magic --out "$T/x.safetensors"
[ ! -e "$T/x.safetensors" ] && ok || bad "a refused run left a checkpoint"
expect_fail "unknown objective (repro)" "importance-objective.*'magic'" "$IMA" repro digits --importance-objective magic --data "$T/none" --out "$T/r"
expect_fail "bad --seeds" "--seeds: expected" "$IMA" repro digits --seeds 1,x --data "$T/none" --out "$T/r"
expect_fail "--local-ev-k out of range" "--local-ev-k" "$IMA" train "${ARGS[@]}" --local-ev-k 1000001 --out "$T/x.safetensors"

cli_finish cli_importance
