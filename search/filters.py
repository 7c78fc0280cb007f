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
import threading
import weakref
from collections import OrderedDict
from typing import Any, Iterable

import numpy as np

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.core.protocols import SearchIndex, Where
from xmodal.alignment.core.where import conditions

CLI_OPS = (">=", "<=", "!=", "=", "<", ">")  # longest first: `a>=1` is not `a>` `=1`


def _value(raw: str):
    """A CLI value: a JSON scalar or list when it parses as one, else the text."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return value
    return value if isinstance(value, (str, int, float, bool)) else raw


def parse_where(pairs: Iterable[str]) -> dict[str, Any] | None:
    """CLI filters -> the JSON `where` (see `alignment.core.where`):
    `key=value`, `key!=value`, `key>=n` / `key>n` / `key<=n` / `key<n`,
    `key=["a","b"]` (any of them), `key!=["a","b"]`, `key:exists`,
    `key:missing`. Values that parse as JSON are typed; anything else is
    text. Several conditions on one key all apply (`w>=100 --where w<500`)."""
    where: dict[str, Any] = {}
    for pair in pairs:
        text = pair.strip()
        for suffix, flag in ((":exists", True), (":missing", False)):
            if text.endswith(suffix) and text[: -len(suffix)].strip():
                _add(where, text[: -len(suffix)].strip(), "exists", flag)
                break
        else:
            at = min(((text.find(op), -len(op), op) for op in CLI_OPS if text.find(op) > 0), default=None)
            if at is None:
                raise BadInput(f"--where {pair!r}", "is not KEY=VALUE (or !=, <, <=, >, >=, KEY:exists)",
                               "e.g. --where license=cc0 --where width>=512")
            op = at[2]
            key, raw = text[: at[0]].strip(), text[at[0] + len(op):].strip()
            _add(where, key, op, _value(raw))
    return check_where(where)


def _add(where: dict[str, Any], key: str, op: str, value: Any) -> None:
    if op == "=" and key not in where:
        where[key] = value  # the plain form: {"key": value}
        return
    spec = where.get(key)
    if not isinstance(spec, dict):
        spec = {} if key not in where else {("in" if isinstance(spec, list) else "="): spec}
    spec[op] = value
    where[key] = spec


def check_where(where: Any) -> dict[str, Any] | None:
    """Validate a metadata filter (the JSON form of `alignment.core.where`:
    equality, in, not, ranges, exists); None for no filter."""
    if where is None:
        return None
    if not isinstance(where, dict):
        raise BadInput("where", "must be an object of field: condition pairs")
    conditions(where)  # raises the one-line BadInput
    return where or None


def allowed_labels(index: SearchIndex, target: str | None, where: Where | None) -> np.ndarray | None:
    """Labels of `index` a search may return, or None for "all of them".

    Computed once per (reader, generation, target, filter) and kept in a
    small cache: a reader answers for one pinned generation (the
    `SearchIndex` contract), so the set cannot change under it, and a
    filter reused across queries (a page of results, the next query of a
    session) costs no SQL."""
    if target is None and not where:
        return None
    key = (index.generation, target, json.dumps(where or {}, sort_keys=True, default=str))
    hit = _CACHE.get(index, key)
    if hit is not None:
        return hit
    labels = _compute(index, target, where)
    labels.setflags(write=False)  # shared by every caller of the cache
    _CACHE.put(index, key, labels)
    return labels


def _compute(index: SearchIndex, target: str | None, where: Where | None) -> np.ndarray:
    if target in ("image", "audio"):
        return _as_labels(index.labels_where(modality=target, kind="item", where=where))
    if target == "text":
        texts = _as_labels(index.labels_where(modality="text", where=where))
        captions = _as_labels(index.labels_where(kind="caption", where=where))
        return np.union1d(texts, captions)
    return _as_labels(index.labels_where(where=where))


class _LabelCache:
    """Allowed-label sets per reader (weakly held: a closed, dropped reader
    takes its sets with it), least recently used dropped beyond a total of
    `max_labels` labels (8 bytes each)."""

    def __init__(self, max_labels: int = 4_000_000):
        self.max_labels = max_labels
        self._by_index: "weakref.WeakKeyDictionary[Any, OrderedDict[tuple, np.ndarray]]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, index: Any, key: tuple) -> np.ndarray | None:
        with self._lock:
            try:
                sets = self._by_index.get(index)
            except TypeError:  # not weakly referenceable: no caching
                return None
            if sets is None or key not in sets:
                return None
            sets.move_to_end(key)
            return sets[key]

    def put(self, index: Any, key: tuple, labels: np.ndarray) -> None:
        if len(labels) > self.max_labels:
            return
        with self._lock:
            try:
                sets = self._by_index.setdefault(index, OrderedDict())
            except TypeError:
                return
            sets[key] = labels
            total = sum(len(v) for d in self._by_index.values() for v in d.values())
            while total > self.max_labels and sets:
                _, dropped = sets.popitem(last=False)
                total -= len(dropped)


_CACHE = _LabelCache()


def _as_labels(labels: Any) -> np.ndarray:
    return np.unique(np.asarray(labels, dtype=np.int64))
