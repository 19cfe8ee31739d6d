"""Evaluation measures of libima (include/ima/eval.h, docs/eval.md): retrieval precision at K and
importance (noise) detection. N samples, D representation width."""
import ctypes

import numpy as np

from . import _lib
from ._lib import check, lib
from .model import as_f32


def _opt(a, dtype, n, what):
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.shape != (n,):
        raise ValueError("%s: expected shape (%d,), got %s" % (what, n, arr.shape))
    if arr.dtype.kind not in "biu":
        raise ValueError("%s: expected a bool or integer array, got dtype %s" % (what, arr.dtype))
    return np.ascontiguousarray(arr, dtype=dtype)


def _p(a):
    return a.ctypes.data_as(ctypes.c_void_p) if a is not None else None


def precision_at_k(z, labels, ks=(10, 50), query_mask=None, group=None):
    """P@K of representations z (N, D) with labels (N,): for each K, the share of each query's K nearest
    neighbours (Euclidean; never itself) that carry the query's label, over the queries (query_mask:
    (N,) 0/1, None = every sample). group (N,): samples sharing the query's group id are never its
    neighbours (e.g. one recording). Returns {K: precision}."""
    z = as_f32(z, "precision_at_k: z")
    N, D = z.shape
    labels = _opt(labels, np.int64, N, "precision_at_k: labels")
    if labels is None:
        raise ValueError("precision_at_k: labels are required")
    qm = _opt(query_mask, np.uint8, N, "precision_at_k: query_mask")
    if qm is not None:
        qm = np.minimum(qm, 1).astype(np.uint8)
    grp = _opt(group, np.int64, N, "precision_at_k: group")
    ks = [int(k) for k in np.atleast_1d(ks)]
    kk = (ctypes.c_size_t * len(ks))(*ks)
    prec = (ctypes.c_double * len(ks))()
    nq = ctypes.c_size_t()
    check(lib.ima_precision_at_k(prec, None, ctypes.byref(nq), _p(z), _p(labels), _p(qm), _p(grp), kk, len(ks), N, D))
    return {k: prec[i] for i, k in enumerate(ks)}


def detection(y, noise, mask=None, threshold=0.5):
    """Importance as a noise detector: a sample is called noise when y < threshold. y (N,) importances,
    noise (N,) ground-truth flags, mask (N,) selects the samples (None: all). Returns a dict: n, n_noise,
    mean_y, threshold, tp, fp, fn, tn, precision, recall, f1 (at the threshold), and, when both classes
    occur, auc (P(y_noise < y_clean), ties half), best_f1 and best_threshold."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError("detection: y: expected shape (N,), got %s" % (y.shape,))
    y = np.ascontiguousarray(y, dtype=np.float32)
    N = y.shape[0]
    nz = _opt(noise, np.uint8, N, "detection: noise")
    if nz is None:
        raise ValueError("detection: noise flags are required")
    m = _opt(mask, np.uint8, N, "detection: mask")
    out = (ctypes.c_double * _lib.DETECTION_FIELDS)()
    check(lib.ima_api_detection(out, _p(y), _p(nz), _p(m), N, float(threshold)))
    v = list(out)
    r = {"n": int(v[0]), "n_noise": int(v[1]), "mean_y": v[2], "threshold": v[3], "tp": int(v[4]), "fp": int(v[5]),
         "fn": int(v[6]), "tn": int(v[7]), "precision": v[8], "recall": v[9], "f1": v[10], "ranked": bool(v[11])}
    if r["ranked"]:
        r.update(auc=v[12], best_f1=v[13], best_threshold=v[14])
    return r


def classify(train, valid, test, hidden=50, layers=2, epochs=30, batch=64, seed=1):
    """Downstream classification (paper appendix A.5, docs/eval.md): an MLP (``layers`` hidden ReLU
    layers of ``hidden`` units, inputs standardised) per candidate learning rate {0.0625, ..., 8},
    plain SGD for ``epochs``, the best on validation kept; scored on test. train, valid, test:
    (z (n, D), labels (n,)) pairs. Returns {"accuracy", "chosen_lr", "pred" (n_test,)}."""
    parts = []
    for what, (z, y) in (("train", train), ("valid", valid), ("test", test)):
        z = as_f32(z, "classify: %s z" % what)
        y = _opt(y, np.int64, z.shape[0], "classify: %s labels" % what)
        parts.append((z, y))
    D = parts[0][0].shape[1]
    for what, (z, _) in zip(("valid", "test"), parts[1:]):
        if z.shape[1] != D:
            raise ValueError("classify: %s z has %d columns, train has %d" % (what, z.shape[1], D))
    (tx, ty), (vx, vy), (sx, sy) = parts
    pred = np.empty(sx.shape[0], np.int64)
    acc, lr = ctypes.c_double(), ctypes.c_double()
    check(lib.ima_api_classify(ctypes.byref(acc), ctypes.byref(lr), _p(pred), _p(tx), _p(ty), tx.shape[0], _p(vx),
                               _p(vy), vx.shape[0], _p(sx), _p(sy), sx.shape[0], D, int(hidden), int(layers),
                               int(epochs), int(batch), int(seed)))
    return {"accuracy": acc.value, "chosen_lr": lr.value, "pred": pred}
