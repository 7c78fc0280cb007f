"""Shards -> FAISS index + metadata rows + manifest (one new generation).

Used by a full build (all shards of a corpus) and by `compact`/`rebuild`
(the live rows' stored vectors). Rows of the previous generation are marked
deleted at the new generation rather than dropped, so a reader still pinned
to the previous generation keeps seeing a consistent snapshot.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import faiss
import numpy as np

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import NewRow, new_row

from .directions import PER_DIRECTION, directions, groups_of, stratified_extra
from .factory import (DEFAULT_MEMORY, Thresholds, add_rows, build_index, choose_factory, family_of,
                      train_sample_size)
from .manifest import IndexManifest, IndexStats
from .pins import purge_bound
from .publish import Writer
from .searching import supports_remove
from .shards import read_shard
from .snapshot_list import kept_generations
from .tune import TuneResult, in_memory_lookup, pick_queries, tune

Log = Callable[[str], None]


@dataclass
class IndexOptions:
    """How to choose and tune the index."""

    memory: int = DEFAULT_MEMORY
    recall: float = 0.95
    factory: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    tune_queries: int = 1000
    seed: int = 0
    # Replace an auto-chosen HNSW / IVF-Flat by Flat when, once tuned, it is
    # not clearly faster than an exact scan on this data.
    scan_fallback: bool = True


@dataclass
class Encoded:
    """Identity of the encoder that produced the vectors. `backend` (modality
    -> inference backend) is informational: the fingerprint alone decides
    which queries an index accepts."""

    spec: str
    fingerprint: str
    dim: int
    backend: dict[str, str] = field(default_factory=dict)


def load_shards(index_dir, names: Sequence[str]) -> tuple[np.ndarray, list[NewRow]]:
    """Concatenate finished shards -> (float32 vectors, rows without labels yet)."""
    vecs, rows = [], []
    for name in names:
        sh = read_shard(index_dir, name)
        vecs.append(np.asarray(sh.vectors, dtype=np.float32))
        rows += [new_row(r, -1, name, i) for i, r in enumerate(sh.rows)]
    if not vecs:
        return np.zeros((0, 0), np.float32), []
    return np.concatenate(vecs), rows


def build_and_tune(vectors: np.ndarray, labels: np.ndarray, opts: IndexOptions,
                   factory: str | None, log: Log, groups: np.ndarray | None = None
                   ) -> tuple[faiss.Index, str, dict[str, Any], IndexStats]:
    """Choose (unless given), train, add, tune -> (index, factory, search_params, stats).

    `groups[i]`: modality group of row i ('image', 'audio', 'text'; see
    directions.modality_group). With more than one, tuning also measures
    restricted cross-modal search (text->image among images, ...), which is
    what the search layer does, and the chosen setting must meet the target
    on every direction."""
    n, dim = vectors.shape
    stats: dict[str, Any] = {}
    auto = factory is None
    if factory is None:
        choice = choose_factory(n, dim, opts.memory, opts.recall, opts.thresholds)
        factory = choice.factory
        stats["factory_reason"] = choice.reason
        stats["estimated_bytes"] = choice.est_bytes
    else:
        stats["factory_reason"] = "given by --factory"
    stats["family"] = family_of(factory)
    stats["memory_budget"] = opts.memory
    rng = np.random.default_rng(opts.seed)
    n_train = train_sample_size(factory, n)
    train_rows = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else None
    # Tuning queries are truly held out: corpus rows left out of training and
    # out of the index while tuning, added only afterwards. (A query that is
    # itself in the index finds its own graph neighbourhood / list for free,
    # which overstates recall, most of all for HNSW.)
    n_q = min(opts.tune_queries, n // 5)
    rows = pick_queries(n, n_q, rng, exclude=train_rows) if n_q >= 10 else np.zeros(0, np.int64)
    if len(rows):  # every modality gets its share of held-out cross-modal queries
        rows = stratified_extra(groups, rows, min(PER_DIRECTION, opts.tune_queries), rng, train_rows)
    if len(rows) == 0:  # too small to hold anything out: leave-one-out on the full index
        rows = pick_queries(n, min(opts.tune_queries, n), rng)
        held = False
    else:
        held = True
    log(f"building {factory} over {n} vectors (dim {dim})")
    t0 = time.perf_counter()
    base_rows = np.setdiff1d(np.arange(n), rows) if held else None
    index = build_index(factory, vectors, labels, train_rows, base_rows)
    stats["index_seconds"] = round(time.perf_counter() - t0, 3)
    queries = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    lookup = in_memory_lookup(vectors, labels)
    per_dir = min(PER_DIRECTION, opts.tune_queries)
    dirs = directions(groups, labels, rows, base_rows, per_dir)
    if dirs:
        stats["tune_direction_queries"] = {d.name: len(d.query_rows) for d in dirs}
    t0 = time.perf_counter()
    result = tune(index, vectors, labels, queries, opts.recall, lookup,
                  is_pq=stats["family"] == "ivf-pq", base_rows=base_rows,
                  self_labels=None if held or n < 2 else labels[rows], directions=dirs)
    if held:
        add_rows(index, vectors, labels, rows)
    stats["tune_held_out"] = held
    stats["tune_seconds"] = round(time.perf_counter() - t0, 3)
    stats.update(result.stats())
    if auto and opts.scan_fallback and _scan_is_faster(stats["family"], result):
        # On weakly clustered data the tuned ANN index may need to probe most
        # of the corpus; then an exact scan is as fast and exact. Fall back.
        stats["fallback"] = (f"{factory} needed {result.search_params} for recall "
                             f"{result.recall_at_10:.3f}, comparing each query with "
                             f"{result.scanned:.0%} of the vectors ({result.qps:.0f} q/s vs exact "
                             f"scan {result.exact_qps:.0f} q/s): using Flat")
        log("note: " + stats["fallback"])
        factory = "Flat"
        stats["family"] = "flat"
        index = build_index(factory, vectors, labels)
        result = tune(index, vectors, labels, queries, opts.recall, lookup, base_rows=None,
                      self_labels=labels[rows] if n > 1 else None,
                      directions=directions(groups, labels, rows, None, per_dir))
        stats.update(result.stats())
    if not result.met:
        log(f"warning: recall target {opts.recall} not reached; best measured recall@10 "
            f"{result.recall_at_10:.3f} with {result.search_params} (raise --memory or pick --factory)")
    per = ", ".join(f"{k} {v:.3f}" for k, v in result.by_direction.items()) if len(result.by_direction) > 1 else ""
    log(f"tuned {result.search_params}: recall@10 {result.recall_at_10:.3f}"
        + (f" (min of {per})" if per else "") + f", {result.latency_ms_mean:.2f} ms/query")
    return index, factory, result.search_params, IndexStats.from_json(stats)


# Per distance, an IVF list scan or an HNSW hop costs ~3-4x what a batched
# exact scan (one BLAS matrix product) does; so an ANN index that compares a
# query with more than this share of the corpus is no faster than Flat.
MAX_SCAN_FRACTION = 0.25


def _scan_is_faster(family: str, result: TuneResult) -> bool:
    """True when the tuned ANN index touches so much of the corpus that an
    exact scan is as fast (only families whose memory also holds Flat).
    Decided on FAISS's distance counts, not on timings of a busy machine."""
    return family in ("hnsw", "ivf-flat") and result.scanned > MAX_SCAN_FRACTION


