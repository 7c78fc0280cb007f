"""Evaluate an installed alignment through the real encoder stack.

This is what `xmodal align eval` runs: the checkpoint is applied to its base
stack exactly as `--model <base>+align:<dir>` would, every item is encoded
by `EncoderStack.embed` (the same code path as indexing and search), and
recall@1/5/10 is computed by exact brute force in every direction.

`baseline_report` puts the training-free baselines beside it: fitted on the
frozen features of the checkpoint's own training corpora (train split,
hyper-parameters chosen on val, exactly as `align train` does), scored on
the same evaluation items. On a corpus the alignment never saw, that is the
held-out-domain comparison.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from typing import TextIO

import numpy as np

from ..aligned import read_info
from ..core.errors import XmodalError
from ..registry import load_encoder
from .data import Item, from_corpora
from ..retrieval_metrics import Recall
from .evaluate import Embedded, evaluate_embedded


def embed_items(stack, items: list[Item], log: TextIO | None = sys.stderr) -> tuple[Embedded, list[str]]:
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
        if log is not None:
            print(f"  encoded {len(res.ok)} {m} ({len(res.errors)} skipped)", file=log, flush=True)
    return emb, skipped


def evaluate_stack(stack, items: list[Item], by_corpus: bool = True,
                   log: TextIO | None = sys.stderr) -> tuple[dict[str, dict[str, Recall]], list[str]]:
    """Recall per corpus (and over all items) for an encoder stack."""
    emb, skipped = embed_items(stack, items, log)
    out = {"all": evaluate_embedded(emb)}
    corpora = sorted({it.corpus for it in items if it.corpus})
    if by_corpus and len(corpora) > 1:
        owner_corpus = np.asarray([it.corpus for it in items])
        for c in corpora:
            sub = Embedded()
            for m, v in emb.vectors.items():
                keep = owner_corpus[emb.keys[m]] == c if len(emb.keys[m]) else np.zeros(0, bool)
                sub.vectors[m], sub.keys[m] = v[keep], emb.keys[m][keep]
            out[c] = evaluate_embedded(sub)
    return out, skipped


def evaluate_checkpoint(ckpt_dir: str, items: list[Item], model: str | None = None,
                        log: TextIO | None = sys.stderr) -> tuple[dict[str, dict[str, Recall]], list[str]]:
    """Apply the checkpoint to its base stack (or `model`) and evaluate."""
    info = read_info(ckpt_dir)
    stack = load_encoder(f"{model or info.base or 'lite'}+align:{ckpt_dir}")
    return evaluate_stack(stack, items, log=log)


def baseline_report(ckpt_dir: str, items: list[Item], cache: str | None = None,
                    log: TextIO | None = sys.stderr) -> dict[str, dict]:
    """Baselines fitted on the checkpoint's training corpora, scored on `items`
    per corpus: {corpus: {baseline: {"hp": ..., direction: recall dict}}}."""
    from .recipes import Recipe
    from .run import baselines_on, corpus_subsets, prepare

    info = read_info(ckpt_dir)
    recipe = Recipe.from_dict(info.recipe) if info.recipe else None
    if recipe is None or not recipe.corpora:
        raise XmodalError(f"{ckpt_dir}: its recipe names no training corpora, so there is nothing "
                          "to fit the baselines on (run without --baselines)")
    fit_items = [it for it in from_corpora(recipe.corpora, cache)
                 if it.image and it.captions and it.split in ("train", "val")]
    if not fit_items:
        raise XmodalError(f"{ckpt_dir}: the recipe's corpora ({', '.join(recipe.corpora)}) have no "
                          "captioned images to fit text-image baselines on")
    # frozen tower features only: no prompt, no audio views
    frozen = replace(recipe, n_ctx=0, train_audio_tower=False)
    targets = [replace(it, split="test") for it in items if it.image and it.captions]
    if not targets:
        raise XmodalError("baselines compare text and images: the evaluation data has no captioned images")
    seen = {it.id for it in fit_items} & {it.id for it in targets}
    if seen and log is not None:
        # the baselines keep their train pairs as anchors: those items are not held out
        print(f"note: {len(seen)} evaluation items are in the checkpoint's train/val splits "
              f"(e.g. {min(seen)}); their scores are not held-out", file=log, flush=True)
    prep = prepare(frozen, fit_items + targets, log)
    return baselines_on(prep, corpus_subsets(prep.items["test"], prep.data["test"]), log)
