#!/usr/bin/env python3
"""PyTorch twin of the baseline models (src/baselines): writes tests/golden/baselines_twin.safetensors.

Usage: python3 tools/baselines_twin.py [OUT]     (default tests/golden/baselines_twin.safetensors)

For each kind (mvae, jmvae, dae) on a tiny three-modality configuration (kept in step with
tests/test_baselines_golden.c): initial weights, inputs, presence mask, the fixed noise (epsilon, MVAE
subset terms, DAE keep mask), every loss term, the representation with the mask, and the gradient of the
total loss with respect to every parameter, computed by autograd in float64 from the formulas in
include/ima/baselines.h, independently of the C code. Written with struct + json (no safetensors package).

Tensor names: "<kind>.param.<tensor>", "<kind>.grad.<tensor>" with <tensor> as ima_baseline_param_views
names it ("m0.expert.0.weight", "joint.2.bias", "m1.decoder.1.weight"); "<kind>.x.<modality>" (B, D_j),
"<kind>.mask" U8 (B, M), "<kind>.eps" (S, B, d), "<kind>.term_set" U8 (S, M), "<kind>.keep" (B, Dc),
"<kind>.loss.total|kl|kl_uni" F64 (1), "<kind>.loss.rec" F64 (M), "<kind>.z" (B, d).
"""
import json
import math
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

# ---- the tiny configuration (same numbers in tests/test_baselines_golden.c) ---------------------------
B, LATENT = 6, 3
MODS = [  # name, D, H, loss, gaussian_logvar, lambda_rec
    ("m0", 5, 7, "bce", 0, 1.0),
    ("m1", 4, 6, "sse", 0, 0.5),
    ("m2", 6, 5, "sse", 1, 1.5),
]
M = len(MODS)
BETA, ALPHA, JOINT_HIDDEN = 0.7, 0.3, 8  # JOINT_HIDDEN for jmvae; the dae uses the sum of the H_j (18)
MASK = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1]], dtype=np.uint8)
TERM_SETS = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=np.uint8)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def linear_stack(widths, gen):
    """PyTorch nn.Linear default init U(-1/sqrt(I), 1/sqrt(I)) for W (O, I) then b (O)."""
    layers = []
    for i, o in zip(widths[:-1], widths[1:]):
        bound = 1.0 / math.sqrt(i)
        W = (torch.rand(o, i, generator=gen) * 2 - 1) * bound
        b = (torch.rand(o, generator=gen) * 2 - 1) * bound
        layers.append([W.requires_grad_(), b.requires_grad_()])
    return layers


def mlp(x, layers):
    for l, (W, b) in enumerate(layers):
        x = x @ W.T + b
        if l < len(layers) - 1:
            x = torch.relu(x)
    return x


def rec_rows(out, x, mod):
    """Rec_j per row (B): BCE from logits, SSE, or the Gaussian NLL of a [mu | logvar] head."""
    _, D, _, loss, gauss, _ = mod
    if gauss:
        mu, lv = out[:, :D], out[:, D:]
        return (0.5 * (lv + (x - mu) ** 2 * torch.exp(-lv)) + HALF_LOG_2PI).sum(1)
    if loss == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    return ((out - x) ** 2).sum(1)


def build(kind, gen):
    """Networks in buffer order: experts, joint, decoders; returns (named parameter list, nets)."""
    d = LATENT
    nets = {"expert": [], "joint": None, "decoder": []}
    if kind != "dae":
        nets["expert"] = [linear_stack([D, H, H, 2 * d], gen) for (_, D, H, *_r) in MODS]
    Dc = sum(m[1] for m in MODS)
    if kind == "jmvae":
        nets["joint"] = linear_stack([Dc, JOINT_HIDDEN, JOINT_HIDDEN, 2 * d], gen)
    if kind == "dae":
        Hc = sum(m[2] for m in MODS)
        nets["joint"] = linear_stack([Dc, Hc, Hc, d], gen)
    nets["decoder"] = [linear_stack([d, H, H, 2 * D if g else D], gen) for (_, D, H, _l, g, _w) in MODS]
    named = []
    for j, layers in enumerate(nets["expert"]):
        named += stack_names(f"{MODS[j][0]}.expert", layers)
    if nets["joint"] is not None:
        named += stack_names("joint", nets["joint"])
    for j, layers in enumerate(nets["decoder"]):
        named += stack_names(f"{MODS[j][0]}.decoder", layers)
    return named, nets


