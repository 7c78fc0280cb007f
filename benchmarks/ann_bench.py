"""`xmodal bench ann` as a library call: load vectors, exact ground truth,
sweep, automatic choices, report + plots."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from xmodal.alignment.core.sizes import parse_memory

from . import ann, ann_peers
from .ann_data import exact_topk, load_vectors
from .memory import maxrss_bytes
from .plots import recall_vs_qps
from .report import md_table


def run_ann(vectors: str, recalls: Sequence[float], memory: str, n_queries: int = 1000,
            autofaiss: bool = True, grid: Sequence[ann.Family] | None = None,
            plot_dir: str | Path | None = None, single_queries: int = 200,
            families: Sequence[str] | None = None,
            log: Callable[[str], None] = lambda s: None) -> tuple[dict[str, Any], str]:
    """Run the sweep; returns (results, markdown)."""
    budget = parse_memory(memory)
    t0 = time.perf_counter()
    vs = load_vectors(vectors, n_queries)
    log(f"vectors: {vs.source}: {vs.n} x {vs.dim}, {len(vs.queries)} held-out queries "
        f"({time.perf_counter() - t0:.1f}s)")
    t0 = time.perf_counter()
    truth = exact_topk(vs.base, vs.queries, ann.K)
    log(f"exact top-{ann.K} ground truth: {time.perf_counter() - t0:.1f}s")
    grid = list(grid) if grid is not None else ann.default_grid(vs.n, vs.dim)
    if families is not None:  # e.g. ("HNSW", "IVF-Flat"), or () for the automatic choices only
        wanted = {f.lower() for f in families}
        grid = [f for f in grid if f.family.lower() in wanted]

    def show(p: dict[str, Any]) -> None:
        if "error" in p:
            log(f"  {p['name']}: FAILED {p['error']}")
        else:
            log(f"  {p['name']}: recall@10 {p['recall@10']:.3f}, {p['qps_batch']:.0f} q/s batch, "
                f"{p['qps_single']:.0f} q/s single, {p['memory_bytes'] / 2**20:.1f} MiB, "
                f"build {p['build_s']:.1f}s")

    points = ann.sweep(vs, truth, grid, on_point=show, single_max=single_queries)
    choices = []
    for target in recalls:
        best = ann.choose(points, target, budget)
        choices.append({"name": f"recall>={target}", "target": target,
                        "best_measured": best["name"] if best else None,
                        "best_measured_qps_batch": best["qps_batch"] if best else None,
                        "best_measured_recall": best["recall@10"] if best else None})
    log("xmodal's automatic choice (indexer factory + tuning) per recall target ...")
    auto: dict[str, Any] = ann_peers.ours_auto(vs, truth, budget, recalls, single_queries)
    if autofaiss:
        log("autofaiss choice (subprocess in its own venv) ...")
        auto["autofaiss"] = ann_peers.autofaiss_choice(vs, truth, memory, single_max=single_queries)
    else:
        auto["autofaiss"] = {"skipped": "autofaiss not run (off for this run)"}
    for name, res in auto.items():
        log(f"  {name}: {res.get('skipped') or res.get('factory')}")
    results = {"vectors": vs.source, "n": vs.n, "dim": vs.dim, "n_queries": len(vs.queries),
               "memory_budget": memory, "memory_budget_bytes": budget, "points": points,
               "choices": choices, "auto": auto, "process_max_rss_bytes": maxrss_bytes()}
    if plot_dir is not None:
        good = [p for p in points if "error" not in p]
        marks = [{"name": name, **a} for name, a in auto.items() if "skipped" not in a]
        for key, what in (("qps_batch", "batched queries"), ("qps_single", "one query at a time")):
            if good:
                recall_vs_qps(good, Path(plot_dir) / f"ann_recall_vs_{key}.png",
                              f"{vs.source}: {what}", key, marks)
    return results, markdown(results)


def run_ann_scale(n: int, dim: int, seed: int, recall: float, memory: str, n_queries: int = 1000,
                  single_queries: int = 200, plot_dir: str | Path | None = None,
                  log: Callable[[str], None] = lambda s: None) -> tuple[dict[str, Any], str]:
    """What `xmodal index build` makes of `n` x `dim` clustered vectors: the
    indexer's own choice for one recall target, beside exact search (Flat),
    on the same held-out queries -- the sweep narrowed to those two."""
    return run_ann(f"synthetic:{n}x{dim}:{seed}", [recall], memory, n_queries, autofaiss=False,
                   plot_dir=plot_dir, single_queries=single_queries, families=["Flat"], log=log)


def markdown(r: dict[str, Any]) -> str:
    mib = 2 ** 20
    rows = [[p["name"], _r3(p.get("recall@10")), _r3(p.get("recall@10_ties")), p.get("qps_single"), p.get("qps_batch"),
             p["memory_bytes"] / mib if "memory_bytes" in p else None, p.get("build_s"),
             p.get("error", "")] for p in r["points"]]
    out = [f"## ANN sweep: {r['vectors']} ({r['n']} x {r['dim']}, {r['n_queries']} held-out queries, "
           f"memory budget {r['memory_budget']})", "",
           "recall@10 is id overlap with the exact inner-product top-10; recall@10 (ties) counts a "
           "returned item whose true score reaches the 10th exact score (duplicates are not misses). QPS single = 1 / median latency of "
           "one-query calls; QPS batch = all queries in one call (best of up to 3). MiB = serialised "
           "index size.", "",
           md_table(["index", "recall@10", "recall@10 (ties)", "QPS single", "QPS batch", "MiB", "build s", "error"],
                    rows),
           "", "### Best measured point per recall target (within the memory budget, by batched QPS)", "",
           md_table(["target", "index", "recall@10", "QPS batch"],
                    [[c["target"], c["best_measured"] or "none reached", _r3(c["best_measured_recall"]),
                      c["best_measured_qps_batch"]] for c in r["choices"]]),
           "", "### Automatic choices under the same budget", ""]
    auto_rows = []
    for name, a in r["auto"].items():
        if "skipped" in a:
            auto_rows.append([name, a["skipped"], None, None, None, None, None, None])
        else:
            auto_rows.append([name, f"{a['factory']} {a.get('params') or ''}".strip(), _r3(a["recall@10"]),
                              _r3(a.get("recall@10_ties")),
                              a["qps_single"], a["qps_batch"], a["memory_bytes"] / mib, a.get("build_s")])
    out.append(md_table(["chooser", "index", "recall@10", "recall@10 (ties)", "QPS single", "QPS batch", "MiB",
                         "build s"],
                        auto_rows))
    return "\n".join(out)


def _r3(x: float | None) -> str | None:
    """Recall with 3 decimals: 0.995 and 1.0 must not both print as 1.00."""
    return None if x is None else f"{x:.3f}"
