#!/usr/bin/env python3
"""Checks safetensors files with nothing but struct, json and numpy (no `safetensors` package).

Usage: python3 tools/check_safetensors.py FILE...

Applies the format's rules (u64 LE header length, JSON object header, string-only __metadata__,
tensors tiling the data section with no gaps or overlaps) plus the ima writer's (header length a
multiple of 8, every tensor aligned to its element size), and prints each tensor. Used to
cross-check src/io/safetensors.c; exits non-zero on the first violation.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "U8": "u1", "I32": "<i4", "I64": "<i8"}


def check(path):
    buf = open(path, "rb").read()
    (n,) = struct.unpack("<Q", buf[:8])
    raw = buf[8:8 + n]
    assert len(raw) == n, "header length runs past the end of the file"
    assert raw.startswith(b"{"), "header must start with '{'"
    assert n % 8 == 0, "header length is not a multiple of 8"
    header = json.loads(raw.decode("utf-8"))  # json accepts the trailing space padding
    data = buf[8 + n:]
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()), "__metadata__ not str->str"
    at = 0
    for begin, end, name in sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items()):
        assert begin == at, f"{name}: begins at {begin}, expected {at} (gap or overlap)"
        at = end
    assert at == len(data), f"data section is {len(data)} bytes, tensors end at {at}"
    for name, t in header.items():
        assert set(t) == {"dtype", "shape", "data_offsets"}, f"{name}: fields {sorted(t)}"
        begin, end = t["data_offsets"]
        a = np.frombuffer(data[begin:end], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        assert begin % a.itemsize == 0, f"{name}: misaligned"
        print(f"  {name}: {t['dtype']} {a.shape} {a.ravel()[:6].tolist()}")
    print(f"OK {path}: {len(header)} tensors, metadata {meta}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        check(p)
