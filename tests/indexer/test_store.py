"""Manifest, metadata store and the read API on synthetic vectors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import NewRow
from xmodal.indexer import open_index, read_manifest
from xmodal.indexer.manifest import FORMAT_VERSION, IndexManifest, publish_manifest
from xmodal.indexer.metadata import MetaStore

from indexer_helpers import clustered, synthetic_index


def test_manifest_roundtrip_and_version_guard(tmp_path):
    m = IndexManifest("tiny", "abc", 32, "Flat", "index.1.faiss", search_params={"nprobe": 4})
    publish_manifest(tmp_path, m)
    back = read_manifest(tmp_path)
    assert back == m
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(XmodalError, match="format version"):
        read_manifest(tmp_path)
    with pytest.raises(XmodalError, match="not an xmodal index"):
        read_manifest(tmp_path / "nope")


def _row(label, id_, meta, kind="item", parent=None):
    return NewRow(id_, "image", kind, parent, f"/x/{id_}", None, meta, label=label, shard="s", shard_row=label)


def test_metadata_filters_and_generation_snapshots(tmp_path):
    db = MetaStore(tmp_path / "m.sqlite")
    db.insert([_row(0, "a", {"lic": "cc0", "n": 1, "ok": True, "tags": {"k": "cat"}}),
               _row(1, "b", {"lic": "by", "n": 2, "ok": False}),
               _row(2, "a#caption0", {"lic": "cc0"}, "caption", "a")], generation=1)
    assert db.labels_where(1, where={"lic": "cc0"}).tolist() == [0, 2]
    assert db.labels_where(1, where={"n": [2, 3]}).tolist() == [1]
    assert db.labels_where(1, where={"ok": True}).tolist() == [0]
    assert db.labels_where(1, where={"tags.k": "cat"}).tolist() == [0]
    assert db.labels_where(1, kind="caption").tolist() == [2]
    with pytest.raises(XmodalError):
        db.labels_where(1, where={'x"); DROP TABLE rows; --': 1})
    # generation 2 deletes "a" (and its caption) and adds "c"
    db.mark_deleted(db.live_labels(["a"])["a"], 2)
    db.insert([_row(3, "c", {})], 2)
    assert db.labels_where(1).tolist() == [0, 1, 2]  # a reader pinned to gen 1
    assert db.labels_where(2).tolist() == [1, 3]
    assert db.label_of("a", 1) == 0 and db.label_of("a", 2) is None
    # an unpublished generation 2 is rolled back by the next writer
    db.rollback_after(1)
    assert db.labels_where(None).tolist() == [0, 1, 2]


def test_read_api_search_filter_vectors(tmp_path):
    x = clustered(3000, 32)
    m = synthetic_index(tmp_path, x)
    assert m.factory == "Flat" and m.counts["image"] == 3000
    ix = open_index(tmp_path)
    scores, labels = ix.search(x[[5, 17]], 5)
    assert labels[:, 0].tolist() == [5, 17]  # each vector is its own nearest neighbour
    assert scores.dtype == np.float32 and labels.dtype == np.int64
    rows = ix.rows(labels[0][:1])
    assert rows[0].id == "v5" and rows[0].metadata["parity"] == 1
    odd = ix.labels_where(where={"parity": 1})
    _, got = ix.search(x[[4]], 10, labels=odd)  # x4 itself is excluded by the filter
    assert set(got[0].tolist()) <= set(odd.tolist()) and 4 not in got[0]
    brute = np.argsort(-(x[odd] @ x[4]))[:10]
    assert got[0].tolist() == odd[brute].tolist()
    assert np.allclose(ix.vectors([5, 6]), x[[5, 6]], atol=1e-6)
    assert ix.label_of("v9") == 9 and ix.label_of("nope") is None
    _, none = ix.search(x[:1], 3, labels=np.array([], np.int64))
    assert (none == -1).all()
    with pytest.raises(XmodalError, match="needs"):
        ix.search(np.zeros((1, 7), np.float32), 3)
    assert not ix.is_stale()


def test_check_encoder_refuses_other_weights(tmp_path, tiny):
    synthetic_index(tmp_path, clustered(100, 32))
    ix = open_index(tmp_path)
    with pytest.raises(XmodalError, match="built with encoder 'synthetic'"):
        ix.check_encoder(tiny)


@pytest.mark.parametrize("factory", ["IVF16,Flat", "HNSW16"])
def test_filtered_search_through_faiss_selector(tmp_path, monkeypatch, factory):
    """Large allowed sets go through FAISS's IDSelector (small ones are exact)."""
    import xmodal.indexer.reader as reader_mod
    from xmodal.indexer.indexing import IndexOptions
    from xmodal.indexer.searching import recall_at_k

    x = clustered(2000, 16, seed=4)
    synthetic_index(tmp_path, x, IndexOptions(factory=factory, tune_queries=100))
    monkeypatch.setattr(reader_mod, "EXACT_FILTER_LIMIT", 0)
    ix = open_index(tmp_path)
    allowed = ix.labels_where(where={"group": ["g1", "g3"]})
    assert len(allowed) == 800
    rng = np.random.default_rng(9)
    q = x[rng.choice(2000, 50, replace=False)] + 0.05 * rng.standard_normal((50, 16)).astype(np.float32)
    _, got = ix.search(q, 10, labels=allowed)
    assert set(got.ravel().tolist()) - {-1} <= set(allowed.tolist())
    truth = allowed[np.argsort(-(q @ x[allowed].T), axis=1)[:, :10]]
    assert recall_at_k(got, truth, 10) >= 0.9


def test_index_of_an_older_same_named_encoder_says_rebuild(tmp_path, tiny):
    """An index built with an earlier alignment of the same spec (a new
    shipped 'lite' checkpoint) still opens, but queries say it was built
    with another encoder and must be rebuilt."""
    import copy

    synthetic_index(tmp_path, clustered(100, 32))
    ix = open_index(tmp_path)
    newer = copy.copy(tiny)
    newer.spec, newer.fingerprint = ix.manifest.encoder_spec, "f" * 64
    with pytest.raises(XmodalError, match="built with another encoder.*rebuild the index") as exc:
        ix.check_encoder(newer)
    assert "\n" not in str(exc.value)
    assert ix.manifest.encoder_spec == "synthetic"  # the old index itself is still readable
