#!/usr/bin/python3
"""tsne_golden.py: scikit-learn's t-SNE on a fixed small input, as the golden for tests/test_tsne.c.

Writes (all committed; rerun only to refresh them):
  tests/data/tsne_input.npy     (500, 20) float32: 10 Gaussian clusters, numpy seed 20240
  tests/data/tsne_sklearn_map.npy (500, 2) float32: sklearn's map for random_state 0
  tests/data/tsne_golden.json   sklearn's KL and trustworthiness (k = 10), over 3 seeds

Settings match ima's defaults: perplexity 10, early exaggeration 12 for 250 iterations,
learning rate 200, 1000 iterations, Barnes-Hut with angle (theta) 0.5, random init N(0, 1e-4^2).
'kl_exact' recomputes KL(P || Q) of sklearn's final map with sklearn's own P and the exact Q over
all pairs (sklearn's kl_divergence_ is the Barnes-Hut estimate of the last gradient step).

Usage: /usr/bin/python3 tools/tsne_golden.py [REPO_ROOT]
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities_nn
from sklearn.neighbors import NearestNeighbors

N, D, C = 500, 20, 10
PERPLEXITY = 10.0
SEEDS = [0, 1, 2]


def make_input():
    rng = np.random.default_rng(20240)
    centres = rng.normal(0.0, 1.6, size=(C, D))
    labels = np.arange(N) % C
    x = centres[labels] + rng.normal(0.0, 1.0, size=(N, D))
    return x.astype(np.float32), labels


def exact_kl(x, y):
    k = min(N - 1, int(3.0 * PERPLEXITY + 1))
    g = NearestNeighbors(n_neighbors=k, metric="euclidean").fit(x).kneighbors_graph(mode="distance")
    g.data **= 2
    p = _joint_probabilities_nn(g, PERPLEXITY, 0).tocoo()
    y = y.astype(np.float64)
    d2 = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    w = 1.0 / (1.0 + d2)
    np.fill_diagonal(w, 0.0)
    q = w / w.sum()
    m = p.data > 0
    return float(np.sum(p.data[m] * np.log(p.data[m] / q[p.row[m], p.col[m]])))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    out = os.path.join(root, "tests", "data")
    os.makedirs(out, exist_ok=True)
    x, _ = make_input()
    np.save(os.path.join(out, "tsne_input.npy"), x)
    runs = []
    for seed in SEEDS:
        t = TSNE(n_components=2, perplexity=PERPLEXITY, early_exaggeration=12.0, learning_rate=200.0,
                 n_iter=1000, init="random", method="barnes_hut", angle=0.5, random_state=seed)
        y = t.fit_transform(x)
        runs.append({
            "seed": seed,
            "kl_reported": float(t.kl_divergence_),
            "kl_exact": exact_kl(x, y),
            "trustworthiness_k10": float(trustworthiness(x, y, n_neighbors=10)),
        })
        if seed == SEEDS[0]:
            np.save(os.path.join(out, "tsne_sklearn_map.npy"), y.astype(np.float32))
    golden = {
        "sklearn_version": sklearn.__version__,
        "n": N, "d": D, "perplexity": PERPLEXITY,
        "runs": runs,
        "kl_exact_mean": float(np.mean([r["kl_exact"] for r in runs])),
        "trustworthiness_k10_mean": float(np.mean([r["trustworthiness_k10"] for r in runs])),
        "map_seed0_kl_exact": runs[0]["kl_exact"],
        "map_seed0_trustworthiness_k10": runs[0]["trustworthiness_k10"],
    }
    with open(os.path.join(out, "tsne_golden.json"), "w") as f:
        json.dump(golden, f, indent=2)
        f.write("\n")
    print(json.dumps(golden, indent=2))


if __name__ == "__main__":
    main()
