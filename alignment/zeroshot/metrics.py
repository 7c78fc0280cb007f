"""Zero-shot classification metrics (CLIP_benchmark's set): top-k accuracy,
per-class recall and its mean ("mean per-class recall", balanced accuracy),
macro F1, the confusion matrix and the worst classes' confusions, each with
its chance level.

Definitions (one place; the benchmarks and tests call these):
- top-k accuracy: share of items whose true class is among the k highest
  scores (ties broken towards the lower class index, `zeroshot.top_k_order`).
- per-class recall of class c: correct top-1 predictions of c / items of c.
- macro F1: the mean over the classes that have items (support > 0) of
  2PR/(P+R), with P = 0 for a class never predicted; classes without items
  are candidates a prediction may go to but are not averaged.
- chance: a predictor drawing labels uniformly: top-k accuracy and mean
  per-class recall min(k, L)/L; its expected macro F1 is the mean over
  supported classes of 2*p_c/L / (p_c + 1/L) with p_c the class prior.
  `majority` is the accuracy of always answering the most frequent class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .classifier import top_k_order


@dataclass
class ClassConfusion:
    """A class with low recall and where its items went instead."""

    label: str
    support: int
    recall: float
    confused_with: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ClassificationMetrics:
    """What `classification_metrics` measured (rates in [0, 1])."""

    n: int                                # items scored
    n_classes: int                        # candidate labels (some may have no items)
    top1: float
    top5: float
    mean_per_class_recall: float          # balanced accuracy
    macro_f1: float
    # per class, for the classes that have items
    per_class_recall: dict[str, float]
    per_class_f1: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]]            # [true][predicted], label order
    worst: list[ClassConfusion]
    chance: dict[str, float]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def top_k_accuracy(scores: np.ndarray, y_true: np.ndarray, k: int) -> float:
    order = top_k_order(scores, k)
    return float(np.mean(np.any(order == np.asarray(y_true)[:, None], axis=1))) if len(y_true) else 0.0


def f1_per_class(conf: np.ndarray) -> np.ndarray:
    """F1 of every class from a confusion matrix (0 where P + R = 0)."""
    tp = np.diag(conf).astype(np.float64)
    pred, true = conf.sum(axis=0), conf.sum(axis=1)
    prec = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    rec = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    den = prec + rec
    return np.divide(2 * prec * rec, den, out=np.zeros_like(tp), where=den > 0)


def chance_levels(y_true: np.ndarray, n_classes: int) -> dict[str, float]:
    """Uniform-guess and majority-class baselines for these labels."""
    support = np.bincount(np.asarray(y_true, np.int64), minlength=n_classes)
    present = support > 0
    prior = support[present] / max(int(support.sum()), 1)
    u = 1.0 / n_classes
    f1 = float(np.mean(2 * prior * u / (prior + u))) if present.any() else 0.0
    return {"top1": u, "top5": min(5, n_classes) / n_classes, "mean_per_class_recall": u,
            "macro_f1": f1, "majority": float(support.max() / max(int(support.sum()), 1))}


def classification_metrics(scores: np.ndarray, y_true: Sequence[int], labels: Sequence[str],
                           worst: int = 5, confusions: int = 3) -> ClassificationMetrics:
    """All metrics of one run: `scores` (n, L) against `labels` (L names),
    `y_true[i]` the index of item i's class in `labels`."""
    y = np.asarray(y_true, dtype=np.int64)
    n_classes = len(labels)
    pred = top_k_order(scores, 1)[:, 0]
    conf = confusion_matrix(y, pred, n_classes)
    support = conf.sum(axis=1)
    present = support > 0
    recall = np.divide(np.diag(conf), support, out=np.zeros(n_classes), where=present)
    f1 = f1_per_class(conf)
    by_recall = sorted(np.flatnonzero(present), key=lambda c: (recall[c], -support[c], c))[:worst]
    worst_rows = []
    for c in by_recall:
        off = [(int(j), int(conf[c, j])) for j in np.argsort(-conf[c], kind="stable") if j != c and conf[c, j] > 0]
        worst_rows.append(ClassConfusion(labels[c], int(support[c]), float(recall[c]),
                                         [(labels[j], cnt) for j, cnt in off[:confusions]]))
    return ClassificationMetrics(
        n=len(y), n_classes=n_classes, top1=top_k_accuracy(scores, y, 1), top5=top_k_accuracy(scores, y, 5),
        mean_per_class_recall=float(recall[present].mean()) if present.any() else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        per_class_recall={labels[c]: float(recall[c]) for c in np.flatnonzero(present)},
        per_class_f1={labels[c]: float(f1[c]) for c in np.flatnonzero(present)},
        support={labels[c]: int(support[c]) for c in np.flatnonzero(present)},
        confusion=conf.tolist(), worst=worst_rows, chance=chance_levels(y, n_classes))
