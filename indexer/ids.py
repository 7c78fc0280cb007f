"""Where an index's item ids come from: its id roots.

A build records the folders its ids are relative to (`IndexStats.id_roots`:
each corpus folder, a corpus file's folder). `index add` of a path inside
one of them gets the same ids a build would (so `--upsert` replaces the
item it names); a path outside all of them gets absolute-path ids, which no
relative id can equal. A manifest's ids are its own.

Indexes built before id roots were recorded keep their ids as they are:
their id roots are the corpus roots the manifest records (every folder a
build or add was given), which is how their ids were made; only a path
outside all of those is new, and gets an absolute-path id.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .manifest import IndexManifest


def build_id_roots(corpus: Iterable[str | Path]) -> list[str]:
    """The id roots of a build over `corpus` (resolved folders)."""
    out: list[str] = []
    for p in corpus:
        real = Path(p).resolve()
        root = str(real if real.is_dir() else real.parent)
        if root not in out:
            out.append(root)
    return out


def id_roots_of(manifest: IndexManifest) -> list[str]:
    """The id roots of an index (older indexes: its recorded corpus roots)."""
    s = manifest.stats
    if s.id_roots is not None:
        return list(s.id_roots)
    return [r for r in (s.corpus_roots or []) if os.path.isdir(r)]
