"""Engine logic against brute force over in-memory fake indexes."""
import numpy as np
import pytest

from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.search import Engine, Query, SearchOptions

from search_fakes import FakeEncoder, FakeIndex, FakeManifest, random_corpus


def make_engine(*indexes, encoder=None):
    table = {f"/ix/{i}.xmodal": ix for i, ix in enumerate(indexes)}
    return Engine.open(list(table), encoder=encoder or FakeEncoder(), opener=table.__getitem__)


def brute(ix, q, labels=None):
    labels = list(ix.rows_) if labels is None else list(labels)
    scores = {l: float(ix.vecs[l] @ q) for l in labels}
    return sorted(labels, key=lambda l: (-scores[l], l))


def test_text_query_matches_brute_force():
    rows, vecs = random_corpus()
    ix = FakeIndex(rows, vecs)
    engine = make_engine(ix)
    hits = engine.search(Query(text="a dog"), k=7)
    q = FakeEncoder().vector("a dog")
    expect = [ix.rows_[l].id for l in brute(ix, q)[:7]]
    assert [h.id for h in hits] == expect
    assert hits[0].score == pytest.approx(float(ix.vecs[brute(ix, q)[0]] @ q), abs=1e-5)
    assert hits[0].metadata["index"] == "0"


@pytest.mark.parametrize("target", ["image", "audio", "text"])
def test_target_filter_returns_only_that_modality_and_k(target):
    rows, vecs = random_corpus()
    ix = FakeIndex(rows, vecs)
    hits = make_engine(ix).search(Query(text="x"), k=10, target=target)
    assert len(hits) == 10
    assert {h.modality for h in hits} == {target}
    q = FakeEncoder().vector("x")
    if target == "text":
        allowed = [r.label for r in rows if r.modality == "text"]  # items + captions
    else:
        allowed = [r.label for r in rows if r.modality == target and r.kind == "item"]
    assert [h.id for h in hits] == [ix.rows_[l].id for l in brute(ix, q, allowed)[:10]]


def test_image_target_never_returns_captions_text_target_does():
    rows, vecs = random_corpus(captions=5)
    # Make the query identical to a caption vector: it must rank first for
    # text, and must not appear for image.
    cap = next(r for r in rows if r.kind == "caption")
    ix = FakeIndex(rows, vecs)
    q = ",".join(str(x) for x in ix.vecs[cap.label])
    engine = make_engine(ix)
    text_hits = engine.search(Query(text="vec:" + q), k=3, target="text")
    assert text_hits[0].id == cap.id and text_hits[0].metadata["parent_id"] == cap.parent_id
    assert text_hits[0].metadata["kind"] == "caption"
    image_hits = engine.search(Query(text="vec:" + q), k=40, target="image")
    assert all(h.metadata["kind"] == "item" for h in image_hits)


def test_where_filter_gives_k():
    rows, vecs = random_corpus(n=60)
    ix = FakeIndex(rows, vecs)
    hits = make_engine(ix).search(Query(text="y"), k=8, target="image", where={"license": "cc0"})
    allowed = [r.label for r in rows if r.modality == "image" and r.kind == "item"
               and r.metadata["license"] == "cc0"]
    assert len(allowed) >= 8
    q = FakeEncoder().vector("y")
    assert [h.id for h in hits] == [ix.rows_[l].id for l in brute(ix, q, allowed)[:8]]


def test_fewer_matches_than_k_returns_all_matches():
    rows, vecs = random_corpus(n=30)
    hits = make_engine(FakeIndex(rows, vecs)).search(Query(text="z"), k=50, where={"n": 4})
    assert [h.id for h in hits] == ["audio4"]


def test_more_like_this_excludes_the_item_and_ranks_by_its_vector():
    rows, vecs = random_corpus()
    ix = FakeIndex(rows, vecs)
    hits = make_engine(ix).search(Query(id="image0"), k=5)
    assert "image0" not in [h.id for h in hits] and len(hits) == 5
    order = [ix.rows_[l].id for l in brute(ix, ix.vecs[0]) if l != 0][:5]
    assert [h.id for h in hits] == order


def test_unknown_id_and_bad_embedding_are_bad_input():
    rows, vecs = random_corpus()
    engine = make_engine(FakeIndex(rows, vecs))
    with pytest.raises(BadInput, match="not in the index"):
        engine.search(Query(id="nope"))
    with pytest.raises(BadInput, match="dim 8"):
        engine.search(Query(embedding=[1.0, 2.0]))
    with pytest.raises(BadInput, match="NaN"):
        engine.search(Query(embedding=[float("nan")] * 8))
    with pytest.raises(BadInput, match="k"):
        engine.search(Query(text="a"), k=0)
    with pytest.raises(BadInput, match="target"):
        engine.search(Query(text="a"), target="video")
    with pytest.raises(BadInput, match="exactly one"):
        Query(text="a", id="b")
    with pytest.raises(BadInput, match="empty"):
        Query(text="   ")


def test_embedding_query_equals_text_query_with_same_vector():
    rows, vecs = random_corpus()
    engine = make_engine(FakeIndex(rows, vecs))
    v = FakeEncoder().vector("hello")
    a = engine.search(Query(text="hello"), k=6)
    b = engine.search(Query(embedding=(3 * v).tolist()), k=6)  # unnormalised on purpose
    assert [h.id for h in a] == [h.id for h in b]


