"""Prompt transfer: a source alignment initialises training on a target.

Three numbers on the same target test split:
- zero-shot: the source alignment as it is;
- few-shot: initialised from the source (heads, temperature, soft prompt,
  audio tower), then trained on N target training pairs;
- from scratch: fresh random heads trained on the same N pairs.

`run.transfer_run` runs the three; this module holds its steps.
`shots` counts labelled target pairs, drawn round-robin over caption groups
(so one large group cannot take the whole budget). Few-shot runs use no
validation split (that would be more labels than N); they train a fixed
number of epochs and keep the last.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..aligned import CheckpointInfo
from ..core.errors import XmodalError
from .data import Item, by_split
from .recipes import Recipe, TrainConfig


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
    """Few-shot optimisation: small batches, no early stopping."""
    return replace(base, epochs=epochs, batch_size=max(2, min(64, shots)), patience=epochs, max_steps_per_epoch=0)


def transfer_recipe(info: CheckpointInfo, shots: int, epochs: int, seed: int) -> Recipe:
    """The source checkpoint's recipe, set up for few-shot training (no
    baselines, no validation: a fixed number of epochs, the last kept)."""
    recipe = Recipe.from_dict({**info.recipe, "baselines": False}) if info.recipe else Recipe(model=info.base or "lite")
    return replace(recipe, seed=seed, train=few_shot_config(recipe.train, shots, epochs))


def split_shots(items: list[Item], shots: int, seed: int) -> tuple[list[Item], list[Item]]:
    """(the few-shot training items, the target test items)."""
    test_items = by_split(items, "test")
    if not test_items:
        raise XmodalError("transfer data has no 'test' items: give items a split, or let groups be hashed into splits")
    few = pick_shots(by_split(items, "train"), shots, seed)
    if len(few) < 2:
        raise XmodalError(f"transfer needs at least 2 training shots, the data gives {len(few)}")
    return few, test_items
