#!/usr/bin/env bash
# bench/mpi_model.sh: docs/scaling.md's model of N machines, as a table: stage 1 of the digits model
# (latent 50, batch 256 or 4096 global), ring all-reduce of the gradient on 10 and 100 Gbit/s links,
# without overlap, with ideal per-layer overlap, and with the overlap ima implements (one sum per
# network's gradient range, started as the backward pass finishes that network: G_image, G_speech,
# E_image, E_speech; the ranges' sums run one after another on the link).
# Assumes the transport moves a started sum without being called (see docs/scaling.md for what Open
# MPI does). Arithmetic only; no run. usage: bash bench/mpi_model.sh
exec /usr/bin/python3 - <<'PY'
# per network: parameters (= floats summed) and backward flops per row (2 GEMMs per layer, one for a
# first layer whose input gradient is not needed: the encoders')
def mlp(widths, need_dx):
    p = f = 0
    for l in range(len(widths) - 1):
        i, o = widths[l], widths[l + 1]
        p += i * o + o
        f += (4 if (l > 0 or need_dx) else 2) * i * o
    return p, f
d = 50
nets = [("G_image", *mlp([d, 500, 500, 784], True)), ("G_speech", *mlp([d, 100, 100, 696], True)),
        ("E_image", *mlp([784, 500, 500, d], False)), ("E_speech", *mlp([696, 100, 100, d], False))]
params = sum(n[1] for n in nets)
assert params == 1507180, params
back = sum(n[2] for n in nets)
fwd = 2 * params                       # every network's forward, per row
fb = back / (back + fwd)               # the backward pass's share of a step's flops (0.63)
S = 4 * params                         # bytes of the gradient
stats = 4                              # small sums per step (terms, dead units, ...): log2 N hops each
import math
rows = []
for cores, R1 in ((2, 22924.0), (16, 8 * 22924.0)):
    for link, bw, alpha in (("10 Gbit/s", 10e9 / 8, 30e-6), ("100 Gbit/s", 100e9 / 8, 5e-6)):
        for N in (2, 8, 64):
            for B in (256, 4096):
                ring = lambda s: 2 * (N - 1) / N * s / bw + 2 * (N - 1) * alpha
                small = stats * math.log2(N) * alpha
                Tcomm = ring(S) + small
                Tc = B / N / R1
                one = B / R1                     # one machine, the whole batch
                plain = Tc + Tcomm
                ideal = (1 - fb) * Tc + max(fb * Tc, Tcomm)
                t = (1 - fb) * Tc                # the forward pass
                free = t                         # when the link is next free
                for _, p, f in nets:
                    t += Tc * fb * f / back      # this network's backward ends: its range's sum starts
                    free = max(free, t) + ring(4 * p)
                ours = max(t, free) + small
                rows.append((cores, link, N, B, Tcomm * 1e3, R1 * Tcomm, Tc * 1e3, one / plain, one / ideal,
                             one / ours, plain / ours))
print(f"backward share of a step's flops: {fb:.2f}; gradient {S} bytes in {len(nets)} ranges: " +
      ", ".join(f"{n} {4 * p}" for n, p, _ in nets))
print("| cores/machine | link | N | global batch | all-reduce ms | rows/machine to hide it | compute ms/step "
      "| speed-up no overlap | ideal overlap | as implemented | gain of the overlap implemented |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.2f} | {r[5]:.0f} | {r[6]:.2f} | {r[7]:.2f}x | {r[8]:.2f}x "
          f"| {r[9]:.2f}x | {r[10]:.2f}x |")
PY