@dataclass
class NextGeneration:
    """What a new generation publishes besides its FAISS index: its number,
    the index's factory, tuned parameters and stats, and the encoder and
    vector dtype of the stored vectors."""

    number: int
    factory: str
    search_params: dict[str, Any]
    stats: IndexStats
    encoder: Encoded
    vector_dtype: str


def publish_generation(writer: Writer, index: faiss.Index, gen: NextGeneration, purge: bool | None = None,
                       deleted: int = 0) -> IndexManifest:
    """Write the index file, checksum, publish the manifest, tidy old state.

    Deleted rows are purged once no kept generation nor open reader (see
    `pins`) can see them, except
    while the index itself still holds them as tombstones (HNSW until a
    compaction): readers need those rows to filter the tombstones out.
    `deleted` counts vectors deleted since the last build/compaction."""
    meta = writer.open_meta()
    generation, enc = gen.number, gen.encoder
    name = writer.write_index(index, generation)
    stats = replace(gen.stats, memory_bytes=(writer.dir / name).stat().st_size)
    if "rerank" in gen.search_params:
        stats.memory_note = "index file in RAM; re-ranking reads stored vectors (memory-mapped shards)"
    manifest = IndexManifest(
        encoder_spec=enc.spec, encoder_fingerprint=enc.fingerprint, dim=enc.dim, factory=gen.factory,
        index_file=name, generation=generation, search_params=gen.search_params,
        counts={**meta.counts(generation), "deleted": deleted}, files=writer.file_entries(name), stats=stats,
        vector_dtype=gen.vector_dtype, encoder_backend=dict(enc.backend))
    writer.publish(manifest)
    keep = kept_generations(writer.dir)  # named snapshots stay restorable
    if (purge if purge is not None else supports_remove(index)) and keep is not None:
        meta.purge_deleted(purge_bound(writer.dir, generation - 1), keep)
    drop_unused_shards(writer)
    return manifest


