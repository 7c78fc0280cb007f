"""Cross-modal tuning query sets: what restricted search will actually do.

An index holding several modalities is searched cross-modally and
restricted to a target modality (the search layer passes an allowed label
set for `target=image`, `target=text`, ...). Because of the modality gap a
caption vector lands in IVF lists / graph regions full of other captions,
so parameters tuned on same-distribution queries over the whole index miss
the images it should find. For each (query modality -> target modality)
pair present, this module builds a tuning set: held-out vectors of the
query modality, exact truth over the target subset only, and the same
IDSelector restriction the reader applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import faiss
import numpy as np

# A few hundred queries per direction keep tuning cheap.
PER_DIRECTION = 300


@dataclass
class Direction:
    """One restricted tuning set: queries of `source`, searched among `target`."""

    name: str                 # e.g. "text->image"
    query_rows: np.ndarray    # rows of the vector matrix used as queries (held out)
    target_rows: np.ndarray   # rows the exact reference searches (target subset in the index)
    target_labels: np.ndarray  # their labels: the ANN search is restricted to these

    def selector(self) -> faiss.IDSelector:
        """The restriction the reader applies for an allowed label set."""
        return faiss.IDSelectorBatch(np.ascontiguousarray(self.target_labels, dtype=np.int64))


def modality_group(modality: str, kind: str) -> str:
    """The target a row answers to: captions and text items are 'text'
    (search's target=text takes both), image/audio items their modality."""
    return "text" if kind == "caption" or modality == "text" else modality


def groups_of(rows: Sequence[object]) -> np.ndarray:
    """Group per row for anything with `.modality` and `.kind` (NewRow, Row)."""
    return np.array([modality_group(r.modality, r.kind) for r in rows], dtype=object)


def stratified_extra(groups: np.ndarray | None, chosen: np.ndarray, per_group: int,
                     rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    """Extra held-out rows so each modality has up to `per_group` queries
    (never more than a fifth of that modality, so its target subset stays
    representative). Returns the sorted union with `chosen`."""
    if groups is None or len(set(groups.tolist())) < 2:
        return chosen
    taken = np.zeros(len(groups), bool)
    taken[chosen] = True
    avoid = np.zeros(len(groups), bool)
    if exclude is not None:
        avoid[exclude] = True
    extra = []
    for g in sorted(set(groups.tolist())):
        members = np.nonzero(groups == g)[0]
        want = min(per_group, len(members) // 5) - int(taken[members].sum())
        if want <= 0:
            continue
        pool = members[~taken[members] & ~avoid[members]]
        if len(pool) < want:  # prefer rows outside the training sample, but take what exists
            pool = members[~taken[members]]
        extra.append(rng.choice(pool, size=min(want, len(pool)), replace=False))
    if not extra:
        return chosen
    return np.sort(np.concatenate([chosen, *extra]).astype(np.int64))


def directions(groups: np.ndarray | None, labels: np.ndarray, query_rows: np.ndarray,
               base_rows: np.ndarray | None, per_direction: int = PER_DIRECTION) -> list[Direction]:
    """Every (query group -> other target group) pair with queries and targets.

    `query_rows`: held-out rows (or, for a tiny corpus, any rows) to draw
    queries from; `base_rows`: rows the index holds while tuning (all when
    None). Queries of one group never appear in another group's target, so
    no query can find itself."""
    if groups is None:
        return []
    names = sorted(set(groups.tolist()))
    if len(names) < 2:
        return []
    in_base = np.ones(len(groups), bool) if base_rows is None else np.zeros(len(groups), bool)
    if base_rows is not None:
        in_base[base_rows] = True
    out = []
    for src in names:
        q = query_rows[groups[query_rows] == src]
        if len(q) > per_direction:  # evenly spread over the (random) held-out rows
            q = q[np.linspace(0, len(q) - 1, per_direction).astype(np.int64)]
        if len(q) == 0:
            continue
        for dst in names:
            if dst == src:
                continue
            t = np.nonzero((groups == dst) & in_base)[0]
            if len(t) == 0:
                continue
            out.append(Direction(f"{src}->{dst}", q, t, labels[t]))
    return out
