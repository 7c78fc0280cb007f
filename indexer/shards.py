"""Embedding shards: finished batches of vectors on disk.

A shard is ``shards/<name>.npy`` (fp16 or fp32 vectors) plus
``shards/<name>.json`` (one row descriptor per vector, the items skipped
while embedding it, and a hash of the record ids it covers). The .npy is
written first and the .json last, each atomically, so the .json existing is
the "finished" mark: a restarted job trusts a shard exactly when its .json
is there and matches the records and encoder it would embed now.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xmodal.alignment.core.atomic import atomic_write_bytes
from xmodal.alignment.core.items import ShardRow

from xmodal.alignment.core.errors import XmodalError

from .manifest import SHARDS_DIR, damaged_line

DTYPES = {"float16": np.float16, "float32": np.float32}


@dataclass
class Shard:
    """A finished shard as read back from disk."""

    name: str
    vectors: np.ndarray
    rows: list[ShardRow]
    skipped: list[dict[str, str]]
    records_hash: str
    fingerprint: str


def records_hash(ids: Sequence[str]) -> str:
    """Identifies the exact records a shard covers (order matters)."""
    h = hashlib.sha256()
    for i in ids:
        h.update(i.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def shard_dir(index_dir: str | Path) -> Path:
    d = Path(index_dir) / SHARDS_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_shard(index_dir: str | Path, shard: Shard, dtype: str = "float16") -> None:
    """Write one finished shard atomically (vectors first, descriptor last);
    `read_shard` gives it back."""
    name, vectors, rows = shard.name, shard.vectors, shard.rows
    if len(rows) != len(vectors):
        raise ValueError(f"shard {name}: {len(rows)} rows but {len(vectors)} vectors")
    d = shard_dir(index_dir)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(vectors, dtype=DTYPES[dtype]), allow_pickle=False)
    atomic_write_bytes(d / f"{name}.npy", buf.getvalue())
    write_descriptor(index_dir, name, rows, shard.skipped, shard.records_hash, shard.fingerprint, dtype)


def write_descriptor(index_dir: str | Path, name: str, rows: Sequence[ShardRow],
                     skipped: Sequence[Mapping[str, str]], rec_hash: str, fingerprint: str,
                     dtype: str = "float16") -> None:
    """The finishing mark of a shard whose .npy is already in place."""
    desc = {
        "name": name, "dtype": dtype, "records_hash": rec_hash, "fingerprint": fingerprint,
        "rows": [r.to_json() for r in rows], "skipped": list(skipped),
    }
    atomic_write_bytes(shard_dir(index_dir) / f"{name}.json", json.dumps(desc, sort_keys=True).encode())


def read_descriptor(index_dir: str | Path, name: str) -> dict[str, Any] | None:
    """The shard's descriptor, or None when the shard is unfinished/damaged."""
    path = Path(index_dir) / SHARDS_DIR / f"{name}.json"
    try:
        desc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return desc if isinstance(desc, dict) and (path.with_suffix(".npy")).is_file() else None


def is_finished(index_dir: str | Path, name: str, rec_hash: str, fingerprint: str) -> bool:
    """True when shard `name` was completed for these records by this encoder."""
    desc = read_descriptor(index_dir, name)
    return bool(desc) and desc.get("records_hash") == rec_hash and desc.get("fingerprint") == fingerprint


def read_shard(index_dir: str | Path, name: str, mmap: bool = False) -> Shard:
    desc = read_descriptor(index_dir, name)
    if desc is None:
        raise FileNotFoundError(f"shard {name} is not finished")
    vecs = np.load(Path(index_dir) / SHARDS_DIR / f"{name}.npy", mmap_mode="r" if mmap else None,
                   allow_pickle=False)
    rows = [ShardRow.from_json(r) for r in desc["rows"]]
    return Shard(name, vecs, rows, desc.get("skipped", []), desc["records_hash"], desc["fingerprint"])


class VectorStore:
    """Random access to stored vectors by (shard, row), memory-mapped."""

    def __init__(self, index_dir: str | Path, dim: int):
        self.dir = Path(index_dir) / SHARDS_DIR
        self.dim = dim
        self._open: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _array(self, shard: str) -> np.ndarray:
        with self._lock:
            arr = self._open.get(shard)
            if arr is None:
                path = self.dir / f"{shard}.npy"
                try:
                    arr = np.load(path, mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as exc:
                    raise XmodalError(damaged_line(self.dir.parent, f"{SHARDS_DIR}/{shard}.npy",
                                                   "missing" if not path.exists() else f"unreadable ({exc})")
                                      ) from None
                self._open[shard] = arr
            return arr

    def gather_arrays(self, names: Sequence[str], shard_idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """float32 (n, dim) for row `rows[i]` of shard `names[shard_idx[i]]`."""
        out = np.zeros((len(rows), self.dim), np.float32)
        for s in np.unique(shard_idx):
            where = np.nonzero(shard_idx == s)[0]
            order = where[np.argsort(rows[where])]  # sequential reads on the mmap
            out[order] = self._array(names[int(s)])[rows[order]]
        return out

    def gather(self, locations: Sequence[tuple[str, int] | None]) -> np.ndarray:
        """float32 (n, dim); a None location gives a zero row."""
        out = np.zeros((len(locations), self.dim), np.float32)
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for i, loc in enumerate(locations):
            if loc is not None:
                by_shard.setdefault(loc[0], []).append((i, loc[1]))
        for shard, pairs in by_shard.items():
            arr = self._array(shard)
            pos = np.fromiter((p for p, _ in pairs), np.int64, len(pairs))
            rows = np.fromiter((r for _, r in pairs), np.int64, len(pairs))
            order = np.argsort(rows)  # sequential reads on the mmap
            out[pos[order]] = arr[rows[order]]
        return out
