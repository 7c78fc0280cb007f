"""Contrastive losses: pure functions of embeddings.

Nothing here knows about towers, heads or data: every function takes
embeddings (and the keys that say which rows belong together) and returns
a scalar loss, so the trainer, tests and any future recipe share exactly one
definition.

Positives are defined by *keys*, not by row position: two rows are a
positive pair when their keys are equal. With one row per distinct key this
is exactly CLIP's symmetric InfoNCE; with repeated keys (two captions of the
same picture, or two pictures from one caption group in the same batch) the
duplicates are treated as positives rather than as false negatives (the
target distribution is uniform over a row's positives).
"""
from __future__ import annotations

import math
from itertools import combinations

import torch
import torch.nn.functional as F

from .core.contracts import MODALITIES

#: CLIP's initial temperature, as a log logit scale: ln(1/0.07).
LOGIT_SCALE_INIT = math.log(1 / 0.07)
#: CLIP clamps the logit scale at 100 so the softmax cannot collapse.
LOGIT_SCALE_MAX = math.log(100.0)


def scale_from_log(log_scale: torch.Tensor | float) -> torch.Tensor:
    """exp(log_scale) clamped at 100 (gradient stops flowing at the clamp)."""
    t = torch.as_tensor(log_scale, dtype=torch.float32)
    return t.clamp(max=LOGIT_SCALE_MAX).exp()


def _soft_ce(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each row against a uniform target over its
    positives; rows without a positive are ignored."""
    has_pos = positive.any(dim=1)
    if not bool(has_pos.any()):
        return logits.sum() * 0.0
    logits, positive = logits[has_pos], positive[has_pos]
    target = positive.float() / positive.float().sum(dim=1, keepdim=True)
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    log_scale: torch.Tensor | float = LOGIT_SCALE_INIT,
    a_keys: torch.Tensor | None = None,
    b_keys: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE between two sets of embeddings.

    `a` (n, d) and `b` (m, d) are L2-normalised here (callers need not).
    Without keys, row i of `a` pairs with row i of `b` (n == m). The loss is
    the mean of the a->b and b->a cross-entropies of the scaled cosine
    similarity matrix.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"info_nce: embeddings must be (n, d) and (m, d), got {tuple(a.shape)} and {tuple(b.shape)}")
    if a_keys is None or b_keys is None:
        if a.shape[0] != b.shape[0]:
            raise ValueError("info_nce: without keys both sides need the same number of rows")
        a_keys = torch.arange(a.shape[0])
        b_keys = a_keys
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = scale_from_log(log_scale) * (a @ b.T)
    positive = a_keys.reshape(-1, 1) == b_keys.reshape(1, -1)
    return 0.5 * (_soft_ce(logits, positive) + _soft_ce(logits.T, positive.T))


def multimodal_info_nce(
    embeddings: dict[str, torch.Tensor],
    keys: dict[str, torch.Tensor],
    log_scale: torch.Tensor | float = LOGIT_SCALE_INIT,
    weights: dict[tuple[str, str], float] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Symmetric InfoNCE for every pair of modalities present in a batch.

    `embeddings[m]` is (n_m, d) and `keys[m]` (n_m,) says which item (or
    group) each row belongs to. A pair of modalities contributes only when
    at least one key occurs in both (e.g. an audio-only batch adds no
    image-audio term). Returns (weighted mean over contributing pairs,
    {"text-image": loss, ...}).
    """
    order = {m: i for i, m in enumerate(MODALITIES)}
    names = sorted((m for m, e in embeddings.items() if e.shape[0] > 0), key=lambda m: (order.get(m, 99), m))
    parts: dict[str, torch.Tensor] = {}
    total, wsum = None, 0.0
    for m1, m2 in combinations(names, 2):
        k1, k2 = keys[m1], keys[m2]
        if not bool(torch.isin(k1, k2).any()):
            continue
        loss = info_nce(embeddings[m1], embeddings[m2], log_scale, k1, k2)
        w = (weights or {}).get((m1, m2), (weights or {}).get((m2, m1), 1.0))
        parts[f"{m1}-{m2}"] = loss
        total = loss * w if total is None else total + loss * w
        wsum += w
    if total is None:
        zero = sum(e.sum() * 0.0 for e in embeddings.values()) if embeddings else torch.zeros(())
        return zero, parts
    return total / wsum, parts
