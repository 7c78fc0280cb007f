"""The first step of a run: items + a stack -> `Prepared`, the train/val/test
`SplitData` with cached frozen features (captions wrapped in the recipe's
hard prompt templates), token ids for the soft-prompt path and log-mel views
for the trainable audio tower."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch

from ..aligned import tower_fingerprint
from ..core.errors import XmodalError
from ..preprocess.text import TEMPLATE_SETS, apply_template, templates_for  # noqa: F401 (re-exported)
from ..registry import load_encoder, parse_spec
from .audio import audio_views
from .data import Item, by_split
from .features import FeatureCache, cached_features, content_keys
from .model import MEL_KEY, Rows, SplitData
from .recipes import Recipe

log = logging.getLogger(__name__)

PROMPT_MAX_TOKENS = 48  # prompt path runs the tower every step: keep rows short

@dataclass
class FeatureOptions:
    """What to precompute for one split."""

    templates: list[str] = field(default_factory=lambda: ["{}"])
    token_ids: bool = False          # for soft-prompt training
    n_ctx: int = 0
    audio_views: int = -1            # -1: frozen audio features; k >= 0: clean + k augmented log-mel views
    audio_seed: int = 0
    modalities: tuple[str, ...] = ("text", "image", "audio")
    cache_root: str | None = None
    backend: str | None = None       # frozen towers' inference backend (None: $XMODAL_BACKEND, else auto)


def _text_rows(stack, items: list[Item], opts: FeatureOptions) -> tuple[Rows, list[str]]:
    enc = stack.encoder("text")
    fp = tower_fingerprint(stack, "text")
    cache = FeatureCache("text", fp, opts.cache_root)
    owners = [i for i, it in enumerate(items) for _ in it.captions]
    caps = [c for it in items for c in it.captions]
    skipped: list[str] = []
    acc = np.zeros((len(caps), enc.tower.out_dim), np.float32)
    good = np.ones(len(caps), bool)
    for t in opts.templates:
        texts = [apply_template(t, c) for c in caps]
        feats, ok, sk = cached_features(enc, fp, texts, content_keys("text", texts), cache, 64,
                                        backend=opts.backend)
        mask = np.zeros(len(caps), bool)
        mask[ok] = True
        good &= mask
        acc[ok] += feats
        skipped += sk
    acc /= len(opts.templates)
    sel = np.nonzero(good)[0]
    rows = Rows(item=torch.as_tensor(np.asarray(owners)[sel]), feats=torch.from_numpy(acc[sel]))
    if opts.token_ids:
        texts = [apply_template(opts.templates[0], caps[i]) for i in sel]
        tok = enc.tower.tokenizer(texts, padding=True, truncation=True,
                                  max_length=PROMPT_MAX_TOKENS, return_tensors="pt")
        rows.inputs = {"input_ids": tok["input_ids"], "attention_mask": tok["attention_mask"]}
    return rows, skipped


def _file_rows(stack, modality: str, items: list[Item], opts: FeatureOptions) -> tuple[Rows, list[str]]:
    enc = stack.encoder(modality)
    owners = [i for i, it in enumerate(items) if getattr(it, modality)]
    paths = [getattr(items[i], modality) for i in owners]
    fp = tower_fingerprint(stack, modality)
    cache = FeatureCache(modality, fp, opts.cache_root)
    feats, ok, skipped = cached_features(enc, fp, paths, content_keys(modality, paths), cache,
                                         32 if modality == "image" else 16, backend=opts.backend)
    return Rows(item=torch.as_tensor(np.asarray(owners, dtype=np.int64)[ok]),
                feats=torch.from_numpy(feats)), skipped


def _audio_view_rows(stack, items: list[Item], opts: FeatureOptions) -> tuple[Rows, list[str]]:
    views, owners, clean, skipped = audio_views(stack.encoder("audio").cfg, items, opts.audio_views, opts.audio_seed)
    return Rows(item=torch.as_tensor(owners, dtype=torch.long), inputs={MEL_KEY: views},
                clean=torch.as_tensor(clean, dtype=torch.bool)), skipped


def build_split(stack, items: Sequence[Item], opts: FeatureOptions) -> tuple[SplitData, list[str]]:
    """Features of one split's items; returns (data, skip lines)."""
    items = list(items)
    data = SplitData(ids=[it.id for it in items], groups=np.asarray([it.group for it in items]))
    skipped: list[str] = []
    for m in opts.modalities:
        if m not in stack.encoders or not any(m in it.modalities for it in items):
            continue
        if m == "text":
            rows, sk = _text_rows(stack, items, opts)
        elif m == "audio" and opts.audio_views >= 0:
            rows, sk = _audio_view_rows(stack, items, opts)
        else:
            rows, sk = _file_rows(stack, m, items, opts)
        data.rows[m] = rows
        skipped += sk
    return data, skipped


def base_stack(spec: str):
    """The towers to train on, *without* any alignment installed (the
    shipped `lite` alignment would otherwise change the audio tower)."""
    parsed = parse_spec(spec)
    if parsed.name in ("lite", "tiny") and not parsed.align:
        from ..config import load_config
        from ..stacks.lite import build_from_config

        return build_from_config(load_config(parsed.name, parsed.argument), parsed.base)
    return load_encoder(spec)


@dataclass
class Prepared:
    """A run's stack, the caption templates its text features used and,
    per split, its items and their tensors."""

    stack: object
    templates: list[str]
    items: dict[str, list[Item]] = field(default_factory=dict)
    data: dict[str, SplitData] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def prepare(recipe: Recipe, items: list[Item], stack=None, cache_root: str | None = None) -> Prepared:
    """Features for the train/val/test splits of `items` (training items
    capped per corpus; only training gets augmented audio views)."""
    stack = stack or base_stack(recipe.model)
    torch.set_grad_enabled(True)
    opts = FeatureOptions(templates=templates_for(recipe.templates), token_ids=recipe.n_ctx > 0,
                          n_ctx=recipe.n_ctx, audio_views=recipe.audio_views if recipe.train_audio_tower else -1,
                          audio_seed=recipe.seed, cache_root=cache_root)
    out = Prepared(stack, opts.templates)
    for split in ("train", "val", "test"):
        part = by_split(items, split)
        if split == "train":
            part = cap_corpora(part, recipe.corpus_caps, recipe.seed)
        if not part:
            continue
        log.info(f"{split}: {len(part)} items")
        o = opts if split == "train" else replace(opts, audio_views=min(opts.audio_views, 0))
        out.data[split], sk = build_split(stack, part, o)
        out.items[split] = part
        out.skipped += sk
    if "train" not in out.data:
        raise XmodalError("no training items (every item is in val/test): check the data's 'split' fields")
    return out


def cap_corpora(items: list[Item], caps: dict[str, int], seed: int) -> list[Item]:
    """At most caps[corpus] training items of a corpus (seeded sample), so
    one large corpus cannot dominate the cost of an epoch."""
    if not caps:
        return items
    rng = np.random.default_rng(seed)
    out: list[Item] = []
    for c in dict.fromkeys(it.corpus for it in items):
        mine = [it for it in items if it.corpus == c]
        if c in caps and len(mine) > caps[c]:
            keep = sorted(rng.choice(len(mine), caps[c], replace=False))
            mine = [mine[i] for i in keep]
        out += mine
    return out
