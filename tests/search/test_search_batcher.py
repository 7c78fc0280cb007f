"""Concurrent queries are encoded together, each gets its own answer, and
one bad query in a batch does not fail the others."""
import threading
import time

import numpy as np
import pytest

from xmodal.alignment.core.errors import BadInput
from xmodal.search import Engine, Query, SearchOptions
from xmodal.search.batcher import EncodeBatcher

from search_fakes import FakeEncoder, FakeIndex, random_corpus


class SlowEncoder(FakeEncoder):
    """Takes a while per call, so concurrent queries pile up meanwhile."""

    def embed(self, modality, items, batch_size=32, workers=1, names=None):
        time.sleep(0.05)
        return super().embed(modality, items, batch_size, workers, names)


@pytest.fixture()
def engine():
    rows, vecs = random_corpus(n=30)
    return Engine.open(["/x/a.xmodal"], encoder=SlowEncoder(), opener=lambda p: FakeIndex(rows, vecs))


def run_concurrently(fn, args):
    out = [None] * len(args)

    def work(i):
        try:
            out[i] = fn(args[i])
        except Exception as exc:  # collected, checked by the test
            out[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_queries_share_encoder_calls_and_get_their_own_vectors(engine):
    batcher = EncodeBatcher(engine)
    texts = [f"query {i}" for i in range(24)]
    results = run_concurrently(lambda t: batcher.encode(Query(text=t)), texts)
    batcher.close()
    assert batcher.encoded == 24 and batcher.batches < 24  # they were batched
    for text, (vec, excl) in zip(texts, results):
        np.testing.assert_allclose(vec[0], FakeEncoder().vector(text), atol=1e-6)
        assert excl == set()


def test_a_bad_query_fails_alone(engine):
    batcher = EncodeBatcher(engine)
    queries = [Query(text="good a"), Query(image=b"not supported by the fake"), Query(text="good b"),
               Query(id="image0"), Query(id="missing")]
    results = run_concurrently(batcher.encode, queries)
    batcher.close()
    assert isinstance(results[1], BadInput) and isinstance(results[4], BadInput)
    np.testing.assert_allclose(results[0][0][0], FakeEncoder().vector("good a"), atol=1e-6)
    np.testing.assert_allclose(results[2][0][0], FakeEncoder().vector("good b"), atol=1e-6)
    assert results[3][1] == {(0, 0)}  # more-like-this excludes image0 itself


def test_search_vector_equals_search(engine):
    vec, excl = engine.encode(Query(id="audio1"))
    a = engine.search_vector(vec, SearchOptions(k=5, target="image"), exclude=excl)
    b = engine.search(Query(id="audio1"), k=5, target="image")
    assert [h.id for h in a] == [h.id for h in b]
    with pytest.raises(BadInput, match="dim"):
        engine.search_vector(np.ones(3), SearchOptions(k=5))
