"""`xmodal bench throughput`: items/s of the full indexing pipeline
(decode + encode + add, through the indexer's `build`) against the bare
encoder forward pass on pre-decoded inputs, per modality, in one run, plus
peak memory.

Peak memory per stage is the highest resident set size seen by a sampler
thread while the stage runs (covers torch/FAISS buffers, which tracemalloc
cannot see); the process-wide `ru_maxrss` high-water mark is reported too.
"""
from __future__ import annotations

import json
import resource
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from xmodal.alignment.core.errors import XmodalError

Log = Callable[[str], None]
PAGE = resource.getpagesize()


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:  # not Linux: fall back to the high-water mark
        return maxrss_bytes()


def maxrss_bytes() -> int:
    """Process peak RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def peak_rss(interval: float = 0.02) -> Iterator[dict[str, int]]:
    """Yields a dict whose 'peak_rss_bytes' is filled in when the block ends."""
    box = {"start_rss_bytes": _rss_bytes(), "peak_rss_bytes": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            box["peak_rss_bytes"] = max(box["peak_rss_bytes"], _rss_bytes())
            stop.wait(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield box
    finally:
        stop.set()
        t.join()
        box["peak_rss_bytes"] = max(box["peak_rss_bytes"], _rss_bytes())


def collect(corpus: Sequence[str], modalities: Sequence[str], limit: int | None) -> dict[str, list[dict[str, Any]]]:
    """Manifest rows per modality from a corpus (folder / manifest / tar).

    Media items are taken without their captions (so the pipeline encodes
    exactly the items the forward pass does); the text modality uses the
    corpus's text items, else the captions of its media items."""
    from xmodal.indexer.readers import Record, read_corpus

    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in modalities}
    captions: list[dict[str, Any]] = []
    for e in read_corpus(list(corpus)):
        if not isinstance(e, Record):
            continue
        if e.modality == "text" and e.text and "text" in rows:
            rows["text"].append({"id": e.id, "text": e.text, "modality": "text"})
        elif e.modality in rows and e.uri:
            rows[e.modality].append({"id": e.id, "path": e.uri, "modality": e.modality})
        for j, c in enumerate(e.captions):
            captions.append({"id": f"{e.id}#caption{j}", "text": c, "modality": "text"})
    if "text" in rows and not rows["text"]:
        rows["text"] = captions
    return {m: (r[:limit] if limit else r) for m, r in rows.items() if r}


def bare_forward(stack: Any, modality: str, rows: list[dict[str, Any]], batch_size: int) -> dict[str, Any]:
    """Decode everything first (timed apart), then time only `encode`."""
    import torch

    enc = stack.encoder(modality)
    items = [r.get("text") if modality == "text" else r["path"] for r in rows]
    t0 = time.perf_counter()
    prepared = []
    for it in items:
        try:
            prepared.append(enc.prepare(it))
        except XmodalError:
            pass  # the pipeline skips and reports these; here they are just not timed
    decode_s = time.perf_counter() - t0
    if not prepared:
        return {"forward_items": 0, "decode_s": decode_s, "forward_s": None, "forward_items_per_s": None}
    with torch.inference_mode():
        enc.encode(prepared[: min(batch_size, len(prepared))])  # warm-up: lazy init, allocator
        with peak_rss() as mem:
            t0 = time.perf_counter()
            for s in range(0, len(prepared), batch_size):
                enc.encode(prepared[s : s + batch_size])
            forward_s = time.perf_counter() - t0
    return {"forward_items": len(prepared), "decode_s": decode_s,
            "decode_items_per_s": len(items) / decode_s if decode_s > 0 else None,
            "forward_s": forward_s, "forward_items_per_s": len(prepared) / forward_s,
            "forward_peak_rss_bytes": mem["peak_rss_bytes"]}


def pipeline(stack: Any, modality: str, rows: list[dict[str, Any]], batch_size: int, workers: int,
             tmp: Path) -> dict[str, Any]:
    """The indexer's build over these items into a throwaway index.

    Items/s counts decode + encode + shard write (embed stage) and FAISS
    train + add (index stage); the search-parameter tuning the indexer runs
    afterwards is reported apart and not counted."""
    from xmodal.indexer.build import BuildConfig, build

    manifest = tmp / f"{modality}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = BuildConfig(corpus=[str(manifest)], out=str(tmp / f"{modality}.xmodal"), model=stack.spec,
                      batch_size=batch_size, workers=workers, tune_queries=100)
    with peak_rss() as mem:
        rep = build(cfg, stack=stack, progress=False, log=lambda s: None)
    stats = rep.get("index_stats") or {}
    seconds = float(rep.get("embed_seconds") or 0) + float(stats.get("index_seconds") or 0)
    ok = int(rep.get("records") or 0) - int(rep.get("skipped_count") or 0)
    return {"pipeline_items": ok, "pipeline_skipped": rep.get("skipped_count", 0),
            "embed_s": rep.get("embed_seconds"), "index_s": stats.get("index_seconds"),
            "tune_s_not_counted": stats.get("tune_seconds"), "factory": rep.get("factory"),
            "pipeline_s": seconds, "pipeline_items_per_s": ok / seconds if seconds > 0 else None,
            "pipeline_peak_rss_bytes": mem["peak_rss_bytes"]}


