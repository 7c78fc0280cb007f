"""Retrieval recall@k, MRR and mAP with CLIP_benchmark's definitions.

The one implementation of retrieval recall: alignment's evaluator (model
selection and held-out reports) and the benchmarks both call it, and the
search layer may (nothing here imports training code or FAISS).

Scores are queries x gallery inner products of L2-normalised vectors. A
query may have several relevant gallery entries (an image has ~5 captions):

- recall@k: the fraction of queries with AT LEAST ONE relevant entry in their
  top k. For text->image each caption is a query whose one relevant entry is
  its image; for image->text an image is a hit if any of its captions is in
  the top k (CLIP_benchmark's `recall_at_k` on `positive_pairs`).
- MRR: mean over queries of 1 / (rank of the first relevant entry).
- mAP: mean over queries of average precision
  AP = (1/R) * sum_i  i / rank_i   over the relevant entries found, where R
  is the number of relevant entries and rank_i the rank of the i-th one.

Rankings are by descending score; ties are broken by gallery position (the
earlier entry ranks first), i.e. a stable sort -- the same order a plain
Python `sorted(..., key=-score)` gives, so results are deterministic.
Queries without any relevant entry have no defined answer: they are left
out and counted.

A ranking may be truncated (an ANN index returns its top K only): relevant
entries that were not returned count as misses (rank = inf), so recall@k for
k <= K is exact, while MRR and mAP become MRR@K / AP@K-style lower bounds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterator, Sequence

import numpy as np

KS = (1, 5, 10)
DEFAULT_KS = KS
# score cells (relevant entries x gallery) compared at once: bounds memory
_CELLS = 1 << 22


@dataclass(frozen=True)
class Relevance:
    """Which gallery entries are relevant to each query: CSR layout.

    `gallery[offsets[q]:offsets[q+1]]` are the relevant gallery positions of
    query q."""

    offsets: np.ndarray  # int64 (n_queries + 1,)
    gallery: np.ndarray  # int64 (nnz,)

    @property
    def n_queries(self) -> int:
        return len(self.offsets) - 1

    def of(self, q: int) -> np.ndarray:
        """The relevant gallery positions of query q."""
        return self.gallery[self.offsets[q] : self.offsets[q + 1]]

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]]) -> "Relevance":
        """Relevance from one list of gallery positions per query."""
        sizes = np.array([len(x) for x in lists], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        flat = [int(g) for x in lists for g in x]
        return cls(offsets, np.asarray(flat, dtype=np.int64))

    @classmethod
    def from_keys(cls, query_keys: Sequence[Hashable], gallery_keys: Sequence[Hashable]) -> "Relevance":
        """Query q is relevant to gallery g when their keys are equal
        (e.g. a caption's parent image id and the image's id)."""
        where: dict = {}
        for g, key in enumerate(_plain(gallery_keys)):
            where.setdefault(key, []).append(g)
        return cls.from_lists([where.get(key, []) for key in _plain(query_keys)])


def _plain(keys: Sequence[Hashable]) -> list:
    # numpy scalars -> Python values, so 3 and np.int64(3) are one key
    return keys.tolist() if isinstance(keys, np.ndarray) else list(keys)


def normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32 (zero rows stay zero); arrays
    that are not 2-D pass through for the shape check to name them."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        return x
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _blocks(relevance: Relevance, n_gallery: int) -> Iterator[tuple[int, int]]:
    """Query ranges whose relevant entries x gallery fit in `_CELLS`."""
    sizes = np.diff(relevance.offsets)
    start, cells = 0, 0
    for q, size in enumerate(sizes):
        cells += int(size) * n_gallery
        if cells > _CELLS and q > start:
            yield start, q
            start, cells = q, int(size) * n_gallery
    if start < len(sizes):
        yield start, len(sizes)


def ranks_exact(queries: np.ndarray, gallery: np.ndarray, relevance: Relevance) -> list[np.ndarray]:
    """0-based ranks of every relevant gallery entry, by exact scoring.

    The rank of entry g for query q is the number of entries scoring higher,
    plus the tied entries that come before g in the gallery (stable order).
    Works in blocks of queries so a 25k x 5k score matrix never exists at
    once. Returns one sorted float64 array per query (empty: no relevant)."""
    q, g = normalise(queries), normalise(gallery)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"queries {q.shape} and gallery {g.shape} must be 2-D with the same dim")
    if len(q) != relevance.n_queries:
        raise ValueError(f"{len(q)} queries but relevance for {relevance.n_queries}")
    out: list[np.ndarray] = []
    positions = np.arange(len(g))
    for start, stop in _blocks(relevance, len(g)):
        scores = q[start:stop] @ g.T
        sizes = np.diff(relevance.offsets[start : stop + 1])
        owner = np.repeat(np.arange(stop - start), sizes)          # block row of each relevant entry
        rel = relevance.gallery[relevance.offsets[start] : relevance.offsets[stop]]
        row = scores[owner]                                           # (relevant entries, gallery)
        rel_s = row[np.arange(len(rel)), rel][:, None]
        ranks = (row > rel_s).sum(axis=1) + ((row == rel_s) & (positions[None, :] < rel[:, None])).sum(axis=1)
        for part in np.split(ranks.astype(np.float64), np.cumsum(sizes)[:-1]):
            out.append(np.sort(part))
    return out


def ranks_from_topk(topk: np.ndarray, relevance: Relevance) -> list[np.ndarray]:
    """0-based ranks of relevant entries within truncated result lists.

    `topk` is (n_queries, K) gallery positions, best first, -1 for padding.
    Relevant entries missing from a list get rank inf (a miss)."""
    topk = np.asarray(topk)
    if len(topk) != relevance.n_queries:
        raise ValueError(f"{len(topk)} result lists but relevance for {relevance.n_queries}")
    out: list[np.ndarray] = []
    for qi, row in enumerate(topk):
        pos = {int(g): r for r, g in enumerate(row) if g >= 0}
        ranks = [float(pos[int(g)]) if int(g) in pos else np.inf for g in relevance.of(qi)]
        out.append(np.sort(np.asarray(ranks, dtype=np.float64)))
    return out


def recall_fractions(ranks: list[np.ndarray], ks: Sequence[int] = KS) -> tuple[dict[int, float], int]:
    """({k: fraction of queries with a relevant entry ranked < k}, number of
    queries that have any relevant entry)."""
    first = np.array([r[0] for r in ranks if len(r)])
    if not len(first):
        return {k: float("nan") for k in ks}, 0
    return {k: float(np.mean(first < k)) for k in ks}, len(first)


def summarise(ranks: list[np.ndarray], ks: Sequence[int] = KS) -> dict[str, float]:
    """recall@k (in %), MRR and mAP (in %) from per-query relevant ranks.

    Queries without any relevant entry are left out and counted in
    `n_queries_without_relevant` (they have no defined answer)."""
    recall, n_valid = recall_fractions(ranks, ks)
    result: dict[str, float] = {"n_queries": float(n_valid),
                                "n_queries_without_relevant": float(len(ranks) - n_valid)}
    result.update({f"R@{k}": 100.0 * v for k, v in recall.items()})
    valid = [r for r in ranks if len(r)]
    if not valid:
        result["MRR"] = result["mAP"] = float("nan")
        return result
    first = np.array([r[0] for r in valid])
    result["MRR"] = 100.0 * float(np.mean(np.where(np.isfinite(first), 1.0 / (first + 1.0), 0.0)))
    aps = []
    for r in valid:
        found = r[np.isfinite(r)]
        hits = np.arange(1, len(found) + 1)
        aps.append(float(np.sum(hits / (found + 1.0))) / len(r))
    result["mAP"] = 100.0 * float(np.mean(aps))
    return result


def retrieval_metrics(queries: np.ndarray, gallery: np.ndarray, relevance: Relevance,
                      ks: Sequence[int] = KS) -> dict[str, float]:
    """Exact metrics for one direction (e.g. text->image), in %."""
    return summarise(ranks_exact(queries, gallery, relevance), ks)


@dataclass
class Recall:
    """Recall@k (fractions) of one direction (query modality -> target modality)."""

    direction: str
    recall: dict[int, float]
    n_queries: int
    n_targets: int
    n_skipped: int = 0

    def as_dict(self) -> dict:
        """JSON form: {"direction", "n_queries", "n_targets", "R@k"..., ["n_skipped"]}."""
        out = {"direction": self.direction, "n_queries": self.n_queries, "n_targets": self.n_targets}
        out.update({f"R@{k}": round(v, 4) for k, v in self.recall.items()})
        if self.n_skipped:
            out["n_skipped"] = self.n_skipped
        return out


def recall_at_k(queries: np.ndarray, query_keys: Sequence[Hashable], targets: np.ndarray,
                target_keys: Sequence[Hashable], ks: Sequence[int] = KS, direction: str = "") -> Recall:
    """Exact recall@k of every query against every target (cosine); a target
    is a positive of a query when their keys are equal (e.g. item ids)."""
    ranks = ranks_exact(queries, targets, Relevance.from_keys(query_keys, target_keys))
    recall, n_used = recall_fractions(ranks, ks)
    if not n_used:
        recall = {k: 0.0 for k in ks}
    return Recall(direction, recall, n_used, len(targets), len(ranks) - n_used)
