"""ima.Model: the Importance-based Multimodal Autoencoder over libima (include/ima/api.h).

N rows, M modalities (in the model's order), D_j widths, d latent width.
Arrays: any real numeric array of shape (N, D_j) is accepted; a C-contiguous float32 array is
passed to C as it is (no copy), anything else is converted with ``np.ascontiguousarray(a,
dtype=np.float32)`` (values unchanged: uint8 pixels stay 0..255, so scale them yourself).
Masks: bool or integer arrays of shape (N,), 1/True = present.
"""
import ctypes
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict

import numpy as np

from . import _lib
from ._lib import check, lib

_MODALITY_KEYS = ("hidden", "loss", "rho", "lambda_rec", "lambda_align", "lambda_local", "lambda_corr")
_JSON_KEY = {"hidden": "hidden_width", "loss": "loss", "rho": "rho", "lambda_rec": "lambda_rec",
             "lambda_align": "lambda_align", "lambda_local": "lambda_local", "lambda_corr": "lambda_corr"}


def as_f32(a, what):
    """The array as C-contiguous float32 (N, D): the same memory when it already is, else a converted copy."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise ValueError("%s: expected a real numeric array, got dtype %s" % (what, arr.dtype))
    if arr.ndim != 2:
        raise ValueError("%s: expected a 2-D array (N, D), got shape %s" % (what, arr.shape))
    return np.ascontiguousarray(arr, dtype=np.float32)


def as_mask(a, n, what):
    arr = np.asarray(a)
    if arr.dtype.kind not in "biu":
        raise ValueError("%s: expected a bool or integer array of 0/1, got dtype %s" % (what, arr.dtype))
    if arr.shape != (n,):
        raise ValueError("%s: expected shape (%d,), one entry per row, got %s" % (what, n, arr.shape))
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        raise ValueError("%s: row %d: value %s, expected 0 (missing) or 1 (present)" % (what, bad[0], arr[bad[0]]))
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p) if a is not None else None


@dataclass
class Embedding:
    """What Model.embed returns (the files of ``ima embed``)."""
    u: Dict[str, np.ndarray]   # per given modality: (N, d) unimodal codes u_j
    y: Dict[str, np.ndarray]   # per given modality: (N,) importance y_j (0 where the row lacks it)
    z_weighted: np.ndarray     # (N, d) fusion weighted by the importance networks
    z_unweighted: np.ndarray   # (N, d) fusion with y = 1 (mean of the present modalities)


@dataclass
class _FitState:
    model: "Model"
    progress: bool
    callback: object
    history: list = field(default_factory=list)
    error: BaseException = None
    tty: bool = False
    bar_started: float = 0.0


class Model:
    """An IMA model: encoders, decoders and importance networks for M modalities (SPEC sections 1-3).

    ``Model(dims, latent=50, preset=None, ...)``: dims maps each modality's name to its input width,
    e.g. ``{"image": 784, "speech": 696}`` (a list of widths names them m0, m1, ...); with
    ``preset="digits"`` dims may be omitted (image 784 / speech 696) and the preset's hidden widths,
    losses and priors apply, as ``ima train --preset digits``. Per-modality settings (hidden, loss,
    rho, lambda_rec, lambda_align, lambda_local, lambda_corr) take one value for every modality or
    a dict by name, as the CLI's ``--hidden [NAME=]H`` flags do. Defaults are the CLI's: hidden 100,
    loss "bce", rho 0.5, every lambda 1, inputs centred, seed 1. ``config=``: a whole configuration
    dict (the checkpoints' "config" JSON, e.g. another model's ``.config``) instead of the arguments.
    """

    def __init__(self, dims=None, latent=50, preset=None, hidden=None, loss=None, rho=None,
                 lambda_glob=1.0, lambda_rec=None, lambda_align=None, lambda_local=None, lambda_corr=None,
                 center=True, seed=1, config=None, _handle=None):
        self._h = None
        self._lock = threading.RLock()  # one call into C at a time per model (the GIL is released there)
        self.history = []
        if _handle is not None:
            self._h = _handle
            self._read_config()
            return
        if config is not None:  # a whole configuration: another model's .config, or config_for(...) edited
            cfg = config
        else:
            cfg = self.config_for(dims, latent=latent, preset=preset, hidden=hidden, loss=loss, rho=rho,
                                  lambda_glob=lambda_glob, lambda_rec=lambda_rec, lambda_align=lambda_align,
                                  lambda_local=lambda_local, lambda_corr=lambda_corr, center=center)
        h = ctypes.c_void_p()
        check(lib.ima_api_model_new(ctypes.byref(h), json.dumps(cfg).encode(), int(seed)))
        self._h = h
        self._read_config()

    @staticmethod
    def config_for(dims=None, latent=50, preset=None, center=True, lambda_glob=1.0, **per_modality):
        """The configuration (the checkpoints' "config" JSON as a dict) that Model(...) would build."""
        preset_mods = {}
        if preset is not None:
            p = ctypes.c_void_p()
            check(lib.ima_api_preset_json(ctypes.byref(p), str(preset).encode(), int(latent)))
            preset_mods = {m["name"]: m for m in json.loads(_lib.take_string(p))["modalities"]}
        if dims is None:
            if not preset_mods:
                raise ValueError("Model: dims is required without a preset (e.g. {'image': 784, 'speech': 696})")
            dims = {name: m["input_width"] for name, m in preset_mods.items()}
        if isinstance(dims, dict):
            items = list(dims.items())
        else:
            items = [("m%d" % j, w) for j, w in enumerate(dims)]
        for name in preset_mods:
            if name not in dict(items):
                raise ValueError("Model: preset %s needs a modality named '%s' (dims has %s)"
                                 % (preset, name, ", ".join(n for n, _ in items)))
        mods = []
        for name, width in items:
            m = {"name": str(name), "input_width": int(width), "hidden_width": 100, "loss": "bce",
                 "lambda_rec": 1.0, "lambda_align": 1.0, "lambda_local": 1.0, "lambda_corr": 1.0, "rho": 0.5}
            if name in preset_mods:
                for k in ("hidden_width", "loss", "rho"):
                    m[k] = preset_mods[name][k]
            mods.append(m)
        names = [m["name"] for m in mods]
        for key, value in per_modality.items():
            if key not in _MODALITY_KEYS:
                raise TypeError("Model: unknown argument '%s'" % key)
            if value is None:
                continue
            targets = value if isinstance(value, dict) else {n: value for n in names}
            for name, v in targets.items():
                if name not in names:
                    raise ValueError("Model: %s: no modality named '%s' (the model has %s)"
                                     % (key, name, ", ".join(names)))
                mods[names.index(name)][_JSON_KEY[key]] = v if key == "loss" else (
                    int(v) if key == "hidden" else float(v))
        return {"n_modalities": len(mods), "latent_width": int(latent), "lambda_glob": float(lambda_glob),
                "center_inputs": bool(center), "modalities": mods}

    # ---- properties --------------------------------------------------------------------------

    def _read_config(self):
        p = ctypes.c_void_p()
        check(lib.ima_api_model_config_json(self._h, ctypes.byref(p)))
        self.config = json.loads(_lib.take_string(p))
        self.modalities = [m["name"] for m in self.config["modalities"]]
        self.dims = {m["name"]: m["input_width"] for m in self.config["modalities"]}
        self.latent = self.config["latent_width"]

    @property
    def train_state(self):
        """Training configuration and position: batch_size, rounds, epochs_stage1/2, lr_stage1/2,
        Adam steps, round, stage, epoch, finished, started."""
        p = ctypes.c_void_p()
        with self._lock:
            check(lib.ima_api_model_train_json(self._h, ctypes.byref(p)))
        return json.loads(_lib.take_string(p))

    def __repr__(self):
        dims = ", ".join("%s=%d" % kv for kv in self.dims.items())
        return "ima.Model(%s; latent %d)" % (dims, self.latent)

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h and lib is not None:  # (at interpreter exit the module may already be torn down)
            lib.ima_api_model_free(h)

    # ---- checkpoints -------------------------------------------------------------------------

    @classmethod
    def load(cls, path):
        """Loads a checkpoint written by ``ima train`` or Model.save (model, optimizer, position)."""
        h = ctypes.c_void_p()
        check(lib.ima_api_model_load(ctypes.byref(h), str(path).encode()))
        return cls(_handle=h)

    def save(self, path):
        """Writes the checkpoint ``ima train`` writes (``ima embed``, ``ima eval``, ``ima train --resume`` read it)."""
        with self._lock:
            check(lib.ima_api_model_save(self._h, str(path).encode()))

    # ---- inputs ------------------------------------------------------------------------------

    def _inputs(self, arrays, masks, what, need_all):
        if not isinstance(arrays, dict):
            if len(arrays) != len(self.modalities):
                raise ValueError("%s: %d arrays given, the model has %d modalities (%s); pass a dict by name"
                                 % (what, len(arrays), len(self.modalities), ", ".join(self.modalities)))
            arrays = dict(zip(self.modalities, arrays))
        masks = dict(masks or {})
        for name in list(arrays) + list(masks):
            if name not in self.dims:
                raise ValueError("%s: the model has no modality '%s' (it has %s)"
                                 % (what, name, ", ".join(self.modalities)))
        M = len(self.modalities)
        xs, ms = [None] * M, [None] * M
        rows, cols = (ctypes.c_size_t * M)(), (ctypes.c_size_t * M)()
        for j, name in enumerate(self.modalities):
            if arrays.get(name) is None:
                continue  # missing: C says whether that is allowed (need_all)
            xs[j] = as_f32(arrays[name], "%s: %s" % (what, name))
            rows[j], cols[j] = xs[j].shape
            if masks.get(name) is not None:
                ms[j] = as_mask(masks[name], xs[j].shape[0], "%s: mask of %s" % (what, name))
        xp = (ctypes.c_void_p * M)(*[_ptr(a) for a in xs])
        mp = (ctypes.c_void_p * M)(*[_ptr(a) for a in ms])
        return xs, ms, xp, mp, rows, cols

    # ---- training ----------------------------------------------------------------------------

    def fit(self, arrays, masks=None, epochs1=None, epochs2=None, rounds=None, batch_size=None, lr1=None,
            lr2=None, checkpoint=None, threads=None, progress=True, callback=None):
        """Trains on ``arrays`` ({name: (N, D_j)}, every modality) with optional ``masks`` ({name: (N,)}).

        The hyper-parameters are ``ima train``'s (None: the model's current setting, for a new model
        the CLI defaults: epochs1 40, epochs2 10, rounds 1, batch_size 256, lr1 = lr2 = 1e-3).
        A new model fits its centring means first; a trained or loaded one continues from where it
        stands, as ``ima train --resume`` does (raise epochs1/epochs2/rounds to train more).
        checkpoint: a path written after every epoch, as ``ima train --out``. threads: OpenBLAS
        threads (process-wide, see ima.set_threads). progress: print the CLI's per-epoch lines (and a
        bar on a terminal) to stderr. callback(dict) runs after every epoch; returning True stops.
        Returns the list of per-epoch reports (also kept in self.history). The GIL is released while
        C trains; the rows are read in place when they are C-contiguous float32.
        """
        ts = self.train_state
        opts = lib.ima_api_fit_defaults()
        opts.batch_size = int(batch_size if batch_size is not None else ts["batch_size"])
        opts.rounds = int(rounds if rounds is not None else ts["rounds"])
        opts.epochs_stage1 = int(epochs1 if epochs1 is not None else ts["epochs_stage1"])
        opts.epochs_stage2 = int(epochs2 if epochs2 is not None else ts["epochs_stage2"])
        opts.lr_stage1 = float(lr1 if lr1 is not None else ts["lr_stage1"])
        opts.lr_stage2 = float(lr2 if lr2 is not None else ts["lr_stage2"])
        opts.checkpoint = str(checkpoint).encode() if checkpoint is not None else None
        if threads is not None:
            set_threads(threads)
        xs, ms, xp, mp, rows, cols = self._inputs(arrays, masks, "fit", True)
        state = _FitState(model=self, progress=progress, callback=callback,
                          tty=progress and hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
        on_epoch = _lib.EPOCH_FN(lambda ctx, v, n: _on_epoch(state, v, n))
        on_batch = _lib.BATCH_FN(lambda ctx, r, s, e, done, total: _on_batch(state, r, s, e, done, total))
        opts.on_epoch = on_epoch
        if state.tty:
            opts.on_batch = on_batch
        if progress:
            print("ima fit: %d samples, %d modalities, latent %d" % (rows[0], len(self.modalities), self.latent),
                  file=sys.stderr)
        with self._lock:
            rc = lib.ima_api_fit(self._h, xp, rows, cols, mp, len(self.modalities), ctypes.byref(opts))
        del xs, ms  # alive until here: C read them in place
        self.history.extend(state.history)
        if state.error is not None:
            raise state.error
        if rc != 0 and _lib.last_error() == "fit: stopped by the epoch callback":
            return state.history  # the callback asked to stop
        check(rc)
        return state.history

    # ---- inference ---------------------------------------------------------------------------

    def embed(self, arrays, masks=None, batch_size=1024):
        """Representations of N rows from any subset of the modalities ({name: (N, D_j)}; the
        modalities not given are missing for every row). Returns an Embedding: u and y for each
        given modality, z_weighted and z_unweighted (the outputs of ``ima embed``)."""
        xs, ms, xp, mp, rows, cols = self._inputs(arrays, masks, "embed", False)
        given = [j for j, a in enumerate(xs) if a is not None]
        N = xs[given[0]].shape[0] if given else 0
        d, M = self.latent, len(self.modalities)
        u = {self.modalities[j]: np.empty((N, d), np.float32) for j in given}
        y = {self.modalities[j]: np.empty((N,), np.float32) for j in given}
        zw, zu = np.empty((N, d), np.float32), np.empty((N, d), np.float32)
        up = (ctypes.c_void_p * M)(*[_ptr(u.get(n)) for n in self.modalities])
        yp = (ctypes.c_void_p * M)(*[_ptr(y.get(n)) for n in self.modalities])
        with self._lock:
            check(lib.ima_api_embed(self._h, xp, rows, cols, mp, M, int(batch_size), up, yp, _ptr(zw), _ptr(zu)))
        del xs, ms
        return Embedding(u=u, y=y, z_weighted=zw, z_unweighted=zu)

    def importances(self, arrays, masks=None, batch_size=1024):
        """{name: (N,) importance y_j} for each given modality (0 where the row lacks it)."""
        return self.embed(arrays, masks, batch_size).y


def set_threads(n):
    """OpenBLAS threads for every matrix product of this process (the CLI's --threads)."""
    n = int(n)
    if n < 1:
        raise ValueError("set_threads: expected >= 1, got %d" % n)
    lib.ima_api_set_threads(n)


def get_threads():
    return lib.ima_api_get_threads()


def _epoch_dict(model, v, n):
    vals = [v[k] for k in range(n)]
    r = {"round": int(vals[0]), "stage": int(vals[1]), "epoch": int(vals[2]), "epochs": int(vals[3]),
         "seconds": vals[4], "samples": int(vals[5]), "loss": vals[6]}
    if r["stage"] == 1:
        r["glob"] = vals[7]
    for j, name in enumerate(model.modalities):
        w = vals[_lib.EPOCH_FIELDS + _lib.EPOCH_PER_MODALITY * j:][:_lib.EPOCH_PER_MODALITY]
        if r["stage"] == 1:
            r["rec[%s]" % name], r["align[%s]" % name], r["dead[%s]" % name] = w[0], w[1], w[5]
        else:
            r["corr[%s]" % name], r["local[%s]" % name], r["mean_y[%s]" % name] = w[2], w[3], w[4]
    return r


def _epoch_line(r, model):
    s = "round %d stage %d epoch %d/%d  %.1fs  %.0f samples/s " % (
        r["round"], r["stage"], r["epoch"], r["epochs"], r["seconds"], r["samples"] / max(r["seconds"], 1e-9))
    if r["stage"] == 1:
        s += " L_auto %.4f  glob %.4f" % (r["loss"], r["glob"])
        for n in model.modalities:
            s += "  rec[%s] %.4f  align[%s] %.4f  dead[%s] %.0f%%" % (
                n, r["rec[%s]" % n], n, r["align[%s]" % n], n, 100 * r["dead[%s]" % n])
    else:
        s += " L_imp %.6g" % r["loss"]
        for n in model.modalities:
            s += "  corr[%s] %.4g  local[%s] %.4g  mean_y[%s] %.3f" % (
                n, r["corr[%s]" % n], n, r["local[%s]" % n], n, r["mean_y[%s]" % n])
    return s


def _on_epoch(state, v, n):
    try:
        r = _epoch_dict(state.model, v, n)
        state.history.append(r)
        if state.progress:
            print(("\r\033[K" if state.tty else "") + _epoch_line(r, state.model), file=sys.stderr, flush=True)
            if r["stage"] == 2:
                for name in state.model.modalities:
                    if r["mean_y[%s]" % name] > 0.99:
                        print("warning: importance of '%s' collapsed: mean y = %.4f > 0.99 (every sample important)"
                              % (name, r["mean_y[%s]" % name]), file=sys.stderr)
        if state.callback is not None and state.callback(r):
            return 1
        return 0
    except BaseException as e:  # KeyboardInterrupt included: stop training, re-raised by fit
        state.error = e
        return 1


def _on_batch(state, rnd, stage, epoch, done, total):
    try:
        now = time.monotonic()
        if done == total or now - state.bar_started > 0.2:
            state.bar_started = now
            width = 30
            fill = int(width * done / max(total, 1))
            print("\rround %d stage %d epoch %d [%s%s] %d/%d" % (rnd, stage, epoch, "#" * fill, "." * (width - fill),
                                                                done, total), end="", file=sys.stderr, flush=True)
    except BaseException as e:
        state.error = e
