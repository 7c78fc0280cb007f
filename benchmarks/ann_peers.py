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
from typing import Any, Sequence

import numpy as np

from .ann import K, index_bytes, measure
from .ann_data import VectorSet

AUTOFAISS_VENV = Path(os.environ.get("XMODAL_AUTOFAISS_VENV", "/work/peers/autofaiss-venv"))
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "autofaiss_build.py"


def ours_auto(vs: VectorSet, truth: np.ndarray, memory: int, targets: Sequence[float],
              single_max: int = 200) -> dict[str, dict[str, Any]]:
    """What `xmodal index build` does with these vectors at each recall
    target: the indexer's own `build_and_tune` (factory choice, training
    sample, build, search-parameter tuning on its own held-out queries),
    then measured on OUR held-out queries like every grid point. Going
    through that one function keeps this in step with the indexer."""
    try:
        from xmodal.indexer.factory import family_of
        from xmodal.indexer.indexing import IndexOptions, build_and_tune
        from xmodal.indexer.searching import search
        from xmodal.indexer.tune import in_memory_lookup
    except ImportError as exc:
        return {f"xmodal@{t}": {"skipped": f"xmodal.indexer build API unavailable ({exc})"} for t in targets}
    labels = np.arange(vs.n, dtype=np.int64)
    lookup = in_memory_lookup(vs.base, labels)
    out: dict[str, dict[str, Any]] = {}
    for target in targets:
        opts = IndexOptions(memory=memory, recall=target, tune_queries=min(1000, max(50, vs.n // 20)))
        t0 = time.perf_counter()
        index, factory, params, stats = build_and_tune(vs.base, labels, opts, None, lambda s: None)
        build_s = time.perf_counter() - t0
        res = measure(index, vs.queries, truth, single_max=single_max, base=vs.base,
                      search_fn=lambda q, p=params, ix=index: search(ix, q, K, p, None, lookup)[1])
        entry = {"factory": factory, "params": params, "family": family_of(factory),
                 "reason": stats.factory_reason, "memory_bytes": index_bytes(index),
                 "build_s": build_s, "index_s": stats.index_seconds, "tune_s": stats.tune_seconds,
                 "tuned_recall@10": stats.recall_at_10, "target_met_in_tuning": stats.recall_target_met,
                 **res}
        if params.get("rerank"):
            entry["note"] = "re-ranks candidates with stored float32 vectors (not counted in MiB)"
        out[f"xmodal@{target}"] = entry
        del index
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
                **measure(index, vs.queries, truth, single_max=single_max, base=vs.base)}
