"""Frozen-tower features, computed once and cached on disk.

Keys are sha1(tower fingerprint | content): the content is the file's bytes
hash for images/audio and the exact (templated) string for text, so a moved
file still hits the cache and a changed tower or preprocessing never does.
Storage: append-only shards `<cache>/features/<modality>/<tower fp>/
shard-<n>-<writer>.safetensors` + `.json` (the row keys); no pickle. The
writer tag (pid + random) makes every shard name unique, so processes that
fill one cache at once never pick the same name and overwrite each other's
rows (older caches' plain `shard-<n>` names still load).
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from safetensors.numpy import load_file, save_file

from ..core.atomic import atomic_path, atomic_write_json
from ..core.fingerprint import cache_dir
from ..core.hashing import DigestMemo
from ..heads import Head
from ..pipeline import run_batches

log = logging.getLogger(__name__)


def key_of(tower_fp: str, content: str) -> str:
    return hashlib.sha1(f"{tower_fp}|{content}".encode()).hexdigest()


class FeatureCache:
    """Disk cache of float32 feature rows for one (modality, tower)."""

    def __init__(self, modality: str, tower_fp: str, root: str | Path | None = None):
        self.tower_fp = tower_fp
        self.dir = Path(root or cache_dir() / "features") / modality / tower_fp
        self._index: dict[str, tuple[str, int]] = {}
        self._shards: dict[str, np.ndarray] = {}
        self._next = 0
        self._writer = f"{os.getpid()}{secrets.token_hex(4)}"
        if self.dir.is_dir():
            for n, name in sorted(_shard_names(self.dir)):
                if not (self.dir / f"{name}.safetensors").is_file():
                    continue  # a shard whose tensors never landed
                for row, key in enumerate(json.loads((self.dir / f"{name}.json").read_text())):
                    self._index[key] = (name, row)
                self._next = max(self._next, n + 1)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def get(self, keys: Sequence[str]) -> np.ndarray:
        rows = []
        for k in keys:
            name, r = self._index[k]
            if name not in self._shards:
                self._shards[name] = load_file(str(self.dir / f"{name}.safetensors"))["features"]
            rows.append(self._shards[name][r])
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)

    def put(self, keys: Sequence[str], feats: np.ndarray) -> None:
        """Append one shard (tensors first, keys last: a crash leaves no
        index entries pointing at missing rows)."""
        if not len(keys):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"shard-{self._next}-{self._writer}"
        self._next += 1
        with atomic_path(self.dir / f"{name}.safetensors") as tmp:
            save_file({"features": np.ascontiguousarray(feats, dtype=np.float32)}, str(tmp))
        atomic_write_json(self.dir / f"{name}.json", list(keys))
        for r, k in enumerate(keys):
            self._index[k] = (name, r)
        self._shards[name] = np.asarray(feats, dtype=np.float32)


def _shard_names(folder: Path) -> list[tuple[int, str]]:
    """(sequence number, stem) of every shard key file in `folder`: loading
    in this order lets a later shard's row win for a repeated key."""
    out = []
    for meta in folder.glob("shard-*.json"):
        try:
            out.append((int(meta.stem.split("-")[1]), meta.stem))
        except (IndexError, ValueError):
            continue  # not one of ours
    return out


class TowerFeatures:
    """An encoder's `prepare` + its frozen tower (no head, prompt or
    template) on an inference backend, so the batch pipeline (decoding in
    worker processes, per-item errors) yields unnormalised tower features.

    The tower runs through `backends.runner_for` exactly as an encoder
    does: a copy of the encoder with an identity head is the module that is
    exported (cached per tower fingerprint) and run on ONNX Runtime /
    OpenVINO / torch (`backend`, default `$XMODAL_BACKEND`, else auto)."""

    def __init__(self, enc: Any, tower_fp: str, backend: str | None = None):
        from ..backends import resolve_device, run_options, runner_for

        dim = int(getattr(enc.tower, "out_dim", 0))
        view = copy.copy(enc)
        view.head = Head(dim, dim, "identity")
        if hasattr(view, "prompt"):
            view.prompt, view.template = None, "{}"
        opts = run_options(backend)
        view.runner = runner_for(opts.backend, lambda: tower_fp, resolve_device(opts.device), opts.precision)
        self.enc, self.view, self.dim = enc, view, dim
        self.modality = enc.modality
        self.decode_in = getattr(enc, "decode_in", "threads")

    def prepare(self, item: Any) -> Any:
        return self.view.prepare(item)

    def encode(self, batch: list[Any]) -> np.ndarray:
        inputs = self.view.graph_inputs(batch)
        return np.asarray(self.view.runner.run(self.view, inputs), dtype=np.float32)


_views: dict[tuple[int, str, str | None], TowerFeatures] = {}


def tower_features(enc: Any, tower_fp: str, backend: str | None = None) -> TowerFeatures:
    """One `TowerFeatures` per encoder, tower and backend for the process,
    so its export, session and decode workers are set up once."""
    key = (id(enc), tower_fp, backend)
    held = _views.get(key)
    if held is None or held.enc is not enc:
        held = _views[key] = TowerFeatures(enc, tower_fp, backend)
    return held


def cached_features(
    enc: Any,
    tower_fp: str,
    items: Sequence[Any],
    contents: Sequence[str],
    cache: FeatureCache,
    batch_size: int = 32,
    backend: str | None = None,
) -> tuple[np.ndarray, list[int], list[str]]:
    """Tower features for `items` (computing only cache misses).

    `contents[i]` is the cache content key of item i (file hash, text).
    Returns (features of the usable items, their positions, skip lines)."""
    keys = [key_of(tower_fp, c) for c in contents]
    todo = sorted({k: i for i, k in enumerate(keys) if k not in cache}.values())
    if enc.modality == "text":
        todo.sort(key=lambda i: len(items[i]))  # similar lengths per batch: little padding
    skipped: list[str] = []
    if todo:
        adapter = tower_features(enc, tower_fp, backend)
        done = 0
        chunk = max(batch_size * 16, 256)
        for s in range(0, len(todo), chunk):
            part = todo[s : s + chunk]
            res = run_batches(adapter, [items[i] for i in part], batch_size, workers=2)
            cache.put([keys[part[j]] for j in res.ok], res.vectors)
            skipped += [e.line() for e in res.errors]
            done += len(part)
            log.info(f"  {enc.modality} features: {done}/{len(todo)} computed ({len(skipped)} skipped)")
    ok = [i for i, k in enumerate(keys) if k in cache]
    feats = cache.get([keys[i] for i in ok])
    return feats, ok, skipped


def content_keys(modality: str, items: Sequence[Any]) -> list[str]:
    """Cache content keys: file hashes for paths, the string for text.
    Unreadable files get a unique key so they are retried (and reported)."""
    if modality == "text":
        return [f"text|{t}" for t in items]
    # sha1 of the bytes, as always (existing caches stay valid), but only
    # files whose size or mtime changed are read again
    memo = DigestMemo(cache_dir() / "file-digests-sha1.json", "sha1")
    out = []
    for p in items:
        try:
            out.append(f"file|{memo.digest(p)}")
        except OSError:
            out.append(f"missing|{p}")
    memo.save()
    return out
