"""Tuning must hold for restricted cross-modal search, not only for
same-modality queries.

Two modalities with a planted modality gap: item i is `normalise(x_i + s)`
as an "image" and `normalise(x_i + noise - s)` as a "text", with a
constant shift `s`. Same-modality neighbours are then far closer than
cross-modal ones, so an IVF index splits the modalities into separate lists
and a text query probes text lists first. Recall is checked on fresh
queries (never indexed, never used to tune) against a brute-force
reference restricted to the target modality, as search does for
`target=image`.
"""
from __future__ import annotations

import faiss
import numpy as np

from xmodal.indexer.directions import Direction, directions, stratified_extra
from xmodal.indexer.indexing import IndexOptions, build_and_tune
from xmodal.indexer.searching import recall_at_k, search

DIM = 32
TARGET = 0.9
FACTORY = "IVF64,Flat"


def _normalise(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _pairs(rng: np.random.Generator, n: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, DIM))
    image = _normalise(x + shift)
    text = _normalise(x + 0.3 * rng.standard_normal((n, DIM)) - shift)
    return image, text


def _corpus(seed: int = 0, n: int = 2000):
    rng = np.random.default_rng(seed)
    shift = rng.standard_normal(DIM)
    shift *= 3.0 / np.linalg.norm(shift)  # |x| ~ 5.7, yet k-means splits the modalities
    image, text = _pairs(rng, n, shift)
    vectors = np.concatenate([image, text])
    labels = np.arange(len(vectors), dtype=np.int64) + 100  # labels are not row numbers
    groups = np.array(["image"] * n + ["text"] * n, dtype=object)
    fresh_image, fresh_text = _pairs(rng, 200, shift)
    return vectors, labels, groups, fresh_image, fresh_text


def _restricted_recall(index, params, queries, vectors, labels, allowed_rows) -> float:
    """ANN restricted by IDSelector vs brute force over the allowed rows."""
    sel = faiss.IDSelectorBatch(labels[allowed_rows])
    _, found = search(index, queries, 10, params, sel)
    sims = queries @ vectors[allowed_rows].T
    truth = labels[allowed_rows][np.argsort(-sims, axis=1)[:, :10]]
    return recall_at_k(found, truth, 10)


def test_cross_modal_restricted_recall_meets_target():
    vectors, labels, groups, fresh_image, fresh_text = _corpus()
    images = np.nonzero(groups == "image")[0]
    texts = np.nonzero(groups == "text")[0]
    opts = IndexOptions(recall=TARGET, factory=FACTORY, tune_queries=400)

    # Old method: held-out corpus vectors, unrestricted, exact over the index.
    old, _, old_params, _ = build_and_tune(vectors, labels, opts, FACTORY, lambda s: None)
    old_t2i = _restricted_recall(old, old_params, fresh_text, vectors, labels, images)
    assert old_t2i < TARGET, (old_params, old_t2i)

    new, _, params, stats = build_and_tune(vectors, labels, opts, FACTORY, lambda s: None, groups)
    by_dir = stats.recall_at_10_by_direction
    assert set(by_dir) == {"all", "image->text", "text->image"}
    assert stats.recall_target_met and min(by_dir.values()) >= TARGET
    assert stats.recall_at_10 == min(by_dir.values())
    assert params["nprobe"] > old_params["nprobe"]
    assert 0 < stats.tune_direction_queries["text->image"] <= 300
    # Fresh queries, both directions, against brute force over the target subset.
    assert _restricted_recall(new, params, fresh_text, vectors, labels, images) >= TARGET
    assert _restricted_recall(new, params, fresh_image, vectors, labels, texts) >= TARGET
    # Held-out tuning queries were added after tuning: the index holds everything.
    assert new.ntotal == len(vectors)


def test_directions_hold_queries_out_of_targets():
    groups = np.array(["image"] * 50 + ["text"] * 30 + ["audio"] * 20, dtype=object)
    labels = np.arange(100, dtype=np.int64) * 7
    rng = np.random.default_rng(1)
    held = stratified_extra(groups, np.array([0, 1, 2], np.int64), 300, rng)
    for g in ("image", "text", "audio"):  # each modality gets up to a fifth held out
        assert (groups[held] == g).sum() == max(3 if g == "image" else 0, (groups == g).sum() // 5)
    base = np.setdiff1d(np.arange(100), held)
    dirs: list[Direction] = directions(groups, labels, held, base)
    assert sorted(d.name for d in dirs) == sorted(f"{a}->{b}" for a in ("audio", "image", "text")
                                                 for b in ("audio", "image", "text") if a != b)
    for d in dirs:
        src, dst = d.name.split("->")
        assert (groups[d.query_rows] == src).all() and (groups[d.target_rows] == dst).all()
        assert not np.isin(d.target_rows, held).any()  # held-out rows are not in the index
        assert np.array_equal(d.target_labels, labels[d.target_rows])
    assert directions(np.array(["image"] * 10, dtype=object), labels[:10], held[:2], None) == []
