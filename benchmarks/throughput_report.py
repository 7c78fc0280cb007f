"""Markdown summary and bar plot of a `bench throughput` result."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from .plots import throughput_bars
from .report import md_table
from .throughput_run import ThroughputResult

MIB = 2**20


def markdown(r: ThroughputResult) -> str:
    """One row per modality and variant; ratio/cosine columns when there
    is more than one variant to compare."""
    several = len(r.variants) > 1
    heads = ["modality", "variant", "batch", "items", "pipeline items/s", "forward items/s", "decode items/s",
             "pipeline/forward", "forward / bound"]
    heads += [f"forward / {r.reference}", f"pipeline / {r.reference}", "cosine mean", "cosine min"] if several else []
    heads += ["pipeline peak RSS MiB", "forward peak RSS MiB", "skipped", "load 1m per round"]
    rows = []
    for m in r.modalities:
        for v in m.variants:
            row = [m.modality, v.name, v.batch_size, m.items, v.pipeline_items_per_s, v.forward_items_per_s,
                   v.decode_items_per_s, v.pipeline_over_forward,
                   v.forward_items_per_s / m.bound_items_per_s
                   if v.forward_items_per_s and m.bound_items_per_s else None]
            if several:
                row += [v.forward_over_reference, v.pipeline_over_reference,
                        _r5(v.cosine_to_reference_mean), _r5(v.cosine_to_reference_min)]
            row += [v.pipeline_peak_rss_bytes / MIB, v.forward_peak_rss_bytes / MIB, v.pipeline_skipped,
                    " ".join("-" if x is None else f"{x:.1f}" for x in m.loadavg_1m_per_round)]
            rows.append(row)
    loads = "; ".join(f"{v.name} {v.load_s:.1f}s (+{v.load_rss_growth_bytes / MIB:.0f} MiB)" for v in r.variants)
    bounds = "; ".join(f"{m.modality} {m.flops_per_item / 1e9:.3f} GFLOP/item x {m.peak_gflops:.1f} GFLOP/s "
                       f"= {m.bound_items_per_s:.1f} items/s" for m in r.modalities
                       if m.flops_per_item and m.peak_gflops and m.bound_items_per_s)
    return "\n".join([
        f"## Throughput: {r.model} (batch {r.batch_size or 'per backend'}, {r.workers} decode workers, "
        f"medians of {r.rounds} interleaved rounds)", "",
        f"corpus: {', '.join(r.corpus)}", "",
        md_table(heads, rows), "",
        "pipeline = decode + encode + shard write + FAISS train/add via the indexer's build "
        "(search-parameter tuning excluded); forward = encoder.encode on pre-decoded batches; "
        "decode = encoder.prepare alone, single thread. Peak RSS is the whole process (every "
        "loaded variant) while the stage ran.",
        f"Model load: {loads}; process peak RSS {r.process_max_rss_bytes / MIB:.0f} MiB.",
        f"Physical bound (FLOPs per item of the frozen graph, counted on the first batch, x the measured "
        f"peak of an fp32 1024x1024 matrix product on the same threads): {bounds or 'n/a'}.",
    ])


def plot(r: ThroughputResult, out_dir: str | Path) -> Path:
    """throughput.png in `out_dir`: items/s per modality, variant and stage."""
    return throughput_bars([asdict(m) for m in r.modalities], Path(out_dir) / "throughput.png",
                           f"{r.model}: items/s")


def _r5(x: float | None) -> str | None:
    """Cosines near 1 need 5 decimals (0.99912 vs 0.99999)."""
    return None if x is None else f"{x:.5f}"
