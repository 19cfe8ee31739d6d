#!/usr/bin/env bash
# cli_repro_seeds.sh: `ima repro digits --seeds ... --jobs J` on a tiny corpus of the digits shapes: the seeds as
# processes at once give the same per-seed results as one after another in one process (both one thread), each
# seed's lines land in OUT/seed-S.log, the summary records the wall time, --reuse-seeds reruns only what is
# missing, and a seed that fails names itself and its log.
# usage: bash cli_repro_seeds.sh path/to/ima
set -u
IMA=$1
. "$(dirname "$0")/cli_lib.bash"

# the corpus: as tests/testutil.c's tu_write_digits_split (class bars, sine speech, 9% noise per modality)
/usr/bin/python3 - "$T/corpus" <<'PY' || bad "python3 could not write the corpus"
import os, sys
import numpy as np
rng = np.random.default_rng(5)
for name, n in (("train", 300), ("valid", 120), ("test", 120)):
    d = os.path.join(sys.argv[1], name)
    os.makedirs(d)
    c = np.arange(n) % 10
    r = rng.uniform(size=n)
    inoise, snoise = r < 0.09, (r >= 0.09) & (r < 0.18)
    img = np.where((np.arange(784)[None, :] % 10) == c[:, None], 0.9, 0.1).astype(np.float32)
    img[inoise] = rng.uniform(size=(inoise.sum(), 784))
    sp = (0.5 + 0.4 * np.sin(0.01 * np.arange(696)[None, :] * (c[:, None] + 1))).astype(np.float32)
    sp[snoise] = rng.uniform(size=(snoise.sum(), 696))
    rec = np.where(snoise, 100000 + np.arange(n), c * 7 + rng.integers(0, 7, size=n))
    np.save(d + "/image.npy", img.astype(np.float32))
    np.save(d + "/speech.npy", sp.astype(np.float32))
    np.save(d + "/label.npy", c.astype(np.int64))
    np.save(d + "/speech_id.npy", rec.astype(np.int64))
    np.save(d + "/image_noise.npy", inoise.astype(np.uint8))
    np.save(d + "/speech_noise.npy", snoise.astype(np.uint8))
PY
TINY=(--data "$T/corpus" --quick --batch 64 --epochs1 2 --epochs2 1 --baseline-epochs 2 --patience 1 --kl-warmup 1
      --probe-rows 100 --n-rho 2 --tsne-points 80 --classifier-epochs 1 --no-compare)

# three seeds, three processes at once
if "$IMA" repro digits "${TINY[@]}" --out "$T/par" --seeds 1,2,3 --jobs 3 2>"$T/par.txt"; then ok; else bad "--jobs 3: $(tail -5 "$T/par.txt")"; fi
grep -q "3 seeds to run, 3 at once" "$T/par.txt" && ok || bad "no start line: $(cat "$T/par.txt")"
for s in 1 2 3; do
    [ -s "$T/par/seed-$s/results.json" ] && grep -q "wrote $T/par/seed-$s/report.md" "$T/par/seed-$s.log" && ok ||
        bad "seed $s: no results or no log"
done
grep -q "3 at once, each in its own process" "$T/par/report.md" && ok || bad "the summary does not say how the seeds ran"
# one after another in this process, one thread: the same numbers seed by seed
"$IMA" repro digits "${TINY[@]}" --out "$T/seq" --seeds 1,2,3 --jobs 1 --threads 1 2>"$T/seq.txt" && ok || bad "--jobs 1: $(tail -5 "$T/seq.txt")"
/usr/bin/python3 - "$T/par" "$T/seq" <<'PY' && ok || bad "the seeds run as processes differ from the seeds run in one process"
import json, sys
def strip(o):  # the results without wall-clock times
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in ("seconds", "wall_seconds", "jobs")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
a, b = (json.load(open(d + "/results.json")) for d in sys.argv[1:])
assert len(a["per_seed"]) == 3
for x, y in zip(a["per_seed"], b["per_seed"]):
    x, y = strip(x), strip(y)
    x["settings"].pop("data_dir", None), y["settings"].pop("data_dir", None)
    assert x == y, (json.dumps(x)[:300], json.dumps(y)[:300])
assert strip(a["representations"]) == strip(b["representations"])
PY
# --reuse-seeds: only the missing seed runs
rm -r "$T/par/seed-2"
"$IMA" repro digits "${TINY[@]}" --out "$T/par" --seeds 1,2,3 --reuse-seeds 2>"$T/re.txt" && ok || bad "--reuse-seeds: $(tail -5 "$T/re.txt")"
grep -q "1 seed to run" "$T/re.txt" && [ -s "$T/par/seed-2/results.json" ] && ok || bad "--reuse-seeds did not rerun exactly seed 2: $(cat "$T/re.txt")"
# a seed that fails (its folder is a file): named, with its log, and no summary is written
rm -r "$T/par/seed-3" && rm "$T/par/report.md" && echo x >"$T/par/seed-3"
expect_fail "a failing seed" "seed 3 FAILED.*seed-3.log" "$IMA" repro digits "${TINY[@]}" --out "$T/par" --seeds 1,2,3 --reuse-seeds
[ ! -e "$T/par/report.md" ] && ok || bad "a summary was written although a seed failed"

cli_finish cli_repro_seeds
