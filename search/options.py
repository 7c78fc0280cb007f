"""`SearchOptions`: how to search, as one validated value.

The CLI, the HTTP API and Python callers each build one; the engine takes
it as it is. Validation happens here, once, when it is made: a
`SearchOptions` that exists is valid. New options (pagination, composed
queries, typed filters) become fields here, not new parameters on every
engine method."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from xmodal.alignment.core.protocols import Where
from xmodal.alignment.core.errors import BadInput

from .dedup import check_threshold
from .filters import check_where
from .query import check_target

MAX_K = 1000


def check_k(k: Any) -> int:
    """k must be an int in [1, MAX_K]."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise BadInput("k", f"{k!r} is not an integer")
    if not 1 <= int(k) <= MAX_K:
        raise BadInput("k", f"{k} is outside 1..{MAX_K}")
    return int(k)


@dataclass(frozen=True)
class SearchOptions:
    """`k` results, best first. `target` restricts the result modality
    (image|audio|text, captions count as text; None or 'all': any),
    `where` keeps rows whose metadata passes the filter (equality, in,
    not, ranges, exists: `alignment.core.where`), `dedup` collapses results at least that
    cosine-similar to a better one, `rescore` ranks candidates by exact
    inner product with the stored vectors."""

    k: int = 10
    target: str | None = None
    where: Where | None = None
    dedup: float | None = None
    rescore: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise the given values once
        set_(self, "k", check_k(self.k))
        set_(self, "target", check_target(self.target))
        set_(self, "where", check_where(self.where))
        set_(self, "dedup", check_threshold(self.dedup))
        set_(self, "rescore", bool(self.rescore))

    def filter_key(self) -> tuple:
        """What the allowed-label set depends on (a cache key)."""
        return (self.target, json.dumps(self.where or {}, sort_keys=True, default=str))
