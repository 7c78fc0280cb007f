"""`IndexSource`: one opened index the engine searches, reopened in place
when the indexer publishes a newer manifest generation."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.protocols import IndexIdentity, SearchIndex

from .filters import allowed_labels
from .options import SearchOptions

Opener = Callable[[str], SearchIndex]
_CACHE_SIZE = 64


def default_opener(path: str) -> SearchIndex:
    """The indexer's read API (imported late so `search` loads without it)."""
    from xmodal.indexer import open_index

    return open_index(path)


def source_names(paths: list[str]) -> list[str]:
    """Short unique names: the directory name without `.xmodal`."""
    names: list[str] = []
    for p in paths:
        base = Path(p.rstrip("/")).name
        base = base[: -len(".xmodal")] if base.endswith(".xmodal") else base
        name, n = base or "index", 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


class IndexSource:
    """An index plus the bits of state the engine keeps for it.

    The allowed-label sets of recent (target, where) filters are cached
    per generation: a filter over millions of rows costs a SQLite scan, and
    the same few filters repeat across queries."""

    def __init__(self, path: str, name: str, opener: Opener = default_opener):
        self.path = str(path)
        self.name = name
        self._opener = opener
        self._lock = threading.Lock()
        self._on_reopen: Callable[[SearchIndex], None] | None = None
        self.index: SearchIndex = opener(self.path)
        self._allowed: dict[tuple, np.ndarray | None] = {}
        self._total: int | None = None

    @property
    def manifest(self) -> IndexIdentity:
        return self.index.manifest

    def set_reopen_check(self, check: Callable[[SearchIndex], None]) -> None:
        """`check(new_index)` runs before a reopened index is swapped in
        (the engine uses it to refuse an index built by other weights)."""
        self._on_reopen = check

    def refresh(self) -> bool:
        """Reopen if a newer manifest was published; True when it did."""
        if not self.index.is_stale():
            return False
        with self._lock:
            if not self.index.is_stale():  # another thread already reopened
                return False
            fresh = self._opener(self.path)
            if self._on_reopen is not None:
                self._on_reopen(fresh)
            self.index = fresh
            self._allowed = {}
            self._total = None
        return True

    def allowed(self, options: SearchOptions) -> np.ndarray | None:
        """Cached `filters.allowed_labels` for this generation."""
        key = options.filter_key()
        if key not in self._allowed:
            if len(self._allowed) >= _CACHE_SIZE:
                self._allowed.pop(next(iter(self._allowed)))
            self._allowed[key] = allowed_labels(self.index, options.target, options.where)
        return self._allowed[key]

    def total(self) -> int:
        """Number of live rows (what an unfiltered search can return)."""
        if self._total is None:
            self._total = int(len(self.index.labels_where()))
        return self._total

    def info(self) -> dict[str, Any]:
        """JSON-able summary for `GET /indexes`."""
        m = self.manifest
        return {
            "name": self.name,
            "path": self.path,
            "generation": m.generation,
            "encoder_spec": m.encoder_spec,
            "dim": m.dim,
            "metric": m.metric,
            "factory": m.factory,
            "counts": m.counts,
        }


def check_same_encoder(sources: list[IndexSource]) -> None:
    """Several indexes can only be merged when one encoder built them all."""
    prints = {(s.manifest.encoder_fingerprint, s.manifest.dim) for s in sources}
    if len(prints) > 1:
        listing = ", ".join(f"{s.name}: {s.manifest.encoder_spec}" for s in sources)
        raise XmodalError(
            f"indexes were built by different encoders ({listing}); "
            "search them separately or rebuild them with one model spec"
        )
