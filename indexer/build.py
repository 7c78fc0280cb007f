"""`build`: corpus -> records -> embedding shards -> FAISS index -> manifest.

Every stage is restartable: readers are deterministic, finished shards are
reused, and nothing is visible to readers until the manifest is renamed
into place. Ctrl-C or a kill at any point leaves either the previous index
or none, plus the shards finished so far; rerunning the same command resumes.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from xmodal.alignment.backends import backend_names
from xmodal.alignment.core.atomic import atomic_write_json
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.protocols import Embedder

from .embed import EmbedSettings, embed_to_shards
from .factory import DEFAULT_MEMORY, Thresholds
from .ids import build_id_roots
from .indexing import Encoded, IndexOptions, index_shards
from .overwrite import check_out, is_up_to_date
from .manifest import REPORT_NAME
from .progress import EmbedProgress, count_records
from .publish import Writer
from .ray_embed import RayOptions, embed_to_shards_ray
from .readers import Entry, Record, Skipped, read_corpus
from .readers.confine import MAX_TEXT_BYTES
from .reports import BuildReport, EmbedStats, Skip
from .shards import read_descriptor
from .vector_import import VECTORS_SPEC, import_vectors, vector_files

# Held-out rows tuning an on-disk build: each is an exact scan of the corpus
ONDISK_TUNE_QUERIES = 300

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
    force: bool = False  # build over an existing index of another corpus or model
    ray: RayOptions | None = None  # embed on a Ray actor pool instead of in-process
    on_disk: bool = False  # IVF with inverted lists merged on disk, served memory-mapped

    def embed_settings(self) -> EmbedSettings:
        return EmbedSettings(self.shard_size, self.batch_size, self.workers, self.dtype)


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


def embed_corpus(writer: Writer, entries: Iterable[Entry], stack: Embedder, prefix: str,
                 settings: EmbedSettings, progress: bool, on_shard: ShardHook | None,
                 count: Callable[[], int] | None = None,
                 ray: RayOptions | None = None) -> tuple[list[str], list[Skip], EmbedStats]:
    """Run the embedding stage with a progress bar (in-process, or on Ray
    when `ray` is given); -> (shards, skipped, stats). `count()` gives the
    bar its total (run in a background thread)."""
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
        if ray is not None:
            names = embed_to_shards_ray(reader.records(), stack, str(writer.dir), prefix, ray, settings, hook)
        else:
            names = embed_to_shards(reader.records(), stack, str(writer.dir), prefix, settings, hook, bar.batch)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    skipped = list(reader.skipped)
    for name in names:
        desc = read_descriptor(writer.dir, name) or {}
        skipped += [{**s, "stage": "embed"} for s in desc.get("skipped", [])]
    stats = EmbedStats(n_records, len(names), reused, round(seconds, 3), n_embedded,
                       round(n_embedded / seconds, 2) if seconds > 0 else None,
                       f"ray ({ray.address}, {ray.workers} workers)" if ray else "local")
    return names, skipped, stats


def build(cfg: BuildConfig, stack: Embedder | None = None, progress: bool = True,
          on_shard: ShardHook | None = None, log: Callable[[str], None] | None = None) -> BuildReport:
    """Build (or resume building) an index; returns the build report."""
    from xmodal.alignment import load_encoder

    log = log or (lambda s: print(s, file=sys.stderr) if progress else None)
    if not 0 < cfg.recall <= 1:
        raise XmodalError(f"--recall {cfg.recall}: give a recall target in (0, 1], e.g. 0.95")
    if cfg.shard_size < 1 or cfg.batch_size < 1:
        raise XmodalError("--shard-size and --batch-size must be positive")
    t_start = time.perf_counter()
    files = vector_files(cfg.corpus)
    if files is not None:
        return _build_from_vectors(cfg, files, log, t_start)
    if stack is None:  # fail before touching `out`
        stack = load_encoder(cfg.model, cfg.backend, cfg.device, cfg.precision)
    existing = check_out(cfg, stack)
    with Writer(Path(cfg.out), create=True) as writer:
        # Shard names carry the encoder: a rebuild with other weights never
        # overwrites shards that readers of the previous build still use.
        prefix = f"b-{stack.fingerprint[:10]}-"
        entries = read_corpus(list(cfg.corpus), allow_roots=cfg.allow_roots, max_text_bytes=cfg.max_text_bytes)
        names, skipped, estats = embed_corpus(writer, entries, stack, prefix, cfg.embed_settings(), progress,
                                              on_shard, lambda: count_records(cfg.corpus, (), cfg.allow_roots,
                                                                              cfg.max_text_bytes), cfg.ray)
        report = BuildReport([str(c) for c in cfg.corpus], stack.spec, stack.fingerprint,
                             backend_names(stack, chosen_only=True), skipped, estats)
        if existing is not None and is_up_to_date(writer, existing, cfg, names, estats):
            m = writer.manifest
            return replace(report, generation=m.generation, factory=m.factory, search_params=m.search_params,
                           counts=m.counts, index_stats=m.stats, up_to_date=True,
                           total_seconds=round(time.perf_counter() - t_start, 3))
        enc = Encoded(stack.spec, stack.fingerprint, stack.dim, report.encoder_backend)
        return _index_and_report(writer, cfg, names, enc, report, log, t_start,
                                 corpus_roots([*cfg.corpus, *cfg.allow_roots]),
                                 {"id_roots": build_id_roots(cfg.corpus), "build_corpus": corpus_roots(cfg.corpus)})


def _index_and_report(writer: Writer, cfg: BuildConfig, names: list[str], enc: Encoded, report: BuildReport,
                      log: Callable[[str], None], t_start: float, roots: list[str] | None,
                      recorded: dict[str, Any] | None = None) -> BuildReport:
    """Index the shards (in memory, or on disk) and write the build report;
    `roots` and `recorded` go into the manifest's stats."""
    opts = IndexOptions(cfg.memory, cfg.recall, cfg.factory, cfg.thresholds, cfg.tune_queries)
    try:
        if cfg.on_disk:
            from .ondisk_build import index_shards_ondisk

            opts.tune_queries = min(opts.tune_queries, ONDISK_TUNE_QUERIES)
            m = index_shards_ondisk(writer, names, enc, opts, cfg.dtype, log, roots, cfg.ray, recorded=recorded)
        else:
            m = index_shards(writer, names, enc, opts, cfg.dtype, log, roots, recorded)
    except XmodalError as exc:
        report.error = str(exc)
        atomic_write_json(writer.dir / REPORT_NAME, report.to_dict(), indent=2, sort_keys=True)
        raise
    report = replace(report, generation=m.generation, factory=m.factory, search_params=m.search_params,
                     counts=m.counts, index_stats=m.stats, total_seconds=round(time.perf_counter() - t_start, 3))
    atomic_write_json(writer.dir / REPORT_NAME, report.to_dict(), indent=2, sort_keys=True)
    return report


def _build_from_vectors(cfg: BuildConfig, files: list[Path], log: Callable[[str], None],
                        t_start: float) -> BuildReport:
    """`index build VECTORS`: .npy files become shards; no encoder."""
    with Writer(Path(cfg.out), create=True) as writer:
        t0 = time.perf_counter()
        names, dim, fingerprint = import_vectors(writer.dir, files, cfg.dtype)
        n = sum(len((read_descriptor(writer.dir, name) or {}).get("rows", [])) for name in names)
        stats = EmbedStats(n, len(names), embed_seconds=round(time.perf_counter() - t0, 3),
                           embedded_on="imported .npy vectors")
        report = BuildReport([str(c) for c in cfg.corpus], VECTORS_SPEC, fingerprint, {}, [], stats)
        return _index_and_report(writer, cfg, names, Encoded(VECTORS_SPEC, fingerprint, dim), report,
                                 log, t_start, None)
