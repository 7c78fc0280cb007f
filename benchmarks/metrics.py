"""Retrieval metrics with CLIP_benchmark's definitions.

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

A ranking may be truncated (an ANN index returns its top K only): relevant
entries that were not returned count as misses (rank = inf), so recall@k for
k <= K is exact, while MRR and mAP become MRR@K / AP@K-style lower bounds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10)


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
        return self.gallery[self.offsets[q] : self.offsets[q + 1]]

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]]) -> "Relevance":
        sizes = np.array([len(x) for x in lists], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        flat = [int(g) for x in lists for g in x]
        return cls(offsets, np.asarray(flat, dtype=np.int64))

    @classmethod
    def from_keys(cls, query_keys: Sequence[str], gallery_keys: Sequence[str]) -> "Relevance":
        """Query q is relevant to gallery g when their keys are equal
        (e.g. a caption's parent image id and the image's id)."""
        where: dict[str, list[int]] = {}
        for g, key in enumerate(gallery_keys):
            where.setdefault(key, []).append(g)
        return cls.from_lists([where.get(key, []) for key in query_keys])


def ranks_exact(
    queries: np.ndarray, gallery: np.ndarray, relevance: Relevance, chunk: int = 256
) -> list[np.ndarray]:
    """0-based ranks of every relevant gallery entry, by exact scoring.

    Works in query chunks so a 25k x 5k score matrix never exists at once.
    The rank of entry g for query q is the number of entries scoring higher,
    plus the tied entries that come before g in the gallery (stable order)."""
    q = _normalise(queries)
    g = _normalise(gallery)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"queries {q.shape} and gallery {g.shape} must be 2-D with the same dim")
    if len(q) != relevance.n_queries:
        raise ValueError(f"{len(q)} queries but relevance for {relevance.n_queries}")
    out: list[np.ndarray] = []
    positions = np.arange(len(g))
    for start in range(0, len(q), chunk):
        scores = q[start : start + chunk] @ g.T
        for row, s in enumerate(scores):
            rel = relevance.of(start + row)
            if len(rel) == 0:
                out.append(np.zeros(0, dtype=np.float64))
                continue
            rel_s = s[rel][:, None]
            higher = (s[None, :] > rel_s).sum(axis=1)
            tied_before = ((s[None, :] == rel_s) & (positions[None, :] < rel[:, None])).sum(axis=1)
            out.append(np.sort((higher + tied_before).astype(np.float64)))
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        return x
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranks_from_topk(topk: np.ndarray, relevance: Relevance) -> list[np.ndarray]:
    """0-based ranks of relevant entries within truncated result lists.

    `topk` is (n_queries, K) gallery positions, best first, -1 for padding.
    Relevant entries missing from a list get rank inf (a miss)."""
    topk = np.asarray(topk)
    if len(topk) != relevance.n_queries:
        raise ValueError(f"{len(topk)} result lists but relevance for {relevance.n_queries}")
    out: list[np.ndarray] = []
    for qi, row in enumerate(topk):
        rel = relevance.of(qi)
        pos = {int(g): r for r, g in enumerate(row) if g >= 0}
        ranks = [float(pos[int(g)]) if int(g) in pos else np.inf for g in rel]
        out.append(np.sort(np.asarray(ranks, dtype=np.float64)))
    return out


def summarise(ranks: list[np.ndarray], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """recall@k (in %), MRR and mAP (in %) from per-query relevant ranks.

    Queries without any relevant entry are left out and counted in
    `n_queries_without_relevant` (they have no defined answer)."""
    valid = [r for r in ranks if len(r)]
    result: dict[str, float] = {"n_queries": float(len(valid))}
    result["n_queries_without_relevant"] = float(len(ranks) - len(valid))
    if not valid:
        for k in ks:
            result[f"R@{k}"] = float("nan")
        result["MRR"] = result["mAP"] = float("nan")
        return result
    first = np.array([r[0] for r in valid])
    for k in ks:
        result[f"R@{k}"] = 100.0 * float(np.mean(first < k))
    result["MRR"] = 100.0 * float(np.mean(np.where(np.isfinite(first), 1.0 / (first + 1.0), 0.0)))
    aps = []
    for r in valid:
        found = r[np.isfinite(r)]
        hits = np.arange(1, len(found) + 1)
        aps.append(float(np.sum(hits / (found + 1.0))) / len(r))
    result["mAP"] = 100.0 * float(np.mean(aps))
    return result


def retrieval_metrics(
    queries: np.ndarray,
    gallery: np.ndarray,
    relevance: Relevance,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, float]:
    """Exact metrics for one direction (e.g. text->image)."""
    return summarise(ranks_exact(queries, gallery, relevance), ks)
