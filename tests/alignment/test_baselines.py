"""Training-free baselines recover alignments they are built for."""
import numpy as np
import pytest
import torch

from xmodal.alignment.train.baselines import BASELINES, embed_with, fit, paired, run_baselines
from xmodal.alignment.train.evaluate import evaluate_embedded
from xmodal.alignment.train.model import Rows, SplitData

from train_synthetic import synthetic_split


def _split(a, b):
    n = len(a)
    rows = {"text": Rows(item=torch.arange(n), feats=torch.as_tensor(a, dtype=torch.float32)),
            "image": Rows(item=torch.arange(n), feats=torch.as_tensor(b, dtype=torch.float32))}
    return SplitData([str(i) for i in range(n)], np.arange(n), rows)


def _r1(f, data):
    res = evaluate_embedded(embed_with(f, data, "text", "image"))
    return res["text->image"].recall[1], res["image->text"].recall[1]


def test_procrustes_recovers_a_rotation():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    a_tr, a_te = rng.normal(size=(400, 16)), rng.normal(size=(100, 16))
    f = fit("procrustes", a_tr, a_tr @ q, d=16)
    assert _r1(f, _split(a_te, a_te @ q)) == (1.0, 1.0)


def test_least_squares_recovers_a_linear_map_between_different_dims():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(12, 30))
    a_tr, a_te = rng.normal(size=(300, 12)), rng.normal(size=(100, 12))
    f = fit("lstsq", a_tr, a_tr @ w, lam=1e-3)
    t2i, i2t = _r1(f, _split(a_te, a_te @ w))
    assert t2i == 1.0 and i2t == 1.0


def test_cca_finds_the_shared_subspace_under_noise():
    rng = np.random.default_rng(2)
    z_tr, z_te = rng.normal(size=(500, 6)), rng.normal(size=(100, 6))
    wa, wb = rng.normal(size=(6, 20)), rng.normal(size=(6, 25))

    def view(z, w):
        return z @ w + 0.05 * rng.normal(size=(len(z), w.shape[1]))

    f = fit("cca", view(z_tr, wa), view(z_tr, wb), d=6, reg=1e-3)
    t2i, i2t = _r1(f, _split(view(z_te, wa), view(z_te, wb)))
    assert t2i > 0.9 and i2t > 0.9


def test_asif_relative_representation_beats_chance_by_far():
    train, test = synthetic_split(600, seed=0), synthetic_split(100, seed=2)
    a, b = paired(train, "text", "image")
    assert a.shape[0] == 1200 and b.shape[0] == 1200  # every caption with its image
    f = fit("asif", a, b, k=64, p=4.0)
    res = evaluate_embedded(embed_with(f, test, "text", "image"))
    assert res["text->image"].recall[5] > 0.5  # chance: 0.05


def test_run_baselines_selects_on_val_and_reports_test():
    tr, va, te = synthetic_split(200, seed=0), synthetic_split(40, seed=1), synthetic_split(50, seed=2)
    out = run_baselines(tr, va, {"te": te, "half": te.subset(np.arange(25))})
    assert set(out) == set(BASELINES)
    for name, r in out.items():
        assert set(r["test"]["te"]) == {"text->image", "image->text"}
        assert r["test"]["te"]["text->image"].n_queries == 100
        assert r["test"]["half"]["text->image"].n_queries == 50
        assert 0.0 <= r["val_score"] <= 1.0


def test_unknown_baseline_is_an_error():
    with pytest.raises(ValueError, match="unknown baseline"):
        fit("magic", np.zeros((3, 2)), np.zeros((3, 2)))
