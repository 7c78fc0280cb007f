"""The two measurements of `xmodal bench throughput`, on one encoder stack:
the bare forward pass on pre-decoded inputs, and the full indexing pipeline
(decode + encode + shard write + FAISS add, through the indexer's `build`).
`throughput_run` interleaves them over rounds and encoder variants."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from xmodal.alignment.core.errors import XmodalError

from .memory import peak_rss
from .throughput_bound import Bound, bound, peak_gflops

if TYPE_CHECKING:  # torch and FAISS load where a run needs them
    from xmodal.alignment.core.protocols import Embedder
    from xmodal.alignment.stack import EncoderStack


@dataclass
class Forward:
    """One timed pass of `Encoder.encode` over pre-decoded batches."""

    items: int
    decode_items_per_s: float | None  # Encoder.prepare alone, one thread
    items_per_s: float | None
    peak_rss_bytes: int
    rss_growth_bytes: int  # peak minus the RSS when the pass started
    vectors: np.ndarray | None  # the outputs, for the cosine between variants


@dataclass
class Pipeline:
    """One indexer build over the same items into a throwaway index."""

    items: int
    skipped: int
    items_per_s: float | None
    embed_s: float | None
    index_s: float | None
    tune_s_not_counted: float | None
    factory: str | None
    peak_rss_bytes: int
    rss_growth_bytes: int


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


def bare_forward(stack: EncoderStack, modality: str, rows: list[dict[str, Any]], batch_size: int,
                 keep_vectors: bool = False) -> Forward:
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
    decode_rate = len(items) / decode_s if decode_s > 0 else None
    if not prepared:
        return Forward(0, decode_rate, None, 0, 0, None)
    outputs = []
    with torch.inference_mode():
        enc.encode(prepared[: min(batch_size, len(prepared))])  # warm-up: lazy init, allocator
        with peak_rss() as mem:
            t0 = time.perf_counter()
            for s in range(0, len(prepared), batch_size):
                outputs.append(enc.encode(prepared[s : s + batch_size]))
            forward_s = time.perf_counter() - t0
    vectors = np.concatenate([np.asarray(o, dtype=np.float32) for o in outputs]) if keep_vectors else None
    return Forward(len(prepared), decode_rate, len(prepared) / forward_s if forward_s > 0 else None,
                   mem["peak_rss_bytes"], mem["peak_rss_bytes"] - mem["start_rss_bytes"], vectors)


def pipeline(stack: Embedder, modality: str, rows: list[dict[str, Any]], batch_size: int, workers: int,
             tmp: Path) -> Pipeline:
    """The indexer's build over these items into a throwaway index in `tmp`.

    Items/s counts decode + encode + shard write (embed stage) and FAISS
    train + add (index stage); the search-parameter tuning the indexer runs
    afterwards is reported apart and not counted."""
    from xmodal.indexer.build import BuildConfig, build
    from xmodal.indexer.manifest import IndexStats

    from .retrieval import media_roots

    tmp.mkdir(parents=True, exist_ok=True)
    manifest = tmp / f"{modality}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = BuildConfig(corpus=[str(manifest)], out=str(tmp / f"{modality}.xmodal"), model=stack.spec,
                      batch_size=batch_size, workers=workers, tune_queries=100,
                      allow_roots=media_roots([r["path"] for r in rows if r.get("path")]))
    with peak_rss() as mem:
        rep = build(cfg, stack=stack, progress=False, log=lambda s: None)
    stats = rep.index_stats or IndexStats()
    seconds = float(rep.embed.embed_seconds or 0) + float(stats.index_seconds or 0)
    skipped = rep.skipped_count
    ok = rep.embed.records - skipped
    return Pipeline(ok, skipped, ok / seconds if seconds > 0 else None, rep.embed.embed_seconds,
                    stats.index_seconds, stats.tune_seconds, rep.factory,
                    mem["peak_rss_bytes"], mem["peak_rss_bytes"] - mem["start_rss_bytes"])


def physical_bound(stack: Any, modality: str, rows: list[dict[str, Any]], batch_size: int) -> Bound:
    """FLOPs per item on the first batch of real items, against the peak."""
    enc = stack.encoder(modality)
    prepared = []
    for r in rows:
        if len(prepared) == batch_size:
            break
        try:
            prepared.append(enc.prepare(r.get("text") if modality == "text" else r["path"]))
        except XmodalError:
            continue
    return bound(enc, prepared, peak_gflops())


def cosine_rows(a: np.ndarray | None, b: np.ndarray | None) -> tuple[float | None, float | None]:
    """(mean, min) cosine between matching rows of two output matrices;
    (None, None) when they cannot be compared (missing, other shape)."""
    if a is None or b is None or a.shape != b.shape or not len(a):
        return None, None
    na = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    nb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    cos = (na * nb).sum(axis=1)
    return float(cos.mean()), float(cos.min())
