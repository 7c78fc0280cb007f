"""`xmodal bench scale`: embedding records/s in-process vs on Ray with 1, 2,
... encoder workers, in one run, on the same corpus.

Each configuration embeds the whole corpus into fresh shards with the
indexer's own functions (`embed.embed_to_shards` locally,
`ray_embed.embed_to_shards_ray` on a local Ray cluster), one CPU thread per
worker, so "local" and "Ray, 1 worker" do the same work on the same core
budget and their ratio is Ray's overhead. Rounds are interleaved (local,
ray 1, ray 2, local, ...) and medians reported, because the machine is
shared. The timed span is the embedding stage (actor start-up and model
loads included); starting the Ray cluster itself is reported apart.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

Log = Callable[[str], None]


def _records(corpus: Sequence[str]) -> list[Any]:
    from xmodal.indexer.build import SkipCollector
    from xmodal.indexer.readers import read_corpus

    return list(SkipCollector(read_corpus(list(corpus))).records())


def _stamp(marks: list[float]):
    return lambda k, name, reused, n: marks.append(time.perf_counter())


def _local(records: list[Any], spec: str, work: Path, shard_size: int, batch_size: int,
           marks: list[float]) -> float:
    import torch

    from xmodal.alignment import load_encoder
    from xmodal.indexer.embed import EmbedSettings, embed_to_shards

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what one Ray worker gets
    try:
        t0 = time.perf_counter()
        stack = load_encoder(spec)
        embed_to_shards(records, stack, str(work), "s-", EmbedSettings(shard_size, batch_size, 1),
                        on_shard=_stamp(marks))
        return time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)


def _ray(records: list[Any], stack: Any, work: Path, workers: int, shard_size: int,
         batch_size: int, marks: list[float]) -> float:
    from xmodal.indexer.embed import EmbedSettings
    from xmodal.indexer.ray_embed import RayOptions, embed_to_shards_ray

    t0 = time.perf_counter()
    embed_to_shards_ray(records, stack, str(work), "s-", RayOptions("auto", workers, 1),
                        EmbedSettings(shard_size, batch_size, 1), on_shard=_stamp(marks))
    return time.perf_counter() - t0


def run_scale(corpus: Sequence[str], spec: str, workers: Sequence[int], rounds: int = 1,
              shard_size: int = 256, batch_size: int = 64, log: Log = print) -> tuple[dict[str, Any], str]:
    """Measure; -> (results, markdown summary)."""
    import ray

    from xmodal.alignment import load_encoder
    from xmodal.indexer.ray_embed import RayOptions, connect

    # Ray starts workers at niceness +15 by default: on a shared machine that
    # alone makes "Ray, 1 worker" lose to "local"; run both at our priority
    os.environ.setdefault("RAY_worker_niceness", "0")
    records = _records(corpus)
    if not records:
        from xmodal.alignment.core.errors import XmodalError

        raise XmodalError(f"{', '.join(corpus)}: no readable records to embed")
    stack = load_encoder(spec)
    n_cpu = max(max(workers), os.cpu_count() or 1)
    t0 = time.perf_counter()
    connect(RayOptions("auto", n_cpu, 1))  # one cluster for the whole run; each config joins it
    start_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {"local": []} | {f"ray-{w}": [] for w in workers}
    # steady state: records of shards 2..N over the time from the first
    # finished shard to the last (start-up and model loads left out)
    steady: dict[str, list[float]] = {k: [] for k in times}
    try:
        for r in range(rounds):
            for name in times:
                work = Path(tempfile.mkdtemp(prefix=f"xmodal-scale-{name}-"))
                marks: list[float] = []
                try:
                    if name == "local":
                        dt = _local(records, spec, work, shard_size, batch_size, marks)
                    else:
                        dt = _ray(records, stack, work, int(name.split("-")[1]), shard_size, batch_size, marks)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
                times[name].append(dt)
                if len(marks) >= 2 and marks[-1] > marks[0]:
                    later = len(records) - min(shard_size, len(records))
                    steady[name].append(later / (marks[-1] - marks[0]))
                log(f"round {r + 1}/{rounds} {name}: {len(records) / dt:.1f} records/s ({dt:.1f}s)")
    finally:
        ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = {k: {"seconds": [round(x, 2) for x in v], "median_seconds": round(med[k], 2),
                "records_per_second": round(len(records) / med[k], 2),
                "steady_records_per_second": round(statistics.median(steady[k]), 2) if steady[k] else None}
            for k, v in times.items()}
    if "ray-1" in med:
        rows["ray-1"]["overhead_vs_local"] = round(med["ray-1"] / med["local"] - 1, 4)
        if steady["ray-1"] and steady["local"]:
            rows["ray-1"]["steady_overhead_vs_local"] = round(
                statistics.median(steady["local"]) / statistics.median(steady["ray-1"]) - 1, 4)
    results = {"records": len(records), "model": spec, "shard_size": shard_size, "batch_size": batch_size,
               "rounds": rounds, "ray_cluster_start_seconds": round(start_s, 2), "configs": rows,
               "load_average_end": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    return results, _markdown(results)


def _markdown(res: dict[str, Any]) -> str:
    lines = [f"# bench scale: {res['records']} records, model {res['model']}",
             "", "| config | records/s (all) | steady records/s | median s | overhead vs local (all / steady) |",
             "|---|---|---|---|---|"]
    for name, row in res["configs"].items():
        ov, sov = row.get("overhead_vs_local"), row.get("steady_overhead_vs_local")
        cell = "" if ov is None else f"{ov:+.1%} / " + ("n/a" if sov is None else f"{sov:+.1%}")
        lines.append(f"| {name} | {row['records_per_second']} | {row['steady_records_per_second']} | "
                     f"{row['median_seconds']} | {cell} |")
    lines += ["", f"Ray cluster start (once, not in the timings): {res['ray_cluster_start_seconds']} s; "
              f"load average at the end {', '.join(f'{x:.1f}' for x in res['load_average_end'])} "
              f"on {res['cpu_count']} cores."]
    return "\n".join(lines)
