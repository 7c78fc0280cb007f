"""`xmodal bench ondisk`: a large synthetic index built through the on-disk
path (`xmodal index build VECTORS --on-disk --memory M`) and served
memory-mapped, with the build's peak RSS, the served resident memory vs
the index's file size, and recall@10 of fresh queries vs exact search.

Vectors are a seeded Gaussian mixture on the unit sphere, written in
1M-row fp16 .npy files (reused on a rerun). The build runs as a child
process (its peak RSS is the kernel's ru_maxrss for it); serving is
measured in another fresh child that opens the index as `xmodal serve`
would and answers the queries one at a time, then as one batch. Exact
neighbours are computed here, streaming the files, never all in RAM.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import faiss
import numpy as np

Log = Callable[[str], None]
CHUNK = 1_000_000


def write_vectors(folder: Path, n: int, dim: int, clusters: int, spread: float, seed: int, log: Log) -> list[Path]:
    """The corpus as fp16 .npy files of CHUNK rows (existing files kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    centres = np.random.default_rng(seed).standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    files = []
    for i, start in enumerate(range(0, n, CHUNK)):
        path = folder / f"part{i:03d}.npy"
        files.append(path)
        if path.is_file():
            continue
        m = min(CHUNK, n - start)
        rng = np.random.default_rng(seed + 1 + i)
        x = centres[rng.integers(0, clusters, m)] + spread / np.sqrt(dim) * rng.standard_normal((m, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, x.astype(np.float16))
        tmp.replace(path)
        log(f"wrote {path.name} ({m} x {dim})")
    return files


def fresh_queries(n: int, dim: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    centres = np.random.default_rng(seed).standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed + 10**6)  # never a corpus chunk's seed
    q = centres[rng.integers(0, clusters, n)] + spread / np.sqrt(dim) * rng.standard_normal((n, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.asarray(q.astype(np.float16), np.float32)  # the precision the corpus is stored in


def exact_truth(files: list[Path], q: np.ndarray, k: int = 10) -> np.ndarray:
    """Global row numbers of the exact top-k, one file at a time."""
    heap = faiss.ResultHeap(len(q), k, keep_max=True)
    start = 0
    for f in files:
        x = np.load(f, mmap_mode="r")
        for s in range(0, len(x), 250_000):
            block = np.asarray(x[s:s + 250_000], np.float32)
            d, i = faiss.knn(q, block, k, metric=faiss.METRIC_INNER_PRODUCT)
            heap.add_result(d, i + start + s)
        start += len(x)
        del x
    heap.finalize()
    return heap.I


_SERVE = """
import json, sys, time, numpy as np
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
from xmodal.indexer import open_index
import faiss
faiss.omp_set_num_threads(1)
q = np.load(sys.argv[2])
budget = int(sys.argv[4]) if sys.argv[4] != "none" else None
base = status("VmRSS:")
t0 = time.perf_counter(); ix = open_index(sys.argv[1], memory=budget); open_s = time.perf_counter() - t0
opened = status("VmRSS:")
ix.search(q[:20], 10)
t0 = time.perf_counter()
found = np.vstack([ix.search(row[None], 10)[1] for row in q])
single_s = time.perf_counter() - t0
faiss.omp_set_num_threads(2)
t0 = time.perf_counter(); ix.search(q, 10); batch_s = time.perf_counter() - t0
np.save(sys.argv[3], found)
print(json.dumps({"rss_before_open": base, "rss_opened": opened, "rss_served": status("VmRSS:"),
                  "rss_peak": status("VmHWM:"),
                  "residency_drops": ix.residency.drops if ix.residency else 0,
                  "open_seconds": open_s, "qps_single": len(q) / single_s, "qps_batch": len(q) / batch_s}))
"""


def run_ondisk(n: int, dim: int, memory: str, work: Path, queries: int = 300, clusters: int = 4096,
               spread: float = 0.9, seed: int = 0, recall: float = 0.95, serve_memory: str | None = None,
               log: Log = print) -> dict[str, Any]:
    """Generate (or reuse), build on disk in a child, serve in a child, measure."""
    files = write_vectors(work / "vectors", n, dim, clusters, spread, seed, log)
    out = work / "index.xmodal"
    cli = Path(sys.executable).parent / "xmodal"
    cmd = [str(cli), "index", "build", str(work / "vectors"), "--out", str(out), "--memory", memory,
           "--on-disk", "--recall", str(recall), "--json", "--quiet"]
    log("building: " + " ".join(cmd))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    build_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if proc.returncode != 0:
        raise RuntimeError(f"build failed: {proc.stderr.strip()[-500:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    q = fresh_queries(queries, dim, clusters, spread, seed)
    qpath, fpath = work / "queries.npy", work / "found.npy"
    np.save(qpath, q)
    from xmodal.alignment.core.sizes import parse_memory

    budget = str(parse_memory(serve_memory)) if serve_memory else "none"
    serve = subprocess.run([sys.executable, "-c", _SERVE, str(out), str(qpath), str(fpath), budget],
                           capture_output=True, text=True)
    if serve.returncode != 0:
        raise RuntimeError(f"serving failed: {serve.stderr.strip()[-500:]}")
    served = json.loads(serve.stdout.strip().splitlines()[-1])
    truth = exact_truth(files, q)
    found = np.load(fpath)
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist()))
    st = report.get("index_stats", {})
    file_bytes = st.get("file_bytes")
    resident = served["rss_served"] - served["rss_before_open"]
    return {
        "n": n, "dim": dim, "memory_budget": memory, "factory": report.get("factory"),
        "search_params": report.get("search_params"), "build_seconds": round(build_s, 1),
        "build_peak_rss_bytes": peak, "index_file_bytes": file_bytes,
        "served_resident_bytes": resident, "served_rss_total_bytes": served["rss_served"],
        "serve_memory_budget": serve_memory or memory, "residency_drops": served["residency_drops"],
        "served_rss_peak_bytes": served["rss_peak"],
        "resident_below_file_size": bool(file_bytes and resident < file_bytes),
        "build_resident_measure": {k: st.get(k) for k in ("resident_bytes_opened", "resident_bytes_served")},
        "recall_at_10_fresh_queries": round(hits / (10 * len(q)), 4), "queries": len(q),
        "recall_at_10_tuning": st.get("recall_at_10"), "qps_single": round(served["qps_single"], 1),
        "qps_batch": round(served["qps_batch"], 1), "open_seconds": round(served["open_seconds"], 2),
        "stage_seconds": {k: st.get(k) for k in ("train_seconds", "add_seconds", "merge_seconds", "tune_seconds")},
        "load_average_end": list(os.getloadavg()), "cpu_count": os.cpu_count(),
    }


def markdown(r: dict[str, Any]) -> str:
    gib = 1024**3
    return "\n".join([
        f"# bench ondisk: {r['n']:,} x {r['dim']} (synthetic), budget {r['memory_budget']}", "",
        "| factory | params | R@10 fresh | build s | build peak RSS | index files | served resident | QPS single | QPS batch |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {r['factory']} | {r['search_params']} | {r['recall_at_10_fresh_queries']} | {r['build_seconds']} | "
        f"{r['build_peak_rss_bytes'] / gib:.2f} GiB | {(r['index_file_bytes'] or 0) / gib:.2f} GiB | "
        f"{r['served_resident_bytes'] / gib:.2f} GiB | {r['qps_single']} | {r['qps_batch']} |", "",
        f"Served resident = RSS growth of a fresh reader process from before opening the index to after "
        f"{r['queries']} single queries and one batch (the encoder-free reader; torch import excluded). "
        f"Load average at the end {', '.join(f'{x:.1f}' for x in r['load_average_end'])} on {r['cpu_count']} cores."])
