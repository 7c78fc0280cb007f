"""Reader pins: which generations open readers still use, so a writer
never purges metadata rows an open reader's FAISS generation can return.

A reader holds a shared `flock` on `.pins/g<N>.pin` while it is open (the
kernel drops it when the process dies, kill -9 included). A writer probing
for the oldest pinned generation takes each pin file exclusively without
blocking: when that succeeds no reader holds it, and the file is removed.
Where the index directory is read-only nothing is pinned (nor written).
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import IO

PINS_DIR = ".pins"
_NAME = re.compile(r"^g(\d+)\.pin$")


class Pin:
    """A held pin; released by `close()` (or when the object is collected)."""

    def __init__(self, fh: IO[str]):
        self._fh: IO[str] | None = fh

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the file drops the lock
            self._fh = None


def pin(index_dir: str | Path, generation: int) -> Pin | None:
    """Pin `generation` for as long as the returned Pin is open."""
    d = Path(index_dir) / PINS_DIR
    path = d / f"g{int(generation)}.pin"
    for _ in range(8):
        try:
            d.mkdir(exist_ok=True)
            fh = open(path, "a")
        except OSError:
            return None  # a read-only index: no writer can purge under us either
        fcntl.flock(fh, fcntl.LOCK_SH)
        try:
            same = os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return Pin(fh)
        fh.close()  # a writer removed the file between our open and lock: retry
    return None


def oldest_pinned(index_dir: str | Path) -> int | None:
    """The oldest generation some open reader pins, or None; pin files
    nobody holds are removed on the way."""
    d = Path(index_dir) / PINS_DIR
    if not d.is_dir():
        return None
    held = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if not m:
            continue
        try:
            fh = open(p, "a")
        except OSError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(int(m.group(1)))
                continue
            p.unlink(missing_ok=True)  # unlinked while we hold it: see pin()'s inode check
    return min(held) if held else None


def purge_bound(index_dir: str | Path, upto: int) -> int:
    """Rows deleted at or before the returned generation may be purged:
    `upto`, lowered to the oldest pinned generation (a reader at generation
    g still sees rows deleted after g)."""
    held = oldest_pinned(index_dir)
    return upto if held is None else min(upto, held)
