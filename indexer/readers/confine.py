"""Corpus confinement: what a corpus may make the indexer read.

Every path a corpus names (folder entry, symlink target, manifest path, tar
shard) must resolve inside the roots the user gave (the corpus paths
themselves, a manifest's or tar's folder, `--allow-root DIR`), be a regular
file, and not live on a special file system (/proc, /sys, /dev); text files
and captions have a size cap. Anything else becomes one `Skipped` line
naming the item and the rule, never an error: the job goes on.

Ids carry no undecodable bytes: `safe_text` escapes them (`bad\\xffname.png`).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from xmodal.alignment.preprocess.text import escape_surrogates

from .base import Skipped

MAX_TEXT_BYTES = 64 * 1024  # per text file / caption; --max-text-bytes
MAX_MEDIA_BYTES = 256 << 20  # per media file or tar member read into memory
SPECIAL_ROOTS = ("/proc", "/sys", "/dev")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Confinement:
    """The roots a corpus may resolve into and the text size cap."""

    roots: tuple[str, ...]
    max_text_bytes: int = MAX_TEXT_BYTES

    @classmethod
    def for_paths(cls, paths: Iterable[str | Path], allow_roots: Iterable[str | Path] = (),
                  max_text_bytes: int = MAX_TEXT_BYTES) -> "Confinement":
        """Roots from corpus paths: a folder is its own root, a file (a
        manifest, a tar shard, a single item) contributes its folder."""
        roots = []
        for p in [*paths, *allow_roots]:
            real = os.path.realpath(p)
            roots.append(real if os.path.isdir(real) else os.path.dirname(real))
        return cls(tuple(dict.fromkeys(roots)), max_text_bytes)

    def check(self, path: str | Path, what: str | None = None) -> Skipped | None:
        """None when `path` may be read; else the Skipped line saying why."""
        name = what or safe_text(str(path))
        real = os.path.realpath(path)
        if any(_inside(real, s) for s in SPECIAL_ROOTS):
            return Skipped(name, f"resolves to {safe_text(real)} on a special file system: never read")
        if not any(_inside(real, r) for r in self.roots):
            return Skipped(name, f"resolves outside the corpus roots (to {safe_text(real)}); "
                                 "add --allow-root DIR to index it")
        try:
            st = os.stat(real)
        except OSError as exc:
            return Skipped(name, f"unreadable: {exc.strerror or exc}")
        if not stat.S_ISREG(st.st_mode):
            return Skipped(name, "not a regular file (a FIFO, device or socket): never read")
        return None

    def read_text_bytes(self, path: str | Path, what: str | None = None) -> tuple[bytes | None, Skipped | None]:
        """A confined text file's bytes, at most `max_text_bytes`."""
        problem = self.check(path, what)
        if problem:
            return None, problem
        name = what or safe_text(str(path))
        try:
            with open(path, "rb") as fh:
                data = fh.read(self.max_text_bytes + 1)
        except OSError as exc:
            return None, Skipped(name, f"unreadable: {exc.strerror or exc}")
        too_big = self.text_too_big(len(data), name)
        return (None, too_big) if too_big else (data, None)

    def text_too_big(self, size: int, what: str) -> Skipped | None:
        if size > self.max_text_bytes:
            return Skipped(what, f"text is over the cap of {self.max_text_bytes} bytes; "
                                 "raise it with --max-text-bytes")
        return None


def safe_text(s: str) -> str:
    """An id, path or name that SQLite and JSON can carry: undecodable
    file-name bytes become `\\xNN` (the same file always gets the same id)."""
    return escape_surrogates(s)


def member_problem(name: str, kind_ok: bool, kind: str) -> str | None:
    """Why a tar member must not be read, or None: names that climb out of
    the shard (`..`, absolute) and anything but a regular file."""
    if name.startswith("/") or ".." in Path(name).parts:
        return "member name leaves the shard (absolute or '..'): never read"
    if not kind_ok:
        return f"member is a {kind}, not a regular file: never read"
    return None