def _median(values: list[float | None]) -> float | None:
    vals = sorted(v for v in values if v is not None)
    return vals[len(vals) // 2] if vals else None


def run_throughput(model: str, corpus: Sequence[str], modalities: Sequence[str] = ("text", "image", "audio"),
                   limit: int | None = None, batch_size: int = 32, workers: int = 2, rounds: int = 3,
                   log: Log = lambda s: None) -> dict[str, Any]:
    """Both measurements for every modality the corpus and model have.

    Forward and pipeline alternate for `rounds` rounds and the medians are
    reported, so both see the same background load on a shared machine."""
    from xmodal.alignment import load_encoder

    with peak_rss() as load_mem:
        t0 = time.perf_counter()
        stack = load_encoder(model)
        load_s = time.perf_counter() - t0
    wanted = [m for m in modalities if m in stack.modalities]
    rows = collect(corpus, wanted, limit)
    if not rows:
        raise XmodalError(f"corpus {', '.join(corpus)}: no {'/'.join(wanted)} items to time "
                          "(point --corpus at a folder or manifest with images, audio or text)")
    out = []
    with tempfile.TemporaryDirectory(prefix="xmodal-throughput-") as tmp:
        for mod, items in rows.items():
            fwds, pipes = [], []
            for r in range(max(1, rounds)):
                log(f"{mod}: {len(items)} items, round {r + 1}/{rounds}: bare forward, then full pipeline")
                fwds.append(bare_forward(stack, mod, items, batch_size))
                round_dir = Path(tmp) / f"{mod}-round{r}"
                round_dir.mkdir()
                pipes.append(pipeline(stack, mod, items, batch_size, workers, round_dir))
            fwd = dict(fwds[-1], forward_items_per_s=_median([f["forward_items_per_s"] for f in fwds]),
                       decode_items_per_s=_median([f.get("decode_items_per_s") for f in fwds]),
                       forward_peak_rss_bytes=max(f.get("forward_peak_rss_bytes") or 0 for f in fwds))
            pipe = dict(pipes[-1], pipeline_items_per_s=_median([p["pipeline_items_per_s"] for p in pipes]),
                        pipeline_peak_rss_bytes=max(p["pipeline_peak_rss_bytes"] for p in pipes))
            ratio = (pipe["pipeline_items_per_s"] / fwd["forward_items_per_s"]
                     if pipe["pipeline_items_per_s"] and fwd["forward_items_per_s"] else None)
            out.append({"modality": mod, "items": len(items), **fwd, **pipe, "pipeline_over_forward": ratio,
                        "rounds": {"forward_items_per_s": [f["forward_items_per_s"] for f in fwds],
                                   "pipeline_items_per_s": [p["pipeline_items_per_s"] for p in pipes]}})
            log(f"{mod}: pipeline {pipe['pipeline_items_per_s'] or 0:.1f} items/s, "
                f"forward {fwd['forward_items_per_s'] or 0:.1f} items/s (medians of {rounds})")
    return {"model": model, "corpus": [str(c) for c in corpus], "batch_size": batch_size,
            "workers": workers, "rounds": rounds, "model_load_s": load_s,
            "model_load_peak_rss_bytes": load_mem["peak_rss_bytes"],
            "modalities": out, "process_max_rss_bytes": maxrss_bytes()}


def markdown(r: dict[str, Any]) -> str:
    from .report import md_table

    mib = 2**20
    rows = [[m["modality"], m["items"], m.get("pipeline_items_per_s"), m.get("forward_items_per_s"),
             m.get("decode_items_per_s"), m.get("pipeline_over_forward"),
             (m.get("pipeline_peak_rss_bytes") or 0) / mib, (m.get("forward_peak_rss_bytes") or 0) / mib,
             m.get("pipeline_skipped")] for m in r["modalities"]]
    return "\n".join([
        f"## Throughput: {r['model']} (batch {r['batch_size']}, {r['workers']} decode workers, "
        f"medians of {r.get('rounds', 1)} alternating rounds)", "",
        md_table(["modality", "items", "pipeline items/s", "forward items/s", "decode items/s",
                  "pipeline/forward", "pipeline peak RSS MiB", "forward peak RSS MiB", "skipped"], rows), "",
        "pipeline = decode + encode + shard write + FAISS train/add via the indexer's build "
        "(search-parameter tuning excluded); forward = encoder.encode on pre-decoded batches; "
        "decode = encoder.prepare alone, single thread.",
        f"Model load {r['model_load_s']:.1f}s; process peak RSS {r['process_max_rss_bytes'] / mib:.0f} MiB.",
    ])
