#!/usr/bin/env python3
"""importance_targets.py: issue 9's targets, checked seed by seed from an `ima repro digits --seeds`
results.json (the per_seed entries). Prints a markdown table.
    /usr/bin/python3 scripts/importance_targets.py out/fsdd/results.json
"""
import json
import sys

LIMITS = {50: (0.95, 0.99), 2: (0.90, 0.97)}  # F1 at y < 0.5, ranking AUC


def rep(reps, view, latent):
    for r in reps:
        if r["view"] == view and r["latent"] == latent:
            return r
    return None


def main(path):
    root = json.load(open(path))
    runs = root.get("per_seed", [root])
    seeds = root.get("seeds", [r["settings"]["seed"] for r in runs])
    print("| seed | d | F1 image / speech | AUC image / speech | weighted - unweighted P@10 | weighted - oracle P@10 "
          "| MLP weighted - unweighted | targets met |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, run in zip(seeds, runs):
        main_obj = run["settings"].get("importance_objective", "paper")
        for latent in (50, 2):
            imp = [e for e in run["importance"] if e["latent"] == latent and e.get("objective", main_obj) == main_obj]
            if not imp:
                continue
            e = imp[0]
            f1 = [e[m]["f1"] for m in ("image", "speech")]
            auc = [e[m]["auc"] if e[m]["auc"] is not None else float("nan") for m in ("image", "speech")]
            w, u, o = (rep(run["representations"], v, latent) for v in ("weighted", "unweighted", "oracle"))
            dwu, dwo, dacc = w["p10"] - u["p10"], w["p10"] - o["p10"], w["accuracy"] - u["accuracy"]
            f1_lim, auc_lim = LIMITS[latent]
            met = {"F1": min(f1) >= f1_lim, "AUC": min(auc) >= auc_lim, "vs unweighted": dwu >= 0.005,
                   "vs oracle": dwo >= -0.005, "MLP": dacc >= 0}
            missed = [k for k, v in met.items() if not v]
            print(f"| {seed} | {latent} | {f1[0]:.3f} / {f1[1]:.3f} | {auc[0]:.4f} / {auc[1]:.4f} | {dwu:+.4f} | "
                  f"{dwo:+.4f} | {dacc:+.2f} | {'all' if not missed else 'missed: ' + ', '.join(missed)} |")


if __name__ == "__main__":
    main(sys.argv[1])
