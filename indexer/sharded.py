"""A sharded index: several FAISS indexes over disjoint labels, searched in
parallel and merged into one top-k, behind the `faiss.Index` surface the
read path uses (`d`, `ntotal`, `search(q, k, params=...)`). So filters
(`params.sel`), tombstones, re-ranking and generations work unchanged:
every part gets the same search parameters and selector."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import faiss
import numpy as np


class IndexParts:
    """Parts searched side by side (FAISS releases the GIL while searching)."""

    def __init__(self, parts: Sequence[Any]):
        if not parts:
            raise ValueError("a sharded index needs at least one part")
        self.parts = list(parts)
        self.d = int(self.parts[0].d)
        self._pool = ThreadPoolExecutor(max_workers=min(len(self.parts), 8)) if len(self.parts) > 1 else None

    @property
    def ntotal(self) -> int:
        return int(sum(p.ntotal for p in self.parts))

    @property
    def is_trained(self) -> bool:
        return all(p.is_trained for p in self.parts)

    def search(self, q: np.ndarray, k: int, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k inner product over all parts: (scores (n,k), labels (n,k))."""
        q = np.ascontiguousarray(q, dtype=np.float32)
        if self._pool is None:
            return self.parts[0].search(q, k, params=params)
        results = list(self._pool.map(lambda p: p.search(q, k, params=params), self.parts))
        return merge_topk(results, k)

    def add_with_ids(self, x: np.ndarray, ids: np.ndarray) -> None:
        """New vectors go into the last part (the small in-memory one)."""
        self.parts[-1].add_with_ids(x, ids)

    def remove_ids(self, sel: Any) -> int:
        return int(sum(p.remove_ids(sel) for p in self.parts[1:]))


def merge_topk(results: Sequence[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-part (scores, labels) into one top-k per query, best first;
    ties broken by label so the merge is deterministic."""
    heap = faiss.ResultHeap(len(results[0][0]), k, keep_max=True)
    for scores, labels in results:
        heap.add_result(np.ascontiguousarray(scores, np.float32), np.ascontiguousarray(labels, np.int64))
    heap.finalize()
    return heap.D, heap.I
