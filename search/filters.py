"""Target-modality and metadata filters, turned into the allowed-label set
the index pre-filters on (so filtered searches still return k results
whenever k matching items exist).

How caption vectors (rows with kind='caption': text vectors of an image's
or sound's captions) take part:
- target image/audio: only item rows of that modality; captions never
  stand in for their parent item.
- target text: text items *and* caption rows (a caption is a text).
- no target: every row; a caption hit is shown as a text hit that names its
  parent item in `metadata['parent_id']`.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.core.protocols import SearchIndex, Where

_SCALARS = (str, int, float, bool)
MAX_WHERE_KEYS = 32


def parse_where(pairs: Iterable[str]) -> dict[str, Any]:
    """CLI `key=value` strings -> dict. Values that parse as JSON scalars
    (numbers, true/false/null) are typed; anything else stays a string."""
    where: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(f"--where {pair!r}", "is not key=value", "e.g. --where license=cc0")
        try:
            value = json.loads(raw)
            if not isinstance(value, _SCALARS) and value is not None:
                value = raw
        except ValueError:
            value = raw
        where[key] = value
    return check_where(where)


def check_where(where: Any) -> dict[str, Any] | None:
    """Validate a metadata filter: field -> scalar (equality) or list of
    scalars (any of them)."""
    if where is None:
        return None
    if not isinstance(where, dict):
        raise BadInput("where", "must be an object of field: value pairs")
    if len(where) > MAX_WHERE_KEYS:
        raise BadInput("where", f"has {len(where)} fields, at most {MAX_WHERE_KEYS} allowed")
    for key, value in where.items():
        if not isinstance(key, str) or not key or len(key) > 200:
            raise BadInput("where", f"field name {key!r} is not a non-empty string")
        values = value if isinstance(value, (list, tuple)) else [value]
        if len(values) > 1000 or any(v is not None and not isinstance(v, _SCALARS) for v in values):
            raise BadInput(f"where.{key}", "must be a string, number, boolean, null or a list of them")
    return where or None


def allowed_labels(index: SearchIndex, target: str | None, where: Where | None) -> np.ndarray | None:
    """Labels of `index` a search may return, or None for "all of them"."""
    if target is None and not where:
        return None
    if target in ("image", "audio"):
        return _as_labels(index.labels_where(modality=target, kind="item", where=where))
    if target == "text":
        texts = _as_labels(index.labels_where(modality="text", where=where))
        captions = _as_labels(index.labels_where(kind="caption", where=where))
        return np.union1d(texts, captions)
    return _as_labels(index.labels_where(where=where))


def _as_labels(labels: Any) -> np.ndarray:
    return np.unique(np.asarray(labels, dtype=np.int64))
