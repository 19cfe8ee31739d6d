#!/usr/bin/python3
"""mfcc_golden.py: the reference for ima's MFCC front end (tests/test_mfcc.c).

Writes tests/golden/mfcc_wave.npy (n,) float32: a deterministic 0.9 s test signal at 12.5 kHz
(a voiced, vowel-like sound with a gliding pitch, a fricative-like noise burst and a quiet
stretch), samples in [-1, 1]; and tests/golden/mfcc_kaldi.npy (T, 12) float32: its MFCC from
torchaudio.compliance.kaldi.mfcc (Debian's python3-torchaudio), the Kaldi-compatible reference,
with ima's settings (20 ms / 10 ms, 23 mel bins, 13 cepstra with c0 dropped, lifter 22, dither 0,
samples scaled to the 16-bit range as Kaldi reads them).

usage: /usr/bin/python3 tools/mfcc_golden.py [OUTDIR]   (default tests/golden)
"""
import os
import sys

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

RATE = 12500


def test_signal():
    rng = np.random.default_rng(20240521)
    t = np.arange(int(0.9 * RATE)) / RATE
    f0 = 110 + 60 * t  # gliding pitch
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum((0.6 / h) * np.sin(h * phase) * (1.0 + 0.8 * np.cos(2 * np.pi * h * f0 / 700.0))
                 for h in range(1, 30))
    env = np.clip(np.sin(np.pi * t / 0.55), 0, None) ** 0.5 * (t < 0.55)
    burst = rng.standard_normal(t.size) * ((t > 0.6) & (t < 0.75)) * 0.3
    quiet = rng.standard_normal(t.size) * 1e-3
    x = 0.3 * voiced * env + burst + quiet
    return (x / np.abs(x).max() * 0.8).astype(np.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden")
    os.makedirs(out, exist_ok=True)
    x = test_signal()
    w = torch.from_numpy(x.astype(np.float32) * 32768.0).unsqueeze(0)
    m = kaldi.mfcc(w, sample_frequency=RATE, frame_length=20.0, frame_shift=10.0, num_mel_bins=23,
                   num_ceps=13, low_freq=20.0, high_freq=0.0, cepstral_lifter=22.0, dither=0.0,
                   preemphasis_coefficient=0.97, remove_dc_offset=True, window_type="povey",
                   round_to_power_of_two=True, snip_edges=True, use_energy=False)
    m = m.numpy()[:, 1:].astype(np.float32)  # drop c0
    assert m.shape == (1 + (x.size - 250) // 125, 12), m.shape
    np.save(os.path.join(out, "mfcc_wave.npy"), x)
    np.save(os.path.join(out, "mfcc_kaldi.npy"), m)
    print(f"wrote {out}/mfcc_wave.npy {x.shape} and mfcc_kaldi.npy {m.shape}; "
          f"value range {m.min():.3f}..{m.max():.3f}")


if __name__ == "__main__":
    main()
