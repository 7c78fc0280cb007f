"""Shared helpers for indexer tests (media files, clustered vectors, synthetic indexes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from xmodal.alignment.core.items import ShardRow
from xmodal.indexer.factory import Thresholds
from xmodal.indexer.indexing import Encoded, IndexOptions, index_shards
from xmodal.indexer.publish import Writer
from xmodal.indexer.shards import Shard, records_hash, write_shard


def make_images(root: Path, n: int, seed: int = 0, prefix: str = "img") -> list[Path]:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = root / f"{prefix}{i}.png"
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(p)
        (root / f"{prefix}{i}.txt").write_text(f"{prefix} caption number {i}")
        out.append(p)
    return out


def make_tone(path: Path, hz: float, seconds: float = 1.0, rate: int = 16000) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * hz * t)).astype("float32"), rate)
    return path


def clustered(n: int, dim: int, clusters: int = 40, spread: float = 0.35, seed: int = 0) -> np.ndarray:
    """Normalised gaussian-mixture vectors: the structure ANN indexes exploit."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    assign = rng.integers(0, clusters, n)
    x = centers[assign] + spread * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_index(out: Path, vectors: np.ndarray, opts: IndexOptions | None = None,
                    shard_size: int = 2000, dtype: str = "float32", fingerprint: str = "synthetic"):
    """Write `vectors` as shards (ids v0..vN, metadata parity) and index them."""
    names = []
    for k, start in enumerate(range(0, len(vectors), shard_size)):
        chunk = vectors[start : start + shard_size]
        rows = [ShardRow(f"v{start + i}", "image", uri=f"/data/v{start + i}.png",
                         metadata={"parity": (start + i) % 2, "group": f"g{(start + i) % 5}"})
                for i in range(len(chunk))]
        name = f"b{k:05d}"
        write_shard(out, Shard(name, chunk, rows, [], records_hash([r.id for r in rows]), fingerprint), dtype)
        names.append(name)
    with Writer(out, create=True) as w:
        return index_shards(w, names, Encoded("synthetic", fingerprint, vectors.shape[1]),
                            opts or IndexOptions(tune_queries=200))


SMALL = Thresholds(flat_max=1000, hnsw_max=3000)
