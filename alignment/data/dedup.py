"""Near-duplicate images join one split group.

Caption groups alone miss duplicates whose captions differ: the same
check-mark icon is "apply", "button ok" and "button accept"; colour variants
of an arrow carry their colour in the title. A 256-bit difference hash
(16x16 gradient signs of the grey image composited on white) finds them:
images whose hashes differ in at most `MAX_HAMMING` bits and in at most
`MAX_JACCARD` of their set bits are near-duplicates (candidates come from an
exact match on one of 16 non-empty 16-bit bands), and their caption groups
are merged (union-find), so such items can never straddle splits. Being
greyscale, the hash also merges same-shape colour variants (arrow-green /
arrow-red, tricolour flags): stricter splits, never leakier ones. Near-uniform images (few gradient bits, e.g. striped
flags, plain gradients) hash alike without being alike and are not merged.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .base import Log
from .pairs import Pair

HASH_SIDE = 16
MIN_BITS = 16  # fewer set gradient bits than this: too little structure to compare
GREY_MARGIN = 2
MAX_HAMMING = 8     # of 256 bits; resizing the same picture flips a handful
MAX_JACCARD = 0.08  # ... and at most this share of the bits set in either hash
BANDS = 16          # 16 bands of 16 bits: a pair within 15 bits shares a band


def image_dhash(path: str | Path, side: int = HASH_SIDE) -> int | None:
    """Difference hash of an image, or None if unreadable or near-uniform."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.thumbnail((8 * side, 8 * side))
                rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        grey = Image.alpha_composite(white, rgba).convert("L")
        small = np.asarray(grey.resize((side + 1, side), Image.Resampling.BILINEAR), dtype=np.int16)
    except Exception:  # the builder already vetted the file; a failure just means "no hash"
        return None
    # A margin keeps interpolation noise in flat regions from flipping bits.
    bits = ((small[:, 1:] - small[:, :-1]) > GREY_MARGIN).flatten()
    if bits.sum() < MIN_BITS:
        return None
    return int("".join("1" if b else "0" for b in bits), 2)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the lexicographically smallest group names the component
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def near(a: int, b: int) -> bool:
    """True when hashes `a` and `b` are near-duplicates (see module doc)."""
    ham = bin(a ^ b).count("1")
    return ham <= MAX_HAMMING and ham <= MAX_JACCARD * bin(a | b).count("1")


def _merge_bucket(items: list[tuple[int, Pair]], uf: _UnionFind) -> None:
    """Union the groups of near-duplicate items sharing one hash band.

    Items already in one component are not compared again; two components
    merge at the first close pair, which keeps big same-group buckets cheap."""
    by_root: dict[str, list[int]] = {}
    for h, p in items:
        by_root.setdefault(uf.find(p.group), []).append(h)
    roots = sorted(by_root)
    for i, ra in enumerate(roots):
        for rb in roots[i + 1:]:
            if uf.find(ra) == uf.find(rb):
                continue
            if any(near(ha, hb) for ha in by_root[ra] for hb in by_root[rb]):
                uf.union(ra, rb)


def merge_duplicate_groups(pairs: list[Pair], log: Log = print) -> dict:
    """Hash every image pair and merge caption groups that share a hash.

    Rewrites `group` in place (all modalities follow their caption group);
    the original is kept in `metadata['caption_group']`. Returns notes."""
    uf = _UnionFind()
    hashes: list[tuple[int, Pair]] = []
    images = [p for p in pairs if p.modality == "image"]
    for i, p in enumerate(images, 1):
        if i % 2000 == 0:
            log(f"near-duplicate hashing: {i}/{len(images)} images")
        h = image_dhash(p.path)
        if h is not None:
            p.metadata["dhash"] = f"{h:064x}"
            hashes.append((h, p))
    width = HASH_SIDE * HASH_SIDE // BANDS
    buckets: dict[tuple[int, int], list[int]] = {}
    for idx, (h, _) in enumerate(hashes):
        for b in range(BANDS):
            band = (h >> (b * width)) & ((1 << width) - 1)
            if band:  # an all-flat band says nothing; it would pair thousands of images
                buckets.setdefault((b, band), []).append(idx)
    for members in buckets.values():
        if len(members) > 1:
            _merge_bucket([hashes[m] for m in members], uf)
    moved = 0
    for p in pairs:
        root = uf.find(p.group)
        if root != p.group:
            p.metadata["caption_group"] = p.group
            p.group = root
            moved += 1
    merged_groups = sum(1 for g, r in uf.parent.items() if g != r)
    return {"dhash_bits": HASH_SIDE * HASH_SIDE, "max_hamming": MAX_HAMMING,
            "images_hashed": len(hashes),
            "caption_groups_merged_into_others": merged_groups, "items_regrouped": moved}
