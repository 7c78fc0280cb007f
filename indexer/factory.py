"""Choosing and building the FAISS index.

The choice follows corpus size, dimension, memory budget and recall target:

- exact `Flat` for small corpora (or a recall target of ~1.0 when it fits);
- `HNSW32` for mid-sized corpora (best recall/latency; no true deletes, so
  deletions become tombstones filtered at query time);
- `IVF<nlist>,Flat` for large corpora that fit in memory uncompressed;
- `OPQ<m>_<D>,IVF<nlist>,PQ<m>` when only compressed codes fit; the
  tuner may add exact re-ranking of candidates from the stored vectors
  (memory-mapped shards, not RAM) to reach the recall target.

`nprobe`/`efSearch`/re-ranking are tuned afterwards (`tune.py`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import faiss
import numpy as np

from xmodal.alignment.core.errors import XmodalError

DEFAULT_MEMORY = 2 * 1024**3
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
OPQ_ITERATIONS = 20  # FAISS default 50; the rotation converges well before that


@dataclass(frozen=True)
class Thresholds:
    """Corpus sizes where the choice moves to the next family."""

    flat_max: int = 50_000
    hnsw_max: int = 500_000


@dataclass(frozen=True)
class FactoryChoice:
    """A chosen FAISS factory string and why."""

    factory: str
    family: str  # flat | hnsw | ivf-flat | ivf-pq
    reason: str
    est_bytes: int


def nlist_for(n: int) -> int:
    """About sqrt(n) lists (a power of two), >= 39 points per centroid to train."""
    target = max(1, int(round(math.log2(max(math.sqrt(n), 1)))))
    nlist = 2 ** target
    while nlist > 1 and n < 39 * nlist:
        nlist //= 2
    return max(nlist, 1)


def _pq_shape(n: int, dim: int, bytes_per_vec: float) -> tuple[int, int]:
    """Largest PQ code (m sub-quantizers, >= 2 dims each) that fits; and nbits."""
    nbits = max(4, min(8, int(math.log2(max(n, 16) / 39))))
    options = [m for m in range(dim // 2, 0, -1) if dim % m == 0]
    for m in options:
        if m * nbits / 8 <= bytes_per_vec:
            return m, nbits
    return options[-1], nbits


def choose_factory(n: int, dim: int, memory: int = DEFAULT_MEMORY, recall: float = 0.95,
                   thresholds: Thresholds = Thresholds()) -> FactoryChoice:
    """Pick the index family for `n` vectors of `dim` under `memory` bytes."""
    if n <= 0:
        raise XmodalError("nothing to index: the corpus produced no vectors")
    ids = 8  # int64 label per vector
    flat_bytes = n * (4 * dim + ids)
    hnsw_bytes = n * (4 * dim + 2 * HNSW_M * 4 + ids)
    nlist = nlist_for(n)
    ivf_bytes = n * (4 * dim + ids) + nlist * dim * 4
    if flat_bytes <= memory and (n <= thresholds.flat_max or recall >= 0.999):
        why = "exact search: recall target ~1" if recall >= 0.999 else f"small corpus (n={n} <= {thresholds.flat_max})"
        return FactoryChoice("Flat", "flat", why, flat_bytes)
    if n <= thresholds.hnsw_max and hnsw_bytes <= memory:
        return FactoryChoice(f"HNSW{HNSW_M}", "hnsw",
                             f"mid-sized corpus (n={n} <= {thresholds.hnsw_max}), graph fits in memory",
                             hnsw_bytes)
    if ivf_bytes <= memory:
        return FactoryChoice(f"IVF{nlist},Flat", "ivf-flat",
                             f"large corpus (n={n}), uncompressed vectors fit in {memory} bytes", ivf_bytes)
    per_vec = (memory * 0.9 - nlist * dim * 4) / n - ids
    m, nbits = _pq_shape(n, dim, per_vec)
    pq_bytes = n * (math.ceil(m * nbits / 8) + ids) + nlist * dim * 4 + dim * dim * 4
    factory = f"OPQ{m}_{dim},IVF{nlist},PQ{m}x{nbits}"
    why = (f"uncompressed vectors need {ivf_bytes} bytes > budget {memory}: "
           f"{m}x{nbits}-bit PQ codes with OPQ rotation")
    if pq_bytes > memory:
        why += f" (still over budget: needs ~{pq_bytes} bytes; raise --memory)"
    return FactoryChoice(factory, "ivf-pq", why, pq_bytes)


def family_of(factory: str) -> str:
    f = factory.upper()
    if "PQ" in f and "IVF" in f:
        return "ivf-pq"
    if "IVF" in f:
        return "ivf-flat"
    if "HNSW" in f:
        return "hnsw"
    return "flat" if "FLAT" in f else "other"


def make_index(factory: str, dim: int) -> faiss.Index:
    """An empty inner-product index that takes our int64 labels.

    IVF indexes store ids themselves; others are wrapped in IndexIDMap2
    so that labels are ours and `reconstruct`/`remove_ids` work by label."""
    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise XmodalError(f"FAISS factory '{factory}' is invalid for dim {dim}: "
                          f"{str(exc).strip().splitlines()[-1]}") from None
    try:
        faiss.extract_index_ivf(index)
        is_ivf = True
    except RuntimeError:
        is_ivf = False
    if not is_ivf and not factory.upper().startswith("IDMAP"):
        index = faiss.IndexIDMap2(index)
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if is_ivf:
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        if isinstance(ivf, faiss.IndexIVFPQ):
            # Polysemous codes only speed up Hamming-filtered L2 search, which we
            # never use, and training them takes minutes on small machines.
            ivf.do_polysemous_training = False
    if isinstance(index, faiss.IndexPreTransform):
        for i in range(index.chain.size()):
            vt = faiss.downcast_VectorTransform(index.chain.at(i))
            if isinstance(vt, faiss.OPQMatrix):
                vt.niter = OPQ_ITERATIONS
    return index


def train_sample_size(factory: str, n: int) -> int:
    """How many vectors to train on: 64 per IVF list / PQ centroid, capped at n."""
    m = re.search(r"IVF(\d+)", factory.upper())
    want = int(m.group(1)) * 64 if m else 0
    if "PQ" in factory.upper():
        want = max(want, 256 * 64)
    return min(n, want)


def add_rows(index: faiss.Index, vectors: np.ndarray, labels: np.ndarray,
             rows: np.ndarray | None = None, add_batch: int = 65536) -> None:
    """Add `vectors[rows]` (all when None) with their labels, in batches."""
    rows = np.arange(len(vectors)) if rows is None else rows
    for start in range(0, len(rows), add_batch):
        part = rows[start : start + add_batch]
        index.add_with_ids(np.ascontiguousarray(vectors[part], dtype=np.float32),
                           np.ascontiguousarray(labels[part], dtype=np.int64))


def build_index(factory: str, vectors: np.ndarray, labels: np.ndarray,
                train_rows: np.ndarray | None = None, add: np.ndarray | None = None) -> faiss.Index:
    """Train (if needed) on `train_rows` of `vectors`, then add the `add`
    rows (default: all) with their `labels`."""
    dim = vectors.shape[1]
    index = make_index(factory, dim)
    if not index.is_trained:
        rows = train_rows if train_rows is not None else np.arange(len(vectors))
        try:
            index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
        except RuntimeError as exc:
            raise XmodalError(f"cannot train FAISS '{factory}' on {len(rows)} vectors: "
                              f"{str(exc).strip().splitlines()[-1]}; choose a smaller factory") from None
    add_rows(index, vectors, labels, add)
    return index
