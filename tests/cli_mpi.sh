#!/usr/bin/env bash
# cli_mpi.sh: data-parallel training (`mpirun -np P ima train`, docs/scaling.md) against one process on
# a small corpus with presence masks: stage 1 and stage 2 (the paper's objective and local-ev), loss
# terms per epoch and every parameter after training; --resume with another P; a global batch that
# leaves a rank no row; a rank killed (mpirun stops the job) and a rank that hangs (the others time out,
# IMA_MPI_TIMEOUT) both end with an error, not a hang, and leave the last checkpoint intact. Overlap of
# the gradient sum with the backward pass (IMA_MPI_OVERLAP=1, set for every run here unless a check says
# otherwise) against IMA_MPI_OVERLAP=0: the same model.
# Skipped (77) when ima was built without MPI.
# usage: bash cli_mpi.sh path/to/ima
set -u
IMA=$1
. "$(dirname "$0")/cli_lib.bash"
MPIRUN=${IMA_MPIEXEC:-}
if [ -z "$MPIRUN" ] || [ ! -x "$MPIRUN" ]; then
    echo "cli_mpi: no mpirun (ima built without MPI): skipped"
    exit 77
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export OPENBLAS_NUM_THREADS=1
# containers often forbid the cross-process reads Open MPI's shared-memory transport tries first
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# IMA_MPI_TIMEOUT reaches every rank (-x); an orterun that itself hangs is bounded by timeout
# Under AddressSanitizer, LeakSanitizer is off for the ranks only: Open MPI's MPI_Init leaves
# allocations in plugins it unloads at MPI_Finalize (no symbol to suppress them by); the library side
# of data-parallel training is leak-checked by test_collective, and every plain ima run here still is.
mpi() {
    local np=$1; shift
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 120 "$MPIRUN" --allow-run-as-root --oversubscribe \
        -x ASAN_OPTIONS -x IMA_MPI_TIMEOUT -x IMA_MPI_OVERLAP -x OPENBLAS_NUM_THREADS -np "$np" "$IMA" "$@"
}
export IMA_MPI_TIMEOUT=60 IMA_MPI_OVERLAP=1

"$IMA" toy "$T/toy" --train 600 --test 100 >/dev/null 2>&1 || bad "ima toy failed"
# masks: a present in ~70% of the rows, b where a is absent and in every third row besides
"$PY" - "$T" <<'PY' || bad "python3 could not write the masks"
import sys, numpy as np
t = sys.argv[1]
a = (np.random.RandomState(5).rand(600) < 0.7).astype(np.uint8)
b = (1 - a).astype(np.uint8); b[::3] = 1
np.save(f"{t}/ma.npy", a); np.save(f"{t}/mb.npy", b)
PY
DATA=(--input "a=$T/toy/train/a.npy" --mask "a=$T/ma.npy" --input "b=$T/toy/train/b.npy" --mask "b=$T/mb.npy")
MODEL=(--loss b=sse --hidden 16 --latent 4 --seed 7 --quiet)

# same.py LOG1 LOG2 CKPT1 CKPT2 LOSS_TOL PARAM_TOL: every loss term of every epoch within LOSS_TOL
# (relative; absolute 1e-3 LOSS_TOL below 1e-3) and every parameter within PARAM_TOL (relative to the tensor's largest value);
# prints the worst of each
same() {
    "$PY" - "$@" <<'PY'
import json, struct, sys, numpy as np
l1, l2, c1, c2, tl, tp = sys.argv[1:7]
tl, tp = float(tl), float(tp)
def log(p):
    rows = [r.split("\t") for r in open(p).read().strip().split("\n")]
    return np.array([[float(v) for i, v in enumerate(r) if i != 3] for r in rows[1:]])  # column 4: seconds
a, b = log(l1), log(l2)
assert a.shape == b.shape, f"logs differ in shape {a.shape} {b.shape}"
rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-3)
wl = float(np.max(rel)); wi = np.unravel_index(np.argmax(rel), rel.shape)
head = [h for i, h in enumerate(open(l1).readline().strip().split("\t")) if i != 3]
def ckpt(p):
    buf = open(p, "rb").read(); (n,) = struct.unpack("<Q", buf[:8]); h = json.loads(buf[8:8 + n]); d = buf[8 + n:]
    meta = h.pop("__metadata__")
    return meta, {k: np.frombuffer(d[v["data_offsets"][0]:v["data_offsets"][1]], dtype="<f4") for k, v in h.items()}
