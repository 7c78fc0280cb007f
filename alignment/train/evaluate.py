"""The evaluator of trained alignments: recall@k in every direction between
the modalities of one embedded split, and the model-selection score.

Recall itself (CLIP_benchmark's definitions, exact brute force) is
`xmodal.alignment.retrieval_metrics`, shared with the benchmarks. Keys are
item indices: for text->image each caption is a query and its item's image
the one positive; for image->text each image is a query and every caption
of that item is a positive ("item -> any caption").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from typing import Sequence

import numpy as np

from ..core.contracts import MODALITIES
from ..retrieval_metrics import KS, Recall, recall_at_k


@dataclass
class Embedded:
    """Embeddings of one split by modality, with the item key of each row."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)


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
