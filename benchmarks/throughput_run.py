"""`xmodal bench throughput` as a library call: items/s of the bare encoder
forward and of the full indexing pipeline, per modality, for one or more
encoder variants measured interleaved in one run.

A variant is one way of running the same model: an inference backend
(`--backend torch onnx openvino`), each at its own batch size unless one is
given. Every round runs every variant's forward and pipeline, the variant
order rotating per round, so all of them see the same background load;
medians over rounds are reported, with the 1-minute load average at the
start of each round. The first variant (torch eager) is the reference for
the items/s ratios and the cosine of the outputs. Each modality also gets
its physical bound: FLOPs per item against the measured peak GFLOP/s."""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from xmodal.alignment.backends import preferred_batch
from xmodal.alignment.core.errors import XmodalError

from .memory import maxrss_bytes, peak_rss
from .synthetic_media import write_corpus
from .throughput import Forward, Pipeline, bare_forward, collect, cosine_rows, physical_bound, pipeline

Log = Callable[[str], None]
MODALITIES = ("text", "image", "audio")
SYNTHETIC = {"image": 200, "audio": 64, "text": 1000}  # items per modality without --corpus
SYNTHETIC_NOTE = "synthetic: JPEG 480-1024 px (crops of sample photos), 10 s stereo 44.1 kHz WAV, 6-20 word captions"


@dataclass(frozen=True)
class Variant:
    """One encoder configuration in an interleaved run: a name for the
    report and how to build its stack (called once, timed)."""

    name: str
    load: Callable[[], Any]


@dataclass
class ThroughputOptions:
    """What `xmodal bench throughput` takes (besides the variants)."""

    model: str
    corpus: list[str] = field(default_factory=list)  # empty: a synthetic corpus is generated
    modalities: list[str] = field(default_factory=lambda: list(MODALITIES))
    limit: int | None = None
    batch_size: int | None = None  # None: each backend's preferred batch per modality
    workers: int = 2
    rounds: int = 3


@dataclass
class VariantLoad:
    name: str
    dim: int
    load_s: float
    load_rss_growth_bytes: int


@dataclass
class VariantThroughput:
    """One variant on one modality: medians over rounds, ratios, memory."""

    name: str
    batch_size: int
    forward_items: int
    forward_items_per_s: float | None
    decode_items_per_s: float | None
    pipeline_items: int
    pipeline_skipped: int
    pipeline_items_per_s: float | None
    pipeline_over_forward: float | None
    forward_over_reference: float | None
    pipeline_over_reference: float | None
    cosine_to_reference_mean: float | None
    cosine_to_reference_min: float | None
    forward_peak_rss_bytes: int
    forward_rss_growth_bytes: int
    pipeline_peak_rss_bytes: int
    pipeline_rss_growth_bytes: int
    factory: str | None
    embed_s: float | None  # last round's pipeline stages
    index_s: float | None
    tune_s_not_counted: float | None
    rounds: dict[str, list[float | None]]


@dataclass
class ModalityThroughput:
    modality: str
    items: int
    loadavg_1m_per_round: list[float | None]
    variants: list[VariantThroughput]
    flops_per_item: float | None = None  # the physical bound (see throughput_bound)
    peak_gflops: float | None = None
    bound_items_per_s: float | None = None


@dataclass
class ThroughputResult:
    model: str
    corpus: list[str]
    batch_size: int | None
    workers: int
    rounds: int
    reference: str
    variants: list[VariantLoad]
    modalities: list[ModalityThroughput]
    process_max_rss_bytes: int


