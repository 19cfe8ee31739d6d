"""Shared fixtures: the ima CLI of the build tree and a small toy data set it writes (``ima toy``).

The package is found through PYTHONPATH=python (ctest sets it, with IMA_LIBRARY and IMA_CLI) or an
installed copy; IMA_CLI names the CLI, else <repo>/build/ima is used."""
import json
import os
import struct
import subprocess

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("IMA_CLI") or os.path.join(REPO, "build", "ima")
    if not os.access(path, os.X_OK):
        pytest.fail("the ima CLI is needed (build it, or set IMA_CLI): %s" % path)
    return path


def run(cmd, **kw):
    """Runs a command; a failure shows its stderr."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(map(str, cmd)), r.returncode, r.stderr))
    return r


@pytest.fixture(scope="session")
def toy(cli, tmp_path_factory):
    """{split: {a, b, label, a_noise, b_noise}} of a 600 / 200 row toy set."""
    d = tmp_path_factory.mktemp("toy")
    run([cli, "toy", d, "--train", 600, "--test", 200, "--seed", 3])
    return {s: {k: np.load(d / s / (k + ".npy")) for k in ("a", "b", "label", "a_noise", "b_noise")} | {"dir": d / s}
            for s in ("train", "test")}


def toy_model(ima, seed=1):
    """The model cli_train.sh trains on the toy set (b is real-valued: sse)."""
    return ima.Model({"a": 24, "b": 16}, latent=4, hidden=16, loss={"b": "sse"}, seed=seed)


TOY_CLI_FLAGS = ["--latent", 4, "--hidden", 16, "--loss", "b=sse"]


def read_safetensors(path):
    """{name: array} and the metadata of a safetensors file (a reader independent of libima)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__", {})
    dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
    out = {}
    for name, t in header.items():
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(buf[8 + n + lo:8 + n + hi], dtype=dt[t["dtype"]]).reshape(t["shape"])
    return out, meta
