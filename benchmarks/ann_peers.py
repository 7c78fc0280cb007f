"""The two automatic index choices the ANN sweep puts beside its grid:
xmodal's own (the indexer's factory selection) and autofaiss's, both under
the same memory budget, both measured by the same `ann.measure` code.

autofaiss runs as a subprocess in its own venv (it needs numpy<2 and an
older faiss); it writes its index to disk, and we load that file with our
FAISS so the QPS numbers come from one library build."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .ann import K, index_bytes, measure
from .ann_data import VectorSet

AUTOFAISS_VENV = Path(os.environ.get("XMODAL_AUTOFAISS_VENV", "/work/peers/autofaiss-venv"))
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "autofaiss_build.py"


def ours_auto(vs: VectorSet, truth: np.ndarray, memory: int, recall: float,
              single_max: int = 200) -> dict[str, Any]:
    """What `xmodal index` would build for these vectors: the indexer's own
    factory choice, build and search-parameter tuning (on its own tuning
    queries), then measured on our held-out queries like every grid point."""
    try:
        from xmodal.indexer.factory import family_of
        from xmodal.indexer.indexing import IndexOptions, build_and_tune
        from xmodal.indexer.searching import search
        from xmodal.indexer.tune import in_memory_lookup
    except ImportError as exc:
        return {"skipped": f"xmodal.indexer build API unavailable ({exc})"}
    labels = np.arange(vs.n, dtype=np.int64)
    notes: list[str] = []
    t0 = time.perf_counter()
    opts = IndexOptions(memory=memory, recall=recall, tune_queries=min(1000, max(50, vs.n // 20)))
    index, factory, params, stats = build_and_tune(vs.base, labels, opts, None, notes.append)
    build_s = time.perf_counter() - t0
    lookup = in_memory_lookup(vs.base, labels)
    res = measure(index, vs.queries, truth, single_max=single_max,
                  search_fn=lambda q: search(index, q, K, params, None, lookup)[1])
    out = {"factory": factory, "params": params, "family": family_of(factory),
           "reason": stats.get("factory_reason"), "memory_bytes": index_bytes(index),
           "build_s": build_s, "tuned_recall@10": stats.get("recall_at_10"), **res}
    if params.get("rerank"):
        out["note"] = "re-ranks candidates with stored float32 vectors (memory-mapped shards, not counted)"
    return out


def autofaiss_available() -> str | None:
    """None when usable, else why not (the note printed in the report)."""
    py = AUTOFAISS_VENV / "bin" / "python"
    if not py.exists():
        return (f"autofaiss skipped: no venv at {AUTOFAISS_VENV} "
                "(create it with benchmarks/peers/setup_autofaiss.sh)")
    return None


def autofaiss_choice(vs: VectorSet, truth: np.ndarray, memory: str, available: str = "8G",
                     timeout_s: float = 3600, single_max: int = 200) -> dict[str, Any]:
    """autofaiss's pick under `memory`, built in its venv, measured here."""
    why = autofaiss_available()
    if why:
        return {"skipped": why}
    import faiss

    with tempfile.TemporaryDirectory(prefix="xmodal-autofaiss-") as tmp:
        emb = Path(tmp) / "emb"
        emb.mkdir()
        np.save(emb / "part0.npy", vs.base)
        index_path, result = Path(tmp) / "knn.index", Path(tmp) / "result.json"
        cmd = [str(AUTOFAISS_VENV / "bin" / "python"), str(PEER_SCRIPT), str(emb), str(index_path),
               str(result), memory, available, "10"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"skipped": f"autofaiss did not finish within {timeout_s:.0f}s"}
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not result.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return {"skipped": f"autofaiss failed (exit {proc.returncode}): {tail[0]}"}
        info = json.loads(result.read_text())
        index = faiss.read_index(str(index_path))
        infos = info.get("infos") or {}
        return {"factory": infos.get("index_key"), "params": infos.get("index_param"),
                "memory_bytes": index_bytes(index), "build_s": info.get("build_s"),
                "subprocess_wall_s": wall, "autofaiss_version": info.get("autofaiss"),
                "autofaiss_faiss_version": info.get("faiss"),
                "note": "build_s includes autofaiss's own search-parameter tuning",
                **measure(index, vs.queries, truth, single_max=single_max)}
