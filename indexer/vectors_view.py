"""A read-only row view over many shard files, so training samples, held-out
queries and exact references can be drawn from a corpus that is never
loaded into RAM as a whole.

Rows are read, not kept mapped: a contiguous run is one file read, scattered
rows come through a short-lived memory map dropped after the copy. So the
view adds nothing to a process's resident set between calls, however much
of the corpus has been read through it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .manifest import SHARDS_DIR


class ShardedVectors:
    """Rows of shards `names` (in order) as one (n, dim) float32 matrix.

    Supports `len`, `.shape`, and `view[rows]` for an int array or a slice."""

    def __init__(self, index_dir: str | Path, names: Sequence[str]):
        d = Path(index_dir) / SHARDS_DIR
        self.paths = [d / f"{n}.npy" for n in names]
        self.offsets, self.dtypes, sizes, dims = [], [], [], set()
        for p in self.paths:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
            self.offsets.append(arr.offset)
            self.dtypes.append(arr.dtype)
            sizes.append(len(arr))
            if len(arr):
                dims.add(arr.shape[1])
            del arr
        self.starts = np.concatenate([[0], np.cumsum(np.array(sizes, dtype=np.int64))])
        if len(dims) > 1:
            raise ValueError("shards hold vectors of different dimensions")
        self.dim = dims.pop() if dims else 0

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), self.dim

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self)))
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), np.float32)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for s in np.unique(which):
            sel = np.nonzero(which == s)[0]
            local = rows[sel] - self.starts[s]
            lo, hi = int(local.min()), int(local.max())
            if hi - lo + 1 == len(local) and np.all(np.diff(local) == 1):
                out[sel] = self._read_run(s, lo, hi + 1)
            else:
                arr = np.load(self.paths[s], mmap_mode="r", allow_pickle=False)
                order = np.argsort(local)  # sequential reads of the mapping
                out[sel[order]] = arr[local[order]]
                del arr
        return out

    def _read_run(self, s: int, lo: int, hi: int) -> np.ndarray:
        dt = self.dtypes[s]
        with open(self.paths[s], "rb") as fh:
            fh.seek(self.offsets[s] + lo * self.dim * dt.itemsize)
            buf = np.fromfile(fh, dtype=dt, count=(hi - lo) * self.dim)
        return buf.reshape(hi - lo, self.dim)

    def chunks(self, size: int = 262_144) -> Iterator[tuple[int, np.ndarray]]:
        """(start row, float32 block) over all rows, in order."""
        for start in range(0, len(self), size):
            yield start, self[slice(start, min(start + size, len(self)))]
