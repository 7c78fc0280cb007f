"""Retrieval metric definitions vs brute-force pure-Python references."""
import math

import numpy as np
import pytest

from xmodal.alignment import retrieval_metrics as rm
from xmodal.alignment.retrieval_metrics import (
    Relevance,
    recall_at_k,
    ranks_exact,
    ranks_from_topk,
    retrieval_metrics,
    summarise,
)


def brute_force(scores, relevant, ks=(1, 5, 10)):
    """Loop-by-loop reference: stable sort by descending score per query."""
    recalls = {k: [] for k in ks}
    rr, aps = [], []
    for q, row in enumerate(scores):
        rel = set(relevant[q])
        if not rel:
            continue
        order = sorted(range(len(row)), key=lambda j: -row[j])  # stable: ties keep gallery order
        for k in ks:
            recalls[k].append(1.0 if any(j in rel for j in order[:k]) else 0.0)
        first = next(r for r, j in enumerate(order) if j in rel)
        rr.append(1.0 / (first + 1))
        found, precs = 0, []
        for r, j in enumerate(order):
            if j in rel:
                found += 1
                precs.append(found / (r + 1))
        aps.append(sum(precs) / len(rel))
    out = {f"R@{k}": 100 * sum(v) / len(v) for k, v in recalls.items()}
    out["MRR"] = 100 * sum(rr) / len(rr)
    out["mAP"] = 100 * sum(aps) / len(aps)
    return out


def normalised(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def check(queries, gallery, relevant):
    rel = Relevance.from_lists(relevant)
    got = retrieval_metrics(queries, gallery, rel)
    want = brute_force((normalised(queries) @ normalised(gallery).T).tolist(), relevant)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    return got


def test_text_to_image_one_relevant_image_per_caption():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(12, 8)).astype(np.float32)
    caption_parent = [i for i in range(12) for _ in range(3)]  # 3 captions each
    captions = images[caption_parent] + rng.normal(scale=1.2, size=(36, 8)).astype(np.float32)
    got = check(captions, images, [[p] for p in caption_parent])
    assert got["n_queries"] == 36
    assert 0 < got["R@1"] < 100  # noisy enough that the reference is non-trivial


def test_image_to_text_any_caption_is_a_hit():
    rng = np.random.default_rng(2)
    images = rng.normal(size=(10, 6)).astype(np.float32)
    # uneven caption counts: multi-caption items with 1..5 captions
    counts = [1, 5, 2, 3, 5, 1, 4, 2, 5, 3]
    parent = [i for i, c in enumerate(counts) for _ in range(c)]
    captions = images[parent] + rng.normal(scale=1.0, size=(len(parent), 6)).astype(np.float32)
    relevant = [[c for c, p in enumerate(parent) if p == i] for i in range(10)]
    check(images, captions, relevant)


def test_known_answer_any_caption_counts():
    # image 0's captions rank 2nd and 3rd -> hit at k>=2, miss at k=1,
    # rank of first relevant = 2 -> RR 1/2, AP = (1/2 + 2/3) / 2.
    gallery = np.array([[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1]], dtype=np.float32)
    query = np.array([[1, 0]], dtype=np.float32)
    got = summarise(ranks_exact(query, gallery, Relevance.from_lists([[1, 2]])), ks=(1, 2))
    assert got["R@1"] == 0 and got["R@2"] == 100
    assert got["MRR"] == pytest.approx(50.0)
    assert got["mAP"] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)


def test_ties_break_by_gallery_order():
    # all scores equal: the earlier gallery entry ranks first
    gallery = np.ones((5, 3), dtype=np.float32)
    queries = np.ones((3, 3), dtype=np.float32)
    relevant = [[0], [4], [2, 3]]
    ranks = ranks_exact(queries, gallery, Relevance.from_lists(relevant))
    assert [r.tolist() for r in ranks] == [[0.0], [4.0], [2.0, 3.0]]
    check(queries, gallery, relevant)


def test_random_ties_match_brute_force():
    rng = np.random.default_rng(3)
    # few distinct values -> many exact ties after normalisation
    gallery = rng.integers(0, 2, size=(30, 4)).astype(np.float32) + np.eye(30, 4, dtype=np.float32)
    queries = rng.integers(0, 2, size=(20, 4)).astype(np.float32) + 0.5
    relevant = [list(rng.choice(30, size=rng.integers(1, 4), replace=False)) for _ in range(20)]
    check(queries, gallery, relevant)


