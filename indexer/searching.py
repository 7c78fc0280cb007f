"""One search routine shared by tuning and the read API, so the recall the
tuner measures is the recall readers get: FAISS search with the tuned
parameters (nprobe / efSearch), an optional id pre-filter, and optional
exact re-ranking of `rerank` x k candidates against the stored vectors.

Exact search lives here and nowhere else: the brute-force reference
(`exact_search`), exact top-k over a label set through stored vectors
(`exact_topk`) and exact re-scoring of candidates (`exact_rerank`)."""
from __future__ import annotations

import time
from typing import Any, Callable

import faiss
import numpy as np

VectorsOf = Callable[[np.ndarray], np.ndarray]


def _inner(index: faiss.Index) -> faiss.Index:
    """Strip ID maps / pre-transforms to find the index doing the search
    (for a sharded index, that of its first part: all parts share a type)."""
    from .sharded import IndexParts

    if isinstance(index, IndexParts):
        index = index.parts[0]
    index = faiss.downcast_index(index)
    while isinstance(index, (faiss.IndexIDMap2, faiss.IndexIDMap, faiss.IndexPreTransform)):
        index = faiss.downcast_index(index.index)
    return index


def index_kind(index: faiss.Index) -> str:
    """'ivf', 'hnsw' or 'flat' (what the tunable knob is)."""
    inner = _inner(index)
    if isinstance(inner, faiss.IndexIVF):
        return "ivf"
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    return "flat"


def supports_remove(index: faiss.Index) -> bool:
    """HNSW graphs cannot drop nodes, and on-disk inverted lists are shared
    by generations (never rewritten): those deletions stay as tombstones."""
    from .sharded import IndexParts

    if isinstance(index, IndexParts):
        return False
    return index_kind(index) != "hnsw"


def make_params(index: faiss.Index, search_params: dict[str, Any],
                sel: faiss.IDSelector | None) -> faiss.SearchParameters | None:
    kind = index_kind(index)
    if kind == "ivf":
        p = faiss.SearchParametersIVF()
        p.nprobe = int(search_params.get("nprobe", 1))
    elif kind == "hnsw":
        p = faiss.SearchParametersHNSW()
        p.efSearch = int(search_params.get("efSearch", 16))
    elif sel is not None:
        p = faiss.SearchParameters()
    else:
        return None
    if sel is not None:
        p.sel = sel
    return p


