"""Auto-choice of the index family, and its tuned recall checked against
brute force on fresh held-out queries (never indexed, never used to tune)."""
from __future__ import annotations

import numpy as np
import pytest

from xmodal.alignment.core.errors import XmodalError
from xmodal.indexer import open_index
from xmodal.alignment.core.sizes import parse_memory
from xmodal.indexer.factory import Thresholds, choose_factory
from xmodal.indexer.indexing import IndexOptions
from xmodal.indexer.searching import recall_at_k

from indexer_helpers import clustered, synthetic_index

SMALL = Thresholds(flat_max=1000, hnsw_max=3000)
TARGET = 0.95


def test_choice_follows_size_memory_and_recall():
    assert choose_factory(10_000, 384).family == "flat"
    assert choose_factory(200_000, 384).family == "hnsw"
    big = choose_factory(1_000_000, 384)
    assert big.family == "ivf-flat" and big.factory == "IVF1024,Flat"
    pq = choose_factory(1_000_000, 384, memory=parse_memory("256M"))
    assert pq.family == "ivf-pq" and pq.factory.startswith("OPQ") and pq.est_bytes <= 256 * 1024**2
    assert choose_factory(200_000, 384, recall=0.999).family == "flat"


@pytest.mark.parametrize("n,memory,family", [
    (800, None, "flat"),
    (2500, None, "hnsw"),
    (5000, None, "ivf-flat"),
    # raw vectors need 288 kB: only PQ codes fit. OPQ training is the slow part.
    pytest.param(4000, 150_000, "ivf-pq", marks=pytest.mark.slow),
])
def test_auto_choice_meets_recall_target(tmp_path, n, memory, family):
    dim = 16 if family == "ivf-pq" else 32  # PQ/OPQ training time grows with dim
    data = clustered(n + 300, dim, clusters=30, spread=0.5, seed=3)
    base, held_out = data[:n], data[n:]
    # scan_fallback off: at test sizes an exact scan is as fast as any ANN
    # index, and this test is about each family meeting its target.
    opts = IndexOptions(memory=memory or IndexOptions().memory, recall=TARGET, thresholds=SMALL,
                        tune_queries=300, scan_fallback=False)
    m = synthetic_index(tmp_path, base, opts)
    assert m.stats.family == family
    assert m.stats.recall_target_met and m.stats.recall_at_10 >= TARGET
    if family == "ivf-pq":
        assert m.stats.memory_bytes < base.nbytes  # compressed below the raw vectors
    ix = open_index(tmp_path)
    _, found = ix.search(held_out, 10)
    truth = np.argsort(-(held_out @ base.T), axis=1)[:, :10]  # labels are row numbers here
    recall = recall_at_k(found, truth, 10)
    assert recall >= TARGET - 0.03, (m.factory, m.search_params, recall)


def test_factory_override_and_bad_factory(tmp_path):
    x = clustered(600, 16)
    m = synthetic_index(tmp_path / "a", x, IndexOptions(factory="IVF8,Flat", tune_queries=100))
    assert m.factory == "IVF8,Flat" and "nprobe" in m.search_params
    with pytest.raises(XmodalError, match="invalid"):
        synthetic_index(tmp_path / "b", x, IndexOptions(factory="NoSuchIndex42"))


def test_ann_that_cannot_beat_a_scan_falls_back_to_flat(tmp_path):
    """Structureless (uniform) vectors: IVF must probe nearly every list to
    reach the target, so the auto-choice keeps an exact Flat index instead."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    m = synthetic_index(tmp_path, x, IndexOptions(recall=0.99, thresholds=SMALL, tune_queries=200))
    assert m.factory == "Flat" and "IVF" in m.stats.fallback
    assert m.stats.recall_at_10 == 1.0


def test_full_rebuilds_do_not_pile_up_tombstones(tmp_path):
    x = np.random.default_rng(3).standard_normal((300, 16)).astype(np.float32)
    opts = IndexOptions(factory="HNSW8", tune_queries=50)
    for _ in range(3):  # HNSW cannot remove ids: purging must not depend on the index type
        m = synthetic_index(tmp_path, x, opts)
    ix = open_index(tmp_path)
    assert m.generation == 3 and len(ix.labels_where()) == 300
    assert len(ix.meta.deleted_labels(m.generation)) <= 300  # only the build just replaced
