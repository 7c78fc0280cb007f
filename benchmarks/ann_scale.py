"""ANN at scale through the indexer's own path: N random-but-clustered
vectors, the auto-chosen FAISS factory (default memory budget, recall
target), its tuned search parameters, then recall@10 and QPS on fresh
held-out queries against exact IndexFlatIP search in the same run.

    nice python -m xmodal.benchmarks.ann_scale --n 1000000 --dim 384 --out ann-scale.json

The held-out queries are new draws from the same mixture: never indexed,
never used for training or tuning (the tuner uses its own query sample).
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import click
import faiss
import numpy as np
from xmodal.benchmarks.ann import index_bytes
from xmodal.benchmarks.ann_data import synthetic
from xmodal.benchmarks.throughput import maxrss_bytes
from xmodal.indexer.factory import DEFAULT_MEMORY, parse_memory
from xmodal.indexer.indexing import IndexOptions, build_and_tune
from xmodal.indexer.searching import recall_at_k, search
from xmodal.indexer.tune import in_memory_lookup


def run(n: int, dim: int, queries: int, memory: int, recall: float, clusters: int, spread: float,
        seed: int, log=lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    t0 = time.perf_counter()
    base, held = synthetic(n, dim, queries, seed, clusters, spread)
    labels = np.arange(n, dtype=np.int64)
    log(f"generated {n} x {dim} in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    index, factory, params, stats = build_and_tune(base, labels, IndexOptions(memory, recall), None, log)
    build_s = time.perf_counter() - t0

    lookup = in_memory_lookup(base, labels) if params.get("rerank") else None
    search(index, held[:50], 10, params, None, lookup)  # warm-up
    t0 = time.perf_counter()
    _, found = search(index, held, 10, params, None, lookup)
    ann_s = time.perf_counter() - t0

    flat = faiss.IndexFlatIP(dim)  # built outside the timing, so QPS is search only
    flat.add(base)
    flat.search(held[:50], 10)
    t0 = time.perf_counter()
    _, truth = flat.search(held, 10)
    flat_s = time.perf_counter() - t0
    # peak RSS first: index_bytes serialises the index, a copy that must not count
    peak_rss = maxrss_bytes()
    index_size = index_bytes(index)

    return {
        "n": n, "dim": dim, "held_out_queries": queries, "clusters": clusters, "spread": spread,
        "memory_budget_bytes": memory, "recall_target": recall,
        "factory": factory, "factory_reason": stats.get("factory_reason"),
        "fallback": stats.get("fallback"), "scanned_fraction": stats.get("scanned_fraction"),
        "search_params": params,
        "recall_at_10_heldout": round(recall_at_k(found, truth, 10), 4),
        "recall_at_10_tuning": stats.get("recall_at_10"), "recall_target_met_in_tuning": stats.get("recall_target_met"),
        "qps_ann": round(queries / ann_s, 1), "qps_flat_ip": round(queries / flat_s, 1),
        "speedup_vs_flat": round(flat_s / ann_s, 2),
        "index_bytes": index_size, "raw_vectors_bytes": int(base.nbytes),
        "build_seconds_total": round(build_s, 1), "train_add_seconds": stats.get("index_seconds"),
        "tune_seconds": stats.get("tune_seconds"), "tune_trials": stats.get("tune_trials"),
        "latency_ms_single_query": stats.get("latency_ms_mean"),
        "max_rss_gb": round(peak_rss / 1024**3, 2), "threads": faiss.omp_get_max_threads(),
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "faiss": faiss.__version__,
        "note": "2 shared cores with other jobs running; QPS are batched (all queries at once)",
    }


@click.command()
@click.option("--n", default=1_000_000, show_default=True)
@click.option("--dim", default=384, show_default=True)
@click.option("--queries", default=1000, show_default=True, help="Held-out queries.")
@click.option("--memory", default=None, help=f"Memory budget [default {DEFAULT_MEMORY // 1024**3}G].")
@click.option("--recall", default=0.95, show_default=True)
@click.option("--clusters", default=None, type=int, help="Mixture components [default sqrt(n)].")
@click.option("--spread", default=0.6, show_default=True, help="Noise norm around unit-norm centres.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def main(n, dim, queries, memory, recall, clusters, spread, seed, out) -> None:
    """Build + tune + measure one auto-chosen index; write JSON to OUT."""
    clusters = clusters or max(8, int(np.sqrt(n)))
    res = run(n, dim, queries, parse_memory(memory), recall, clusters, spread, seed)
    Path(out).write_text(json.dumps(res, indent=2))
    click.echo(json.dumps({k: v for k, v in res.items() if k != "tune_trials"}))


if __name__ == "__main__":
    main()
