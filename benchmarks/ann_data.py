"""Vector sets for the ANN benchmark: a built xmodal index, or synthetic
clustered vectors; held-out queries and their exact top-k.

Synthetic vectors are a Gaussian mixture on the unit sphere rather than
i.i.d. Gaussian noise: real embeddings are clustered, and uniform noise is
the one distribution on which every ANN structure degenerates to a scan."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from xmodal.alignment.core.errors import BadInput

SYNTHETIC = re.compile(r"^synthetic:(\d+)x(\d+)(?::(\d+))?$")


@dataclass
class VectorSet:
    """Database vectors, held-out queries (not in the database), and where
    they came from."""

    base: np.ndarray  # float32 (n, d), L2-normalised
    queries: np.ndarray  # float32 (nq, d), L2-normalised
    source: str

    @property
    def n(self) -> int:
        return len(self.base)

    @property
    def dim(self) -> int:
        return self.base.shape[1]


def _normalise_inplace(x: np.ndarray, chunk: int = 65536) -> np.ndarray:
    for s in range(0, len(x), chunk):
        part = x[s : s + chunk]
        part /= np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
    return x


def synthetic(n: int, d: int, n_queries: int, seed: int = 0, clusters: int | None = None,
              spread: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """(base, queries) from one Gaussian mixture, generated chunk-wise so
    1M x 384 needs only the output arrays in memory."""
    if n < 1 or d < 2:
        raise BadInput(f"synthetic:{n}x{d}", "needs N >= 1 and D >= 2")
    rng = np.random.default_rng(seed)
    k = clusters or max(8, int(np.sqrt(n)))
    centres = rng.standard_normal((k, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    scale = np.float32(spread / np.sqrt(d))  # per-dim noise so |noise| ~ spread

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, d), dtype=np.float32)
        for s in range(0, m, 65536):
            e = min(m, s + 65536)
            which = rng.integers(0, k, size=e - s)
            out[s:e] = centres[which] + scale * rng.standard_normal((e - s, d), dtype=np.float32)
        return _normalise_inplace(out)

    return draw(n), draw(n_queries)


def from_index(path: str, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stored vectors of an xmodal index; `n_queries` random ones are held
    out as queries (removed from the base so no query finds itself)."""
    from xmodal.indexer import open_index

    ix = open_index(path)
    labels = np.asarray(ix.labels_where(), dtype=np.int64)
    if len(labels) < 2:
        raise BadInput(path, f"has {len(labels)} vectors", "an ANN sweep needs a few hundred at least")
    vecs = np.ascontiguousarray(ix.vectors(labels), dtype=np.float32)
    vecs = _normalise_inplace(vecs)
    rng = np.random.default_rng(seed)
    nq = min(n_queries, max(1, len(vecs) // 10))
    pick = rng.choice(len(vecs), size=nq, replace=False)
    mask = np.ones(len(vecs), dtype=bool)
    mask[pick] = False
    return np.ascontiguousarray(vecs[mask]), np.ascontiguousarray(vecs[pick])


def load_vectors(spec: str, n_queries: int = 1000, seed: int = 0) -> VectorSet:
    """`synthetic:NxD[:seed]` or an index directory."""
    m = SYNTHETIC.match(spec.strip())
    if m:
        n, d = int(m.group(1)), int(m.group(2))
        seed = int(m.group(3)) if m.group(3) else seed
        base, queries = synthetic(n, d, n_queries, seed)
        return VectorSet(base, queries, f"synthetic gaussian mixture {n}x{d} seed {seed}")
    if spec.startswith("synthetic"):
        raise BadInput(spec, "bad synthetic spec", "write synthetic:NxD, e.g. synthetic:1000000x384")
    base, queries = from_index(spec, n_queries, seed)
    return VectorSet(base, queries, f"index {spec}")


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact inner-product top-k row numbers (n_queries, k): the indexer's
    brute-force reference (`searching.exact_search`), so ANN recall here is
    measured against the same exact search the tuner uses."""
    from xmodal.indexer.searching import exact_search

    return exact_search(base, queries, min(k, len(base)))[1]
