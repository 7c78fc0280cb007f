"""Recall of an encoder stack on items, through the real encoding path.

Every item is encoded by `EncoderStack.embed` (the same code path as
indexing and search) and recall@1/5/10 is computed by exact brute force in
every direction, over all items and per corpus. `xmodal align eval` runs it
on a checkpoint applied to its base stack (`run.eval_run`).
"""
from __future__ import annotations

import logging

import numpy as np

from ..retrieval_metrics import Recall
from .data import Item
from .evaluate import Embedded, recall_by_corpus

log = logging.getLogger(__name__)


def embed_items(stack, items: list[Item]) -> tuple[Embedded, list[str]]:
    """Encode every caption / image / clip of `items`; keys = item index."""
    emb = Embedded()
    skipped: list[str] = []
    for m in ("text", "image", "audio"):
        if m not in stack.encoders:
            continue
        if m == "text":
            owners = [i for i, it in enumerate(items) for _ in it.captions]
            things = [c for it in items for c in it.captions]
        else:
            owners = [i for i, it in enumerate(items) if getattr(it, m)]
            things = [getattr(items[i], m) for i in owners]
        if not things:
            continue
        res = stack.embed(m, things, batch_size=64 if m == "text" else 16)
        skipped += [e.line() for e in res.errors]
        emb.vectors[m] = res.vectors
        emb.keys[m] = np.asarray(owners, dtype=np.int64)[res.ok]
        log.info(f"  encoded {len(res.ok)} {m} ({len(res.errors)} skipped)")
    return emb, skipped


def evaluate_stack(stack, items: list[Item]) -> tuple[dict[str, dict[str, Recall]], list[str]]:
    """Recall over all items and per corpus for an encoder stack; returns
    (results, skip lines)."""
    emb, skipped = embed_items(stack, items)
    return recall_by_corpus(emb, [it.corpus for it in items]), skipped
