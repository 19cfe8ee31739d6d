#!/usr/bin/env bash
# cli_eval.sh: `ima eval` end to end on small inputs with known answers, and its error messages.
# usage: bash tests/cli_eval.sh path/to/ima
set -u
IMA=${1:?usage: cli_eval.sh path/to/ima}
SRC=${IMA_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d "${TMPDIR:-/tmp}/ima_cli_eval.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect RC MESSAGE-REGEX -- command...: exit status and a pattern in stdout+stderr
expect() {
    local want=$1 pat=$2; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != "$want" ]; then bad "exit $rc (wanted $want): $*"; echo "$out" >&2; return; fi
    if ! grep -Eq -- "$pat" <<<"$out"; then bad "output lacks /$pat/: $*"; echo "$out" >&2; return; fi
    ok
}
# jq-like check of a JSON value: jcheck FILE PYTHON-EXPR-ON-d
jcheck() {
    if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; then ok
    else bad "JSON check failed: $2 on $(cat "$1")"; fi
}

# .npy writer from the Python standard library: npy FILE DTYPE(f4|i8|u1) ROWS COLS values...
npy() {
    "$PY" - "$@" <<'PYEOF'
import struct, sys
path, dt, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
vals = sys.argv[5:]
shape = f"({rows},)" if cols == 0 else f"({rows}, {cols})"
descr = {"f4": "<f4", "i8": "<i8", "u1": "|u1"}[dt]
hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
pad = 64 - (10 + len(hdr) + 1) % 64
hdr = hdr + " " * pad + "\n"
fmt = {"f4": "<f", "i8": "<q", "u1": "<B"}[dt]
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    for v in vals:
        f.write(struct.pack(fmt, float(v) if dt == "f4" else int(v)))
PYEOF
}

# ---- retrieval: 1-D points 0 1 2 | 10 11 12 -------------------------------------------
npy "$T/z.npy" f4 6 1 0 1 2 10 11 12
npy "$T/l.npy" i8 6 0 0 0 0 1 1 1
npy "$T/g.npy" i8 6 0 0 0 1 1 2 2
npy "$T/m.npy" u1 6 0 1 0 1 0 0 0
npy "$T/m2.npy" i8 6 0 1 0 2 0 0 0
expect 0 "all +1\.0000 +0\.6667" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --k 2,3
expect 0 "same group excluded +0\.6667" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --k 2 --group "$T/g.npy" --json "$T/r.json"
jcheck "$T/r.json" 'd["all"]["p@2"] == 1.0 and abs(d["group_excluded"]["p@2"] - 8/12) < 1e-12 and d["queries"] == 6'
expect 0 "2 queries" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --k=2 --mask "$T/m.npy" --group "$T/g.npy" --json "$T/r2.json"
jcheck "$T/r2.json" 'd["group_excluded"]["p@2"] == 0.75'
expect 0 "Precision@K" -- "$IMA" eval retrieval --help
expect 2 "unknown option '--kk'" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --kk 2
expect 2 "--k: expected an integer" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --k 10,x
expect 2 "--labels is required" -- "$IMA" eval retrieval --rep "$T/z.npy"
expect 1 "only N-1=5 other samples" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --k 6
expect 1 "--mask: entry 2 of .* is 2; expected 0 or 1" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l.npy" --mask "$T/m2.npy"
expect 1 "nope\.npy" -- "$IMA" eval retrieval --rep "$T/nope.npy" --labels "$T/l.npy"
npy "$T/l5.npy" i8 5 0 0 0 1 1 1
expect 1 "has 5 entries, expected 6" -- "$IMA" eval retrieval --rep "$T/z.npy" --labels "$T/l5.npy"

# ---- importance: the hand case of test_detection.c ----------------------------------
npy "$T/y.npy" f4 6 0 0.1 0.2 0.3 0.6 0.7 0.9
npy "$T/n.npy" u1 6 0 1 1 0 1 0 0
expect 0 "precision 0\.6667  recall 0\.6667  F1 0\.6667" -- "$IMA" eval importance --y "$T/y.npy" --noise "$T/n.npy" --json "$T/i.json"
jcheck "$T/i.json" 'abs(d["auc"] - 8/9) < 1e-12 and abs(d["best_f1"] - 6/7) < 1e-12 and d["tp"] == 2 and d["n_noise"] == 3'
expect 0 "threshold 0\.25: precision 1\.0000  recall 0\.6667" -- "$IMA" eval importance --y "$T/y.npy" --noise "$T/n.npy" --threshold 0.25
expect 2 "--threshold: expected a number in \[0, 1\], got '1.5'" -- "$IMA" eval importance --y "$T/y.npy" --noise "$T/n.npy" --threshold 1.5
expect 2 "--noise is required" -- "$IMA" eval importance --y "$T/y.npy"

