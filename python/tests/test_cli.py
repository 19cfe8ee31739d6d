"""Checkpoints cross between the CLI and Python both ways: the same files, the same numbers."""
import numpy as np
import pytest

import ima
from conftest import TOY_CLI_FLAGS, read_safetensors, run, toy_model


@pytest.fixture(autouse=True)
def one_thread():
    ima.set_threads(1)


def cli_train(cli, toy, out, *extra):
    d = toy["train"]["dir"]
    run([cli, "train", "--input", "a=%s" % (d / "a.npy"), "--input", "b=%s" % (d / "b.npy"), *TOY_CLI_FLAGS,
         "--epochs1", 3, "--epochs2", 2, "--batch", 64, "--seed", 9, "--quiet", "--out", out, *extra])


def cli_embed(cli, ckpt, out, mods, toy):
    d = toy["test"]["dir"]
    args = []
    for m in mods:
        args += ["--input", "%s=%s" % (m, d / (m + ".npy"))]
    run([cli, "embed", "--checkpoint", ckpt, *args, "--out", out])
    names = ["z_weighted", "z_unweighted"] + ["%s_%s" % (k, m) for m in mods for k in ("u", "y")]
    return {n: np.load(out / (n + ".npy")) for n in names}


def assert_same_embedding(files, e, mods):
    np.testing.assert_array_equal(files["z_weighted"], e.z_weighted)
    np.testing.assert_array_equal(files["z_unweighted"], e.z_unweighted)
    for m in mods:
        np.testing.assert_array_equal(files["u_" + m], e.u[m])
        np.testing.assert_array_equal(files["y_" + m], e.y[m])


def test_cli_checkpoint_loads_in_python_and_embeds_the_same(cli, toy, tmp_path):
    ck = tmp_path / "cli.safetensors"
    cli_train(cli, toy, ck)
    m = ima.load(ck)
    assert m.dims == {"a": 24, "b": 16} and m.train_state["finished"]
    for mods in (["a", "b"], ["b"]):
        files = cli_embed(cli, ck, tmp_path / ("emb_" + "".join(mods)), mods, toy)
        e = m.embed({k: toy["test"][k] for k in mods})
        assert_same_embedding(files, e, mods)


def test_python_checkpoint_reads_in_the_cli(cli, toy, tmp_path):
    m = toy_model(ima, seed=4)
    m.fit({"a": toy["train"]["a"], "b": toy["train"]["b"]}, epochs1=3, epochs2=2, batch_size=64, progress=False)
    ck = tmp_path / "py.safetensors"
    m.save(ck)
    files = cli_embed(cli, ck, tmp_path / "emb", ["a", "b"], toy)
    assert_same_embedding(files, m.embed({"a": toy["test"]["a"], "b": toy["test"]["b"]}), ["a", "b"])
    # and the CLI continues training it, as it would its own checkpoint
    d = toy["train"]["dir"]
    run([cli, "train", "--input", "a=%s" % (d / "a.npy"), "--input", "b=%s" % (d / "b.npy"), "--resume", ck,
         "--epochs2", 3, "--quiet", "--out", tmp_path / "resumed.safetensors"])
    st = ima.load(tmp_path / "resumed.safetensors").train_state
    assert st["finished"] and st["epoch"] == 3 and st["step_imp"] == 3 * 10


def test_python_training_equals_cli_training(cli, toy, tmp_path):
    """Same data, settings and seed: the same checkpoint, tensor for tensor, bit for bit (one thread)."""
    ck = tmp_path / "cli.safetensors"
    cli_train(cli, toy, ck)
    m = toy_model(ima, seed=9)
    m.fit({"a": toy["train"]["a"], "b": toy["train"]["b"]}, epochs1=3, epochs2=2, batch_size=64, progress=False)
    m.save(tmp_path / "py.safetensors")
    t_cli, meta_cli = read_safetensors(ck)
    t_py, meta_py = read_safetensors(tmp_path / "py.safetensors")
    assert sorted(t_cli) == sorted(t_py) and len(t_cli) > 10
    for name in t_cli:
        assert np.array_equal(t_cli[name], t_py[name]), name
    assert meta_cli == meta_py
