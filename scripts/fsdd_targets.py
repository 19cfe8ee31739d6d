#!/usr/bin/env python3
"""Check a `ima repro digits [--seeds ...]` output folder against the targets of issues #9 and #14.

Reads OUT/seed-*/results.json, or OUT/results.json of a run without --seeds (standard library only) and prints Markdown: one row per target and
seed, with the measured values and whether each target holds. Exit status 0 always (a report, not
a gate): the table says what was met.

    python3 scripts/fsdd_targets.py out/repro-digits
"""
import glob
import json
import os
import re
import sys


def rep(r, name, latent):
    for e in r["representations"]:
        if e["name"] == name and e["latent"] == latent:
            return e
    return None


def imp(r, latent, objective):
    for e in r["importance"]:
        if e["latent"] == latent and e.get("objective") == objective:
            return e
    return None


def sweep_f1_min(r, lo=0.6, hi=0.95, objective="local-ev"):
    """the smallest image / speech F1 over the sweep points with rho in [lo, hi], or None"""
    pts = [p for p in r.get("rho_sweep", []) if lo - 1e-6 <= p.get("rho", -1) <= hi + 1e-6
           and p.get("objective", objective) == objective]
    if not pts:
        return None
    return min(p["image"]["f1"] for p in pts), min(p["speech"]["f1"] for p in pts), len(pts)


def ok(b):
    return "met" if b else "**missed**"


def main(out):
    dirs = sorted(glob.glob(os.path.join(out, "seed-*")), key=lambda d: int(re.sub(r"\D", "", d) or 0))
    seeds = []
    for d in dirs:
        p = os.path.join(d, "results.json")
        if os.path.isfile(p):
            with open(p) as f:
                seeds.append((os.path.basename(d), json.load(f)))
    single = os.path.join(out, "results.json")
    if not seeds and os.path.isfile(single):  # one run (no --seeds): its own results.json
        with open(single) as f:
            r = json.load(f)
        if "representations" in r:
            seeds.append(("seed-%s" % r.get("settings", {}).get("seed", "?"), r))
    if not seeds:
        sys.exit("%s: no seed-*/results.json and no results.json of one run" % out)
    print("## Issue #9 targets per seed (test split)\n")
    print("| seed | latent | F1 image / speech | AUC image / speech | weighted - unweighted P@10 | weighted - oracle P@10 | MLP weighted vs unweighted | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in seeds:
        for d, f1_min, auc_min in ((50, 0.95, 0.99), (2, 0.90, 0.97)):
            i = imp(r, d, "local-ev")
            w, u, o = rep(r, "IMA weighted z", d), rep(r, "IMA unweighted z (y = 1)", d), \
                rep(r, "IMA oracle weights (y = 0 on noise)", d)
            if not (i and w and u and o):
                print("| %s | %d | not in results.json | | | | | |" % (name, d))
                continue
            f1 = (i["image"]["f1"], i["speech"]["f1"])
            auc = (i["image"]["auc"], i["speech"]["auc"])
            du, do = w["p10"] - u["p10"], w["p10"] - o["p10"]
            mlp = w["accuracy"] >= u["accuracy"]
            misses = [m for m, b in (("F1", min(f1) >= f1_min), ("AUC", min(auc) >= auc_min),
                                     ("vs unweighted", du >= 0.005), ("vs oracle", do >= -0.005),
                                     ("MLP", mlp)) if not b]
            print("| %s | %d | %.3f / %.3f | %.3f / %.3f | %+.4f | %+.4f | %.2f vs %.2f | %s |" % (
                name, d, f1[0], f1[1], auc[0], auc[1], du, do, w["accuracy"], u["accuracy"],
                "all met" if not misses else "missed: " + ", ".join(misses)))
        s = sweep_f1_min(r)
        if s:
            print("| %s | sweep | F1 >= 0.95 for every rho in [0.6, 0.95]: min image %.3f, speech %.3f over %d points | | | | | %s |"
                  % (name, s[0], s[1], s[2], ok(min(s[0], s[1]) >= 0.95)))
    print("\n## Issue #14: MVAE and JMVAE-KL at latent 50 against the paper\n")
    print("| seed | model | P@10 (paper) | within 0.03 | accuracy % (paper) | within 1.5 | epochs run / kept / cap |")
    print("|---|---|---|---|---|---|---|")
    for name, r in seeds:
        for model in ("MVAE", "JMVAE-KL"):
            e = rep(r, model + " multimodal", 50)
            t = next((t for t in r["training"] if t["model"] == model and t["latent"] == 50), None)
            if not e:
                continue
            pp, pa = e.get("paper_p10"), e.get("paper_accuracy")
            print("| %s | %s | %.4f (%s) | %s | %.2f (%s) | %s | %s |" % (
                name, model, e["p10"], pp, ok(pp is not None and e["p10"] >= pp - 0.03), e["accuracy"], pa,
                ok(pa is not None and e["accuracy"] >= pa - 1.5),
                "%d / %d / %d" % (t["epochs_run"], t["best_epoch"], t["epochs_cap"]) if t else "?"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