m1, t1 = ckpt(c1); m2, t2 = ckpt(c2)
s1, s2 = json.loads(m1["train_state"]), json.loads(m2["train_state"])
assert s1 == s2, f"train states differ: {s1} {s2}"
wp, where = 0.0, ""
for k in t1:
    if k.startswith("optimizer"): continue
    x, y = t1[k], t2[k]
    e = float(np.max(np.abs(x - y)) / max(float(np.max(np.abs(x))), 1e-12))
    if e > wp: wp, where = e, k
print(f"worst loss difference {wl:.3g} ({head[wi[1]]} of epoch line {wi[0] + 1}: {a[wi]:.9g} vs {b[wi]:.9g}; tol {tl:g}), worst parameter difference {wp:.3g} in {where} (tol {tp:g})")
sys.exit(0 if wl <= tl and wp <= tp else 1)
PY
}

# run NAME NP ARGS...: trains (P ranks; NP 0: plain ima, no mpirun) into $T/NAME.safetensors and NAME.tsv
run() {
    local name=$1 np=$2; shift 2
    local cmd=("$IMA")
    [ "$np" != 0 ] && cmd=(mpi "$np")
    if "${cmd[@]}" train "${DATA[@]}" "$@" --out "$T/$name.safetensors" --log "$T/$name.tsv" 2>"$T/$name.err"; then ok
    else bad "$name: $(tail -5 "$T/$name.err")"; fi
}

# ---- stage 1 and stage 2 (paper), two rounds (round 2 fuses with the importances): P = 1, 2, 4 ----
TRAIN=("${MODEL[@]}" --batch 64 --epochs1 3 --epochs2 2 --rounds 2)
run p_1 0 "${TRAIN[@]}"
run p_2 2 "${TRAIN[@]}"
run p_4 4 "${TRAIN[@]}"
grep -q "2 ranks, each 32 or 32 rows" "$T/p_2.err" && ok || bad "P = 2 did not say it split the batch: $(cat "$T/p_2.err")"
for p in 2 4; do
    r=$(same "$T/p_1.tsv" "$T/p_$p.tsv" "$T/p_1.safetensors" "$T/p_$p.safetensors" 1e-5 1e-5) && ok || bad "paper, P = $p vs 1: $r"
    echo "paper objective, P = $p vs 1: $r"
done

# ---- overlap (each network's gradient summed as the backward pass finishes it) against one sum after it ----
# The same numbers are added (P = 2: a + b per value), only earlier, so P = 2 must match bit for bit, also
# with the two-thread row split on each rank (a range starts once both halves are added); P = 4 to 1e-6.
grep -q "overlap: [0-9]* of [0-9]* gradient sums complete" "$T/p_2.err" && ok || bad "P = 2 did not overlap: $(cat "$T/p_2.err")"
IMA_MPI_OVERLAP=0 run o_2 2 "${TRAIN[@]}"
IMA_MPI_OVERLAP=0 run o_4 4 "${TRAIN[@]}"
! grep -q "overlap:" "$T/o_2.err" && ok || bad "IMA_MPI_OVERLAP=0 still overlapped"
# unset: overlap only when the ranks span several machines (on one it measured slower: docs/scaling.md)
IMA_MPI_OVERLAP= run u_2 2 "${MODEL[@]}" --batch 64 --epochs1 1 --epochs2 1
! grep -q "overlap:" "$T/u_2.err" && ok || bad "IMA_MPI_OVERLAP unset overlapped on one machine"
r=$(same "$T/o_2.tsv" "$T/p_2.tsv" "$T/o_2.safetensors" "$T/p_2.safetensors" 0 0) && ok || bad "P = 2, overlap vs not: $r"
echo "P = 2, overlap on vs off: $r"
r=$(same "$T/o_4.tsv" "$T/p_4.tsv" "$T/o_4.safetensors" "$T/p_4.safetensors" 1e-6 1e-6) && ok || bad "P = 4, overlap vs not: $r"
echo "P = 4, overlap on vs off: $r"
SPLIT=("${MODEL[@]}" --batch 128 --epochs1 3 --epochs2 2 --rounds 2 --threads 2) # 64 rows per rank: split
run s_on 2 "${SPLIT[@]}"
IMA_MPI_OVERLAP=0 run s_off 2 "${SPLIT[@]}"
r=$(same "$T/s_off.tsv" "$T/s_on.tsv" "$T/s_off.safetensors" "$T/s_on.safetensors" 0 0) && ok || bad "P = 2 x 2 threads, overlap vs not: $r"
echo "P = 2 x 2 threads, overlap on vs off: $r"

