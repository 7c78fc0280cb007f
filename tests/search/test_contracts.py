"""One contract suite for the seams (`alignment.core.protocols`), run
against the test fakes and the real classes alike (as qdrant-client's
congruence tests run one suite against its local and remote clients): a
fake that drifts from what it stands in for fails here, not in
production."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from xmodal.alignment.core.contracts import MODALITIES, EncodeResult, l2_normalise
from xmodal.alignment.core.protocols import Embedder, IndexIdentity, SearchIndex
from xmodal.alignment.core.errors import BadInput, XmodalError

from search_fakes import FakeEncoder, FakeIndex, random_corpus
from search_index import build_from_vectors, shard_rows

K = 10


def _corpus():
    rows, vecs = random_corpus(n=90, captions=6, seed=11)
    for r in rows:  # a nested field: dotted filter names reach into it
        r.metadata["src"] = {"site": "a" if r.label % 3 else "b"}
    return rows, l2_normalise(vecs)


@pytest.fixture(scope="module", params=["fake", "flat", "hnsw"])
def reader(request, tmp_path_factory):
    """(reader, rows, vectors, exact): the same corpus behind each implementation."""
    rows, vecs = _corpus()
    if request.param == "fake":
        yield FakeIndex(copy.deepcopy(rows), vecs), rows, vecs, True
        return
    from xmodal.indexer import open_index

    factory = {"flat": "Flat", "hnsw": "HNSW32"}[request.param]
    path = build_from_vectors(tmp_path_factory.mktemp(request.param) / "c.xmodal", shard_rows(rows),
                              vecs, factory=factory)
    ix = open_index(path)
    yield ix, rows, vecs, factory == "Flat"
    ix.close()


def _brute(vecs, q, allowed):
    scores = vecs[allowed] @ q
    order = sorted(range(len(allowed)), key=lambda i: (-scores[i], allowed[i]))
    return [int(allowed[i]) for i in order]


def test_satisfies_the_protocol(reader):
    ix, _rows, vecs, _ = reader
    assert isinstance(ix, SearchIndex)
    m = ix.manifest
    assert isinstance(m, IndexIdentity)
    assert (m.dim, m.encoder_spec, m.encoder_fingerprint, m.metric) == (vecs.shape[1], "fake", "fp-1", "ip")
    assert ix.generation == m.generation and not ix.is_stale()
    assert all(isinstance(r, str) for r in ix.media_roots())


def test_unfiltered_search_shape_order_and_padding(reader):
    ix, rows, vecs, exact = reader
    q = vecs[[3, 40]]
    scores, labels = ix.search(q, K)
    assert scores.shape == labels.shape == (2, K) and labels.dtype == np.int64
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    if exact:
        for i in range(2):
            assert labels[i].tolist() == _brute(vecs, q[i], np.arange(len(rows)))[:K]
    s, l = ix.search(q[:1], len(rows) + 5)
    assert sorted(l[0, : len(rows)].tolist()) == list(range(len(rows)))  # complete
    assert l[0, len(rows):].tolist() == [-1] * 5 and np.all(np.isneginf(s[0, len(rows):]))


def test_filtered_search_is_exact_complete_and_only_allowed(reader):
    ix, rows, vecs, _ = reader
    q = vecs[7]
    allowed = np.array([r.label for r in rows if r.modality == "audio"], np.int64)
    scores, labels = ix.search(q[None], K, labels=allowed)
    assert labels[0].tolist() == _brute(vecs, q, allowed)[:K]
    np.testing.assert_allclose(scores[0], vecs[labels[0]] @ q, atol=1e-5)
    _, few = ix.search(q[None], K, labels=allowed[:3])
    assert sorted(few[0, :3].tolist()) == sorted(allowed[:3].tolist()) and few[0, 3:].tolist() == [-1] * (K - 3)
    s, none = ix.search(q[None], K, labels=np.zeros(0, np.int64))
    assert none[0].tolist() == [-1] * K and np.all(np.isneginf(s))


def test_rescore_gives_exact_scores(reader):
    ix, _rows, vecs, _ = reader
    q = vecs[[5]]
    scores, labels = ix.search(q, K, rescore=True)
    np.testing.assert_allclose(scores[0], vecs[labels[0]] @ q[0], atol=1e-5)
    assert np.all(np.diff(scores[0]) <= 1e-6)


def test_search_refuses_a_wrong_dim(reader):
    ix, *_ = reader
    with pytest.raises(XmodalError, match="shape"):
        ix.search(np.ones((1, 3), np.float32), K)


def test_rows_in_order_and_unknown_labels_raise(reader):
    ix, rows, *_ = reader
    got = ix.rows([5, 2, 91])
    assert [(r.label, r.id, r.kind, r.parent_id) for r in got] == [
        (rows[i].label, rows[i].id, rows[i].kind, rows[i].parent_id) for i in (5, 2, 91)]
    assert got[0].metadata == rows[5].metadata and got[2].text == rows[91].text
    with pytest.raises(XmodalError, match="unknown label"):
        ix.rows([1, 10_000])


def test_labels_where(reader):
    ix, rows, *_ = reader

    def expect(keep):
        return [r.label for r in rows if keep(r)]

    assert ix.labels_where().tolist() == expect(lambda r: True)
    assert ix.labels_where(modality="image", kind="item").tolist() == expect(
        lambda r: r.modality == "image" and r.kind == "item")
    assert ix.labels_where(kind="caption").tolist() == expect(lambda r: r.kind == "caption")
    assert ix.labels_where(where={"license": "cc0", "n": [1, 2, 3, 5]}).tolist() == expect(
        lambda r: r.metadata["license"] == "cc0" and r.metadata["n"] in (1, 2, 3, 5))
    assert ix.labels_where(where={"src.site": "b"}).tolist() == expect(lambda r: r.metadata["src"]["site"] == "b")
    assert ix.labels_where(where={"license": []}).tolist() == []
    with pytest.raises(XmodalError, match="filter field"):
        ix.labels_where(where={"bad'field": 1})
    # rich filters: ranges, not, exists; unknown fields name the known ones
    assert ix.labels_where(where={"n": {">=": 3, "<": 40}}).tolist() == expect(lambda r: 3 <= r.metadata["n"] < 40)
    assert ix.labels_where(where={"n": {">": 80}, "license": {"not": "cc0"}}).tolist() == expect(
        lambda r: r.metadata["n"] > 80 and r.metadata["license"] != "cc0")
    assert ix.labels_where(where={"license": {"not": ["cc0", "by"]}}).tolist() == []
    assert ix.labels_where(where={"src.site": {"exists": True}}).tolist() == expect(lambda r: True)
    assert ix.labels_where(where={"src.site": {"exists": False}}).tolist() == []
    with pytest.raises(XmodalError, match=r"unknown filter field\(s\) licence: .*license, n, src.site"):
        ix.labels_where(where={"licence": "cc0"})


def test_label_of_and_vectors(reader):
    ix, rows, vecs, _ = reader
    assert ix.label_of(rows[8].id) == 8 and ix.label_of("no-such-id") is None
    got = ix.vectors(np.array([8, 0, 8], np.int64))
    assert got.dtype == np.float32 and got.shape == (3, vecs.shape[1])
    np.testing.assert_allclose(got, vecs[[8, 0, 8]], atol=1e-6)
    with pytest.raises(XmodalError):
        ix.vectors([10_000])


def test_check_encoder(reader):
    ix, _rows, vecs, _ = reader
    ix.check_encoder(FakeEncoder(dim=vecs.shape[1]))
    for other in (FakeEncoder(dim=vecs.shape[1], fingerprint="fp-2"), FakeEncoder(dim=vecs.shape[1], spec="other")):
        with pytest.raises(XmodalError, match="fingerprint"):
            ix.check_encoder(other)
    with pytest.raises(XmodalError, match="dim"):
        ix.check_encoder(FakeEncoder(dim=vecs.shape[1] + 1))


# ---- the encoder stack ------------------------------------------------------
@pytest.fixture(params=["fake", "tiny"])
def embedder(request, tiny_stack):
    return FakeEncoder() if request.param == "fake" else tiny_stack


def test_embedder_contract(embedder):
    assert isinstance(embedder, Embedder)
    assert isinstance(embedder.spec, str) and isinstance(embedder.fingerprint, str)
    assert isinstance(embedder.aligned, bool) and "text" in embedder.modalities
    texts = ["a red square", "a low hum", "a red square"]
    res = embedder.embed("text", texts, batch_size=2, workers=1, names=["q0", "q1", "q2"])
    assert isinstance(res, EncodeResult) and res.ok == [0, 1, 2] and res.errors == []
    assert res.vectors.dtype == np.float32 and res.vectors.shape == (3, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(res.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(res.vectors[0], res.vectors[2], atol=1e-6)  # deterministic
    again = embedder.embed("text", texts[:1])
    np.testing.assert_allclose(again.vectors[0], res.vectors[0], atol=1e-5)


def test_embedder_bad_items_and_missing_modalities(embedder):
    for modality in MODALITIES:
        if modality not in embedder.modalities:
            with pytest.raises(BadInput, match=f"no {modality} encoder"):
                embedder.embed(modality, [b"x"], names=["item-1"])
        elif modality != "text":
            res = embedder.embed(modality, [b"not a media file"], names=["item-1"])
            assert res.ok == [] and [e.item for e in res.errors] == ["item-1"]
            assert res.errors[0].reason
