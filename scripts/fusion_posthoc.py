#!/usr/bin/env python3
"""Post-hoc fusion-weight transforms on codes dumped from a trained digits model (docs/importance.md).

    fusion_posthoc.py DUMP_DIR CORPUS LATENT [K ...]

DUMP_DIR holds L{latent}_s{1,2}_{u0,u1,y0,y1}.npy (validation = s1, test = s2: u_j (N, d), y_j (N, 1));
CORPUS the digits corpus (valid/, test/ with label.npy, image_noise.npy, speech_noise.npy). For each
sharpness k, the weights w = sigmoid(k logit y) fuse z = (w0 u0 + w1 u1) / (w0 + w1); prints P@10
(exact Euclidean neighbours, self excluded) overall and on image-noise / speech-noise queries, for the
validation and test splits, beside y = 1 and oracle weights. Labels are read for the measure only.
"""
import sys
import numpy as np


def p_at(z, label, k=10, block=1024):
    n = len(z)
    sq = (z * z).sum(1)
    hits = np.zeros(n)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        d = sq[lo:hi, None] - 2 * z[lo:hi] @ z.T + sq[None, :]
        d[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        nb = np.argpartition(d, k, axis=1)[:, :k]
        hits[lo:hi] = (label[nb] == label[lo:hi, None]).mean(1)
    return hits


def sharpen(y, k):
    if k == np.inf:
        return np.where(y >= 0.5, 1.0, 1e-6)
    y = np.clip(y.astype(np.float64), 1e-300, 1 - 1e-16)
    l = k * (np.log(y) - np.log1p(-y))
    return np.maximum(1 / (1 + np.exp(-l)), 1e-6)


def main():
    dump, corpus, L = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ks = [float(a) for a in sys.argv[4:]] or [1, 2, 4, 8, 16, np.inf]
    for s, name in ((1, "valid"), (2, "test")):
        u = [np.load(f"{dump}/L{L}_s{s}_u{j}.npy").astype(np.float64) for j in range(2)]
        y = [np.load(f"{dump}/L{L}_s{s}_y{j}.npy").reshape(-1).astype(np.float64) for j in range(2)]
        lab = np.load(f"{corpus}/{name}/label.npy")
        nz = [np.load(f"{corpus}/{name}/{m}_noise.npy").astype(bool) for m in ("image", "speech")]
        for j, m in enumerate(("image", "speech")):
            q = np.quantile(y[j][nz[j]], [0, 0.5, 0.9, 0.99, 1])
            print(f"{name} {m}: noise y quantiles 0/50/90/99/100% " + " ".join(f"{v:.3g}" for v in q)
                  + f"; clean y min {y[j][~nz[j]].min():.3g}, 1% {np.quantile(y[j][~nz[j]], 0.01):.3g}")

        def row(tag, w0, w1):
            z = (w0[:, None] * u[0] + w1[:, None] * u[1]) / (w0 + w1)[:, None]
            h = p_at(z, lab)
            print(f"{name} {tag:>12}: P@10 {h.mean():.4f}  image-noise q {h[nz[0]].mean():.4f}  "
                  f"speech-noise q {h[nz[1]].mean():.4f}  clean q {h[~nz[0] & ~nz[1]].mean():.4f}")

        one = np.ones(len(lab))
        row("y = 1", one, one)
        row("oracle", (~nz[0]).astype(float), (~nz[1]).astype(float))
        for k in ks:
            row(f"k = {k:g}", sharpen(y[0], k), sharpen(y[1], k))


if __name__ == "__main__":
    main()