def stack_names(prefix, layers):
    out = []
    for l, (W, b) in enumerate(layers):
        out += [(f"{prefix}.{l}.weight", W), (f"{prefix}.{l}.bias", b)]
    return out


def concat(xs, mask):
    return torch.cat([xs[j] * mask[:, j:j + 1] for j in range(M)], 1)


# ---- the three losses ----------------------------------------------------------------------------------

def mvae_loss(nets, xs, mask, eps):
    d = LATENT
    st = [mlp(xs[j], nets["expert"][j]) for j in range(M)]
    total, kl_sum, rec = 0.0, 0.0, [0.0] * M
    for s, tset in enumerate(TERM_SETS):
        w = [mask[:, j] * float(tset[j]) for j in range(M)]
        T = 1.0 + sum(w[j][:, None] * torch.exp(-st[j][:, d:]) for j in range(M))
        mu = sum(w[j][:, None] * torch.exp(-st[j][:, d:]) * st[j][:, :d] for j in range(M)) / T
        z = mu + eps[s] / torch.sqrt(T)
        active = (sum(w) > 0).double()
        kl = (0.5 * (1 / T + mu ** 2 - 1 + torch.log(T)).sum(1) * active).sum() / B
        kl_sum = kl_sum + kl
        total = total + BETA * kl
        for j in range(M):
            if not tset[j]:
                continue
            r = (rec_rows(mlp(z, nets["decoder"][j]), xs[j], MODS[j]) * w[j]).sum() / B
            rec[j] = rec[j] + r
            total = total + MODS[j][5] * r
    return total, rec, kl_sum, torch.zeros(())


def mvae_represent(nets, xs, mask):
    d = LATENT
    st = [mlp(xs[j], nets["expert"][j]) for j in range(M)]
    T = 1.0 + sum(mask[:, j:j + 1] * torch.exp(-st[j][:, d:]) for j in range(M))
    return sum(mask[:, j:j + 1] * torch.exp(-st[j][:, d:]) * st[j][:, :d] for j in range(M)) / T


def jmvae_loss(nets, xs, mask, eps):
    d = LATENT
    q = mlp(concat(xs, mask), nets["joint"])
    mu, lv = q[:, :d], q[:, d:]
    z = mu + torch.exp(0.5 * lv) * eps[0]
    kl = (0.5 * (torch.exp(lv) + mu ** 2 - 1 - lv)).sum() / B
    total, rec, klu = BETA * kl, [], 0.0
    for j in range(M):
        r = (rec_rows(mlp(z, nets["decoder"][j]), xs[j], MODS[j]) * mask[:, j]).sum() / B
        rec.append(r)
        total = total + MODS[j][5] * r
        sj = mlp(xs[j], nets["expert"][j])
        muj, lvj = sj[:, :d], sj[:, d:]
        k = 0.5 * (lvj - lv + (torch.exp(lv) + (mu - muj) ** 2) * torch.exp(-lvj) - 1)
        klu = klu + (k.sum(1) * mask[:, j]).sum() / B
    total = total + ALPHA * klu
    return total, rec, kl, klu


def jmvae_represent(nets, xs, mask):
    d = LATENT
    q = mlp(concat(xs, mask), nets["joint"])[:, :d]
    st = [mlp(xs[j], nets["expert"][j]) for j in range(M)]
    T = sum(mask[:, j:j + 1] * torch.exp(-st[j][:, d:]) for j in range(M))
    prod = sum(mask[:, j:j + 1] * torch.exp(-st[j][:, d:]) * st[j][:, :d] for j in range(M)) / T
    full = (mask.sum(1) == M).double()[:, None]
    return full * q + (1 - full) * prod


def dae_loss(nets, xs, mask, keep):
    h = mlp(concat(xs, mask) * keep, nets["joint"])
    total, rec = 0.0, []
    for j in range(M):
        r = (rec_rows(mlp(h, nets["decoder"][j]), xs[j], MODS[j]) * mask[:, j]).sum() / B
        rec.append(r)
        total = total + MODS[j][5] * r
    return total, rec, torch.zeros(()), torch.zeros(())