def search(index: faiss.Index, q: np.ndarray, k: int, search_params: dict[str, Any] | None = None,
           sel: faiss.IDSelector | None = None,
           vectors_of: VectorsOf | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product -> (scores (n,k) float32, labels (n,k) int64, -1 padded)."""
    sp = search_params or {}
    q = np.ascontiguousarray(q, dtype=np.float32)
    n = len(q)
    if n == 0 or k <= 0:
        return np.zeros((n, max(k, 0)), np.float32), np.full((n, max(k, 0)), -1, np.int64)
    rerank = int(sp.get("rerank", 1) or 1)
    k_fetch = k * rerank if (rerank > 1 and vectors_of is not None) else k
    params = make_params(index, sp, sel)
    scores, labels = index.search(q, k_fetch, params=params)
    if k_fetch == k:
        return scores, labels
    return exact_rerank(q, labels, k, vectors_of)


def reranks(search_params: dict[str, Any]) -> bool:
    """True when `search` re-scores candidates exactly with these parameters."""
    return int(search_params.get("rerank", 1) or 1) > 1


def widen(search_params: dict[str, Any], factor: float) -> dict[str, Any]:
    """Search wider under a filter: when only 1/f of the vectors may be
    returned, the tuned nprobe/efSearch would find ~1/f as many true
    neighbours, so scale them by f (capped at 16x)."""
    f = min(max(factor, 1.0), 16.0)
    out = dict(search_params)
    for key in ("nprobe", "efSearch"):
        if key in out:
            out[key] = int(round(out[key] * f))
    return out


def to_similarity(scores: np.ndarray, metric: str | None) -> np.ndarray:
    """FAISS scores -> cosine similarity. Vectors are L2-normalised, so a
    squared L2 distance d maps to 1 - d/2; inner products already are."""
    if str(metric or "ip").lower() in ("l2", "euclidean"):
        return 1.0 - scores / 2.0
    return scores


def exact_rerank(q: np.ndarray, cand: np.ndarray, k: int, vectors_of: VectorsOf) -> tuple[np.ndarray, np.ndarray]:
    """Re-score candidate labels exactly with their stored vectors; keep top k."""
    valid = cand >= 0
    scores = np.full(cand.shape, -np.inf, np.float32)
    if valid.any():
        uniq, inv = np.unique(cand[valid], return_inverse=True)
        vecs = vectors_of(uniq)
        rows = np.nonzero(valid)[0]
        scores[valid] = np.einsum("ij,ij->i", vecs[inv], q[rows])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_s = np.take_along_axis(scores, order, 1)
    top_l = np.take_along_axis(cand, order, 1)
    top_l[~np.isfinite(top_s)] = -1
    top_s[~np.isfinite(top_s)] = -np.inf
    return top_s.astype(np.float32), top_l.astype(np.int64)


def exact_search(vectors: np.ndarray, q: np.ndarray, k: int, labels: np.ndarray | None = None,
                 rows: np.ndarray | None = None, chunk: int = 262_144,
                 timing: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force reference (inner product) over `vectors[rows]` (all when
    None), labels mapped through `labels` (row numbers when None). Streams
    `chunk` rows at a time, so `vectors` may be a memory-mapped view larger
    than RAM. `timing["search_seconds"]` receives the scan time when given."""
    rows = np.arange(len(vectors)) if rows is None else np.asarray(rows)
    q = np.ascontiguousarray(q, dtype=np.float32)
    k_eff = max(1, min(k, len(rows)))
    heap = faiss.ResultHeap(len(q), k_eff, keep_max=True)
    seconds = 0.0
    for s in range(0, len(rows), chunk):
        part = rows[s : s + chunk]
        flat = faiss.IndexFlatIP(q.shape[1])
        flat.add(np.ascontiguousarray(vectors[part], dtype=np.float32))
        t0 = time.perf_counter()
        d, i = flat.search(q, min(k_eff, len(part)))
        heap.add_result(d, np.where(i >= 0, i + s, -1))
        seconds += time.perf_counter() - t0
    heap.finalize()
    if timing is not None:
        timing["search_seconds"] = seconds
    scores, idx = heap.D, heap.I
    if k_eff < k:  # fewer rows than k: pad like FAISS does
        scores = np.pad(scores, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
        idx = np.pad(idx, ((0, 0), (0, k - k_eff)), constant_values=-1)
    if len(rows) == 0:
        return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
    mapped = rows if labels is None else labels[rows]
    return scores, np.where(idx >= 0, mapped[np.maximum(idx, 0)], -1)


def exact_topk(vectors_of: VectorsOf, q: np.ndarray, k: int, labels: np.ndarray,
               chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k among `labels` by inner product with their stored
    vectors (read `chunk` at a time) -> (scores (n, k) float32, labels
    (n, k) int64), best first, ties by lower label, (-inf, -1) padded."""
    q = np.ascontiguousarray(q, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    best_s = np.zeros((len(q), 0), np.float32)
    best_l = np.zeros((len(q), 0), np.int64)
    for start in range(0, len(labels), chunk):
        part = labels[start : start + chunk]
        s, found = exact_search(vectors_of(part), q, min(k, len(part)), part)
        best_s, best_l = np.concatenate([best_s, s], 1), np.concatenate([best_l, found], 1)
        order = np.lexsort((best_l, -best_s), axis=1)[:, :k]
        best_s, best_l = np.take_along_axis(best_s, order, 1), np.take_along_axis(best_l, order, 1)
    pad = k - best_s.shape[1]
    if pad > 0:
        best_s = np.pad(best_s, ((0, 0), (0, pad)), constant_values=-np.inf)
        best_l = np.pad(best_l, ((0, 0), (0, pad)), constant_values=-1)
    return best_s.astype(np.float32), best_l.astype(np.int64)


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Mean |found_k ∩ truth_k| / k over queries (-1 padding never counts)."""
    hits = 0
    total = 0
    for f, t in zip(found[:, :k], truth[:, :k]):
        t_set = set(int(x) for x in t if x >= 0)
        hits += len(t_set & set(int(x) for x in f if x >= 0))
        total += len(t_set)
    return hits / max(total, 1)
