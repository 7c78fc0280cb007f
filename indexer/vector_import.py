"""Precomputed vectors as a corpus: `.npy` files (or folders of them) become
ordinary shards, so `xmodal index build VECTORS --on-disk` indexes
embeddings made elsewhere. Each row gets the id ``<file stem>:<row>``; the
index has no encoder (`VECTORS_SPEC`): it is searched by embedding or id."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import ShardRow

from .shards import DTYPES, is_finished, records_hash, shard_dir, write_descriptor

VECTORS_SPEC = "vectors"
COPY_ROWS = 262_144


def vector_files(paths: Sequence[str]) -> list[Path] | None:
    """The .npy files named (folders: their .npy files, sorted), or None
    when the corpus is not (only) vectors."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(p.glob("*.npy"))
            if not files or any(f.suffix != ".npy" for f in p.iterdir() if f.is_file() and not f.name.startswith(".")):
                return None
            out += files
        elif p.suffix == ".npy":
            out.append(p)
        else:
            return None
    return out


def import_vectors(index_dir: Path, files: Sequence[Path], dtype: str = "float16") -> tuple[list[str], int, str]:
    """Copy each file into a shard (normalised rows, `dtype`); finished
    shards are reused on a rerun. -> (shard names, dim, fingerprint)."""
    names, dims = [], set()
    h = hashlib.sha256()
    for f in files:
        try:
            arr = np.load(f, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise XmodalError(f"{f}: not a plain .npy array ({exc}); save vectors with numpy.save") from None
        if arr.ndim != 2 or arr.dtype.kind != "f":
            raise XmodalError(f"{f}: expected a 2-D float array (n, dim), got {arr.dtype} {arr.shape}")
        dims.add(arr.shape[1])
        h.update(f"{f.name}:{arr.shape}".encode())
        names.append(f"v-{f.stem}")
    if len(dims) != 1:
        raise XmodalError(f"vector files have different dimensions {sorted(dims)}; give files of one dim")
    fingerprint = "vectors-" + h.hexdigest()[:16]
    d = shard_dir(index_dir)
    for f, name in zip(files, names):
        ids = [f"{f.stem}:{i}" for i in range(len(np.load(f, mmap_mode="r")))]
        rec = records_hash(ids)
        desc = d / f"{name}.json"
        if is_finished(index_dir, name, rec, fingerprint):
            continue
        _copy_normalised(f, d / f"{name}.npy", dtype)
        write_descriptor(index_dir, name, [ShardRow(i, "vector") for i in ids], [], rec, fingerprint, dtype)
    return names, dims.pop(), fingerprint


def _copy_normalised(src: Path, dst: Path, dtype: str) -> None:
    arr = np.load(src, mmap_mode="r")
    out = np.lib.format.open_memmap(dst.with_suffix(".tmp.npy"), mode="w+", dtype=DTYPES[dtype], shape=arr.shape)
    for s in range(0, len(arr), COPY_ROWS):
        block = np.asarray(arr[s : s + COPY_ROWS], np.float32)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        out[s : s + COPY_ROWS] = block / np.maximum(norms, 1e-12)
    out.flush()
    del out
    dst.with_suffix(".tmp.npy").replace(dst)
