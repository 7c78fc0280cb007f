"""Streaming file hashes: one loop for weight fingerprints, checkpoint
integrity, feature-cache keys and index checksums."""
from __future__ import annotations

import hashlib
from pathlib import Path


def hash_file(path: str | Path, algo: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's bytes, read `chunk` bytes at a time."""
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
