"""Embedding stage: records -> vectors, in resumable shards.

`embed_records` is a pure function of (records, encoder stack): no files
written, no global state, so the same function can run in-process here or
inside a distributed worker. `embed_to_shards`
drives it over a record stream, one shard at a time, skipping shards a
previous (interrupted) run already finished.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from xmodal.alignment.core.items import Record, ShardRow, caption_id, item_rows
from xmodal.alignment.core.protocols import Embedder
from xmodal.alignment.pipeline import chunked

from .readers.tar import is_member_uri, read_members, split_member_uri
from .shards import Shard, is_finished, records_hash, write_shard

MEDIA = ("image", "audio")


@dataclass
class EmbeddedBatch:
    """Vectors (float32 (m, d)) with one row descriptor each, plus skips."""

    vectors: np.ndarray
    rows: list[ShardRow]
    skipped: list[dict[str, str]] = field(default_factory=list)


def _load_media(records: Sequence[Record]) -> dict[int, Any]:
    """Record position -> what the encoder reads (a path, or bytes of a tar member)."""
    items: dict[int, Any] = {}
    by_tar: dict[str, list[tuple[int, str]]] = {}
    for pos, r in enumerate(records):
        if r.modality in MEDIA and r.uri:
            if is_member_uri(r.uri):
                tar, member = split_member_uri(r.uri)
                by_tar.setdefault(tar, []).append((pos, member))
            else:
                items[pos] = r.uri
    for tar, wanted in by_tar.items():
        got = read_members(tar, [m for _, m in wanted])
        for pos, member in wanted:
            items[pos] = got.get(member, b"")  # missing member -> "empty" BadInput
    return items


def embed_records(records: Sequence[Record], stack: Embedder, batch_size: int = 32,
                  workers: int = 2, on_batch: Callable[[float], None] | None = None) -> EmbeddedBatch:
    """Embed items and their captions; bad ones are skipped with a reason.

    Output order is deterministic: for each record, its item row, then its
    caption rows (kind='caption', parent_id = the item id). `on_batch(f)`
    runs after each encoder batch: f is the share of this call's vectors
    that batch computed (for progress bars)."""
    skipped: list[dict[str, str]] = []
    media = _load_media(records)
    # (modality, input) per vector to compute, keyed by (record pos, caption j or -1)
    jobs: dict[str, list[tuple[tuple[int, int], Any, str]]] = {}
    for pos, r in enumerate(records):
        name = r.uri or r.id
        if r.modality not in stack.modalities:
            skipped.append({"item": r.id, "reason": f"model {stack.spec} has no {r.modality} encoder"})
            continue
        if r.modality == "text":
            if not (r.text or "").strip():
                skipped.append({"item": r.id, "reason": "empty text"})
                continue
            jobs.setdefault("text", []).append(((pos, -1), r.text, r.id))
        else:
            jobs.setdefault(r.modality, []).append(((pos, -1), media.get(pos, r.uri), name))
            for j, cap in enumerate(r.captions):
                if not (cap or "").strip():
                    skipped.append({"item": caption_id(r.id, j), "reason": "empty caption"})
                else:
                    jobs.setdefault("text", []).append(((pos, j), cap, caption_id(r.id, j)))
    vec_of: dict[tuple[int, int], np.ndarray] = {}
    total_jobs = max(1, sum(len(v) for v in jobs.values()))
    step = (lambda n: on_batch(n / total_jobs)) if on_batch else None
    for modality in ("image", "audio", "text"):  # items before captions: parents known
        todo = jobs.get(modality, [])
        if modality == "text":  # captions of a skipped item are dropped with it
            keep = []
            for t in todo:
                if t[0][1] < 0 or (t[0][0], -1) in vec_of:
                    keep.append(t)
                else:
                    skipped.append({"item": t[2], "reason": "its item was skipped"})
            todo = keep
        if not todo:
            continue
        res = stack.embed(modality, [t[1] for t in todo], batch_size=batch_size, workers=workers,
                          names=[t[2] for t in todo], on_batch=step)
        for vi, pos in enumerate(res.ok):
            vec_of[todo[pos][0]] = res.vectors[vi]
        for err in res.errors:
            skipped.append({"item": err.item, "reason": err.reason})
    rows: list[ShardRow] = []
    vecs: list[np.ndarray] = []
    for pos, r in enumerate(records):
        if (pos, -1) not in vec_of:
            continue
        captions = [j for j in range(len(r.captions)) if (pos, j) in vec_of]
        rows += item_rows(r, captions)
        vecs += [vec_of[(pos, -1)]] + [vec_of[(pos, j)] for j in captions]
    out = np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, stack.dim), np.float32)
    return EmbeddedBatch(out, rows, skipped)


@dataclass(frozen=True)
class EmbedSettings:
    """How a record stream is embedded: records per shard (the unit of
    resume), encoder batch size, decode workers, stored vector dtype."""

    shard_size: int = 1024
    batch_size: int = 32
    workers: int = 2
    dtype: str = "float16"


def embed_to_shards(records: Iterable[Record], stack: Embedder, index_dir: str, prefix: str,
                    settings: EmbedSettings = EmbedSettings(),
                    on_shard: Callable[[int, str, bool, int], None] | None = None,
                    on_batch: Callable[[int, float], None] | None = None) -> list[str]:
    """Embed a record stream into shards `<prefix><k>`; finished ones are reused.

    `on_shard(k, name, reused, n_records)` runs after each shard (progress
    bars, and tests inject failures here to simulate a crash);
    `on_batch(n_records, fraction)` after each encoder batch inside one."""
    names: list[str] = []
    for k, chunk in enumerate(chunked(records, settings.shard_size)):
        name = f"{prefix}{k:05d}"
        rec_hash = records_hash([r.id for r in chunk])
        reused = is_finished(index_dir, name, rec_hash, stack.fingerprint)
        if not reused:
            step = (lambda f, n=len(chunk): on_batch(n, f)) if on_batch else None
            batch = embed_records(chunk, stack, settings.batch_size, settings.workers, step)
            write_shard(index_dir, Shard(name, batch.vectors, batch.rows, batch.skipped, rec_hash,
                                         stack.fingerprint), settings.dtype)
        names.append(name)
        if on_shard:
            on_shard(k, name, reused, len(chunk))
    return names
