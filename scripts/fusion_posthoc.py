#!/usr/bin/env python3
"""Post-hoc fusion-weight transforms on the codes of a trained digits model (docs/importance.md,
"Sharpened fusion weights").

    fusion_posthoc.py CORPUS VALID_DIR TEST_DIR [K ...]

VALID_DIR / TEST_DIR: the codes of the validation / test split, either as `ima embed` writes them
(u_image.npy, u_speech.npy (N, d), y_image.npy, y_speech.npy (N)), or as L{d}_s{1,2}_{u,y}{0,1}.npy
in one folder (VALID_DIR = TEST_DIR: the measurements in docs/importance.md were dumped so from inside
`ima repro digits` by a local instrumentation after its codes are computed, not part of the repository).
CORPUS: the digits corpus (valid/, test/ with label.npy, image_noise.npy, speech_noise.npy).
For each sharpness K (default 1 2 4 8 16 inf; inf = a gate at 0.5), w = sigmoid(K logit y) fuses
z = (w0 u0 + w1 u1) / (w0 + w1); prints P@10 (exact Euclidean neighbours, self excluded) overall and
on image-noise / speech-noise / clean queries beside y = 1 and oracle weights, and the quantiles of y
on noise. Labels and noise flags are read for the measures only.
"""
import glob
import os
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


def load(d, split):
    """(u0, u1, y0, y1) of one split from an `ima embed` folder or the repro dump's names"""
    if os.path.exists(f"{d}/u_image.npy"):
        names = [f"{d}/u_image.npy", f"{d}/u_speech.npy", f"{d}/y_image.npy", f"{d}/y_speech.npy"]
    else:
        s = 1 if split == "valid" else 2
        dumps = glob.glob(f"{d}/L*_s{s}_u0.npy")
        if len(dumps) != 1:
            sys.exit(f"{d}: expected u_image.npy (ima embed) or one L*_s{s}_u0.npy")
        stem = dumps[0][: -len("u0.npy")]
        names = [stem + n for n in ("u0.npy", "u1.npy", "y0.npy", "y1.npy")]
    a = [np.load(n).astype(np.float64) for n in names]
    return a[0], a[1], a[2].reshape(-1), a[3].reshape(-1)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    corpus, dirs = sys.argv[1], {"valid": sys.argv[2], "test": sys.argv[3]}
    ks = [float(a) for a in sys.argv[4:]] or [1, 2, 4, 8, 16, np.inf]
    for name in ("valid", "test"):
        u0, u1, y0, y1 = load(dirs[name], name)
        u, y = [u0, u1], [y0, y1]
        lab = np.load(f"{corpus}/{name}/label.npy")
        nz = [np.load(f"{corpus}/{name}/{m}_noise.npy").astype(bool) for m in ("image", "speech")]
        if len(lab) != len(y0):
            sys.exit(f"{dirs[name]}: {len(y0)} rows, the corpus' {name} split has {len(lab)}")
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
