"""`xmodal bench query-latency`: per-stage latency of single text queries
against one index -- encode (text tower), search (filters + FAISS),
metadata (SQLite join) and the total -- as p50/p90/p99/mean in ms.

One query at a time, like an interactive user; warm-up queries run first
and are not counted (the first, cold call is reported on its own)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xmodal.alignment.core.errors import BadInput

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


@dataclass
class LatencyOptions:
    """What `xmodal bench query-latency` takes."""

    index: str
    n: int = 300
    k: int = 10
    target: str | None = None  # None: every modality
    warmup: int = 5
    queries: list[str] = field(default_factory=lambda: list(DEFAULT_QUERIES))


@dataclass
class LatencyResult:
    """Percentiles per stage over the timed queries."""

    stages_ms: dict[str, dict[str, float]]
    first_query_ms: dict[str, float]
    queries: int
    distinct_queries: int
    mean_hits: float
    queries_per_second_serial: float | None
    engine_open_seconds: float | None = None
    index: dict[str, Any] | None = None


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / mean / min / max of a list of milliseconds."""
    arr = np.asarray(values_ms, dtype=np.float64)
    if arr.size == 0:
        return {}
    return {"p50": round(float(np.percentile(arr, 50)), 3), "p90": round(float(np.percentile(arr, 90)), 3),
            "p99": round(float(np.percentile(arr, 99)), 3), "mean": round(float(arr.mean()), 3),
            "min": round(float(arr.min()), 3), "max": round(float(arr.max()), 3)}


def load_queries(path: str) -> list[str]:
    """Text queries from a file, one per line (blank lines ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(path, f"cannot read queries ({exc})", "pass a UTF-8 text file, one query per line") from None
    queries = [q.strip() for q in lines if q.strip()]
    if not queries:
        raise BadInput(path, "has no queries in it", "write one text query per line")
    return queries


def measure(engine: Any, queries: Sequence[str], n: int, k: int = 10, target: str | None = None,
            warmup: int = 5) -> LatencyResult:
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
    return LatencyResult(
        {s: percentiles(v) for s, v in samples.items()}, {s: round(v * 1000, 3) for s, v in first.items()},
        n, min(n, len(queries)), round(n_hits / max(n, 1), 2),
        round(n / (sum(samples["total"]) / 1000), 2) if n else None)


def run_query_latency(opts: LatencyOptions) -> LatencyResult:
    """Open the index (timed), then `measure` it."""
    from xmodal.search import Engine

    if opts.n < 1 or opts.k < 1:
        raise BadInput(f"-n {opts.n} -k {opts.k}", "needs at least one query and k >= 1")
    t0 = time.perf_counter()
    engine = Engine.open(opts.index)
    open_s = time.perf_counter() - t0
    result = measure(engine, opts.queries, opts.n, opts.k, opts.target, opts.warmup)
    result.engine_open_seconds = round(open_s, 3)
    result.index = engine.sources[0].info()
    return result


def markdown(r: LatencyResult, opts: LatencyOptions) -> str:
    from .report import md_table

    rows = [[s, *(r.stages_ms[s].get(p) for p in ("p50", "p90", "p99", "mean", "max")), r.first_query_ms.get(s)]
            for s in STAGES if r.stages_ms.get(s)]
    return "\n".join([
        f"## Query latency: {opts.index} ({r.queries} single text queries, k={opts.k}, "
        f"target {opts.target or 'all'})", "",
        md_table(["stage", "p50 ms", "p90 ms", "p99 ms", "mean ms", "max ms", "first (cold) ms"], rows), "",
        f"{r.queries_per_second_serial} queries/s serial; {r.distinct_queries} distinct queries, "
        f"{r.mean_hits} hits each on average; engine opened in {r.engine_open_seconds}s.",
    ])
