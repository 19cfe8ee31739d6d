"""ima.Model: configuration, fit, embed, save/load, input conversion and error mapping."""
import json
import threading
import time

import numpy as np
import pytest

import ima
from conftest import toy_model


@pytest.fixture(autouse=True)
def one_thread():
    ima.set_threads(1)


def small_fit(m, toy, **kw):
    args = dict(epochs1=3, epochs2=2, batch_size=64, progress=False)
    args.update(kw)
    return m.fit({"a": toy["train"]["a"], "b": toy["train"]["b"]}, **args)


def test_preset_and_config():
    m = ima.Model(preset="digits", latent=2)
    assert m.dims == {"image": 784, "speech": 696} and m.latent == 2
    mods = {x["name"]: x for x in m.config["modalities"]}
    assert (mods["image"]["hidden_width"], mods["image"]["rho"]) == (500, pytest.approx(0.8))
    assert (mods["speech"]["hidden_width"], mods["speech"]["rho"]) == (100, pytest.approx(0.3))
    m2 = ima.Model({"x": 5, "y": 3}, latent=7, hidden={"x": 11}, rho=0.25, loss="sse", center=False)
    c = {x["name"]: x for x in m2.config["modalities"]}
    assert c["x"]["hidden_width"] == 11 and c["y"]["hidden_width"] == 100
    assert c["y"]["rho"] == pytest.approx(0.25) and c["x"]["loss"] == "sse" and not m2.config["center_inputs"]
    assert ima.Model([3, 4]).modalities == ["m0", "m1"]
    assert not m2.train_state["started"]
    m3 = ima.Model(config=m2.config, seed=2)
    assert m3.config == m2.config
    bad = dict(m2.config, latent_width=-3)
    with pytest.raises(ima.Error, match="latent_width"):
        ima.Model(config=bad)


def test_bad_configuration_raises_the_c_message():
    with pytest.raises(ima.Error, match=r"rho.*expected .*got 1.5"):
        ima.Model({"a": 4}, rho=1.5)
    with pytest.raises(ima.Error, match="latent_width.*65536.*got 0"):
        ima.Model({"a": 4}, latent=0)
    with pytest.raises(ima.Error, match="name 'a b'"):
        ima.Model({"a b": 4})
    with pytest.raises(ima.Error, match="preset: expected 'digits', got 'mnist'"):
        ima.Model({"a": 4}, preset="mnist")
    with pytest.raises(ValueError, match="no modality named 'c'"):
        ima.Model({"a": 4}, hidden={"c": 3})
    with pytest.raises(ValueError, match="preset digits needs a modality named 'image'"):
        ima.Model({"a": 4}, preset="digits")
    assert issubclass(ima.Error, ValueError)


def test_fit_embed_deterministic(toy):
    runs = []
    for _ in range(2):
        m = toy_model(ima, seed=5)
        hist = small_fit(m, toy)
        assert [(h["stage"], h["epoch"]) for h in hist] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
        assert hist[-1]["loss"] > 0 and "mean_y[a]" in hist[-1] and "rec[b]" in hist[0]
        st = m.train_state
        assert st["finished"] and st["step_ae"] == 3 * 10 and st["step_imp"] == 2 * 10  # 600 rows / 64
        runs.append(m.embed({"a": toy["test"]["a"], "b": toy["test"]["b"]}))
    e0, e1 = runs
    assert e0.z_weighted.shape == (200, 4) and e0.u["b"].shape == (200, 4) and e0.y["a"].shape == (200,)
    for k in ("z_weighted", "z_unweighted"):
        assert np.array_equal(getattr(e0, k), getattr(e1, k))
    assert np.all((e0.y["a"] > 0) & (e0.y["a"] < 1))
    # fusion rule (SPEC section 1): z = sum_j y_j u_j / sum_j y_j; unweighted: the mean
    ya, yb = e0.y["a"][:, None], e0.y["b"][:, None]
    np.testing.assert_allclose(e0.z_weighted, (ya * e0.u["a"] + yb * e0.u["b"]) / (ya + yb), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e0.z_unweighted, (e0.u["a"] + e0.u["b"]) / 2, rtol=1e-5, atol=1e-6)


