"""The evaluator of trained alignments: a split embedded by the model,
recall@k in every direction between its modalities (over all items and per
corpus), its JSON form, and the model-selection score.

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
from .data import Item
from .model import Aligner, SplitData


@dataclass
class Embedded:
    """Embeddings of one split by modality, with the item key of each row."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)


def embed_split(model: Aligner, data: SplitData) -> Embedded:
    """Clean rows of every modality the model has a head for, embedded,
    keyed by item index."""
    emb = Embedded()
    for m in data.modalities:
        if m in model.heads:
            emb.vectors[m], emb.keys[m] = model.embed_all(m, data.rows[m])
    return emb


def evaluate_model(model: Aligner, data: SplitData, directions: Sequence[str] | None = None) -> dict[str, Recall]:
    """Recall of `model` on one split, every direction."""
    return evaluate_embedded(embed_split(model, data), directions=directions)


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


def corpus_groups(corpus_of_item: Sequence[str]) -> dict[str, np.ndarray | None]:
    """How results are broken down: {"all": None (every item)} plus, when
    the items come from several corpora, {corpus: its item indices}."""
    corpus_of_item = np.asarray(corpus_of_item, dtype=object)
    out: dict[str, np.ndarray | None] = {"all": None}
    names = sorted({c for c in corpus_of_item if c})
    if len(names) > 1:
        out.update({c: np.nonzero(corpus_of_item == c)[0] for c in names})
    return out


def corpus_subsets(items: list[Item], data: SplitData) -> dict[str, SplitData]:
    """The split restricted to each corpus (plus 'all'), as `corpus_groups`
    breaks results down."""
    return {name: data if members is None else data.subset(members)
            for name, members in corpus_groups([it.corpus for it in items]).items()}


def recall_by_corpus(emb: Embedded, corpus_of_item: Sequence[str]) -> dict[str, dict[str, Recall]]:
    """Recall over all items and per corpus (`corpus_groups`); `emb` keys
    are item indices into `corpus_of_item`."""
    out = {}
    for name, members in corpus_groups(corpus_of_item).items():
        sub = emb
        if members is not None:
            sub = Embedded()
            for m, keys in emb.keys.items():
                keep = np.isin(keys, members)
                sub.vectors[m], sub.keys[m] = emb.vectors[m][keep], keys[keep]
        out[name] = evaluate_embedded(sub)
    return out


def as_json(results: dict[str, Recall]) -> dict[str, dict]:
    """{direction: recall dict}: how recall is recorded in histories,
    reports and checkpoints."""
    return {d: r.as_dict() for d, r in results.items()}


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
