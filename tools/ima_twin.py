#!/usr/bin/env python3
"""ima_twin.py: an independent PyTorch twin of the IMA model (SPEC.md sections 1-2) that writes the
golden file tests/test_golden.c checks the C implementation against (the llm.c train_gpt2.py way).

    /usr/bin/python3 tools/ima_twin.py tests/golden/ima_twin.safetensors

Written from the SPEC, not from the C code: torch.nn.Linear layers, autograd for every gradient,
torch.optim.Adam for the optimizer steps, float64 throughout. Only the values the C model reads
(initial weights, centring means, inputs) are rounded to float32 first, so that both sides start
from bit-identical numbers.

Dimensions: M modalities (j), B batch rows (i), D_j input, H_j hidden, d latent.

File contents (safetensors; see CONTENTS below for the exact names):
  inputs   x.<m> (B,D) F32, mask (B,M) U8, center.<m> (D) F32, and the initial parameters
           <m>.<encoder|decoder|importance>.<layer>.<weight|bias> F32, weight (out, in);
  outputs  F64: u, y_imp, z for both fusion weights, every loss term, every gradient, and 5 Adam
           steps per stage (loss before each step, parameters after the last);
  local-ev target (B,M) F32 (NaN = no target), the local-ev stage-2 loss (BCE of y to the targets,
           docs/importance.md), its gradients and 5 Adam steps (names stage2_lev.*, adam.stage2_lev.*);
           the local explained-variance statistic on a small set: lev.u (N,d) F32, lev.p (N,d) F32,
           lev.T (N) F64 (k = LEV_K neighbours by brute force, self excluded);
           the statistic with partner blocks (M = 3, masks, row weights): lev3.f<j> (N,D_j) F32, lev3.mask
           (N,3) U8, lev3.w (N) F32, lev3.T<j> (N) F64 (NaN: no statistic);
           the teacher's principal-component features: pca.x (N,D) F32, pca.mask (N) U8, pca.F (N,P) F64
           (largest entry of each axis positive; 0 on absent rows), pca.explained (1) F64;
  __metadata__ {"config": JSON of CONFIG, "generator": ..., "torch": version}.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

SEED = 20240611
B = 16
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
ADAM_STEPS = 5
MIN_FUSION_WEIGHT = 1e-6   # y = max(sigmoid(logit), 1e-6) in the importance-weighted fusion
MIN_WEIGHT_SUM = 1e-12     # S = max(sum y', 1e-12) in stage 2

CONFIG = {
    "latent_width": 4,
    "lambda_glob": 0.9,
    "center_inputs": 1,
    "batch": B,
    "modalities": [
        {"name": "a", "input_width": 12, "hidden_width": 10, "loss": "bce",
         "lambda_rec": 1.0, "lambda_align": 1.0, "lambda_local": 1.0, "lambda_corr": 3000.0, "rho": 0.8},
        {"name": "b", "input_width": 9, "hidden_width": 8, "loss": "sse",
         "lambda_rec": 0.5, "lambda_align": 0.7, "lambda_local": 2.0, "lambda_corr": 30.0, "rho": 0.3},
        {"name": "c", "input_width": 7, "hidden_width": 6, "loss": "bce",
         "lambda_rec": 2.0, "lambda_align": 1.3, "lambda_local": 0.5, "lambda_corr": 1000.0, "rho": 0.5},
    ],
}
# The encoders' output layers are drawn ENCODER_GAIN times wider than nn.Linear's default so that the
# codes, and with them the stage-2 covariance term, are not negligible; lambda_corr is then chosen per
# modality so that its gradient on the importance nets is of the same order as the prior's (checked
# when this case was designed: first-layer gradient norms corr/local about 0.5, 1 and 2).
ENCODER_GAIN = 3.0


def f32(v):
    """the value the C model holds for a float config field"""
    return float(np.float32(v))


def f32_tensor(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float32).astype(np.float64))


# ---- model --------------------------------------------------------------------------------------

def mlp(widths):
    """Linear, ReLU, Linear, ReLU, Linear (no output activation)"""
    layers = []
    for l in range(len(widths) - 1):
        if l:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[l], widths[l + 1]))
    return nn.Sequential(*layers)


class Modality(nn.Module):
    def __init__(self, D, H, d):
        super().__init__()
        self.encoder = mlp([D, H, H, d])      # u = E(x - center)
        self.decoder = mlp([d, H, H, D])      # logit (bce) or value (sse)
        self.importance = mlp([D, H, H, 1])   # logit; y = sigmoid(logit)


def linears(seq):
    return [m for m in seq if isinstance(m, nn.Linear)]


def named_params(mods):
    """(C name, tensor) in the C model's buffer order: [E_0 G_0 E_1 G_1 ... | I_0 I_1 ...]"""
    out, order = [], []
    for j in range(len(mods)):
        order += [(j, "encoder"), (j, "decoder")]
    order += [(j, "importance") for j in range(len(mods))]
    for j, net in order:
        name = CONFIG["modalities"][j]["name"]
        for l, lin in enumerate(linears(getattr(mods[j], net))):
            out.append((f"{name}.{net}.{l}.weight", lin.weight))
            out.append((f"{name}.{net}.{l}.bias", lin.bias))
    return out


