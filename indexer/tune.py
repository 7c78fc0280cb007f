"""Tuning search parameters against exact search on held-out queries.

For each index kind the knob is swept from cheap to expensive and the first
setting whose measured recall@10 (vs IndexFlatIP on the same vectors) meets
the target wins. For PQ indexes, exact re-ranking of rerank*k candidates
from the stored vectors is tried as well, and the fastest setting that meets
the target is kept. The measured recall, memory and latency are returned for
the manifest; a target that cannot be met is reported, not hidden.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import faiss
import numpy as np

from .directions import Direction
from .searching import VectorsOf, exact_search, index_kind, recall_at_k, search

K = 10
EF_GRID = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024]
RERANK_GRID = [1, 2, 4, 8, 16]


@dataclass
class TuneResult:
    """Chosen search parameters and what they measured."""

    search_params: dict[str, Any]
    recall_at_10: float
    target: float
    met: bool
    qps: float
    latency_ms_mean: float
    queries: int
    tried: list[dict[str, Any]] = field(default_factory=list)
    exact_qps: float = 0.0  # brute-force scan of the same vectors, same queries
    scanned: float = 1.0  # share of stored vectors each query is compared with
    # recall@10 per tuning set at the chosen setting: "all" (unrestricted,
    # same-distribution queries) and each restricted cross-modal direction;
    # recall_at_10 is the minimum of these (the most demanding set).
    by_direction: dict[str, float] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        return {
            "recall_at_10": round(self.recall_at_10, 4), "recall_target": self.target,
            "recall_target_met": self.met, "qps": round(self.qps, 1),
            "latency_ms_mean": round(self.latency_ms_mean, 4), "tune_queries": self.queries,
            "exact_scan_qps": round(self.exact_qps, 1), "scanned_fraction": round(self.scanned, 4),
            "recall_at_10_by_direction": {k: round(v, 4) for k, v in self.by_direction.items()},
            "tune_trials": self.tried,
        }


def pick_queries(n: int, n_queries: int, rng: np.random.Generator,
                 exclude: np.ndarray | None = None) -> np.ndarray:
    """Rows of the corpus used as leave-one-out queries, preferring rows the
    index was not trained on. Each query is a real point of the data
    distribution; its own label is dropped from both the exact and the ANN
    results, so it is scored exactly like an unseen query from that
    distribution (no free rank-1 self match)."""
    pool = np.arange(n)
    if exclude is not None and len(exclude) < n - n_queries:
        pool = np.setdiff1d(pool, exclude)
    return np.sort(rng.choice(pool, size=min(n_queries, len(pool)), replace=False))


def drop_self(found: np.ndarray, self_labels: np.ndarray | None, k: int) -> np.ndarray:
    """Remove each query's own label from its result row; keep the first k."""
    if self_labels is None:
        return found[:, :k]
    out = np.full((len(found), k), -1, np.int64)
    for i, row in enumerate(found):
        keep = row[row != self_labels[i]][:k]
        out[i, : len(keep)] = keep
    return out


def in_memory_lookup(vectors: np.ndarray, labels: np.ndarray) -> VectorsOf:
    """vectors_of(labels) over an in-memory matrix whose rows carry `labels`."""
    order = np.argsort(labels)
    sorted_labels = labels[order]

    def lookup(want: np.ndarray) -> np.ndarray:
        pos = order[np.searchsorted(sorted_labels, want)]
        return np.asarray(vectors[pos], dtype=np.float32)

    return lookup


def _measure(index: faiss.Index, q: np.ndarray, truth: np.ndarray, params: dict[str, Any],
             vectors_of: VectorsOf | None, self_labels: np.ndarray | None) -> tuple[float, float]:
    extra = 0 if self_labels is None else 1
    t0 = time.perf_counter()
    _, found = search(index, q, K + extra, params, None, vectors_of)
    dt = time.perf_counter() - t0
    return recall_at_k(drop_self(found, self_labels, K), truth, K), len(q) / max(dt, 1e-9)


def _single_latency_ms(index: faiss.Index, q: np.ndarray, params: dict[str, Any],
                       vectors_of: VectorsOf | None, n: int = 100) -> float:
    """Mean wall time of one-query searches (what an interactive user waits),
    on one thread: OpenMP fan-out for a single query only adds barrier
    waits, which on a busy machine inflate latency tenfold."""
    sub = q[:n]
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        t0 = time.perf_counter()
        for row in sub:
            search(index, row[None, :], K, params, None, vectors_of)
        return (time.perf_counter() - t0) * 1000 / max(len(sub), 1)
    finally:
        faiss.omp_set_num_threads(threads)


