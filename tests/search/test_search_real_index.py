"""The engine over real indexes written by the indexer (FAISS + SQLite),
checked against brute force over the same vectors."""
import numpy as np
import pytest

from xmodal.alignment.core.contracts import l2_normalise
from xmodal.alignment.core.errors import XmodalError
from xmodal.search import Engine, Query

from search_fakes import FakeEncoder, random_corpus
from search_index import build_from_vectors, shard_rows


def brute_ids(rows, vecs, q, keep=lambda r: True):
    vecs = l2_normalise(vecs)
    scored = [(float(v @ q), r.id) for r, v in zip(rows, vecs) if keep(r)]
    return [i for _, i in sorted(scored, key=lambda t: -t[0])]


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    rows, vecs = random_corpus(n=120, captions=10, seed=7)
    path = build_from_vectors(tmp_path_factory.mktemp("ix") / "flat.xmodal", shard_rows(rows), vecs)
    return path, rows, vecs


@pytest.mark.parametrize("target", [None, "image", "audio", "text"])
def test_flat_index_equals_brute_force(flat, target):
    path, rows, vecs = flat
    engine = Engine.open(str(path), encoder=FakeEncoder())
    q = FakeEncoder().vector("query")
    hits = engine.search(Query(text="query"), k=12, target=target)

    def keep(r):
        if target in ("image", "audio"):
            return r.modality == target and r.kind == "item"
        return target is None or r.modality == "text"

    assert [h.id for h in hits] == brute_ids(rows, vecs, q, keep)[:12]
    assert hits[0].metadata["index"] == "flat"


def test_metadata_filter_and_caption_join(flat):
    path, rows, vecs = flat
    engine = Engine.open(str(path), encoder=FakeEncoder())
    q = FakeEncoder().vector("q2")
    hits = engine.search(Query(text="q2"), k=7, target="image", where={"license": "cc0"})
    expect = brute_ids(rows, vecs, q, lambda r: r.modality == "image" and r.kind == "item"
                       and r.metadata["license"] == "cc0")
    assert [h.id for h in hits] == expect[:7]
    caption = engine.search(Query(text="q2"), k=200, target="text")
    caps = [h for h in caption if h.metadata["kind"] == "caption"]
    assert len(caps) == 10 and all(h.metadata["parent_id"] and h.metadata["text"] for h in caps)


def test_ivf_index_under_a_filter_still_returns_k(tmp_path):
    rows, vecs = random_corpus(n=600, captions=0, seed=3)
    path = build_from_vectors(tmp_path / "ivf.xmodal", shard_rows(rows), vecs, factory="IVF16,Flat")
    engine = Engine.open(str(path), encoder=FakeEncoder())
    for where in ({"license": "cc0"}, {"n": 5}, None):
        hits = engine.search(Query(text="z"), k=25, target="audio", where=where, rescore=True)
        matching = [r for r in rows if r.modality == "audio"
                    and all(r.metadata.get(k) == v for k, v in (where or {}).items())]
        assert len(hits) == min(25, len(matching))
        assert all(h.modality == "audio" for h in hits)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_two_indexes_merge_and_new_generation_is_picked_up(tmp_path):
    r1, v1 = random_corpus(n=30, captions=0, seed=1, prefix="a-")
    r2, v2 = random_corpus(n=30, captions=0, seed=2, prefix="b-")
    p1 = build_from_vectors(tmp_path / "one.xmodal", shard_rows(r1), v1)
    p2 = build_from_vectors(tmp_path / "two.xmodal", shard_rows(r2), v2)
    engine = Engine.open([str(p1), str(p2)], encoder=FakeEncoder())
    q = FakeEncoder().vector("m")
    hits = engine.search(Query(text="m"), k=10)
    expect = brute_ids(r1 + r2, np.concatenate([v1, v2]), q)[:10]
    assert [h.id for h in hits] == expect
    # Rebuild index one with other rows: the running engine sees them.
    r3, v3 = random_corpus(n=30, captions=0, seed=9, prefix="c-")
    build_from_vectors(p1, shard_rows(r3), v3, shard="g0002-0000")
    hits = engine.search(Query(text="m"), k=10)
    assert [h.id for h in hits] == brute_ids(r3 + r2, np.concatenate([v3, v2]), q)[:10]
    assert engine.sources[0].manifest.generation == 2


def test_more_like_this_and_refused_encoder(flat):
    path, rows, vecs = flat
    engine = Engine.open(str(path), encoder=FakeEncoder())
    hits = engine.search(Query(id="audio1"), k=5)
    v = l2_normalise(vecs)[1]
    assert [h.id for h in hits] == [i for i in brute_ids(rows, vecs, v) if i != "audio1"][:5]
    with pytest.raises(XmodalError, match="fingerprint"):
        Engine.open(str(path), encoder=FakeEncoder(fingerprint="other"))