def test_queries_without_relevant_are_excluded_and_counted():
    rng = np.random.default_rng(4)
    g = rng.normal(size=(5, 4)).astype(np.float32)
    q = rng.normal(size=(3, 4)).astype(np.float32)
    got = retrieval_metrics(q, g, Relevance.from_lists([[0], [], [1]]))
    assert got["n_queries"] == 2 and got["n_queries_without_relevant"] == 1


def test_truncated_topk_counts_unreturned_as_misses():
    rel = Relevance.from_lists([[3], [0, 1], [2]])
    topk = np.array([[3, 1], [5, 1], [-1, -1]])
    ranks = ranks_from_topk(topk, rel)
    assert ranks[0].tolist() == [0.0]
    assert ranks[1][0] == 1.0 and math.isinf(ranks[1][1])
    assert math.isinf(ranks[2][0])
    got = summarise(ranks, ks=(1, 2))
    assert got["R@1"] == pytest.approx(100 / 3)
    assert got["R@2"] == pytest.approx(200 / 3)
    assert got["MRR"] == pytest.approx(100 * (1 + 0.5 + 0) / 3)
    assert got["mAP"] == pytest.approx(100 * (1 + 0.25 + 0) / 3)


def test_full_topk_equals_exact():
    rng = np.random.default_rng(5)
    g = normalised(rng.normal(size=(15, 5))).astype(np.float32)
    q = normalised(rng.normal(size=(7, 5))).astype(np.float32)
    rel = Relevance.from_lists([list(rng.choice(15, 2, replace=False)) for _ in range(7)])
    order = np.argsort(-(q @ g.T), axis=1, kind="stable")
    assert summarise(ranks_from_topk(order, rel)) == summarise(ranks_exact(q, g, rel))


def test_relevance_from_keys():
    rel = Relevance.from_keys(["a", "b", "z"], ["b", "a", "b"])
    assert [rel.of(i).tolist() for i in range(3)] == [[1], [0, 2], []]


def test_dim_mismatch_is_refused():
    with pytest.raises(ValueError):
        ranks_exact(np.ones((2, 3)), np.ones((4, 5)), Relevance.from_lists([[0], [1]]))


def brute_recall(q, qk, t, tk, k):
    """Key-based recall: a query hits when a same-key target is in its top k."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    hits, used = 0, 0
    for i in range(len(q)):
        if qk[i] not in set(tk):
            continue
        used += 1
        scores = [(-float(q[i] @ t[j]), j) for j in range(len(t))]
        top = [j for _, j in sorted(scores)[:k]]
        hits += any(tk[j] == qk[i] for j in top)
    return hits / used


@pytest.mark.parametrize("cells", [1 << 22, 30])  # one block, and many small blocks
def test_recall_at_k_matches_brute_force(monkeypatch, cells):
    monkeypatch.setattr(rm, "_CELLS", cells)
    rng = np.random.default_rng(3)
    q, t = rng.normal(size=(40, 6)), rng.normal(size=(25, 6))
    qk = rng.integers(0, 30, 40)   # some queries have no positive among targets
    tk = rng.integers(0, 30, 25)   # and some targets share a key (several positives)
    got = recall_at_k(q, qk, t, tk, ks=(1, 5, 10), direction="a->b")
    for k in (1, 5, 10):
        assert got.recall[k] == pytest.approx(brute_recall(q, qk, t, tk, k))
    assert got.n_queries + got.n_skipped == 40 and got.n_skipped > 0 and got.n_targets == 25
    assert got.as_dict()["direction"] == "a->b"


def test_blocked_ranks_equal_one_block(monkeypatch):
    rng = np.random.default_rng(6)
    g, q = rng.normal(size=(20, 4)), rng.normal(size=(9, 4))
    rel = Relevance.from_lists([list(rng.choice(20, rng.integers(0, 4), replace=False)) for _ in range(9)])
    whole = ranks_exact(q, g, rel)
    monkeypatch.setattr(rm, "_CELLS", 1)  # one query per block
    assert [r.tolist() for r in ranks_exact(q, g, rel)] == [r.tolist() for r in whole]


def test_benchmarks_use_the_same_implementation():
    from xmodal.benchmarks import metrics

    assert metrics.ranks_exact is ranks_exact and metrics.summarise is rm.summarise
