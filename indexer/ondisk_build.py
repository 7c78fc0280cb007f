"""`index_shards_ondisk`: shards -> an on-disk, two-part IVF index + manifest.

The whole-corpus build for `--on-disk`: metadata rows are inserted shard by
shard, vectors are only ever read through memory-mapped shards, and the
index is trained on a sample, added in parallel partial indexes, merged on
disk (see `ondisk`), tuned on held-out rows, and published with those rows
as a second, in-memory part. Peak memory is about one part's codes plus
the training sample, whatever the corpus size.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import replace
from typing import Any, Callable, Sequence

import faiss
import numpy as np

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import ShardRow, new_row

from .factory import family_of
from .indexing import Encoded, IndexOptions, NextGeneration
from .manifest import IndexManifest, IndexStats, file_entry
from .ondisk import (IVFDATA_SUFFIX, add_part, load_ondisk, merge_parts, ondisk_factory, parts_for,
                     plan_parts, rss_bytes, run_parts, train_ondisk, train_sample)
from .publish import Writer
from .shards import read_descriptor
from .tune import pick_queries, tune
from .vectors_view import ShardedVectors

Log = Callable[[str], None]


def part_file_name(generation: int, i: int) -> str:
    return f"index.{generation}.part{i}.faiss"


def insert_rows(writer: Writer, names: Sequence[str], generation: int, start: int) -> int:
    """Insert the metadata rows of every shard, labelled start.. in shard
    order, one shard at a time; -> how many."""
    meta = writer.open_meta()
    label = start
    for name in names:
        desc = read_descriptor(writer.dir, name) or {}
        rows = [new_row(ShardRow.from_json(r), label + i, name, i) for i, r in enumerate(desc.get("rows", []))]
        meta.insert(rows, generation)
        label += len(rows)
    return label - start


def index_shards_ondisk(writer: Writer, names: Sequence[str], enc: Encoded, opts: IndexOptions,
                        vector_dtype: str = "float16", log: Log = lambda s: None,
                        corpus_roots: list[str] | None = None, ray_opts: Any = None,
                        parts: int | None = None, recorded: dict[str, Any] | None = None) -> IndexManifest:
    """Full on-disk build of `names` as the next generation; `corpus_roots`
    (where media uris point) and `recorded` (more stats fields, e.g. the id
    roots) go into the manifest's stats."""
    t_start = time.perf_counter()
    view = ShardedVectors(writer.dir, names)
    n, dim = view.shape
    if n == 0:
        raise XmodalError("nothing to index: every item was skipped (see build-report.json)")
    if dim != enc.dim:
        raise XmodalError(f"shards hold dim {dim} vectors but the encoder gives {enc.dim}; "
                          "delete the shards folder and rebuild")
    meta = writer.open_meta()
    generation = writer.generation + 1
    start = meta.next_label()
    meta.mark_deleted(meta.labels_where(None).tolist(), generation)
    insert_rows(writer, names, generation, start)
    labels = np.arange(start, start + n, dtype=np.int64)
    stats: dict[str, Any] = {"memory_budget": opts.memory, "on_disk": True}
    if opts.factory:
        factory, stats["factory_reason"] = opts.factory, "given by --factory"
    else:
        factory, stats["factory_reason"] = ondisk_factory(n, dim, opts.memory)
    stats["family"] = family_of(factory)
    rng = np.random.default_rng(opts.seed)
    held = pick_queries(n, min(opts.tune_queries, max(n // 5, 1)), rng)
    sample = train_sample(factory, n, rng, held)
    work = writer.dir / f".ondisk-{generation}"
    work.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    trained = train_ondisk(factory, view, sample, log)
    del sample
    trained_path = str(work / "trained.faiss")
    faiss.write_index(trained, trained_path)
    stats["train_seconds"] = round(time.perf_counter() - t0, 3)
    n_parts = parts or parts_for(n, dim, opts.memory, ray_opts.workers if ray_opts else 1)
    specs = plan_parts(n, held, work, n_parts)
    t0 = time.perf_counter()
    run_parts(trained_path, str(writer.dir), names, specs, start, ray_opts, log)
    stats["add_seconds"] = round(time.perf_counter() - t0, 3)
    stats["parts_added"] = len(specs)
    t0 = time.perf_counter()
    ivfdata = writer.dir / f"index.{generation}{IVFDATA_SUFFIX}"
    merged = merge_parts(faiss.read_index(trained_path), [p.path for p in specs], ivfdata)
    main_name = writer.write_index(merged, generation)
    del merged
    stats["merge_seconds"] = round(time.perf_counter() - t0, 3)
    log(f"merged {len(specs)} parts into {ivfdata.name} ({ivfdata.stat().st_size} bytes)")
    main = load_ondisk(writer.dir / main_name)
    t0 = time.perf_counter()
    queries = view[held]
    base_rows = np.setdiff1d(np.arange(n), held)
    # SQ codes cap recall a little: exact re-ranking of candidates from the
    # stored (memory-mapped) vectors is tuned as for PQ when it is needed
    result = tune(main, view, labels, queries, opts.recall, lambda lab: view[lab - start], is_pq=True,
                  base_rows=base_rows)
    stats["tune_seconds"] = round(time.perf_counter() - t0, 3)
    stats["tune_held_out"] = True
    stats.update(result.stats())
    log(f"tuned {result.search_params}: recall@10 {result.recall_at_10:.3f} on {len(held)} held-out rows")
    # the held-out rows join as a small in-memory second part
    delta_name = part_file_name(generation, 1)
    delta_path = str(writer.dir / delta_name)
    add_part(trained_path, str(writer.dir), names, _spec(delta_path, held), start,
             faiss.omp_get_max_threads())
    shutil.rmtree(work, ignore_errors=True)
    if corpus_roots is not None:
        stats["corpus_roots"] = corpus_roots
    stats.update(recorded or {})
    stats["index_seconds"] = round(time.perf_counter() - t_start, 3)
    gen = NextGeneration(generation, factory, result.search_params, IndexStats.from_json(stats), enc, vector_dtype)
    return publish_sharded(writer, main_name, [delta_name], ivfdata.name, gen)


def _spec(path: str, rows: np.ndarray):
    from .ondisk import PartSpec

    return PartSpec(path, rows)


def write_parts(writer: Writer, index: Any, gen: NextGeneration, deleted: int = 0) -> IndexManifest:
    """Publish an updated sharded index (`IndexParts`) as generation
    `gen.number`: the main on-disk file is re-written as a header only (its
    inverted lists stay in the shared .ivfdata, untouched), the small parts
    in full."""
    if not gen.stats.ivfdata:
        raise XmodalError(f"{writer.dir}: a sharded index without an .ivfdata file; rebuild it")
    main_name = writer.write_index(index.parts[0], gen.number)
    names = []
    for i, part in enumerate(index.parts[1:], start=1):
        name = part_file_name(gen.number, i)
        tmp = writer.dir / f".{name}.tmp"
        faiss.write_index(part, str(tmp))
        tmp.replace(writer.dir / name)
        names.append(name)
    return publish_sharded(writer, main_name, names, gen.stats.ivfdata, gen, deleted=deleted, measure=False)


def publish_sharded(writer: Writer, main_name: str, part_names: list[str], ivfdata_name: str,
                    gen: NextGeneration, deleted: int = 0, measure: bool = True) -> IndexManifest:
    """Checksum and publish a generation made of a main on-disk index file,
    its inverted-list data and extra parts; records file size and the
    resident memory a reader measured after opening it and searching."""
    from .ondisk import measure_resident

    files = writer.file_entries(main_name)
    for name in [*part_names, ivfdata_name]:
        files[name] = file_entry(writer.dir / name)
    file_bytes = sum(files[n]["bytes"] for n in [main_name, *part_names, ivfdata_name])
    stats = replace(gen.stats, file_bytes=file_bytes, memory_bytes=file_bytes, ivfdata=ivfdata_name)
    enc = gen.encoder
    meta = writer.open_meta()
    manifest = IndexManifest(
        encoder_spec=enc.spec, encoder_fingerprint=enc.fingerprint, dim=enc.dim, factory=gen.factory,
        index_file=main_name, generation=gen.number, search_params=gen.search_params,
        counts={**meta.counts(gen.number), "deleted": deleted}, files=files, stats=stats,
        vector_dtype=gen.vector_dtype, encoder_backend=dict(enc.backend), parts=part_names)
    if measure:
        manifest.stats = stats.merged(measure_resident(writer.dir, main_name, part_names, gen.search_params))
    writer.publish(manifest)
    return manifest