def _median(values: Sequence[float | None]) -> float | None:
    vals = sorted(v for v in values if v is not None)
    return vals[len(vals) // 2] if vals else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _load_variants(variants: Sequence[Variant], log: Log) -> list[tuple[Variant, Any, VariantLoad]]:
    loaded = []
    for v in variants:
        with peak_rss() as mem:
            t0 = time.perf_counter()
            stack = v.load()
            load_s = time.perf_counter() - t0
        loaded.append((v, stack, VariantLoad(v.name, int(stack.dim), load_s,
                                              mem["peak_rss_bytes"] - mem["start_rss_bytes"])))
        log(f"{v.name}: loaded in {load_s:.1f}s")
    return loaded


def _summarise(name: str, batch: int, fwds: list[Forward], pipes: list[Pipeline],
               ref: VariantThroughput | None, ref_vectors: Any) -> VariantThroughput:
    f_rate = _median([f.items_per_s for f in fwds])
    p_rate = _median([p.items_per_s for p in pipes])
    cos_mean, cos_min = cosine_rows(fwds[0].vectors, ref_vectors) if ref is not None else (None, None)
    last = pipes[-1]
    return VariantThroughput(
        name, batch, fwds[-1].items, f_rate, _median([f.decode_items_per_s for f in fwds]),
        last.items, last.skipped, p_rate, _ratio(p_rate, f_rate),
        _ratio(f_rate, ref.forward_items_per_s) if ref else None,
        _ratio(p_rate, ref.pipeline_items_per_s) if ref else None, cos_mean, cos_min,
        max(f.peak_rss_bytes for f in fwds), max(f.rss_growth_bytes for f in fwds),
        max(p.peak_rss_bytes for p in pipes), max(p.rss_growth_bytes for p in pipes),
        last.factory, last.embed_s, last.index_s, last.tune_s_not_counted,
        {"forward_items_per_s": [f.items_per_s for f in fwds],
         "pipeline_items_per_s": [p.items_per_s for p in pipes]})


def _measure_modality(loaded: list[tuple[Variant, Any, VariantLoad]], mod: str, items: list[dict[str, Any]],
                      opts: ThroughputOptions, tmp: Path, log: Log) -> ModalityThroughput:
    """Rounds x variants (rotating order), forward then pipeline each time."""
    runs = {v.name: ([], []) for v, _, _ in loaded}
    batch = {v.name: opts.batch_size or preferred_batch(stack.encoder(mod)) for v, stack, _ in loaded}
    loads: list[float | None] = []
    rounds = max(1, opts.rounds)
    for r in range(rounds):
        loads.append(_loadavg())
        order = loaded[r % len(loaded):] + loaded[: r % len(loaded)]
        for v, stack, _ in order:
            log(f"{mod}: {len(items)} items, round {r + 1}/{rounds}, {v.name}: bare forward, then full pipeline")
            fwds, pipes = runs[v.name]
            fwds.append(bare_forward(stack, mod, items, batch[v.name], keep_vectors=r == 0))
            pipes.append(pipeline(stack, mod, items, batch[v.name], opts.workers, tmp / f"{mod}-{v.name}-{r}"))
    ref_name = loaded[0][0].name
    ref = _summarise(ref_name, batch[ref_name], *runs[ref_name], None, None)
    out = [ref]
    for v, _, _ in loaded[1:]:
        out.append(_summarise(v.name, batch[v.name], *runs[v.name], ref, runs[ref_name][0][0].vectors))
    for v in out:
        log(f"{mod}, {v.name}: pipeline {v.pipeline_items_per_s or 0:.1f} items/s, "
            f"forward {v.forward_items_per_s or 0:.1f} items/s (medians of {rounds})")
    b = physical_bound(loaded[0][1], mod, items, batch[ref_name])
    log(f"{mod}: {b.flops_per_item or 0:.3g} FLOPs/item at a measured peak of {b.peak_gflops or 0:.1f} "
        f"GFLOP/s: bound {b.bound_items_per_s or 0:.1f} items/s")
    return ModalityThroughput(mod, len(items), loads, out, b.flops_per_item, b.peak_gflops, b.bound_items_per_s)


def run_throughput(opts: ThroughputOptions, variants: Sequence[Variant],
                   log: Log = lambda s: None) -> ThroughputResult:
    """Every variant on every modality the corpus and the stacks have."""
    if not variants:
        raise XmodalError("bench throughput: no encoder variant to measure")
    loaded = _load_variants(variants, log)
    have = set.intersection(*(set(stack.modalities) for _, stack, _ in loaded))
    wanted = [m for m in opts.modalities if m in have]
    with tempfile.TemporaryDirectory(prefix="xmodal-throughput-") as tmp:
        corpus, note = list(opts.corpus), list(opts.corpus)
        if not corpus:
            sizes = {m: min(n, opts.limit or n) if m in wanted else 0 for m, n in SYNTHETIC.items()}
            log(f"no --corpus: generating {sizes['image']} images, {sizes['audio']} clips, {sizes['text']} texts")
            corpus = [str(write_corpus(Path(tmp) / "corpus", sizes["image"], sizes["audio"], sizes["text"]))]
            note = [SYNTHETIC_NOTE]
        rows = collect(corpus, wanted, opts.limit)
        if not rows:
            raise XmodalError(f"corpus {', '.join(corpus)}: no {'/'.join(wanted)} items to time "
                              "(point --corpus at a folder or manifest with images, audio or text)")
        mods = [_measure_modality(loaded, m, items, opts, Path(tmp), log) for m, items in rows.items()]
    return ThroughputResult(opts.model, note, opts.batch_size, opts.workers, max(1, opts.rounds),
                            loaded[0][0].name, [vl for _, _, vl in loaded], mods, maxrss_bytes())
