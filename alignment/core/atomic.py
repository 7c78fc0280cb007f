"""Atomic file writes: the one recipe every writer of a file a reader may
see half-done uses (index files, manifests, checkpoints, caches, reports).

Write a temp file beside the target, fsync it, `os.replace` it over the
target, fsync the directory: a reader (or a crash) sees the old file or
the new one, whole, never a mix."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename inside `path` durable (best effort: some filesystems
    cannot open or fsync a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(path: Path, suffix: str = "") -> Path:
    """The temp file `atomic_path` writes for `path`: hidden, per process.

    `suffix` keeps an extension that a writer sniffs (soundfile picks the
    format from it)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path for any writer (safetensors, FAISS, PIL, ...) to
    create; when the block succeeds the file is fsynced and renamed over
    `path`, and the directory fsynced. On an error the temp file is
    removed and `path` is untouched. Parent directories are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path, suffix)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data`: readers see the old or the new file, whole."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write_bytes` of `text` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, **dumps: Any) -> None:
    """`atomic_write_text` of `json.dumps(obj, **dumps)` (callers choose
    indent / key order, so files stay byte-identical to what they were)."""
    atomic_write_text(path, json.dumps(obj, **dumps))