# ---- classify: three separated blobs in 2-D (Python stdlib random, seeded) ------------
"$PY" - "$T" <<'PYEOF'
import math, random, struct, sys
t = sys.argv[1]
r = random.Random(5)
def save(path, dt, rows, cols, vals):
    shape = f"({rows},)" if cols == 0 else f"({rows}, {cols})"
    descr, fmt = {"f4": ("<f4", "<f"), "i8": ("<i8", "<q"), "u1": ("|u1", "<B")}[dt]
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        for v in vals: f.write(struct.pack(fmt, v))
for name, n in (("train", 300), ("valid", 150), ("test", 150)):
    xs, ys = [], []
    for i in range(n):
        c = i % 3
        a = 2 * math.pi * c / 3
        xs += [3 * math.cos(a) + r.gauss(0, 0.5), 3 * math.sin(a) + r.gauss(0, 0.5)]
        ys.append(c)
    save(f"{t}/{name}_x.npy", "f4", n, 2, xs)
    save(f"{t}/{name}_y.npy", "i8", n, 0, ys)
    if name == "test":
        save(f"{t}/test_m.npy", "u1", n, 0, [1 if c == 2 else 0 for c in ys])
PYEOF
CL=(--train-rep "$T/train_x.npy" --train-labels "$T/train_y.npy" --valid-rep "$T/valid_x.npy" --valid-labels "$T/valid_y.npy" --test-rep "$T/test_x.npy" --test-labels "$T/test_y.npy")
expect 0 "test accuracy on .*test_m.npy: 1\.0000 \(50 samples\)" -- "$IMA" eval classify "${CL[@]}" --epochs 5 --mask "$T/test_m.npy" --json "$T/c.json"
jcheck "$T/c.json" 'd["test_acc"] > 0.97 and len(d["candidates"]) == 8 and d["masks"][0]["n"] == 50'
expect 0 "lr .*0\.5 .*<- chosen|0\.25" -- "$IMA" eval classify "${CL[@]}" --epochs 3 --lrs 0.25,0.5
expect 2 "--epochs: expected an integer in \[1, 100000\], got '0'" -- "$IMA" eval classify "${CL[@]}" --epochs 0
expect 2 "--lrs: expected a number" -- "$IMA" eval classify "${CL[@]}" --lrs 0.1,abc
expect 2 "--valid-rep is required" -- "$IMA" eval classify --train-rep "$T/train_x.npy"

# ---- tsne: the golden input of test_tsne.c -----------------------------------------------
"$PY" -c "
import struct
n=500
hdr=\"{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }\" % n
hdr += ' ' * (64 - (10 + len(hdr) + 1) % 64) + '\n'
open('$T/tl.npy','wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode() + b''.join(struct.pack('<q', i % 10) for i in range(n)))
"
PNG=()
if command -v gnuplot >/dev/null; then PNG=(--png "$T/map.png" --labels "$T/tl.npy"); else echo "cli_eval: gnuplot missing, --png not tested"; fi
expect 0 "trustworthiness\(k=10\) 0\.9[5-9]" -- "$IMA" eval tsne --rep "$SRC/tests/data/tsne_input.npy" --out "$T/map.npy" --iters 400 --json "$T/t.json" "${PNG[@]}"
jcheck "$T/t.json" 'd["kl"] < 1.0 and d["trustworthiness"] > 0.95 and d["n"] == 500'
if [ -e "$T/map.npy" ] && [ "$(head -c 6 "$T/map.npy" | tail -c 5)" = "NUMPY" ]; then ok; else bad "map.npy missing or not .npy"; fi
if [ ${#PNG[@]} -gt 0 ]; then
    if [ "$(head -c 4 "$T/map.png" | tail -c 3)" = "PNG" ]; then ok; else bad "map.png missing or not a PNG"; fi
fi
expect 2 "--png needs --labels" -- "$IMA" eval tsne --rep "$SRC/tests/data/tsne_input.npy" --out "$T/m.npy" --png "$T/x.png"
expect 2 "--perplexity: expected a number" -- "$IMA" eval tsne --rep "$SRC/tests/data/tsne_input.npy" --out "$T/m.npy" --perplexity ten
expect 1 "perplexity 200 must be in \(0, 30\]|perplexity" -- "$IMA" eval tsne --rep "$T/z.npy" --out "$T/m.npy" --perplexity 200 --trust-k 0
expect 2 "unknown evaluation 'nope'" -- "$IMA" eval nope

echo "cli_eval: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
