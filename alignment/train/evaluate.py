"""Retrieval recall@k by exact brute-force search on normalised vectors.

Definitions follow CLIP_benchmark: a query counts as a hit at k when *any*
of its positives is among the k highest-scoring targets. For text->image
each caption is a query and its item's image the one positive; for
image->text each image is a query and every caption of that item is a
positive ("item -> any caption"). Positives are rows with the same key
(item id). Queries without any positive among the targets are left out and
counted in `n_skipped`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from typing import Sequence

import numpy as np

from ..core.contracts import MODALITIES, l2_normalise

KS = (1, 5, 10)


@dataclass
class Recall:
    """Recall@k of one direction (query modality -> target modality)."""

    direction: str
    recall: dict[int, float]
    n_queries: int
    n_targets: int
    n_skipped: int = 0

    def as_dict(self) -> dict:
        out = {"direction": self.direction, "n_queries": self.n_queries, "n_targets": self.n_targets}
        out.update({f"R@{k}": round(v, 4) for k, v in self.recall.items()})
        if self.n_skipped:
            out["n_skipped"] = self.n_skipped
        return out


@dataclass
class Embedded:
    """Embeddings of one split by modality, with the item key of each row."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)


def recall_at_k(
    queries: np.ndarray,
    query_keys: Sequence,
    targets: np.ndarray,
    target_keys: Sequence,
    ks: Sequence[int] = KS,
    direction: str = "",
    block: int = 1024,
) -> Recall:
    """Exact recall@k of every query against every target (cosine)."""
    q = l2_normalise(queries)
    t = l2_normalise(targets)
    qk = np.asarray(query_keys)
    tk = np.asarray(target_keys)
    hits = {k: 0 for k in ks}
    n_used = 0
    kmax = min(max(ks), len(t))
    for s in range(0, len(q), block):
        sims = q[s : s + block] @ t.T
        pos = qk[s : s + block, None] == tk[None, :]
        has = pos.any(axis=1)
        # exact top-k; ties are ordered by target index (stable sort), so
        # the result does not depend on the platform's sort
        order = np.argsort(-sims, axis=1, kind="stable")[:, :kmax]
        top_pos = np.take_along_axis(pos, order, axis=1)
        first = np.where(top_pos.any(axis=1), top_pos.argmax(axis=1), kmax + 1)
        for k in ks:
            hits[k] += int(((first < k) & has).sum())
        n_used += int(has.sum())
    rec = {k: (hits[k] / n_used if n_used else 0.0) for k in ks}
    return Recall(direction, rec, n_used, len(t), len(q) - n_used)


def evaluate_embedded(emb: Embedded, ks: Sequence[int] = KS, directions: Sequence[str] | None = None) -> dict[str, Recall]:
    """Recall@k for every ordered pair of modalities that share keys."""
    out: dict[str, Recall] = {}
    present = [m for m in MODALITIES if m in emb.vectors and len(emb.vectors[m])]
    for qm, tm in permutations(present, 2):
        name = f"{qm}->{tm}"
        if directions and name not in directions:
            continue
        if not np.isin(emb.keys[qm], emb.keys[tm]).any():
            continue
        out[name] = recall_at_k(emb.vectors[qm], emb.keys[qm], emb.vectors[tm], emb.keys[tm], ks, name)
    return out


def mean_recall(results: dict[str, Recall], directions: Sequence[str] | None = None) -> float:
    """The model-selection score: mean R@k over k, averaged over directions
    weighted by their number of queries, so that a direction with a couple
    dozen queries (e.g. audio->image on the few tuxpaint triples) cannot
    swing early stopping by noise."""
    num, den = 0.0, 0
    for d, r in results.items():
        if directions and d not in directions or not r.n_queries:
            continue
        num += r.n_queries * float(np.mean(list(r.recall.values())))
        den += r.n_queries
    return num / den if den else 0.0


def table(rows: dict[str, dict[str, Recall]], ks: Sequence[int] = KS) -> str:
    """Plain-text table: one line per (method, direction)."""
    head = f"{'method':<22} {'direction':<15} " + " ".join(f"R@{k:<5}" for k in ks) + "  queries"
    lines = [head, "-" * len(head)]
    for method, res in rows.items():
        for d, r in res.items():
            vals = " ".join(f"{100 * r.recall[k]:6.2f}" for k in ks)
            lines.append(f"{method:<22} {d:<15} {vals}  {r.n_queries}")
    return "\n".join(lines)
