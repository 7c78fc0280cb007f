"""`build`: corpus -> records -> embedding shards -> FAISS index -> manifest.

Every stage is restartable: readers are deterministic, finished shards are
reused, and nothing is visible to readers until the manifest is renamed
into place. Ctrl-C or a kill at any point leaves either the previous index
or none, plus the shards finished so far; rerunning the same command resumes.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence


from xmodal.alignment.core.atomic import atomic_write_json
from xmodal.alignment.backends import backend_names
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.protocols import Embedder

from .embed import embed_to_shards
from .factory import DEFAULT_MEMORY, Thresholds
from .indexing import Encoded, IndexOptions, index_shards
from .progress import EmbedProgress, count_records
from .manifest import REPORT_NAME, IndexManifest
from .publish import Writer
from .readers import Entry, Record, Skipped, read_corpus
from .readers.confine import MAX_TEXT_BYTES
from .shards import read_descriptor

ShardHook = Callable[[int, str, bool, int], None]


@dataclass
class BuildConfig:
    """Everything `xmodal index build` takes."""

    corpus: Sequence[str]
    out: str
    model: str = "lite"
    memory: int = DEFAULT_MEMORY
    recall: float = 0.95
    factory: str | None = None
    batch_size: int = 32
    shard_size: int = 1024
    dtype: str = "float16"
    workers: int = 2
    thresholds: Thresholds = field(default_factory=Thresholds)
    tune_queries: int = 1000
    backend: str | None = None  # inference backend/device/precision; None: environment, else auto
    device: str | None = None
    precision: str | None = None
    allow_roots: Sequence[str] = ()  # besides the corpus paths, where entries may resolve
    max_text_bytes: int = MAX_TEXT_BYTES  # per text file / caption


class SkipCollector:
    """Passes records through and keeps every Skipped entry for the report."""

    def __init__(self, entries: Iterable[Entry], bar: Any = None):
        self.entries = entries
        self.skipped: list[dict[str, str]] = []
        self.bar = bar

    def records(self) -> Iterator[Record]:
        for e in self.entries:
            if isinstance(e, Skipped):
                self.skipped.append({**e.as_dict(), "stage": "read"})
                if self.bar is not None:
                    self.bar.skipped(len(self.skipped))
            else:
                yield e


def corpus_roots(paths: Iterable[str], previous: Iterable[str] = ()) -> list[str]:
    """Absolute corpus paths (where stored media uris live), for the media server."""
    out = list(previous)
    for p in paths:
        a = str(Path(p).resolve())
        if a not in out:
            out.append(a)
    return out


def skip_summary(skipped: list[dict[str, str]]) -> dict[str, int]:
    """Counts by reason, with item-specific details stripped."""
    return dict(Counter(s["reason"].split(" (")[0].split(":")[0] for s in skipped).most_common())


def embed_corpus(writer: Writer, entries: Iterable[Entry], stack: Embedder, prefix: str, shard_size: int,
                 batch_size: int, workers: int, dtype: str, progress: bool,
                 on_shard: ShardHook | None, count: Callable[[], int] | None = None
                 ) -> tuple[list[str], list[dict[str, str]], dict[str, Any]]:
    """Run the embedding stage with a progress bar; -> (shards, skipped, stats).
    `count()` gives the bar its total (run in a background thread)."""
    bar = EmbedProgress(progress, count)
    reader = SkipCollector(entries, bar)
    reused = 0
    n_records = 0
    n_embedded = 0  # records embedded in this run (reused shards excluded from the rate)
    t0 = time.perf_counter()

    def hook(k: int, name: str, was_reused: bool, n: int) -> None:
        nonlocal reused, n_records, n_embedded
        reused += was_reused
        n_records += n
        n_embedded += 0 if was_reused else n
        bar.shard(n)
        if on_shard:
            on_shard(k, name, was_reused, n)

    try:
        names = embed_to_shards(reader.records(), stack, str(writer.dir), prefix, shard_size,
                                batch_size, workers, dtype, hook, bar.batch)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    skipped = list(reader.skipped)
    for name in names:
        desc = read_descriptor(writer.dir, name) or {}
        skipped += [{**s, "stage": "embed"} for s in desc.get("skipped", [])]
    stats = {"records": n_records, "shards": len(names), "shards_reused": reused,
             "embed_seconds": round(seconds, 3),
             "records_embedded": n_embedded,
             "records_per_second": round(n_embedded / seconds, 2) if seconds > 0 else None}
    return names, skipped, stats


def build(cfg: BuildConfig, stack: Embedder | None = None, progress: bool = True,
          on_shard: ShardHook | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build (or resume building) an index; returns the build report."""
    from xmodal.alignment import load_encoder

    log = log or (lambda s: print(s, file=sys.stderr) if progress else None)
    if not 0 < cfg.recall <= 1:
        raise XmodalError(f"--recall {cfg.recall}: give a recall target in (0, 1], e.g. 0.95")
    if cfg.shard_size < 1 or cfg.batch_size < 1:
        raise XmodalError("--shard-size and --batch-size must be positive")
    t_start = time.perf_counter()
    out = Path(cfg.out)
    if stack is None:  # fail before touching `out`
        stack = load_encoder(cfg.model, cfg.backend, cfg.device, cfg.precision)
    with Writer(out, create=True) as writer:
        # Shard names carry the encoder: a rebuild with other weights never
        # overwrites shards that readers of the previous build still use.
        prefix = f"b-{stack.fingerprint[:10]}-"
        entries = read_corpus(list(cfg.corpus), allow_roots=cfg.allow_roots, max_text_bytes=cfg.max_text_bytes)
        names, skipped, estats = embed_corpus(writer, entries, stack, prefix,
                                              cfg.shard_size, cfg.batch_size, cfg.workers, cfg.dtype,
                                              progress, on_shard, lambda: count_records(cfg.corpus))
        report: dict[str, Any] = {
            "corpus": [str(c) for c in cfg.corpus], "model": stack.spec,
            "encoder_fingerprint": stack.fingerprint, "encoder_backend": backend_names(stack, chosen_only=True),
            "skipped": skipped,
            "skipped_count": len(skipped), "skipped_by_reason": skip_summary(skipped), **estats,
        }
        opts = IndexOptions(cfg.memory, cfg.recall, cfg.factory, cfg.thresholds, cfg.tune_queries)
        try:
            enc = Encoded(stack.spec, stack.fingerprint, stack.dim, report["encoder_backend"])
            manifest = index_shards(writer, names, enc, opts, cfg.dtype, log,
                                    {"corpus_roots": corpus_roots([*cfg.corpus, *cfg.allow_roots])})
        except XmodalError as exc:
            report["error"] = str(exc)
            atomic_write_json(out / REPORT_NAME, report, indent=2, sort_keys=True)
            raise
        report.update(_manifest_part(manifest, time.perf_counter() - t_start))
        atomic_write_json(out / REPORT_NAME, report, indent=2, sort_keys=True)
    return report


def _manifest_part(m: IndexManifest, seconds: float) -> dict[str, Any]:
    return {"generation": m.generation, "factory": m.factory, "search_params": m.search_params,
            "counts": m.counts, "index_stats": {k: v for k, v in m.stats.items() if k != "tune_trials"},
            "total_seconds": round(seconds, 3)}