# ---- local-ev (targets from the gathered codes of every row) ----
LEV=("${MODEL[@]}" --importance-objective local-ev --local-ev-k 10 --batch 64 --epochs1 3 --epochs2 2 --rounds 2)
run l_1 0 "${LEV[@]}"
run l_2 2 "${LEV[@]}"
r=$(same "$T/l_1.tsv" "$T/l_2.tsv" "$T/l_1.safetensors" "$T/l_2.safetensors" 1e-5 1e-5) && ok || bad "local-ev, P = 2 vs 1: $r"
echo "local-ev, P = 2 vs 1: $r"

# ---- a global batch that leaves rank 1 no row (600 = 599 + 1) ----
run e_1 0 "${MODEL[@]}" --batch 599 --epochs1 2 --epochs2 2
run e_2 2 "${MODEL[@]}" --batch 599 --epochs1 2 --epochs2 2
r=$(same "$T/e_1.tsv" "$T/e_2.tsv" "$T/e_1.safetensors" "$T/e_2.safetensors" 1e-5 1e-5) && ok || bad "one-row batch, P = 2 vs 1: $r"

# ---- resume with another P: round 1 on 2 ranks, round 2 on 1 (and on 4) = both rounds on 1 ----
run full 0 "${MODEL[@]}" --batch 64 --epochs1 2 --epochs2 1 --rounds 2
run half 2 "${MODEL[@]}" --batch 64 --epochs1 2 --epochs2 1 --rounds 1
for p in 1 4; do
    cp "$T/half.tsv" "$T/r_$p.tsv"
    cmd=("$IMA"); [ $p != 1 ] && cmd=(mpi $p)
    if "${cmd[@]}" train "${DATA[@]}" --resume "$T/half.safetensors" --rounds 2 --quiet \
        --out "$T/r_$p.safetensors" --log "$T/r_$p.tsv" 2>"$T/r.err"; then ok; else bad "resume on $p: $(tail -3 "$T/r.err")"; fi
    r=$(same "$T/full.tsv" "$T/r_$p.tsv" "$T/full.safetensors" "$T/r_$p.safetensors" 1e-5 1e-5) && ok || bad "P = 2 resumed on $p vs 1: $r"
    echo "round 1 on 2 ranks, round 2 on $p vs both on 1: $r"
done

# ---- the transport's overlapped sums alone (tests/mpi_overlap.c; CMake passes it with MPI) ----
if [ -n "${IMA_MPI_OVERLAP_TEST:-}" ]; then
    for p in 2 3; do
        IMA=$IMA_MPI_OVERLAP_TEST mpi $p sum >"$T/ov.out" 2>"$T/ov.err" && grep -q "^ok: $p ranks" "$T/ov.out" && ok ||
            bad "overlapped sums on $p ranks: $(cat "$T/ov.out" "$T/ov.err")"
    done
    # a started sum that a peer never joins: the wait ends with the timeout's error (a 2 s limit), not a hang
    t0=$(date +%s)
    IMA=$IMA_MPI_OVERLAP_TEST IMA_MPI_TIMEOUT=2 mpi 2 stall >"$T/ov.out" 2>"$T/ov.err"
    rc=$? secs=$(($(date +%s) - t0))
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$secs" -le 30 ] && ok || bad "stalled overlapped sum: exit $rc after $secs s"
    grep -q "a gradient sum over the ranks (overlapped with the backward pass) did not complete within 2 s (IMA_MPI_TIMEOUT): another rank died or hangs" \
        "$T/ov.err" && ok || bad "stalled overlapped sum: no clear error: $(cat "$T/ov.err")"
    echo "overlapped sum that rank 1 never joins: $(grep -o "wait failed after [0-9.]* s" "$T/ov.err")"
fi