def scan_fraction(index: faiss.Index, q: np.ndarray, params: dict[str, Any]) -> float:
    """Share of the stored vectors one query computes a distance to, counted
    by FAISS (not timed, so it does not depend on machine load)."""
    kind = index_kind(index)
    if kind == "flat" or index.ntotal == 0:
        return 1.0
    stats = faiss.cvar.indexIVF_stats if kind == "ivf" else faiss.cvar.hnsw_stats
    stats.reset()
    search(index, q, K, params)  # exact re-ranking excluded: it is k x rerank, not a scan
    ndis = stats.ndis
    if kind == "ivf":
        ndis += faiss.extract_index_ivf(index).nlist * len(q)  # coarse quantizer
    return float(ndis) / (len(q) * index.ntotal)


def _nprobe_grid(index: faiss.Index) -> list[int]:
    nlist = faiss.extract_index_ivf(index).nlist
    grid, p = [], 1
    while p < nlist:
        grid.append(p)
        p *= 2
    return grid + [nlist]


def _restricted_recall(index: faiss.Index, vectors: np.ndarray, d: Direction, truth: np.ndarray,
                       params: dict[str, Any], vectors_of: VectorsOf | None) -> float:
    """Recall@10 of d's queries searched with the reader's IDSelector
    restriction to the target subset, vs exact search over that subset."""
    q = np.ascontiguousarray(vectors[d.query_rows], dtype=np.float32)
    _, found = search(index, q, K, params, d.selector(), vectors_of)
    return recall_at_k(found, truth, K)


def tune(index: faiss.Index, vectors: np.ndarray, labels: np.ndarray, queries: np.ndarray,
         target: float, vectors_of: VectorsOf | None = None, is_pq: bool = False,
         self_labels: np.ndarray | None = None, base_rows: np.ndarray | None = None,
         directions: Sequence[Direction] = ()) -> TuneResult:
    """Find the cheapest search parameters meeting `target` recall@10.

    `base_rows`: the rows of `vectors` the index holds right now (the exact
    reference searches only those). `self_labels[i]` is the label of query i
    when it is itself a corpus point in the index (leave-one-out); it is then
    excluded from the truth and from the results. `directions`: restricted
    cross-modal query sets; a setting must meet the target on each of them
    as well as on `queries` (the minimum recall counts)."""
    extra = 0 if self_labels is None else 1
    timing: dict[str, float] = {}
    _, truth = exact_search(vectors, queries, K + extra, labels, rows=base_rows, timing=timing)
    truth = drop_self(truth, self_labels, K)
    exact_qps = len(queries) / max(timing.get("search_seconds", 0.0), 1e-9)
    d_truth = [exact_search(vectors, vectors[d.query_rows], K, labels, rows=d.target_rows)[1]
               for d in directions]
    kind = index_kind(index)
    tried: list[dict[str, Any]] = []
    per_set: dict[str, dict[str, float]] = {}  # params key -> recall per set

    def trial(params: dict[str, Any]) -> tuple[float, float]:
        r, qps = _measure(index, queries, truth, params, vectors_of, self_labels)
        sets = {"all": r}
        for d, t in zip(directions, d_truth):
            sets[d.name] = _restricted_recall(index, vectors, d, t, params, vectors_of)
        r = min(sets.values())
        per_set[repr(sorted(params.items()))] = sets
        entry = {**params, "recall_at_10": round(r, 4), "qps": round(qps, 1)}
        if directions:
            entry["by_direction"] = {k: round(v, 4) for k, v in sets.items()}
        tried.append(entry)
        return r, qps

    candidates: list[tuple[dict[str, Any], float, float]] = []  # params, recall, qps
    if kind == "flat":
        r, qps = trial({})
        candidates.append(({}, r, qps))
    elif kind == "hnsw":
        for ef in EF_GRID:
            r, qps = trial({"efSearch": ef})
            candidates.append(({"efSearch": ef}, r, qps))
            if r >= target:
                break
    else:
        grid = _nprobe_grid(index)
        reranks = RERANK_GRID if (is_pq and vectors_of is not None) else [1]
        limit = len(grid)
        for rr in reranks:
            for i, nprobe in enumerate(grid[:limit]):
                params = {"nprobe": nprobe} | ({"rerank": rr} if rr > 1 else {})
                r, qps = trial(params)
                candidates.append((params, r, qps))
                if r >= target:
                    limit = i  # a larger rerank is only worth it with fewer probes
                    break
            if limit == 0:
                break
    good = [c for c in candidates if c[1] >= target]
    if good:
        params, r, qps = max(good, key=lambda c: c[2])
    else:
        params, r, qps = max(candidates, key=lambda c: (c[1], c[2]))
    latency = _single_latency_ms(index, queries, params, vectors_of)
    scanned = scan_fraction(index, queries, params)
    return TuneResult(params, r, target, bool(good), qps, latency, len(queries), tried, exact_qps,
                      scanned, per_set[repr(sorted(params.items()))])