def test_embed_subsets_and_masks(toy):
    m = toy_model(ima)
    small_fit(m, toy)
    a, b = toy["test"]["a"], toy["test"]["b"]
    full = m.embed({"a": a, "b": b})
    only_a = m.embed({"a": a})
    assert list(only_a.u) == ["a"]
    np.testing.assert_array_equal(only_a.z_unweighted, full.u["a"])  # one modality: z = u_a
    mask_b = np.arange(200) % 2 == 0
    mixed = m.embed({"a": a, "b": b}, masks={"b": mask_b})
    np.testing.assert_array_equal(mixed.z_weighted[~mask_b], full.u["a"][~mask_b])
    np.testing.assert_array_equal(mixed.z_weighted[mask_b], full.z_weighted[mask_b])
    assert np.all(mixed.y["b"][~mask_b] == 0)
    np.testing.assert_array_equal(m.importances({"a": a})["a"], full.y["a"])
    # the batch of the forward passes changes nothing (beyond rounding)
    np.testing.assert_allclose(m.embed({"a": a, "b": b}, batch_size=7).z_weighted, full.z_weighted, rtol=1e-5, atol=1e-6)


def test_conversion_rule_and_zero_copy(toy):
    from ima.model import as_f32
    a32 = toy["test"]["a"]
    assert a32.dtype == np.float32 and a32.flags.c_contiguous
    assert np.shares_memory(as_f32(a32, "x"), a32)                       # passed as it is
    a64 = a32.astype(np.float64)
    assert not np.shares_memory(as_f32(a64, "x"), a64)                   # converted
    af = np.asfortranarray(a32)
    assert as_f32(af, "x").flags.c_contiguous and np.array_equal(as_f32(af, "x"), a32)
    m = toy_model(ima)
    small_fit(m, toy, epochs1=1, epochs2=1)
    ref = m.embed({"a": a32}).z_weighted
    for other in (a64, af, a32[:, :].copy(order="F"), np.ascontiguousarray(a32).tolist()):
        np.testing.assert_array_equal(m.embed({"a": other}).z_weighted, ref)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        m.embed({"a": a32[0]})
    with pytest.raises(ValueError, match="real numeric array"):
        m.embed({"a": a32.astype(np.complex64)})


def test_input_errors_carry_the_c_message(toy):
    m = toy_model(ima)
    a, b = toy["train"]["a"], toy["train"]["b"]
    with pytest.raises(ima.Error, match="modality 'a': 23 columns, but the model expects width 24"):
        m.fit({"a": a[:, :23], "b": b}, progress=False)
    with pytest.raises(ima.Error, match="modality 'b' is missing"):
        m.fit({"a": a}, progress=False)
    with pytest.raises(ima.Error, match="'b' has 599 rows, but 'a' has 600"):
        m.fit({"a": a, "b": b[1:]}, progress=False)
    bad = a.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ima.Error, match="modality 'a': row 3, column 5: non-finite value nan"):
        m.fit({"a": bad, "b": b}, progress=False)
    with pytest.raises(ima.Error, match=r"outside \[0, 1\]"):
        m.fit({"a": a * 3, "b": b}, progress=False)
    zero = np.zeros(600, bool)
    with pytest.raises(ima.Error, match="row 0 has every modality missing"):
        m.fit({"a": a, "b": b}, masks={"a": zero, "b": zero}, progress=False)
    with pytest.raises(ValueError, match="row 0: value 2"):
        m.fit({"a": a, "b": b}, masks={"a": np.full(600, 2)}, progress=False)
    with pytest.raises(ValueError, match="no modality 'c'"):
        m.embed({"c": a})
    with pytest.raises(ima.Error, match="no modality given"):
        m.embed({})
    with pytest.raises(ima.Error, match="batch_size: expected >= 1"):
        m.fit({"a": a, "b": b}, batch_size=0, progress=False)
    assert not m.train_state["started"]  # nothing above trained or changed the model
    # the model still works after every error
    small_fit(m, toy, epochs1=1, epochs2=0)
    assert m.train_state["finished"]