def drop_unused_shards(writer: Writer) -> None:
    """Shards no row refers to any more (compacted away, superseded by a
    rebuild, or left by a crashed run that a later operation replaced)."""
    used = writer.open_meta().shards_in_use()
    shard_dir = writer.dir / "shards"
    if not shard_dir.is_dir():
        return
    for p in shard_dir.glob("*.npy"):
        if p.stem not in used:
            p.unlink(missing_ok=True)
            p.with_suffix(".json").unlink(missing_ok=True)


def index_shards(writer: Writer, shard_names: Sequence[str], enc: Encoded, opts: IndexOptions,
                 vector_dtype: str = "float16", log: Log = lambda s: None,
                 corpus_roots: list[str] | None = None, recorded: dict[str, Any] | None = None) -> IndexManifest:
    """Full build: every row of `shard_names` becomes the new generation.

    `corpus_roots` (where media uris point) and `recorded` (more stats
    fields, e.g. the id roots) go into the manifest's stats."""
    vectors, rows = load_shards(writer.dir, shard_names)
    if not rows:
        raise XmodalError("nothing to index: every item was skipped (see build-report.json)")
    if vectors.shape[1] != enc.dim:
        raise XmodalError(f"shards hold dim {vectors.shape[1]} vectors but the encoder gives {enc.dim}; "
                          "delete the shards folder and rebuild")
    meta = writer.open_meta()
    generation = writer.generation + 1
    start = meta.next_label()
    labels = np.arange(start, start + len(rows), dtype=np.int64)
    for r, lab in zip(rows, labels):
        r.label = int(lab)
    index, factory, params, stats = build_and_tune(vectors, labels, opts, opts.factory, log,
                                                   groups_of(rows))
    if corpus_roots is not None:
        stats.corpus_roots = corpus_roots
    if recorded:
        stats = stats.merged(recorded)
    old = meta.labels_where(None)
    meta.mark_deleted(old.tolist(), generation)  # the previous build, still visible to its readers
    meta.insert(rows, generation)
    # a fresh index never holds the old labels as tombstones, so whatever
    # no kept generation sees can go, whatever the index type
    return publish_generation(writer, index, NextGeneration(generation, factory, params, stats, enc, vector_dtype),
                              purge=True)
