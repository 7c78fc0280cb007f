"""Splits by caption group, never by row.

Near-duplicate items share a caption group (identical or numbered titles);
a random row split would put copies of the same picture on both sides and
inflate held-out recall. Each group goes to one split, chosen by a hash of
the group string, so the assignment is deterministic and stable when other
groups are added or removed. Very large groups (collections of hundreds of
near-identical items) are kept in train so they cannot dominate val/test.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..core.atomic import atomic_path
from .cache import write_json_atomic
from .pairs import Pair, write_pairs

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of groups per split, the hash salt, and the big-group cap."""

    val: float = 0.1
    test: float = 0.1
    salt: str = "xmodal-v1"
    max_eval_group: int = 50

    def __post_init__(self) -> None:
        if not (0 <= self.val and 0 <= self.test and self.val + self.test < 1):
            raise ValueError("val and test fractions must be >= 0 and sum to < 1")


def group_unit(group: str, salt: str) -> float:
    """Deterministic position of `group` in [0, 1)."""
    h = hashlib.sha256(f"{salt}\x00{group}".encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


def split_of_group(group: str, cfg: SplitConfig = SplitConfig(), size: int = 1) -> str:
    """The split `group` belongs to (groups larger than the cap: train)."""
    if size > cfg.max_eval_group:
        return "train"
    u = group_unit(group, cfg.salt)
    if u < cfg.test:
        return "test"
    if u < cfg.test + cfg.val:
        return "val"
    return "train"


def assign(pairs: Iterable[Pair], cfg: SplitConfig = SplitConfig()) -> dict[str, list[Pair]]:
    """Pairs -> {split: pairs}; every group lands in exactly one split."""
    pairs = list(pairs)
    sizes = Counter(p.group for p in pairs)
    out: dict[str, list[Pair]] = {s: [] for s in SPLITS}
    for p in pairs:
        out[split_of_group(p.group, cfg, sizes[p.group])].append(p)
    return out


def check_disjoint(splits: dict[str, list[Pair]]) -> None:
    """Raise ValueError if any group or id appears in more than one split."""
    seen: dict[str, str] = {}
    ids: dict[str, str] = {}
    for name, items in splits.items():
        for p in items:
            if seen.setdefault(p.group, name) != name:
                raise ValueError(f"group {p.group!r} is in both {seen[p.group]} and {name}")
            if ids.setdefault(p.id, name) != name:
                raise ValueError(f"id {p.id!r} is in both {ids[p.id]} and {name}")


def write_splits(root: Path, pairs: list[Pair], cfg: SplitConfig = SplitConfig()) -> dict[str, Any]:
    """Write train/val/test.jsonl and splits.json into `root`; return the summary."""
    splits = assign(pairs, cfg)
    check_disjoint(splits)
    summary: dict[str, Any] = {
        "method": "sha256(salt, group) thresholds; groups larger than max_eval_group -> train",
        "salt": cfg.salt, "val_fraction": cfg.val, "test_fraction": cfg.test,
        "max_eval_group": cfg.max_eval_group, "splits": {},
    }
    for name in SPLITS:
        items = splits[name]
        with atomic_path(Path(root) / f"{name}.jsonl") as tmp:
            write_pairs(tmp, items)
        per_mod: dict[str, int] = defaultdict(int)
        for p in items:
            per_mod[p.modality] += 1
        summary["splits"][name] = {"items": len(items), "groups": len({p.group for p in items}),
                                   "by_modality": dict(sorted(per_mod.items()))}
    write_json_atomic(Path(root) / "splits.json", summary)
    return summary