def ae_params(mods):
    return [p for n, p in named_params(mods) if ".importance." not in n]


def imp_params(mods):
    return [p for n, p in named_params(mods) if ".importance." in n]


# ---- forward and losses -------------------------------------------------------------------------

def encode(mods, batch, weights):
    """u_j, y_imp_j (all rows), and the fused z (B, d)"""
    x, mask, center = batch["x"], batch["mask"], batch["center"]
    u, y_imp = [], []
    num, den = 0.0, 0.0
    for j, md in enumerate(mods):
        xc = x[j] - center[j]
        u.append(md.encoder(xc))
        y_imp.append(torch.sigmoid(md.importance(xc)[:, 0]))
        if weights == "one":
            y = torch.ones(x[j].shape[0])
        elif weights == "importance":
            y = torch.clamp(y_imp[j], min=MIN_FUSION_WEIGHT).detach()   # constants in stage 1
        else:
            raise ValueError(weights)
        my = mask[:, j] * y
        num = num + my[:, None] * u[j]
        den = den + my[:, None]
    assert bool((den > 0).all()), "a row with no modality present"
    return u, y_imp, num / den


def stage1_loss(mods, batch, weights):
    """L_auto, batch mean over rows; returns (total, terms dict of tensors)"""
    x, mask = batch["x"], batch["mask"]
    u, _, z = encode(mods, batch, weights)
    nB = z.shape[0]
    terms = {"glob": (z ** 2).sum(1).mean()}
    total = f32(CONFIG["lambda_glob"]) * terms["glob"]
    for j, (md, mc) in enumerate(zip(mods, CONFIG["modalities"])):
        out = md.decoder(z)
        if mc["loss"] == "bce":
            rec_rows = F.binary_cross_entropy_with_logits(out, x[j], reduction="none").sum(1)
        else:
            rec_rows = ((out - x[j]) ** 2).sum(1)
        align_rows = ((z - u[j]) ** 2).sum(1)
        rec = (mask[:, j] * rec_rows).sum() / nB
        align = (mask[:, j] * align_rows).sum() / nB
        terms["rec." + mc["name"]] = rec
        terms["align." + mc["name"]] = align
        total = total + f32(mc["lambda_rec"]) * rec + f32(mc["lambda_align"]) * align
    terms["total"] = total
    return total, terms


def stage2_loss(mods, batch, weights):
    """L_imp; z and u are constants, gradients flow through the importances only"""
    x, mask, center = batch["x"], batch["mask"], batch["center"]
    with torch.no_grad():
        u, _, z = encode(mods, batch, weights)
    total = torch.zeros(())
    terms = {}
    for j, (md, mc) in enumerate(zip(mods, CONFIG["modalities"])):
        p = mask[:, j] > 0
        logit = md.importance(x[j] - center[j])[:, 0][p]
        y = torch.sigmoid(logit)
        yc = torch.sigmoid(-logit)                     # 1 - y without cancellation
        S = torch.clamp(yc.sum(), min=MIN_WEIGHT_SUM)
        w = yc / S
        zp, up = z[p], u[j][p]
        mu_z = (w[:, None] * zp).sum(0)
        mu_u = (w[:, None] * up).sum(0)
        C = (w[:, None] * (zp - mu_z)).t() @ (up - mu_u)   # (d, d)
        corr = (C ** 2).sum()
        ybar, ybarc = y.mean(), yc.mean()
        rho = f32(mc["rho"])
        local = ybar * torch.log(ybar / rho) + ybarc * torch.log(ybarc / (1.0 - rho))
        n = mc["name"]
        terms["corr." + n], terms["local." + n], terms["ybar." + n] = corr, local, ybar
        total = total + f32(mc["lambda_local"]) * local + f32(mc["lambda_corr"]) * corr
    terms["total"] = total
    return total, terms