def test_dedup_collapses_near_duplicates_and_still_returns_k():
    rows, vecs = random_corpus(n=30, captions=0)
    noise = np.random.default_rng(5).standard_normal((2, vecs.shape[1])).astype(np.float32)
    vecs[1] = vecs[0] + 0.02 * noise[0]  # near-duplicates of row 0
    vecs[2] = vecs[0] + 0.03 * noise[1]
    ix = FakeIndex(rows, vecs)
    q = ",".join(str(x) for x in ix.vecs[0])
    engine = make_engine(ix)
    plain = engine.search(Query(text="vec:" + q), k=5)
    assert [h.id for h in plain[:3]] == ["image0", "audio1", "text2"]
    deduped = engine.search(Query(text="vec:" + q), k=5, dedup=0.99)
    ids = [h.id for h in deduped]
    assert ids[0] == "image0" and "audio1" not in ids and "text2" not in ids
    assert len(ids) == 5
    with pytest.raises(BadInput):
        engine.search(Query(text="a"), dedup=1.5)


def test_rescore_asks_the_reader_for_exact_scores():
    rows, vecs = random_corpus(n=20, captions=0)
    ix = FakeIndex(rows, vecs)
    real_search = ix.search

    def noisy(q, k, labels=None, rescore=False):  # an ANN whose scores are off unless re-scored
        s, l = real_search(q, k, labels)
        return (s, l) if rescore else (s + 0.5 * np.random.default_rng(1).standard_normal(s.shape).astype(np.float32), l)

    ix.search = noisy
    engine = make_engine(ix)
    q = FakeEncoder().vector("r")
    hits = engine.search(Query(text="r"), k=20, rescore=True)
    assert [h.id for h in hits] == [ix.rows_[l].id for l in brute(ix, q)]
    assert hits[0].score == pytest.approx(float(ix.vecs[brute(ix, q)[0]] @ q), abs=1e-5)
    assert [h.id for h in engine.search(Query(text="r"), k=20)] != [h.id for h in hits]


def test_dedup_reads_each_stored_vector_once():
    rows, vecs = random_corpus(n=30, captions=0)
    vecs[1] = vecs[0] + 0.02 * np.random.default_rng(5).standard_normal(vecs.shape[1]).astype(np.float32)
    ix = FakeIndex(rows, vecs)
    real_vectors, fetched = ix.vectors, []

    def counting(labels):
        fetched.extend(int(x) for x in labels)
        return real_vectors(labels)

    ix.vectors = counting
    q = ",".join(str(x) for x in ix.vecs[0])
    hits = make_engine(ix).search(Query(text="vec:" + q), k=5, dedup=0.99, rescore=True)
    ids = [h.id for h in hits]
    assert ids[0] == "image0" and "audio1" not in ids and len(ids) == 5
    assert len(fetched) == len(set(fetched))  # no candidate's vector is read twice


def test_several_indexes_merge_by_score():
    r1, v1 = random_corpus(n=20, seed=1, prefix="a-", captions=0)
    r2, v2 = random_corpus(n=20, seed=2, prefix="b-", captions=0)
    ix1, ix2 = FakeIndex(r1, v1), FakeIndex(r2, v2)
    engine = make_engine(ix1, ix2)
    hits = engine.search(Query(text="m"), k=10)
    q = FakeEncoder().vector("m")
    pool = [(float(ix.vecs[l] @ q), ix.rows_[l].id) for ix in (ix1, ix2) for l in ix.rows_]
    assert [h.id for h in hits] == [i for _, i in sorted(pool, key=lambda t: -t[0])[:10]]
    assert {h.metadata["index"] for h in hits} <= {"0", "1"}


def test_indexes_from_different_encoders_are_refused():
    r, v = random_corpus()
    other = FakeIndex(r, v, FakeManifest(encoder_fingerprint="fp-2", encoder_spec="other"))
    with pytest.raises(XmodalError, match="different encoders"):
        make_engine(FakeIndex(r, v), other)
    with pytest.raises(XmodalError, match="fingerprint"):
        make_engine(other, encoder=FakeEncoder(fingerprint="fp-1"))


def test_picks_up_new_generation_without_restart():
    rows, vecs = random_corpus(n=10, captions=0)
    old = FakeIndex(rows, vecs)
    rows2, vecs2 = random_corpus(n=10, captions=0, prefix="new-")
    new = FakeIndex(rows2, vecs2, FakeManifest(generation=2))
    table = {"/ix/a.xmodal": old}
    engine = Engine.open(["/ix/a.xmodal"], encoder=FakeEncoder(), opener=table.__getitem__)
    assert not engine.search(Query(text="q"), k=3)[0].id.startswith("new-")
    table["/ix/a.xmodal"] = new
    old.stale = True
    assert all(h.id.startswith("new-") for h in engine.search(Query(text="q"), k=3))
    assert engine.sources[0].manifest.generation == 2


def test_search_batch_encodes_texts_in_one_call():
    rows, vecs = random_corpus()
    enc = FakeEncoder()
    engine = make_engine(FakeIndex(rows, vecs), encoder=enc)
    batch = engine.search_batch([Query(text="a"), Query(text="b"), Query(id="image0")], SearchOptions(k=3))
    assert enc.calls == 1 and len(batch) == 3
    assert [h.id for h in batch[1]] == [h.id for h in engine.search(Query(text="b"), k=3)]


def test_stage_timings_are_recorded():
    rows, vecs = random_corpus()
    stages = {}
    make_engine(FakeIndex(rows, vecs)).search(Query(text="a"), stages=stages)
    assert set(stages) == {"encode", "search", "metadata"}
