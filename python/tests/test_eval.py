"""ima.precision_at_k and ima.detection against direct numpy computations, and the toy set end to end."""
import numpy as np
import pytest

import ima


def brute_p_at_k(z, labels, k, group=None):
    d = ((z[:, None, :].astype(np.float64) - z[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    if group is not None:
        d[group[:, None] == group[None, :]] = np.inf
    hits = 0
    for i in range(len(z)):
        order = np.lexsort((np.arange(len(z)), d[i]))[:k]  # ties to the smaller index
        hits += (labels[order] == labels[i]).sum()
    return hits / (len(z) * k)


def test_precision_at_k_matches_brute_force():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((120, 3)).astype(np.float32)
    labels = rng.integers(0, 4, 120)
    z[labels == 2] += 2.0  # one class stands out
    group = np.arange(120) // 3
    p = ima.precision_at_k(z, labels, ks=(1, 5, 10))
    for k in (1, 5, 10):
        assert p[k] == pytest.approx(brute_p_at_k(z, labels, k), abs=1e-12)
    pg = ima.precision_at_k(z, labels, ks=[5], group=group)
    assert pg[5] == pytest.approx(brute_p_at_k(z, labels, 5, group), abs=1e-12)
    with pytest.raises(ima.Error):
        ima.precision_at_k(z[:3], labels[:3], ks=[5])  # fewer than K neighbours


def test_detection_matches_direct_counts():
    rng = np.random.default_rng(2)
    noise = rng.random(200) < 0.2
    y = np.where(noise, rng.random(200) * 0.6, 0.3 + 0.7 * rng.random(200)).astype(np.float32)
    r = ima.detection(y, noise, threshold=0.5)
    pred = y < 0.5
    tp, fp, fn = int((pred & noise).sum()), int((pred & ~noise).sum()), int((~pred & noise).sum())
    assert (r["tp"], r["fp"], r["fn"], r["n"], r["n_noise"]) == (tp, fp, fn, 200, int(noise.sum()))
    prec, rec = tp / (tp + fp), tp / (tp + fn)
    assert r["f1"] == pytest.approx(2 * prec * rec / (prec + rec))
    yn, yc = y[noise][:, None], y[~noise][None, :]
    assert r["auc"] == pytest.approx(((yn < yc).sum() + 0.5 * (yn == yc).sum()) / (yn.size * yc.size))
    assert r["best_f1"] >= r["f1"]
    y_bad = y.copy()
    y_bad[7] = np.nan
    with pytest.raises(ima.Error, match="sample 7 is not finite"):
        ima.detection(y_bad, noise)


def test_toy_end_to_end(toy):
    """Train on the toy set, embed the test split, evaluate: the codes carry the class."""
    ima.set_threads(1)
    tr, te = toy["train"], toy["test"]
    m = ima.Model({"a": 24, "b": 16}, latent=4, hidden=32, loss={"b": "sse"}, rho={"a": 0.9, "b": 0.9})
    m.fit({"a": tr["a"], "b": tr["b"]}, epochs1=30, epochs2=5, batch_size=64, lr1=3e-3, progress=False)
    e = m.embed({"a": te["a"], "b": te["b"]})
    clean = (te["a_noise"] == 0) & (te["b_noise"] == 0)
    p = ima.precision_at_k(e.z_unweighted, te["label"], ks=[10], query_mask=clean)[10]
    print("toy: P@10 of z_unweighted %.3f, image-noise AUC %s" % (p, ima.detection(e.y["a"], te["a_noise"]).get("auc")))
    assert p > 0.5, p  # 5 classes: chance is about 0.2
    det = ima.detection(e.y["a"], te["a_noise"])
    assert det["n"] == 200 and 0.0 <= det["auc"] <= 1.0
    # downstream classification of the test codes (first half trains, the next quarter validates)
    z, y = e.z_unweighted, te["label"]
    c = ima.classify((z[:100], y[:100]), (z[100:150], y[100:150]), (z[150:], y[150:]), epochs=20)
    print("toy: classification accuracy %.3f (lr %g)" % (c["accuracy"], c["chosen_lr"]))
    assert c["accuracy"] == np.mean(c["pred"] == y[150:]) and c["accuracy"] > 0.6, c["accuracy"]


def test_classify_separable_and_errors():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    z = (np.eye(3)[y] * 4 + rng.standard_normal((300, 3)) * 0.3).astype(np.float32)
    c = ima.classify((z[:200], y[:200]), (z[200:250], y[200:250]), (z[250:], y[250:]))
    assert c["accuracy"] == 1.0 and c["chosen_lr"] in [0.0625 * 2 ** i for i in range(8)]
    with pytest.raises(ValueError, match="columns"):
        ima.classify((z, y), (z[:, :2], y), (z, y))
    with pytest.raises(ima.Error, match="classify"):
        ima.classify((z[:200], y[:200]), (z[200:250], y[200:250] + 10), (z[250:], y[250:]))