def stage2_lev_loss(mods, batch, target):
    """local-ev: sum over modalities of the mean BCE of y_j to its targets, over rows where j is present
    and a target exists"""
    x, mask, center = batch["x"], batch["mask"], batch["center"]
    total = torch.zeros(())
    terms = {}
    for j, (md, mc) in enumerate(zip(mods, CONFIG["modalities"])):
        t = target[:, j]
        p = (mask[:, j] > 0) & torch.isfinite(t)
        logit = md.importance(x[j] - center[j])[:, 0][p]
        teach = F.binary_cross_entropy_with_logits(logit, t[p], reduction="mean")
        terms["teach." + mc["name"]] = teach
        total = total + teach
    terms["total"] = total
    return total, terms


LEV_N, LEV_D, LEV_K = 60, 3, 7
PCA_P = 4


def local_ev_stat(u, p, k):
    """T_i = k ||mean_{l in N_k(i)} p_l - mean(p)||^2 / sum_c var_{l in N_k(i)}(p_lc), unbiased variance;
    N_k(i): the k nearest other rows by u (Euclidean)"""
    dist = ((u[:, None, :] - u[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    nbr = np.argsort(dist, axis=1, kind="stable")[:, :k]
    P = p[nbr]                                      # (N, k, d)
    ms = ((P.mean(1) - p.mean(0)) ** 2).sum(1)
    spread = P.var(1, ddof=1).sum(1)
    return k * ms / spread


def local_ev_stat_blocks(f, mask, w, j, k):
    """docs/importance.md: neighbours by f[j] among rows with j and another modality present; partner block
    o != j weighs mask[l, o] * w[l]; each block scaled by its weighted total variance V_o;
    T_i = sum_o keff_o ms_o / V_o / sum_o sp_o / V_o (1 where no block has two weighted partners)"""
    N, M = mask.shape
    others = mask.sum(1) - mask[:, j]
    rows = np.nonzero((mask[:, j] > 0) & (others > 0))[0]
    u = f[j][rows]
    dist = ((u[:, None, :] - u[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    nbr = np.argsort(dist, axis=1, kind="stable")[:, :k]
    num, den, used = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows), bool)
    for o in range(M):
        if o == j:
            continue
        wo = mask[rows, o] * w[rows]
        p = f[o][rows]
        pbar = (wo[:, None] * p).sum(0) / wo.sum()
        V = (wo * ((p - pbar) ** 2).sum(1)).sum() / wo.sum()
        for i in range(len(rows)):
            wl, pl = wo[nbr[i]], p[nbr[i]] - pbar
            W, W2 = wl.sum(), (wl ** 2).sum()
            if W < 1e-6 or W * W - W2 < 1e-12 * W * W:
                continue
            m = (wl[:, None] * pl).sum(0) / W
            ms = (m ** 2).sum()
            sp = ((wl[:, None] * pl ** 2).sum(0) - W * m ** 2).sum() / (W - W2 / W)
            num[i] += W * W / W2 * ms / V
            den[i] += sp / V
            used[i] = True
    T = np.full(N, np.nan)
    T[rows] = np.where(used, num / np.maximum(den, 1e-12), 1.0)
    return T


def pca_features(x, mask, P):
    """the centred present rows projected on the top P eigenvectors of their covariance (divided by n);
    each axis signed so that its largest entry is positive; absent rows 0"""
    xp = x[mask > 0]
    mean = xp.mean(0)
    cov = (xp - mean).T @ (xp - mean) / len(xp)
    ev, vec = np.linalg.eigh(cov)
    order = np.argsort(ev)[::-1]
    ev, vec = ev[order], vec[:, order[:P]]
    vec = vec * np.sign(vec[np.argmax(np.abs(vec), axis=0), np.arange(P)])
    F = np.where(mask[:, None] > 0, (x - mean) @ vec, 0.0)
    return F, ev[:P].sum() / ev.sum()


def grads_of(mods, params, loss_fn):
    for _, p in named_params(mods):
        p.grad = None
    loss, terms = loss_fn()
    loss.backward()
    return terms


def adam_run(mods, params, loss_fn):
    opt = torch.optim.Adam(params, **ADAM)
    losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        loss, _ = loss_fn()
        losses.append(loss.item())   # the loss BEFORE this step
        loss.backward()
        opt.step()
    return losses


# ---- safetensors writer ---------------------------------------------------------------------------

ST_DTYPES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array). Data grouped widest element first, no gaps."""
    order = sorted(range(len(tensors)), key=lambda k: -tensors[k][1].dtype.itemsize)  # stable
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k in order:
        name, a = tensors[k]
        a = np.ascontiguousarray(a)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)   # the data section starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


# ---- the golden case ------------------------------------------------------------------------------

def make_case():
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    d = CONFIG["latent_width"]
    mods = [Modality(mc["input_width"], mc["hidden_width"], d) for mc in CONFIG["modalities"]]
    with torch.no_grad():   # the C model holds float32 weights: start from exactly those
        for md in mods:
            linears(md.encoder)[-1].weight.mul_(ENCODER_GAIN)
        for _, p in named_params(mods):
            p.copy_(f32_tensor(p.numpy()))
    x = []
    for mc in CONFIG["modalities"]:
        D = mc["input_width"]
        a = rng.uniform(0.0, 1.0, (B, D)) if mc["loss"] == "bce" else rng.standard_normal((B, D))
        x.append(f32_tensor(a))
    center = [f32_tensor(xj.numpy().mean(0)) for xj in x]
    M = len(CONFIG["modalities"])
    mask = np.ones((B, M), dtype=np.uint8)
    mask[[1, 4, 9, 13], 1] = 0          # rows without modality b
    mask[[2, 4, 7, 11, 15], 2] = 0      # rows without modality c (row 4 has a only)
    mask[[6, 10], 0] = 0                # rows without modality a
    mask[10, 2] = 0                     # row 10 has b only
    assert mask.sum(1).min() >= 1
    batch = {"x": x, "mask": torch.from_numpy(mask.astype(np.float64)), "center": center}
    return mods, batch, mask


def main(path):
    mods, batch, mask = make_case()
    names = [mc["name"] for mc in CONFIG["modalities"]]
    out = []   # (name, numpy array)

    def f64(name, t):
        # a copy: numpy views of parameters and .grad would change under later steps
        out.append((name, np.array(t.detach().numpy() if torch.is_tensor(t) else t, dtype=np.float64, copy=True)))

    # inputs
    for n, xj, cj in zip(names, batch["x"], batch["center"]):
        out.append(("x." + n, xj.numpy().astype(np.float32)))
        out.append(("center." + n, cj.numpy().astype(np.float32)))
    out.append(("mask", mask))
    for n, p in named_params(mods):
        out.append((n, p.detach().numpy().astype(np.float32)))

    # activations
    with torch.no_grad():
        u, y_imp, z_one = encode(mods, batch, "one")
        _, _, z_imp = encode(mods, batch, "importance")
    for n, uj, yj in zip(names, u, y_imp):
        f64("u." + n, uj)
        f64("y_imp." + n, yj)
    f64("z.one", z_one)
    f64("z.importance", z_imp)

    # stage 1, both fusion weights: terms and gradients of the autoencoder parameters
    for weights in ("one", "importance"):
        terms = grads_of(mods, ae_params(mods), lambda: stage1_loss(mods, batch, weights))
        for k, v in terms.items():
            f64(f"stage1.{weights}.{k}", v.reshape(1))
        for n, p in named_params(mods):
            if ".importance." not in n:
                f64(f"grad.stage1.{weights}.{n}", p.grad)
        for p in imp_params(mods):
            assert p.grad is None, "stage 1 must not reach the importance nets"

    # stage 2, y = 1 fusion: terms and gradients of the importance parameters
    terms = grads_of(mods, imp_params(mods), lambda: stage2_loss(mods, batch, "one"))
    for k, v in terms.items():
        f64(f"stage2.one.{k}", v.reshape(1))
    for n, p in named_params(mods):
        if ".importance." in n:
            f64(f"grad.stage2.one.{n}", p.grad)
        else:
            assert p.grad is None or not p.grad.any(), "stage 2 must not reach the autoencoder"

    # local-ev stage 2: BCE to given targets (some missing), terms and gradients
    trng = np.random.default_rng(SEED + 1)
    M = len(names)
    target = f32_tensor(trng.uniform(0.0, 1.0, (B, M)))
    target[[0, 5, 12], [0, 1, 2]] = float("nan")
    out.append(("target", target.numpy().astype(np.float32)))
    terms = grads_of(mods, imp_params(mods), lambda: stage2_lev_loss(mods, batch, target))
    for k, v in terms.items():
        f64(f"stage2_lev.{k}", v.reshape(1))
    for n, p in named_params(mods):
        if ".importance." in n:
            f64(f"grad.stage2_lev.{n}", p.grad)

    # the local explained-variance statistic on a small random set (numpy, float64)
    lu = trng.standard_normal((LEV_N, LEV_D)).astype(np.float32)
    lp = (lu[:, ::-1] * np.float32(0.8) + trng.standard_normal((LEV_N, LEV_D)).astype(np.float32)).astype(np.float32)
    out.append(("lev.u", lu))
    out.append(("lev.p", lp))
    f64("lev.T", local_ev_stat(lu.astype(np.float64), lp.astype(np.float64), LEV_K))
    # the same with three partner blocks of different widths, masks and row weights
    lat = trng.standard_normal((LEV_N, 2))
    f3 = [np.concatenate([lat * s_, trng.standard_normal((LEV_N, D_ - 2))], 1).astype(np.float32)
          for s_, D_ in ((1.0, 4), (0.7, 3), (1.3, 5))]
    m3 = (trng.uniform(size=(LEV_N, 3)) > 0.25).astype(np.uint8)
    m3[np.arange(0, LEV_N, 7), :] = 0
    m3[np.arange(0, LEV_N, 7), 0] = 1                      # rows with modality 0 alone: no statistic
    m3[m3.sum(1) == 0, 1] = 1
    w3 = trng.uniform(0.0, 1.0, LEV_N).astype(np.float32)
    w3[::5] = 0.0                                          # some partners weigh nothing
    for j_, f_ in enumerate(f3):
        out.append((f"lev3.f{j_}", f_))
    out.append(("lev3.mask", m3))
    out.append(("lev3.w", w3))
    for j_ in range(3):
        f64(f"lev3.T{j_}", local_ev_stat_blocks([f_.astype(np.float64) for f_ in f3], m3, w3.astype(np.float64), j_, LEV_K))
    # the principal-component features (D = 24 > P + 10: the subspace-iteration path of the C code)
    scales = 0.7 ** np.arange(24)
    px = (trng.standard_normal((80, 24)) * scales) @ np.linalg.qr(trng.standard_normal((24, 24)))[0].T + 0.5
    px = px.astype(np.float32)
    pm = (trng.uniform(size=80) > 0.1).astype(np.uint8)
    out.append(("pca.x", px))
    out.append(("pca.mask", pm))
    pf, pe = pca_features(px.astype(np.float64), pm, PCA_P)
    f64("pca.F", pf)
    f64("pca.explained", np.array([pe]))

    # Adam, 5 steps of each stage from the initial weights, same batch every step
    init = [p.detach().clone() for _, p in named_params(mods)]
    for stage, params, fn in (("stage1", ae_params, stage1_loss), ("stage2", imp_params, stage2_loss)):
        with torch.no_grad():
            for (_, p), p0 in zip(named_params(mods), init):
                p.copy_(p0)
        losses = adam_run(mods, params(mods), lambda: fn(mods, batch, "one"))
        f64(f"adam.{stage}.one.loss", np.array(losses))
        for n, p in named_params(mods):
            if (".importance." in n) == (stage == "stage2"):
                f64(f"adam.{stage}.one.final.{n}", p)
    with torch.no_grad():
        for (_, p), p0 in zip(named_params(mods), init):
            p.copy_(p0)
    losses = adam_run(mods, imp_params(mods), lambda: stage2_lev_loss(mods, batch, target))
    f64("adam.stage2_lev.loss", np.array(losses))
    for n, p in named_params(mods):
        if ".importance." in n:
            f64(f"adam.stage2_lev.final.{n}", p)

    meta = {"config": json.dumps(CONFIG), "generator": "tools/ima_twin.py", "torch": torch.__version__,
            "seed": str(SEED), "encoder_gain": str(ENCODER_GAIN), "lev_k": str(LEV_K), "pca_p": str(PCA_P), "adam": json.dumps({"lr": ADAM["lr"], "beta1": ADAM["betas"][0],
                                                   "beta2": ADAM["betas"][1], "eps": ADAM["eps"],
                                                   "steps": ADAM_STEPS})}
    write_safetensors(path, out, meta)
    print(f"{path}: {len(out)} tensors")
    for weights in ("one", "importance"):
        print(f"stage1.{weights}.total", out[[n for n, _ in out].index(f"stage1.{weights}.total")][1][0])
    t = dict(out)
    print("stage2.one: " + ", ".join(f"{k}={t['stage2.one.' + k][0]:.6g}"
                                      for k in ["total"] + [f"{a}.{n}" for n in names for a in ("corr", "local")]))
    print("adam stage1 losses", t["adam.stage1.one.loss"])
    print("adam stage2 losses", t["adam.stage2.one.loss"])
    print("stage2_lev.total", t["stage2_lev.total"][0], "adam", t["adam.stage2_lev.loss"])
    print("lev.T[:5]", t["lev.T"][:5])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: ima_twin.py OUTPUT.safetensors")
    main(sys.argv[1])