# ---- a rank that dies or hangs: an error and an exit, never a hang; the checkpoint stays whole ----
# rank_pid MPIRUN_PID R: the pid of rank R among mpirun's children
rank_pid() {
    for c in $(pgrep -P "$1"); do
        tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$c"
    done
}
# long RUN_NAME SIGNAL [ARGS]: a long run on 2 ranks (stage 1, or ARGS); once a checkpoint exists, SIGNAL
# goes to rank 1
long() {
    local name=$1 sig=$2
    shift 2
    local args=(--epochs1 100000)
    [ $# -gt 0 ] && args=("$@")
    mpi 2 train "${DATA[@]}" "${MODEL[@]}" --batch 64 "${args[@]}" --out "$T/$name.safetensors" 2>"$T/$name.err" &
    local mp=$! t0 pid="" i
    for i in $(seq 100); do [ -s "$T/$name.safetensors" ] && [ -n "$(pgrep -P "$mp")" ] && break; sleep 0.2; done
    # mpirun runs under `timeout`: its pid is the child of the backgrounded shell function's
    local orterun
    orterun=$(pgrep -f -P "$(pgrep -P "$mp" | head -1)" mpirun || true)
    [ -z "$orterun" ] && orterun=$(pgrep -P "$mp" | head -1)
    sleep 1
    pid=$(rank_pid "$orterun" 1)
    t0=$(date +%s)
    if [ -n "$pid" ]; then kill -"$sig" "$pid"; else bad "$name: rank 1 not found"; fi
    wait "$mp"
    echo "$? $(($(date +%s) - t0))" >"$T/$name.rc"
    [ "$sig" = STOP ] && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    true
}
IMA_MPI_TIMEOUT=4 long stop STOP
read -r rc secs <"$T/stop.rc"
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$secs" -le 30 ] && ok || bad "hung rank: exit $rc after $secs s: $(cat "$T/stop.err")"
grep -q "did not complete within 4 s (IMA_MPI_TIMEOUT): another rank died or hangs" "$T/stop.err" && ok ||
    bad "hung rank: no clear error: $(cat "$T/stop.err")"
grep -q "the last good checkpoint is" "$T/stop.err" && ok || bad "hung rank: checkpoint not named"
# the same in stage 2, whose step starts the importance nets' sums after the statistics' (rank 0 then
# waits in whichever sum rank 1 never joins: a statistic, a started gradient range, the mean y)
IMA_MPI_TIMEOUT=4 long stop2 STOP --epochs1 1 --epochs2 100000
read -r rc secs <"$T/stop2.rc"
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$secs" -le 30 ] && ok || bad "hung rank, stage 2: exit $rc after $secs s: $(cat "$T/stop2.err")"
grep -q "did not complete within 4 s (IMA_MPI_TIMEOUT): another rank died or hangs" "$T/stop2.err" && ok ||
    bad "hung rank, stage 2: no clear error: $(cat "$T/stop2.err")"
echo "hung rank in stage 2: $(grep -o "MPI rank 0 of 2: [^(]*(" "$T/stop2.err" | head -1)"
long kill KILL
read -r rc secs <"$T/kill.rc"
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$secs" -le 30 ] && ok || bad "killed rank: exit $rc after $secs s: $(cat "$T/kill.err")"
for name in stop stop2 kill; do
    "$IMA" train "${DATA[@]}" --resume "$T/$name.safetensors" --epochs1 1 --epochs2 0 --quiet --out "$T/$name.2.safetensors" \
        2>"$T/r.err" && ok || bad "$name: the checkpoint left behind does not resume: $(cat "$T/r.err")"
done

# ---- refusals ----
expect_fail "baseline under mpirun" "covers IMA only" mpi 2 train --model dae "${DATA[@]}" --out "$T/x.safetensors"
IMA_MPI_TIMEOUT=soon expect_fail "bad IMA_MPI_TIMEOUT" "IMA_MPI_TIMEOUT = 'soon'" mpi 2 train "${DATA[@]}" "${MODEL[@]}" --out "$T/x.safetensors"
IMA_MPI_OVERLAP=maybe expect_fail "bad IMA_MPI_OVERLAP" "IMA_MPI_OVERLAP = 'maybe'" mpi 2 train "${DATA[@]}" "${MODEL[@]}" --out "$T/x.safetensors"
# ranks that disagree would make different calls: refused at the start
expect_fail "IMA_MPI_OVERLAP differing between ranks" "IMA_MPI_OVERLAP is 1 on 1 ranks and 0 on the others" \
    timeout 120 "$MPIRUN" --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -x OPENBLAS_NUM_THREADS \
    -np 1 env IMA_MPI_OVERLAP=0 "$IMA" train "${DATA[@]}" "${MODEL[@]}" --out "$T/x.safetensors" : \
    -np 1 env IMA_MPI_OVERLAP=1 "$IMA" train "${DATA[@]}" "${MODEL[@]}" --out "$T/x.safetensors"
cli_finish cli_mpi
