"""Sizes a caller can ask for but no machine holds: libima must return an error (ima.OutOfMemory or
ima.Error), never end the interpreter. Run in a child interpreter, so that a regression (an abort
inside libima) fails this test instead of killing pytest."""
import os
import subprocess
import sys

import pytest

CHILD = r'''
import numpy as np, ima
ima.set_threads(1)
def expect_error(what, f):
    try:
        f()
    except ima.Error as e:
        print("%s: %s: %s" % (what, type(e).__name__, e), flush=True)
        return
    raise SystemExit("%s: no error" % what)
# dims: 3 networks of 2^24 x 65536 weights per modality (about 12 TB of parameters)
expect_error("dims", lambda: ima.Model({"a": 2**24, "b": 2**24}, hidden=65536, latent=65536))
m = ima.Model({"a": 4, "b": 3}, latent=2, hidden=5, loss="sse")
x = {"a": np.random.rand(10, 4).astype(np.float32), "b": np.random.rand(10, 3).astype(np.float32)}
# a batch of 2^40 rows of activations
expect_error("batch", lambda: m.fit(x, batch_size=2**40, epochs1=1, epochs2=0, progress=False))
expect_error("batch 2^62", lambda: m.fit(x, batch_size=2**62, epochs1=1, epochs2=0, progress=False))
# a batch within the row limit whose activations no machine holds (2^24 rows x 2^20 columns)
wide = ima.Model({"w": 2**20}, latent=2, hidden=2)
expect_error("batch x width", lambda: wide.fit({"w": np.zeros((3, 2**20), np.float32)}, batch_size=2**24,
                                               epochs1=1, epochs2=0, progress=False))
del wide
# the model is still usable afterwards
m.fit(x, batch_size=4, epochs1=1, epochs2=1, progress=False)
e = m.embed(x, batch_size=2**40)  # embedding never needs more rows than it is given
assert e.z_weighted.shape == (10, 2) and np.isfinite(e.z_weighted).all()
print("alive", flush=True)
'''


def test_oversized_dims_and_batches_raise_instead_of_ending_the_process():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, "child ended with %d:\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
    out = r.stdout
    assert "dims: OutOfMemory" in out or "dims: Error" in out, out
    assert "batch x width: OutOfMemory" in out, out
    assert "batch: " in out and "batch 2^62: " in out and out.rstrip().endswith("alive"), out
