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
    """What `xmodal index build` would do for these vectors at each recall
    target: the indexer's factory choice, its training sample, build and
    search-parameter tuning (on its own tuning queries, as in
    `indexing.build_and_tune`), then measured on our held-out queries like
    every grid point. Targets that choose the same factory share one build."""
    try:
        from xmodal.indexer.factory import build_index, choose_factory, family_of, train_sample_size
        from xmodal.indexer.searching import search
        from xmodal.indexer.tune import in_memory_lookup, make_queries, tune
    except ImportError as exc:
        return {f"xmodal@{t}": {"skipped": f"xmodal.indexer build API unavailable ({exc})"} for t in targets}
    labels = np.arange(vs.n, dtype=np.int64)
    lookup = in_memory_lookup(vs.base, labels)
    by_factory: dict[str, list[tuple[float, Any]]] = {}
    for t in targets:
        choice = choose_factory(vs.n, vs.dim, memory, t)
        by_factory.setdefault(choice.factory, []).append((t, choice))
    out: dict[str, dict[str, Any]] = {}
    for factory, wanted in by_factory.items():
        rng = np.random.default_rng(0)
        n_train = train_sample_size(factory, vs.n)
        rows = np.sort(rng.choice(vs.n, size=n_train, replace=False)) if n_train < vs.n else None
        t0 = time.perf_counter()
        index = build_index(factory, vs.base, labels, rows)
        build_s = time.perf_counter() - t0
        tune_q = make_queries(vs.base, min(1000, max(50, vs.n // 20)), rng, exclude=rows)
        size = index_bytes(index)
        for target, choice in wanted:
            t0 = time.perf_counter()
            tuned = tune(index, vs.base, labels, tune_q, target, lookup, is_pq=family_of(factory) == "ivf-pq")
            params = tuned.search_params
            res = measure(index, vs.queries, truth, single_max=single_max,
                          search_fn=lambda q, p=params: search(index, q, K, p, None, lookup)[1])
            entry = {"factory": factory, "params": params, "family": family_of(factory),
                     "reason": choice.reason, "memory_bytes": size, "build_s": build_s,
                     "tune_s": time.perf_counter() - t0, "tuned_recall@10": tuned.recall_at_10,
                     "target_met_in_tuning": tuned.met, **res}
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
                **measure(index, vs.queries, truth, single_max=single_max)}
