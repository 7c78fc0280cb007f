"""Per-stage latency of single text queries against one index: encode
(text tower), search (filters + FAISS), metadata (SQLite join), and the
total, as p50/p99/mean in milliseconds. JSON out.

    python -m xmodal.benchmarks.query_latency INDEX [-n 300] [--target image] [--threads 1] [--out latency.json]

One query at a time, like an interactive user; warm-up queries are run
first and not counted (first-call costs are reported separately)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Sequence

import click
import numpy as np

from .report import emit_json, git_state
from .report import environment as run_environment

STAGES = ("encode", "search", "metadata", "total")

# Generic descriptions, so the benchmark needs no dataset; pass --queries
# for a corpus-specific list (one query per line).
DEFAULT_QUERIES = [
    "a dog running on the beach", "a red car parked in the street", "a cat sleeping on a sofa",
    "an old castle on a hill", "a bird singing in the morning", "a cartoon sun with a smiling face",
    "a bowl of fruit on a table", "children playing football", "a snowy mountain at sunset",
    "a black and white line drawing of a house", "a church bell ringing", "rain falling on a roof",
    "a guitar being played", "a city skyline at night", "a flower in a vase", "a map of europe",
    "an arrow pointing right", "a computer keyboard", "people clapping in a hall", "a train passing by",
    "a sailing boat on the sea", "a clock showing three o'clock", "a green tree icon", "a knight with a sword",
    "a telephone ringing", "a coffee cup", "a lion roaring", "a simple star shape", "a bicycle",
    "a piano melody", "fireworks in the sky", "a wooden chair", "a happy face emoji", "an airplane taking off",
    "a hand drawn heart", "a fish in an aquarium", "a doctor with a stethoscope", "a book on a shelf",
    "waves crashing on rocks", "a warning sign", "a pizza slice", "a person speaking loudly",
    "a spaceship", "a recycling symbol", "footsteps on gravel", "a horse in a field", "a pencil",
    "thunder during a storm", "a birthday cake with candles", "a dragon breathing fire",
]


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / mean / min / max of a list of milliseconds."""
    arr = np.asarray(values_ms, dtype=np.float64)
    if arr.size == 0:
        return {}
    return {"p50": round(float(np.percentile(arr, 50)), 3), "p90": round(float(np.percentile(arr, 90)), 3),
            "p99": round(float(np.percentile(arr, 99)), 3), "mean": round(float(arr.mean()), 3),
            "min": round(float(arr.min()), 3), "max": round(float(arr.max()), 3)}


def measure(engine: Any, queries: Sequence[str], n: int, k: int = 10, target: str | None = None,
            warmup: int = 5) -> dict[str, Any]:
    """Run `n` single-text queries (cycling `queries`); per-stage ms lists
    -> percentiles. The first call is timed on its own (cold caches)."""
    from xmodal.search import Query

    first: dict[str, float] = {}
    t0 = time.perf_counter()
    engine.search(Query(text=queries[0]), k=k, target=target, stages=first)
    first["total"] = time.perf_counter() - t0
    for i in range(warmup):
        engine.search(Query(text=queries[(i + 1) % len(queries)]), k=k, target=target)
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    n_hits = 0
    for i in range(n):
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        hits = engine.search(Query(text=queries[i % len(queries)]), k=k, target=target, stages=stages)
        total = time.perf_counter() - t0
        n_hits += len(hits)
        for s in ("encode", "search", "metadata"):
            samples[s].append(stages.get(s, 0.0) * 1000)
        samples["total"].append(total * 1000)
    return {
        "stages_ms": {s: percentiles(v) for s, v in samples.items()},
        "first_query_ms": {s: round(v * 1000, 3) for s, v in first.items()},
        "queries": n, "distinct_queries": min(n, len(queries)), "mean_hits": round(n_hits / max(n, 1), 2),
        "queries_per_second_serial": round(n / (sum(samples["total"]) / 1000), 2) if n else None,
    }


def environment(engine: Any, git: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shared run environment (versions, CPU, threads, git) + the index."""
    return {**run_environment(git), "index": engine.sources[0].info()}


@click.command()
@click.argument("index", type=click.Path(exists=True, file_okay=False))
@click.option("-n", "--n", "n", default=300, show_default=True, help="Timed queries.")
@click.option("-k", "--k", "k", default=10, show_default=True)
@click.option("--target", type=click.Choice(["image", "audio", "text", "all"]), default="all", show_default=True)
@click.option("--warmup", default=5, show_default=True)
@click.option("--queries", "queries_file", type=click.Path(exists=True, dir_okay=False),
              help="Text queries, one per line (default: a built-in list of 50).")
@click.option("--threads", type=int, default=1, show_default=True,
              help="Torch/FAISS threads; 1 is what `xmodal serve` uses per query, 0 = library default.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON report here.")
def main(index: str, n: int, k: int, target: str, warmup: int, queries_file: str | None,
         threads: int | None, out: str | None) -> None:
    """Per-stage latency (encode / search / metadata) of text queries on INDEX."""
    from xmodal.alignment.core.errors import XmodalError
    from xmodal.alignment.core.output import fail
    from xmodal.alignment.core.threads import set_threads
    from xmodal.search import Engine

    git = git_state()  # the code that runs, even if the tree moves during the run
    if threads:
        set_threads(threads)
    queries = DEFAULT_QUERIES
    if queries_file:
        queries = [q.strip() for q in Path(queries_file).read_text().splitlines() if q.strip()]
        if not queries:
            fail(f"{queries_file}: no queries in it")
    try:
        t0 = time.perf_counter()
        engine = Engine.open(index)
        load_s = time.perf_counter() - t0
        result = measure(engine, queries, n, k, None if target == "all" else target, warmup)
    except XmodalError as exc:
        fail(str(exc))
        return
    report = {"benchmark": "query_latency", "command": " ".join(["python -m xmodal.benchmarks.query_latency", *sys.argv[1:]]),
              "params": {"index": index, "n": n, "k": k, "target": target, "warmup": warmup},
              "engine_open_seconds": round(load_s, 3), **result, "environment": environment(engine, git)}
    emit_json(report, out)


if __name__ == "__main__":
    main()
