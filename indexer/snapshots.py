"""Named snapshots of index generations: `snapshot`, `restore`, `snapshots`, `gc`.

A snapshot is a name for a generation that already exists (no copy): the
name and its generation live in `snapshots.json`. While a name exists, the
metadata rows visible at its generation are never purged (see
`MetaStore.purge_deleted`), and so neither are their shards; that is all a
restore needs. `restore NAME` publishes a *new* generation whose live rows
are those of the snapshot: rows added since are marked deleted, rows
deleted since come back as copies with new labels (their vectors are read
from the shards they never left). Readers pinned to the generations in
between keep seeing exactly what they saw.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.alignment.core.atomic import atomic_write_json
from xmodal.alignment.core.errors import XmodalError

from .factory import build_index
from .indexing import NextGeneration, Encoded, publish_generation, drop_unused_shards
from .manifest import META_NAME
from .pins import purge_bound
from .publish import Writer
from .reader import load_faiss
from .searching import supports_remove
from .shards import VectorStore
from .snapshot_list import SNAPSHOTS_NAME, Snapshot, kept_generations, read_snapshots

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _write(index_dir: Path, snaps: dict[str, Snapshot]) -> None:
    atomic_write_json(index_dir / SNAPSHOTS_NAME, {n: {k: v for k, v in s.to_dict().items() if k != "name"}
                                                   for n, s in sorted(snaps.items())}, indent=2)


def _check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise XmodalError(f"snapshot name {name!r}: use letters, digits, '_', '-', '.' (up to 64)")


def snapshot(index_dir: str | Path, name: str) -> Snapshot:
    """Name the current generation `name` (refused when the name is taken)."""
    _check_name(name)
    with Writer(index_dir) as writer:
        snaps = read_snapshots(writer.dir)
        if name in snaps:
            raise XmodalError(f"snapshot {name!r} already names generation {snaps[name].generation}; "
                              "pick another name")
        m = writer.manifest
        snap = Snapshot(name, m.generation, round(time.time(), 3), dict(m.counts))
        snaps[name] = snap
        _write(writer.dir, snaps)
        return snap


def drop_snapshot(index_dir: str | Path, name: str) -> Snapshot:
    """Forget a snapshot name (its rows become purgeable at the next `gc`)."""
    with Writer(index_dir) as writer:
        snaps = read_snapshots(writer.dir)
        if name not in snaps:
            raise XmodalError(_unknown(writer.dir, name, snaps))
        snap = snaps.pop(name)
        _write(writer.dir, snaps)
        return snap


def _unknown(index_dir: Path, name: str, snaps: dict[str, Snapshot]) -> str:
    known = ", ".join(sorted(snaps)) or "none"
    return (f"{index_dir}: no snapshot named {name!r} (snapshots: {known}); "
            f"make one with `xmodal index snapshot {index_dir} NAME`")


def restore(index_dir: str | Path, name: str) -> dict[str, Any]:
    """Publish a new generation whose live rows are snapshot `name`'s."""
    with Writer(index_dir) as writer:
        snaps = read_snapshots(writer.dir)
        if name not in snaps:
            raise XmodalError(_unknown(writer.dir, name, snaps))
        snap = snaps[name]
        meta = writer.open_meta()
        m = writer.manifest
        then = set(meta.labels_where(snap.generation).tolist())
        now = set(meta.labels_where(m.generation).tolist())
        drop = sorted(now - then)
        back = sorted(then - now)
        generation = m.generation + 1
        if drop:
            meta.mark_deleted(drop, generation)
        copies = meta.copy_rows(back, meta.next_label(), generation)
        # A fresh FAISS index over exactly the restored rows (same factory and
        # tuned parameters): it does not need the current generation's index
        # file, so a restore also repairs an index whose file is damaged.
        live = meta.live_rows_all()
        if not live:
            raise XmodalError(f"snapshot {name!r} holds no rows; nothing to restore")
        vecs = VectorStore(writer.dir, m.dim).gather([(r.shard, r.shard_row) for r in live])
        index = build_index(m.factory, vecs, np.array([r.label for r in live], dtype=np.int64))
        deleted = 0  # the new index holds no tombstones
        enc = Encoded(m.encoder_spec, m.encoder_fingerprint, m.dim, dict(m.encoder_backend))
        stats = m.stats.merged({"updated": time.time(), "restored_from": {"snapshot": name,
                                                                           "generation": snap.generation}})
        new = publish_generation(writer, index, NextGeneration(generation, m.factory, m.search_params, stats, enc,
                                                               m.vector_dtype), True, deleted)
        return {"generation": new.generation, "restored": name, "snapshot_generation": snap.generation,
                "rows_dropped": len(drop), "rows_restored": len(copies), "counts": new.counts}


def gc(index_dir: str | Path) -> dict[str, Any]:
    """Drop deleted rows and unused shards that no open reader, kept
    generation or named snapshot can see; snapshots stay restorable."""
    with Writer(index_dir) as writer:
        meta = writer.open_meta()
        g = writer.generation
        before = writer.dir.joinpath(META_NAME).stat().st_size
        index = load_faiss(writer.dir / writer.manifest.index_file)
        # an index still holding deleted ids as tombstones (HNSW) needs their rows
        keep = kept_generations(writer.dir)
        purged = (meta.purge_deleted(purge_bound(writer.dir, g - 1), keep)
                  if supports_remove(index) and keep is not None else 0)
        shards_before = len(meta.shards_in_use())
        drop_unused_shards(writer)
        writer._collect(g)
        return {"generation": g, "rows_purged": purged, "shards_in_use": shards_before,
                "snapshots": sorted(read_snapshots(writer.dir)), "meta_bytes_before": before}