def dae_represent(nets, xs, mask):
    return mlp(concat(xs, mask), nets["joint"])


# ---- safetensors by hand ----------------------------------------------------------------------------------

def write_safetensors(path, tensors, meta):
    """tensors: list of (name, np.ndarray); F64 first, then F32, then U8, so every tensor is aligned."""
    codes = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("u1"): "U8"}
    order = sorted(tensors, key=lambda t: -t[1].dtype.itemsize)
    header, blobs, at = {"__metadata__": meta}, [], 0
    for name, a in order:
        a = np.ascontiguousarray(a)
        raw = a.tobytes()
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/baselines_twin.safetensors"
    rng = np.random.default_rng(2024)
    gen = torch.Generator().manual_seed(7)
    tensors = []
    f32 = lambda t: t.detach().numpy().astype("<f4")
    for kind in ("mvae", "jmvae", "dae"):
        named, nets = build(kind, gen)
        # inputs: bce modality in [0, 1], sse modalities real; the C side reads them as float32, so round here
        xs = []
        for (name, D, _H, loss, _g, _w) in MODS:
            a = rng.uniform(0, 1, (B, D)) if loss == "bce" else rng.normal(0, 1, (B, D))
            xs.append(torch.tensor(a.astype("<f4").astype(np.float64)))
        mask = torch.tensor(MASK.astype(np.float64))
        for _, p in named:  # parameters as float32 values too, so both sides start from the same numbers
            with torch.no_grad():
                p.copy_(p.to(torch.float32).to(torch.float64))
        Dc = sum(m[1] for m in MODS)
        eps = keep = None
        if kind == "mvae":
            eps = torch.tensor(rng.normal(0, 1, (len(TERM_SETS), B, LATENT)).astype("<f4").astype(np.float64))
            total, rec, kl, klu = mvae_loss(nets, xs, mask, eps)
            z = mvae_represent(nets, xs, mask)
        elif kind == "jmvae":
            eps = torch.tensor(rng.normal(0, 1, (1, B, LATENT)).astype("<f4").astype(np.float64))
            total, rec, kl, klu = jmvae_loss(nets, xs, mask, eps)
            z = jmvae_represent(nets, xs, mask)
        else:
            keep = torch.tensor((rng.uniform(0, 1, (B, Dc)) >= 0.3).astype(np.float64))
            total, rec, kl, klu = dae_loss(nets, xs, mask, keep)
            z = dae_represent(nets, xs, mask)
        params = [p for _, p in named]
        grads = torch.autograd.grad(total, params)
        for (name, p), g in zip(named, grads):
            tensors.append((f"{kind}.param.{name}", f32(p)))
            tensors.append((f"{kind}.grad.{name}", f32(g)))
        for j, (name, *_r) in enumerate(MODS):
            tensors.append((f"{kind}.x.{name}", f32(xs[j])))
        tensors.append((f"{kind}.mask", MASK.copy()))
        if eps is not None:
            tensors.append((f"{kind}.eps", f32(eps)))
        if kind == "mvae":
            tensors.append((f"{kind}.term_set", TERM_SETS.copy()))
        if keep is not None:
            tensors.append((f"{kind}.keep", f32(keep)))
        tensors.append((f"{kind}.loss.total", np.array([float(total)], dtype="<f8")))
        tensors.append((f"{kind}.loss.rec", np.array([float(r) for r in rec], dtype="<f8")))
        tensors.append((f"{kind}.loss.kl", np.array([float(kl)], dtype="<f8")))
        tensors.append((f"{kind}.loss.kl_uni", np.array([float(klu)], dtype="<f8")))
        tensors.append((f"{kind}.z", f32(z)))
        print(f"{kind}: total {float(total):.6f} rec {[round(float(r), 4) for r in rec]} kl {float(kl):.4f} "
              f"kl_uni {float(klu):.4f}, {len(named)} parameter tensors")
    meta = {"generator": "tools/baselines_twin.py", "torch": torch.__version__, "dtype": "float64 autograd",
            "config": json.dumps({"B": B, "latent": LATENT, "mods": MODS, "beta": BETA, "alpha": ALPHA,
                                  "jmvae_joint_hidden": JOINT_HIDDEN})}
    write_safetensors(out, tensors, meta)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
