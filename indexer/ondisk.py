"""On-disk IVF builds for indexes larger than RAM.

The coarse quantizer (and the SQ/PQ codec) is trained on a sample; the
shards are added into partial indexes in parallel (Ray tasks when a Ray
cluster is given, else one after the other in this process), each holding
only its own codes; the partial inverted lists are merged into one file on
disk (FAISS `OnDiskInvertedLists`, `faiss.contrib.ondisk.merge_ondisk`) so no
process ever holds the whole index; readers memory-map that file. Search
parameters are tuned like every other build, on held-out corpus rows
against exact search streamed over the memory-mapped shards; those rows
are added afterwards as a small second part (a sharded index: the reader
searches every part and merges the top-k).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import faiss
import numpy as np

from xmodal.alignment.core.errors import XmodalError

from .factory import add_rows, make_index, nlist_for
from .vectors_view import ShardedVectors

Log = Callable[[str], None]
IVFDATA_SUFFIX = ".ivfdata"
KMEANS_ITERATIONS = 10  # FAISS default 25; the centroids move little after 10 on large samples
TRAIN_PER_LIST = 40  # FAISS warns below 39 points per centroid
HNSW_QUANTIZER_FROM = 1_000_000  # above this, an HNSW graph over the centroids assigns vectors


@dataclass
class PartSpec:
    """One partial index to build: these rows (global positions) of the view."""

    path: str
    rows: np.ndarray


def ondisk_factory(n: int, dim: int, memory: int) -> tuple[str, str]:
    """(factory, reason) for an on-disk build: SQ8 codes (1 byte/dim, the
    owners' 1M x 384 probe kept recall@10 0.978), SQ4 when even the codes of
    one part would crowd the budget; an HNSW coarse quantizer for large n,
    so assigning 10M+ vectors does not scan every centroid."""
    nlist = min(nlist_for(n), 65536)
    coarse = f"IVF{nlist}_HNSW32" if n >= HNSW_QUANTIZER_FROM else f"IVF{nlist}"
    codes = "SQ8" if n * dim <= 8 * memory else "SQ4"
    return (f"{coarse},{codes}",
            f"on-disk build of n={n}: {codes} codes in memory-mapped inverted lists, "
            f"{nlist} lists{' (HNSW coarse quantizer)' if 'HNSW' in coarse else ''}")


def train_ondisk(factory: str, vectors: ShardedVectors, sample_rows: np.ndarray, log: Log) -> faiss.Index:
    """An empty trained index (quantizer + codec) from `vectors[sample_rows]`."""
    index = make_index(factory, vectors.dim)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.niter = KMEANS_ITERATIONS
    sample = vectors[sample_rows]
    log(f"training {factory} on {len(sample)} sampled vectors")
    try:
        index.train(sample)
    except RuntimeError as exc:
        raise XmodalError(f"cannot train FAISS '{factory}' on {len(sample)} vectors: "
                          f"{str(exc).strip().splitlines()[-1]}") from None
    return index


def train_sample(factory: str, n: int, rng: np.random.Generator, exclude: np.ndarray) -> np.ndarray:
    """Sorted sample rows for training (TRAIN_PER_LIST per list, or 64k for codecs)."""
    nlist = faiss_nlist(factory)
    want = min(n - len(exclude), max(TRAIN_PER_LIST * nlist, 65_536))
    pool = np.setdiff1d(np.arange(n), exclude) if len(exclude) else np.arange(n)
    return np.sort(rng.choice(pool, size=want, replace=False)) if want < len(pool) else pool


def faiss_nlist(factory: str) -> int:
    import re

    m = re.search(r"IVF(\d+)", factory.upper())
    if not m:
        raise XmodalError(f"--on-disk needs an IVF factory (e.g. IVF4096,SQ8), not '{factory}'")
    return int(m.group(1))


def add_part(trained_path: str, index_dir: str, names: Sequence[str], part: PartSpec,
             first_label: int, threads: int = 1) -> int:
    """Add `part.rows` of the view (labels first_label + row) to a copy of
    the trained index and write it to `part.path`; runs as a Ray task too."""
    faiss.omp_set_num_threads(max(1, threads))
    view = ShardedVectors(index_dir, names)
    index = faiss.read_index(trained_path)
    for start in range(0, len(part.rows), 131_072):
        rows = part.rows[start:start + 131_072]
        add_rows(index, view[rows], (first_label + rows).astype(np.int64))
    tmp = f"{part.path}.tmp-{os.getpid()}"
    faiss.write_index(index, tmp)
    os.replace(tmp, part.path)
    return int(index.ntotal)


def plan_parts(n: int, exclude: np.ndarray, work: Path, parts: int) -> list[PartSpec]:
    """Split the rows (minus `exclude`) into `parts` contiguous ranges."""
    keep = np.setdiff1d(np.arange(n), exclude) if len(exclude) else np.arange(n)
    return [PartSpec(str(work / f"part{i:03d}.faiss"), chunk)
            for i, chunk in enumerate(np.array_split(keep, parts)) if len(chunk)]


def run_parts(trained_path: str, index_dir: str, names: Sequence[str], specs: list[PartSpec],
              first_label: int, ray_opts: Any, log: Log) -> None:
    """Build the partial indexes: Ray tasks on a cluster, else in turn here."""
    todo = [p for p in specs if not Path(p.path).is_file()]  # a rerun keeps finished parts
    if ray_opts is None:
        for i, p in enumerate(todo):
            add_part(trained_path, index_dir, names, p, first_label, faiss.omp_get_max_threads())
            log(f"part {i + 1}/{len(todo)}: {len(p.rows)} vectors")
        return
    from .ray_embed import connect, require_ray

    ray = require_ray()
    started = connect(ray_opts)
    try:
        task = ray.remote(num_cpus=ray_opts.cpus_per_worker, max_retries=3)(add_part)
        refs = [task.remote(trained_path, index_dir, list(names), p, first_label, ray_opts.cpus_per_worker)
                for p in todo]
        for i, ref in enumerate(refs):
            ray.get(ref)
            log(f"part {i + 1}/{len(refs)} added (Ray task)")
    finally:
        if started:
            ray.shutdown()


def merge_parts(trained: faiss.Index, part_paths: Sequence[str], ivfdata: Path) -> faiss.Index:
    """One index whose inverted lists live in `ivfdata` (merged from parts)."""
    from faiss.contrib.ondisk import merge_ondisk

    ivfdata.unlink(missing_ok=True)
    merge_ondisk(trained, list(part_paths), str(ivfdata))
    return trained


def load_ondisk(path: Path) -> faiss.Index:
    """Open an on-disk index; its .ivfdata is found beside it, mapped read-only."""
    return faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)


def is_ondisk(index: faiss.Index) -> bool:
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:
        return False
    return isinstance(faiss.downcast_InvertedLists(ivf.invlists), faiss.OnDiskInvertedLists)


def parts_for(n: int, dim: int, memory: int, workers: int) -> int:
    """Enough parts that one part's codes (plus add buffers) take a quarter
    of the budget, and at least one per worker."""
    per_part = max(memory // 4, 64 * 1024**2)
    return max(workers, math.ceil(n * (dim + 8) / per_part))


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_RESIDENT = """
import json, sys, numpy as np, faiss
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
d, main, nprobe, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
parts = sys.argv[5:]
faiss.omp_set_num_threads(1)
before = rss()
ix = [faiss.read_index(f"{d}/{main}", faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)]
ix += [faiss.read_index(f"{d}/{p}") for p in parts]
opened = rss()
rng = np.random.default_rng(0)
q = rng.standard_normal((n, ix[0].d)).astype("float32")
q /= np.linalg.norm(q, axis=1, keepdims=True)
p = faiss.SearchParametersIVF(); p.nprobe = nprobe
for x in ix:
    for row in q:
        x.search(row[None], 10, params=p)
print(json.dumps({"opened": opened - before, "served": rss() - before}))
"""


def measure_resident(index_dir: Path, main: str, parts: Sequence[str], search_params: dict[str, Any],
                     queries: int = 1000) -> dict[str, Any]:
    """Resident memory of a fresh process that opens the index as a reader
    does and answers `queries` single queries with the tuned nprobe (FAISS
    only, no encoder: what the index itself keeps resident)."""
    import json
    import subprocess
    import sys

    nprobe = int(search_params.get("nprobe", 1))
    proc = subprocess.run([sys.executable, "-c", _RESIDENT, str(index_dir), main, str(nprobe),
                           str(queries), *parts], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"resident_note": f"resident memory not measured: {proc.stderr.strip()[-200:]}"}
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"resident_bytes_opened": got["opened"], "resident_bytes_served": got["served"],
            "resident_queries": queries}


MADV_DONTNEED = 4


class Residency:
    """Keeps a reader's resident set under `limit` bytes: the on-disk lists
    are a read-only file mapping, so when the process's RSS passes the limit
    the mapped pages are dropped (madvise DONTNEED; they fault back from
    the page cache or disk when a later query probes them). Checked every
    `every` searches, since reading /proc costs about a search."""

    def __init__(self, index: faiss.Index, limit: int, every: int = 16):
        import ctypes

        ivf = faiss.extract_index_ivf(index)
        lists = faiss.downcast_InvertedLists(ivf.invlists)
        self.ptr, self.size = int(lists.ptr), int(lists.totsize)
        self.limit, self.every, self.calls, self.drops = int(limit), every, 0, 0
        self._madvise = ctypes.CDLL(None, use_errno=True).madvise
        self._madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

    def tick(self) -> None:
        """Call after each search."""
        self.calls += 1
        if self.calls % self.every == 0 and self.size and rss_bytes() > self.limit:
            self._madvise(self.ptr, self.size, MADV_DONTNEED)
            self.drops += 1
