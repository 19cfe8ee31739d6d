#!/usr/bin/env python3
"""torch_twin.py: the PyTorch side of the IMA benchmark (bench/run), measured the way bench_ima is.

    /usr/bin/python3 bench/torch_twin.py [--threads T] [--batches 64,256,1024] [--samples N]
                                          [--epochs E] [--warmup W] [--what s1,s2,inf]
                                          [--variant NAME] [--tuned]

The digits configuration (SPEC.md section 1): image 784 -> 500 -> 500 -> d, speech 696 -> 100 -> 100
-> d, decoders mirrored, importance nets D -> H -> H -> 1, d = 50, float32, nn.Linear + ReLU.
Random inputs of the right shapes (uniform [0,1], every modality present), as bench_ima uses.

  s1   stage-1 training step: shuffled mini-batch gather, encoders, fused z (y = 1), decoders,
       L_auto = ||z||^2 + sum_j (BCE_j summed over features + ||z - u_j||^2), batch mean, backward,
       Adam (lr 1e-3) on encoders and decoders, loss.item() (as a training loop logs it).
  s2   stage-2 training step: encoders and z under no_grad, importance nets, w = y'/sum y',
       C = sum w (z - mu_z)(u - mu_u)^T, ||C||_F^2 + KL(Bern(ybar) || Bern(rho)), backward, Adam on
       the importance nets, loss.item().
  inf  inference: both encoders, both importance nets (sigmoid), z = sum y u / sum y, over slices.

W warm-up epochs, then E timed epochs of N samples; the figure is the median epoch (samples/s).

--tuned: the best settings found on this machine: Adam(foreach=True), torch.inference_mode() for
inference, zero_grad(set_to_none=True) (the default is the same in 1.13). The thread count and the
allocator (GLIBC_TUNABLES, set by bench/run before Python starts) are separate knobs.
Without --tuned and --threads: PyTorch exactly as a user gets it (its default thread count).

Output: one "key=value ..." line per figure, the same keys as bench_ima.
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MODALITIES = [  # name, D, H, rho
    ("image", 784, 500, 0.8),
    ("speech", 696, 100, 0.3),
]


def mlp(widths):
    layers = []
    for l in range(len(widths) - 1):
        if l:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[l], widths[l + 1]))
    return nn.Sequential(*layers)


class Modality(nn.Module):
    def __init__(self, D, H, d):
        super().__init__()
        self.encoder = mlp([D, H, H, d])
        self.decoder = mlp([d, H, H, D])
        self.importance = mlp([D, H, H, 1])


def build(d):
    torch.manual_seed(1)
    return nn.ModuleList([Modality(D, H, d) for _, D, H, _ in MODALITIES])


def stage1_loss(mods, xs, centers):
    u = [md.encoder(x - c) for md, x, c in zip(mods, xs, centers)]
    z = sum(u) / len(u)  # y = 1, every modality present
    loss = (z * z).sum(1).mean()
    for md, x, uj in zip(mods, xs, u):
        out = md.decoder(z)
        rec = F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1).mean()
        align = ((z - uj) ** 2).sum(1).mean()
        loss = loss + rec + align
    return loss


def stage2_loss(mods, xs, centers):
    xcs = [x - c for x, c in zip(xs, centers)]
    with torch.no_grad():
        u = [md.encoder(xc) for md, xc in zip(mods, xcs)]
        z = sum(u) / len(u)
    loss = 0.0
    for md, xc, uj, (_, _, _, rho) in zip(mods, xcs, u, MODALITIES):
        logit = md.importance(xc)[:, 0]
        y = torch.sigmoid(logit)
        yc = torch.sigmoid(-logit)
        w = yc / torch.clamp(yc.sum(), min=1e-12)
        mu_z = (w[:, None] * z).sum(0)
        mu_u = (w[:, None] * uj).sum(0)
        C = (w[:, None] * (z - mu_z)).t() @ (uj - mu_u)
        ybar, ybarc = y.mean(), yc.mean()
        local = ybar * torch.log(ybar / rho) + ybarc * torch.log(ybarc / (1.0 - rho))
        loss = loss + local + (C ** 2).sum()
    return loss


def infer(mods, xs, centers):
    num, den = 0.0, 0.0
    for md, x, c in zip(mods, xs, centers):
        xc = x - c
        u = md.encoder(xc)
        y = torch.sigmoid(md.importance(xc))
        num = num + y * u
        den = den + y
    return num / den


def time_epochs(epoch_fn, warmup, epochs):
    for _ in range(warmup):
        epoch_fn()
    sec = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        epoch_fn()
        sec.append(time.perf_counter() - t0)
    return statistics.median(sec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batches", default="64,256,1024")
    ap.add_argument("--samples", type=int, default=20480)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--latent", type=int, default=50)
    ap.add_argument("--what", default="s1,s2,inf")
    ap.add_argument("--variant", default="user")
    ap.add_argument("--tuned", action="store_true")
    a = ap.parse_args()
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    batches = [int(b) for b in a.batches.split(",")]
    N, d = a.samples, a.latent

    g = torch.Generator().manual_seed(5)
    X = [torch.rand(N, D, generator=g) for _, D, _, _ in MODALITIES]
    centers = [x.mean(0) for x in X]
    flops = {}
    for what in ("s1", "s2", "inf"):  # matrix products only, 2 per multiply-add (as bench_ima)
        macs = 0
        for _, D, H, _ in MODALITIES:
            enc = D * H + H * H + H * d
            dec = d * H + H * H + H * D
            imp = D * H + H * H + H
            macs += {"s1": 3 * enc - D * H + 3 * dec, "s2": enc + 3 * imp - D * H, "inf": enc + imp}[what]
        flops[what] = 2.0 * macs

    for what in a.what.split(","):
        for B in batches:
            mods = build(d)
            if what == "s1":
                params = [p for md in mods for p in list(md.encoder.parameters()) + list(md.decoder.parameters())]
            else:
                params = [p for md in mods for p in md.importance.parameters()]
            opt = torch.optim.Adam(params, lr=1e-3, foreach=True) if a.tuned else torch.optim.Adam(params, lr=1e-3)
            loss_fn = stage1_loss if what == "s1" else stage2_loss

            def train_epoch():
                perm = torch.randperm(N, generator=g)
                for lo in range(0, N, B):
                    idx = perm[lo:lo + B]
                    xs = [x[idx] for x in X]
                    loss = loss_fn(mods, xs, centers)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    loss.item()

            def infer_epoch():
                ctx = torch.inference_mode() if a.tuned else torch.no_grad()
                with ctx:
                    for lo in range(0, N, B):
                        infer(mods, [x[lo:lo + B] for x in X], centers)

            sec = time_epochs(infer_epoch if what == "inf" else train_epoch, a.warmup, a.epochs)
            sps = N / sec
            print(f"kind={what} side=torch variant={a.variant} threads={threads} batch={B} samples={N} "
                  f"epochs={a.epochs} sps={sps:.1f} mflop_per_sample={flops[what] * 1e-6:.4f} "
                  f"gflops={sps * flops[what] * 1e-9:.2f} glibc_tunables={os.environ.get('GLIBC_TUNABLES', '-')}",
                  flush=True)


if __name__ == "__main__":
    main()