def test_save_load_round_trip(toy, tmp_path):
    m = toy_model(ima)
    small_fit(m, toy)
    p = tmp_path / "m.safetensors"
    m.save(p)
    m2 = ima.load(p)
    assert m2.config == m.config and m2.train_state == m.train_state
    e, e2 = m.embed({"a": toy["test"]["a"]}), m2.embed({"a": toy["test"]["a"]})
    np.testing.assert_array_equal(e.z_weighted, e2.z_weighted)
    np.testing.assert_array_equal(e.y["a"], e2.y["a"])
    # continue training: more stage-2 epochs, as ima train --resume --epochs2 4
    h = m2.fit({"a": toy["train"]["a"], "b": toy["train"]["b"]}, epochs2=4, progress=False)
    assert [(r["stage"], r["epoch"]) for r in h] == [(2, 3), (2, 4)]
    with pytest.raises(ima.Error, match="nothere.safetensors"):
        ima.load(tmp_path / "nothere.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(ima.Error, match="cut.safetensors"):
        ima.load(cut)
    with pytest.raises(ima.Error):
        m.save(tmp_path / "nodir" / "m.safetensors")


def test_checkpoint_written_every_epoch(toy, tmp_path):
    m = toy_model(ima)
    seen = []
    p = tmp_path / "ck.safetensors"

    def cb(r):
        seen.append(ima.load(p).train_state["epoch"])

    small_fit(m, toy, checkpoint=p, callback=cb)
    assert seen == [1, 2, 3, 1, 2]
    assert ima.load(p).train_state == m.train_state


def test_callback_stops_and_exceptions_propagate(toy):
    m = toy_model(ima)
    hist = small_fit(m, toy, callback=lambda r: r["epoch"] == 2)
    assert len(hist) == 2 and not m.train_state["finished"]

    def boom(r):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        small_fit(toy_model(ima), toy, callback=boom)

    # a callback may embed with the model in training (batches capped, nothing reallocated) ...
    m2, seen = toy_model(ima), []
    small_fit(m2, toy, callback=lambda r: seen.append(m2.embed({"a": toy["test"]["a"]}, batch_size=4096).z_weighted))
    assert len(seen) == 5 and all(z.shape == (200, 4) and np.isfinite(z).all() for z in seen)
    # ... but not train it again
    m3 = toy_model(ima)
    with pytest.raises(ima.Error, match="already training"):
        small_fit(m3, toy, callback=lambda r: small_fit(m3, toy))
    assert len(m3.history) == 1  # stopped after the epoch whose callback failed


def test_gil_released_during_fit(toy):
    """Another Python thread keeps running while C trains: the longest pause it sees stays far below
    the length of the fit (with the GIL held it would stall for the whole fit)."""
    rng = np.random.default_rng(0)
    a = rng.random((20000, 24), dtype=np.float32)
    b = rng.standard_normal((20000, 16), dtype=np.float32)
    m = ima.Model({"a": 24, "b": 16}, latent=4, hidden=256, loss={"b": "sse"})
    ticks, stop = [], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.002)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    m.fit({"a": a, "b": b}, epochs1=1, epochs2=0, batch_size=64, progress=False)  # one callback, at the end
    t1 = time.monotonic()
    stop.set()
    t.join()
    inside = [x for x in ticks if t0 <= x <= t1]
    gaps = np.diff([t0] + inside + [t1])
    assert t1 - t0 > 0.2, "the fit was too short to tell (%.3f s)" % (t1 - t0)
    assert len(inside) > 10 and gaps.max() < 0.5 * (t1 - t0), (len(inside), gaps.max(), t1 - t0)


def test_threads():
    ima.set_threads(1)
    assert ima.get_threads() == 1
    with pytest.raises(ValueError):
        ima.set_threads(0)


def test_library_version():
    assert ima.library_version() == ima.__version__
