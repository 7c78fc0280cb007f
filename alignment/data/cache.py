"""Where corpora live on disk, and the resumable-stage bookkeeping.

Corpora are cached under ``${XMODAL_CACHE:-~/.cache/xmodal}/data/<name>/``,
never inside the repository. Every expensive step is a *stage* that leaves a
``.stages/<stage>.done`` marker once it finished, so an interrupted fetch
resumes where it stopped and a finished one is a no-op.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..core.atomic import atomic_write_text


def cache_root(cache: str | os.PathLike | None = None) -> Path:
    """The xmodal cache root: `cache`, else $XMODAL_CACHE, else ~/.cache/xmodal."""
    if cache:
        return Path(cache).expanduser().resolve()
    env = os.environ.get("XMODAL_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".cache" / "xmodal").resolve()


def corpus_dir(name: str, cache: str | os.PathLike | None = None) -> Path:
    """Directory of corpus `name` (it need not exist yet)."""
    return cache_root(cache) / "data" / name


class Stages:
    """`.done` markers for the stages of one corpus build."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / ".stages"

    def done(self, stage: str) -> bool:
        return (self.dir / f"{_safe(stage)}.done").exists()

    def mark(self, stage: str, info: dict[str, Any] | None = None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dir / f"{_safe(stage)}.done", info or {})

    def clear(self, stage: str) -> None:
        (self.dir / f"{_safe(stage)}.done").unlink(missing_ok=True)


def _safe(stage: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stage)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write a cache JSON file (sorted, indented, UTF-8) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temp dir; on success it is renamed to `path`.

    A half-written directory from an interrupted run is removed first, so
    `path` either holds a complete result or does not exist."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def corpus_lock(root: Path) -> Iterator[None]:
    """Exclusive lock on a corpus directory, so two fetches never interleave."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
