"""The reader owns how one index is searched: complete under any filter
(exact fallback when the ANN structure comes back short) and exact
re-scoring done once, also on an index that re-ranks by itself."""
from __future__ import annotations

import numpy as np

import xmodal.indexer.reader as reader_mod
from xmodal.indexer import open_index
from xmodal.indexer.indexing import IndexOptions
from xmodal.search import Engine, Query

from indexer_helpers import synthetic_index


def _far_clusters(n_clusters: int = 64, per: int = 45, dim: int = 16, seed: int = 2):
    """Tight, well separated clusters: an IVF list holds one cluster."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    x = np.repeat(centers, per, axis=0) + 0.05 * rng.standard_normal((n_clusters * per, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), centers


def test_filtered_ann_that_comes_back_short_is_answered_exactly(tmp_path, monkeypatch):
    x, centers = _far_clusters()
    synthetic_index(tmp_path, x, IndexOptions(factory="IVF64,Flat", tune_queries=50))
    monkeypatch.setattr(reader_mod, "EXACT_FILTER_LIMIT", 0)  # force the ANN path
    calls = []
    real_topk = reader_mod.exact_topk
    monkeypatch.setattr(reader_mod, "exact_topk", lambda *a, **kw: calls.append(1) or real_topk(*a, **kw))
    ix = open_index(tmp_path)
    ix.manifest.search_params = {"nprobe": 1}  # widened to 16 of 64 lists under the filter
    q = x[:1]  # a point of cluster 0
    far = int(np.argmin(centers @ (centers[0] / np.linalg.norm(centers[0]))))
    allowed = np.arange(far * 45, far * 45 + 45, dtype=np.int64)
    scores, got = ix.search(q, 10, labels=allowed)
    assert calls, "the ANN answer was not short: the test no longer exercises the fallback"
    truth = allowed[np.argsort(-(x[allowed] @ q[0]), kind="stable")[:10]]
    assert got[0].tolist() == truth.tolist()
    np.testing.assert_allclose(scores[0], x[truth] @ q[0], atol=1e-5)


def _counting(ix):
    calls = []
    real = ix.vectors

    def vectors(labels):
        calls.append(len(labels))
        return real(labels)

    ix.vectors = vectors
    return calls


def test_rescore_gathers_stored_vectors_once(tmp_path):
    x, _ = _far_clusters(n_clusters=16, per=40)
    synthetic_index(tmp_path, x, IndexOptions(factory="IVF16,PQ4x4", tune_queries=50))
    for params in ({"nprobe": 4}, {"nprobe": 4, "rerank": 4}):
        ix = open_index(tmp_path)
        ix.manifest.search_params = params
        calls = _counting(ix)
        engine = Engine.open(str(tmp_path), encoder=_Stack(ix.manifest), opener=lambda p: ix)
        hits = engine.search(Query(embedding=x[3].tolist()), k=5, rescore=True)
        assert len(calls) == 1, (params, calls)  # rerank or rescore, never both
        labels = [ix.label_of(h.id) for h in hits]
        np.testing.assert_allclose([h.score for h in hits], x[labels] @ x[3], atol=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


class _Stack:
    """The identity the index records (embedding queries need no model)."""

    aligned = True
    modalities: list[str] = []

    def __init__(self, manifest):
        self.spec, self.fingerprint, self.dim = manifest.encoder_spec, manifest.encoder_fingerprint, manifest.dim

    def embed(self, modality, items, batch_size=32, workers=2, names=None, on_batch=None):
        raise AssertionError("not used")
