"""Prompt transfer: a source alignment initialises training on a target.

Three numbers on the same target test split:
- zero-shot: the source alignment as it is;
- few-shot: initialised from the source (heads, temperature, soft prompt,
  audio tower), then trained on N target training pairs;
- from scratch: fresh random heads trained on the same N pairs.

`shots` counts labelled target pairs, drawn round-robin over caption groups
(so one large group cannot take the whole budget). Few-shot runs use no
validation split (that would be more labels than N); they train a fixed
number of epochs and keep the last.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from typing import TextIO

import numpy as np

from ..aligned import load_checkpoint, save_checkpoint
from ..core.errors import XmodalError
from .data import Item, by_split
from .fit import export_tensors, fit_stages, load_into, make_aligner
from .recipes import Recipe
from .run import _dump, base_stack, checkpoint_info, corpus_subsets, prepare
from .evaluate import evaluate_embedded
from .trainer import TrainConfig, log_line, embed_split


def pick_shots(items: list[Item], shots: int, seed: int = 0) -> list[Item]:
    """`shots` items, round-robin over groups in a seeded random order."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(it.group, []).append(it)
    order = [groups[g] for g in rng.permutation(sorted(groups))]
    for members in order:
        rng.shuffle(members)
    picked: list[Item] = []
    depth = 0
    while len(picked) < shots and any(depth < len(m) for m in order):
        for members in order:
            if depth < len(members) and len(picked) < shots:
                picked.append(members[depth])
        depth += 1
    return picked


def few_shot_config(base: TrainConfig, shots: int, epochs: int) -> TrainConfig:
    return replace(base, epochs=epochs, batch_size=max(2, min(64, shots)), patience=epochs, max_steps_per_epoch=0)


def transfer(src_dir: str, items: list[Item], shots: int, out_dir: str, epochs: int = 30, seed: int = 0,
             log: TextIO | None = sys.stderr, cache_root: str | None = None) -> dict:
    """Run zero-shot / few-shot / from-scratch; save the few-shot alignment."""
    tensors, info = load_checkpoint(src_dir)
    recipe = Recipe.from_dict({**info.recipe, "baselines": False}) if info.recipe else Recipe(model=info.base or "lite")
    recipe = replace(recipe, seed=seed, train=few_shot_config(recipe.train, shots, epochs))
    train_items = by_split(items, "train")
    test_items = by_split(items, "test")
    if not test_items:
        raise XmodalError("transfer data has no 'test' items: give items a split, or let groups be hashed into splits")
    few = pick_shots(train_items, shots, seed)
    if len(few) < 2:
        raise XmodalError(f"transfer needs at least 2 training shots, the data gives {len(few)}")
    stack = base_stack(info.base or recipe.model)
    prep = prepare(recipe, few + test_items, log, stack=stack, cache_root=cache_root)
    modalities = [m for m in info.heads if m in stack.encoders]
    results: dict[str, dict] = {}

    def evaluate(model) -> dict:
        subsets = corpus_subsets(prep.items["test"], prep.data["test"])
        return {c: _dump(evaluate_embedded(embed_split(model, d))) for c, d in subsets.items()}

    zero = make_aligner(stack, recipe, modalities, info.dim)
    load_into(zero, tensors, stack, recipe)
    results["zero_shot"] = evaluate(zero)
    log_line(log, f"few-shot: {len(few)} target pairs, initialised from {src_dir}")
    fewm = make_aligner(stack, recipe, modalities, info.dim)
    load_into(fewm, tensors, stack, recipe)
    fit_stages(fewm, stack, recipe, prep.data["train"], None, log)
    results["few_shot"] = evaluate(fewm)
    log_line(log, f"from scratch: {len(few)} target pairs, random init")
    scratch = make_aligner(stack, replace(recipe, n_ctx=0), modalities, info.dim)
    fit_stages(scratch, stack, replace(recipe, n_ctx=0), prep.data["train"], None, log)
    results["from_scratch"] = evaluate(scratch)
    report = {"source": str(src_dir), "shots": len(few), "epochs": epochs, "results": results}
    out_info = checkpoint_info(stack, recipe, fewm, few + test_items, {"transfer": report}, {"test": results["few_shot"]}, {})
    out_info.recipe["transfer_from"] = {"dir": str(src_dir), "weights_sha256": info.weights_sha256}
    save_checkpoint(out_dir, export_tensors(fewm), out_info)
    return report

