#!/usr/bin/env python3
"""report.py: turns the key=value lines of bench_ima and torch_twin.py (bench/run's .raw file) into the
markdown tables of bench/README.md: throughput, ratios, GEMM rates, targets, peak memory.

    python3 bench/report.py results-<date>.raw [--date D] [--elapsed S] [--machine TEXT]
"""
import argparse
import collections

STAGES = [("s1", "stage 1 training"), ("s2", "stage 2 training"), ("inf", "inference")]


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            kv = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
            if "kind" in kv:
                rows.append(kv)
    return rows


def table(env, rows, out):
    ours = {(r["kind"], int(r["batch"]), int(r["threads"])): r for r in rows if r.get("side") == "ima"}
    torch = collections.defaultdict(dict)
    for r in rows:
        if r.get("side") == "torch":
            torch[(r["kind"], int(r["batch"]))][r["variant"]] = r
    peak = {}
    for r in rows:
        if r["kind"] == "gemm_square":
            t = int(r["threads"])
            peak[t] = max(peak.get(t, 0.0), float(r["gflops"]))
    seq = {(int(r["batch"]), int(r["threads"])): float(r["gflops"]) for r in rows if r["kind"] == "gemm_stage1"}
    res = {}
    out.append(f"### Throughput ({env})\n")
    out.append("samples/s, median of the timed epochs. ours/best and ours/user compare our 2-thread figure; "
               "GFLOP/s and the fractions are ours on 2 threads (fraction of the large-square SGEMM rate "
               "measured in the same run; stage 1 also against its own GEMM sequence run alone).\n")
    out.append("| work | batch | ours 1 thr | ours 2 thr | PyTorch user | PyTorch best (variant) | ours/best "
               "| ours/user | ours GFLOP/s | of GEMM peak | of own GEMM seq |")
    out.append("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for kind, label in STAGES:
        for batch in sorted({b for (k, b, _) in ours if k == kind} | {b for (k, b) in torch if k == kind}):
            o1, o2 = ours.get((kind, batch, 1)), ours.get((kind, batch, 2))
            tv = torch.get((kind, batch), {})
            user = tv.get("user")
            best = max(tv.values(), key=lambda r: float(r["sps"])) if tv else None
            f = lambda r: f"{float(r['sps']):,.0f}" if r else "-"
            s2 = float(o2["sps"]) if o2 else None
            rb = s2 / float(best["sps"]) if best and s2 else None
            ru = s2 / float(user["sps"]) if user and s2 else None
            gf = float(o2["gflops"]) if o2 else None
            fp = gf / peak[2] if gf and 2 in peak else None
            fs = gf / seq[(batch, 2)] if gf and kind == "s1" and (batch, 2) in seq else None
            res[(kind, batch)] = dict(rb=rb, ru=ru, fp=fp, fs=fs, best=best, user=user, o2=o2)
            pct = lambda v: f"{100 * v:.0f}%" if v else "-"
            x = lambda v: f"{v:.2f}x" if v else "-"
            out.append(f"| {label} | {batch} | {f(o1)} | {f(o2)} | {f(user)} | "
                       f"{f(best)} ({best['variant'] if best else '-'}) | {x(rb)} | {x(ru)} | "
                       f"{gf if gf else '-'} | {pct(fp)} | {pct(fs)} |")
    mf = {r["kind"]: r["mflop_per_sample"] for r in rows if r.get("side") == "ima"}
    out.append("")
    out.append("FLOP per sample (matrix products only, 2 per multiply-add): " +
               ", ".join(f"{label} {mf[k]} MFLOP" for k, label in STAGES if k in mf) + ".\n")
    out.append(f"### OpenBLAS SGEMM rate ({env}), GFLOP/s\n")
    out.append("| threads | 512^3 | 1024^3 | 2048^3 | stage-1 GEMM sequence at batch 64 / 256 / 1024 |")
    out.append("|---:|---:|---:|---:|---|")
    for t in sorted(peak):
        sq = {int(r["size"]): r["gflops"] for r in rows if r["kind"] == "gemm_square" and int(r["threads"]) == t}
        sqs = " / ".join(str(seq.get((b, t), "-")) for b in sorted({b for (b, tt) in seq if tt == t}))
        out.append(f"| {t} | {sq.get(512, '-')} | {sq.get(1024, '-')} | {sq.get(2048, '-')} | {sqs} |")
    out.append("")
    return res


def targets(res, out):
    out.append("### Targets (2 threads)\n")
    out.append("| target | measured | status |")
    out.append("|---|---|---|")

    def row(name, v, goal, fmt):
        if v is None:
            out.append(f"| {name} | - | not measured |")
            return
        ok = v >= goal
        gap = "" if ok else f" (short by {fmt(goal - v)}; {100 * (goal - v) / goal:.0f}% of the goal)"
        out.append(f"| {name} | {fmt(v)} | {'met' if ok else 'MISSED' + gap} |")

    x = lambda v: f"{v:.2f}x"
    p = lambda v: f"{100 * v:.0f}%"
    g = lambda k, b, f: res.get((k, b), {}).get(f)
    row("stage 1, batch 256 >= 1.3x best PyTorch", g("s1", 256, "rb"), 1.3, x)
    row("stage 1, batch 256 >= 4x PyTorch as a user gets it", g("s1", 256, "ru"), 4.0, x)
    row("stage 1, batch 64 >= 2x best PyTorch", g("s1", 64, "rb"), 2.0, x)
    row("stage 1, batch 1024 >= 70% of the SGEMM rate (large squares)", g("s1", 1024, "fp"), 0.7, p)
    row("stage 2, batch 256 >= 1.3x best PyTorch", g("s2", 256, "rb"), 1.3, x)
    row("inference, batch 256 >= 1.3x best PyTorch", g("inf", 256, "rb"), 1.3, x)
    out.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--date", default="")
    ap.add_argument("--elapsed", default="")
    ap.add_argument("--machine", default="")
    a = ap.parse_args()
    rows = parse(a.raw)
    envs = list(dict.fromkeys(r.get("env", "-") for r in rows))
    out = [f"## Benchmark results {a.date}\n",
           f"Machine: {a.machine}. Run time {a.elapsed} s. Raw lines: {a.raw.split('/')[-1]}.\n"]
    for i, env in enumerate(envs):
        er = [r for r in rows if r.get("env", "-") == env]
        if not any(r.get("side") for r in er):
            continue
        res = table(env, er, out)
        if i == 0:
            targets(res, out)
    for r in rows:
        if r["kind"] == "rss":
            out.append(f"### Peak memory\n\nTraining one stage-1 and one stage-2 epoch (batch {r['batch']}, "
                       f"{r['threads']} threads) on a synthetic corpus of {r['pairs']} pairs x (784 + 696) float32 "
                       f"= {r['corpus_mb']} MB through ima_train: peak RSS {r['peak_rss_mb']} MB (getrusage), "
                       f"i.e. corpus + {float(r['peak_rss_mb']) - float(r['corpus_mb']):.1f} MB "
                       f"(target: corpus + 250 MB).")
        if r["kind"] == "time_v":
            out.append(f"/usr/bin/time -v: maximum resident set size {int(r['max_rss_kb']) / 1000:.1f} MB.\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
