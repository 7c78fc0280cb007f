"""Streaming file hashes: one loop for weight fingerprints, checkpoint
integrity, feature-cache keys and index checksums, and a memo of them
keyed by size + mtime."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import atomic_write_json


def hash_file(path: str | Path, algo: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's bytes, read `chunk` bytes at a time."""
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class DigestMemo:
    """File digests remembered by (absolute path, size, mtime_ns) in one JSON
    file, so unchanged files are not read again. Load once, `digest` many
    files, `save` once (a read-only or missing cache only costs speed)."""

    def __init__(self, store: Path, algo: str = "sha256"):
        self.store, self.algo = Path(store), algo
        try:
            self.known: dict[str, str] = json.loads(self.store.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    @staticmethod
    def _key(abs_path: str) -> str:
        st = os.stat(abs_path)
        return f"{abs_path}|{st.st_size}|{st.st_mtime_ns}"

    def digest(self, path: str | Path) -> str:
        p = os.path.abspath(path)
        key = self._key(p)
        if key not in self.known:
            self.known[key] = hash_file(p, self.algo)
            self.changed = True
        return self.known[key]

    def save(self) -> None:
        """Write the memo, dropping entries of files since changed or gone."""
        if not self.changed:
            return
        self.known = {k: v for k, v in self.known.items() if self._current(k)}
        try:
            atomic_write_json(self.store, self.known)
            self.changed = False
        except OSError:
            pass

    def _current(self, key: str) -> bool:
        try:
            return self._key(key.rsplit("|", 2)[0]) == key
        except OSError:
            return False
