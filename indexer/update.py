"""Incremental updates: add, upsert, delete by id, and compaction.

Each update embeds new items into new shards, changes a fully loaded copy
of the current FAISS index (IVF and flat indexes drop deleted ids for real;
HNSW keeps them as tombstones that readers filter out), writes it as the
next generation's file and publishes a new manifest atomically. Readers of
the previous generation are not disturbed; a crash before the manifest
rename is rolled back by the next writer.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import faiss
import numpy as np

from xmodal.alignment.backends import backend_names, merge_backends
from xmodal.alignment.backends.options import RunOptions
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.protocols import Embedder

from .build import ShardHook, corpus_roots, embed_corpus
from .directions import groups_of
from .embed import EmbedSettings
from .inspect import COMPACT_HINT, require_intact  # COMPACT_HINT: suggest `compact` past this deleted share
from .indexing import Encoded, IndexOptions, NextGeneration, build_and_tune, load_shards, publish_generation
from .metadata import MetaStore
from .progress import count_records
from .publish import Writer
from .reader import load_parts
from .readers import Entry, read_corpus
from .ids import id_roots_of
from .readers.confine import MAX_TEXT_BYTES
from .reports import AddResult, CompactResult, RemoveResult, UpdateResult
from .searching import supports_remove
from .shards import VectorStore

Log = Callable[[str], None]


def _stack_for(writer: Writer, stack: Embedder | None, run: RunOptions | None = None) -> Embedder:
    from xmodal.alignment import load_encoder

    m = writer.manifest
    run = run or RunOptions(None, None, None)
    stack = stack if stack is not None else load_encoder(m.encoder_spec, run.backend, run.device, run.precision)
    if stack.fingerprint != m.encoder_fingerprint:
        raise XmodalError(f"{writer.dir} was built with encoder '{m.encoder_spec}' "
                          f"(fingerprint {m.encoder_fingerprint[:12]}) but '{stack.spec}' now has "
                          f"fingerprint {stack.fingerprint[:12]}: its weights changed; rebuild the index")
    return stack


def _commit(writer: Writer, index: faiss.Index, generation: int, extra: dict[str, Any],
            purge: bool | None = None, deleted: int = 0, stack: Embedder | None = None) -> UpdateResult:
    """Publish the next generation (`extra`: manifest stats to set); `deleted`
    vectors are added to the running count of deletions since the last
    compaction; `stack` (an add) names the backend its vectors came from."""
    m = writer.manifest
    deleted_total = 0 if purge else m.counts.get("deleted", 0) + deleted
    stats = m.stats.merged({**extra, "updated": time.time()})
    backend = dict(m.encoder_backend)
    if stack is not None:  # an add: its vectors may come from another backend
        backend = merge_backends(backend, backend_names(stack, chosen_only=True))
    enc = Encoded(m.encoder_spec, m.encoder_fingerprint, m.dim, backend)
    gen = NextGeneration(generation, m.factory, m.search_params, stats, enc, m.vector_dtype)
    if m.parts:  # sharded / on-disk: the big part is shared, the others rewritten
        from .ondisk_build import write_parts

        new = write_parts(writer, index, gen, deleted_total)
    else:
        new = publish_generation(writer, index, gen, purge, deleted_total)
    counts = new.counts
    hint = None
    if counts.get("deleted", 0) > COMPACT_HINT * max(counts.get("total", 1), 1):
        hint = f"many deleted rows: run `xmodal index compact {writer.dir}`"
    return UpdateResult(new.generation, counts, hint)


def _remove_labels(index: faiss.Index, meta: MetaStore, labels: Sequence[int], generation: int) -> None:
    if not labels:
        return
    meta.mark_deleted(labels, generation)
    if supports_remove(index):
        index.remove_ids(faiss.IDSelectorBatch(np.asarray(labels, dtype=np.int64)))


def add(index_dir: str | Path, corpus: Sequence[str] | Iterable[Entry], upsert: bool = False,
        stack: Embedder | None = None, settings: EmbedSettings = EmbedSettings(),
        progress: bool = False, on_shard: ShardHook | None = None, run: RunOptions | None = None,
        allow_roots: Sequence[str] = (), max_text_bytes: int = MAX_TEXT_BYTES) -> AddResult:
    """Add (or with `upsert`, replace) items; existing ids are otherwise
    skipped. New vectors are stored in the index's dtype, whatever `settings`
    say; `run` picks the backend/device when the encoder is loaded here.
    Entries may resolve inside the paths, the index's corpus roots and
    `allow_roots`; texts and captions are capped at `max_text_bytes`."""
    with Writer(index_dir) as writer:
        require_intact(writer.dir, writer.manifest, "index add refused")  # never write over damage
        meta = writer.open_meta()
        stack = _stack_for(writer, stack, run)
        generation = writer.generation + 1
        old_roots = writer.manifest.stats.corpus_roots or []
        id_roots = id_roots_of(writer.manifest)
        entries = (read_corpus(list(corpus), old_roots, allow_roots, max_text_bytes, id_roots=id_roots)
                   if _is_paths(corpus) else corpus)
        count = ((lambda: count_records(list(corpus), old_roots, allow_roots, max_text_bytes))
                 if _is_paths(corpus) else None)
        settings = replace(settings, dtype=writer.manifest.vector_dtype)
        names, skipped, estats = embed_corpus(writer, entries, stack, f"g{generation}-", settings,
                                              progress, on_shard, count)
        index = load_parts(writer.dir, writer.manifest, mmap=False)
        allvecs, rows = load_shards(writer.dir, names)
        existing = meta.live_labels([r.id for r in rows if r.kind == "item"])
        replaced: list[int] = []
        replaced_items = 0
        keep = []
        for i, r in enumerate(rows):
            owner = r.parent_id if r.kind == "caption" else r.id
            if owner in existing:
                if not upsert:
                    if r.kind == "item":
                        skipped.append({"item": r.id, "reason": "id already in the index (use --upsert to replace)",
                                        "stage": "add"})
                    continue
                replaced.extend(existing[owner])
                replaced_items += r.kind == "item"
            keep.append(i)
        replaced = sorted(set(replaced))
        _remove_labels(index, meta, replaced, generation)
        start = meta.next_label()
        new_rows = [rows[i] for i in keep]
        for j, r in enumerate(new_rows):
            r.label = start + j
        if new_rows:
            allv = allvecs[keep]
            index.add_with_ids(np.ascontiguousarray(allv), np.arange(start, start + len(new_rows), dtype=np.int64))
            meta.insert(new_rows, generation)
        roots = corpus_roots([*corpus, *allow_roots], old_roots) if _is_paths(corpus) else old_roots
        done = _commit(writer, index, generation, {"corpus_roots": roots}, deleted=len(replaced), stack=stack)
        return AddResult(**vars(done), added=sum(r.kind == "item" for r in new_rows),
                         vectors_added=len(new_rows), replaced=replaced_items, vectors_replaced=len(replaced),
                         skipped=skipped, embed=estats)


def remove(index_dir: str | Path, ids: Sequence[str]) -> RemoveResult:
    """Delete items (with their captions) by id. An id that is not indexed
    is an error and nothing is removed (no new generation)."""
    with Writer(index_dir) as writer:
        require_intact(writer.dir, writer.manifest, "index remove refused")
        meta = writer.open_meta()
        generation = writer.generation + 1
        found = meta.live_labels(list(ids))
        missing = [i for i in ids if i not in found]
        if missing:
            shown = ", ".join(repr(i) for i in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise XmodalError(f"{index_dir}: no indexed item has id {shown}; nothing was removed "
                              f"(see the ids with `xmodal search {index_dir} ... --json`)")
        labels = sorted({lab for labs in found.values() for lab in labs})
        index = load_parts(writer.dir, writer.manifest, mmap=False)
        _remove_labels(index, meta, labels, generation)
        done = _commit(writer, index, generation, {}, deleted=len(labels))
        return RemoveResult(**vars(done), removed=len(found), vectors_removed=len(labels), not_found=missing)


def compact(index_dir: str | Path, rechoose: bool = False, memory: int | None = None,
            recall: float | None = None, log: Log | None = None) -> CompactResult:
    """Rebuild the index from the live rows' stored vectors (labels kept),
    dropping tombstones; re-tunes, and with `rechoose` re-picks the factory."""
    log = log or (lambda s: print(s, file=sys.stderr))
    with Writer(index_dir) as writer:
        meta = writer.open_meta()
        m = writer.manifest
        live = meta.live_rows_all()
        if not live:
            raise XmodalError(f"{index_dir}: no live rows left; build a new index instead")
        labels = np.array([r.label for r in live], dtype=np.int64)
        vectors = VectorStore(writer.dir, m.dim).gather([(r.shard, r.shard_row) for r in live])
        target = m.stats.recall_target
        opts = IndexOptions(memory=memory or m.stats.memory_budget or IndexOptions().memory,
                            recall=recall or (target if target is not None else 0.95))
        groups = groups_of(live)  # modality per vector: cross-modal tuning sets
        index, factory, params, stats = build_and_tune(vectors, labels, opts,
                                                       None if rechoose else m.factory, log, groups)
        generation = writer.generation + 1
        writer.manifest = replace(m, factory=factory, search_params=params)
        before = m.counts.get("deleted", 0)
        done = _commit(writer, index, generation, {**stats.to_json(), "compacted": time.time()}, purge=True)
        return CompactResult(**vars(done), factory=factory, search_params=params, deleted_before=before)


def _is_paths(corpus: Any) -> bool:
    return isinstance(corpus, (list, tuple)) and all(isinstance(c, (str, Path)) for c in corpus)
