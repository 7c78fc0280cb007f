"""Items + a stack -> `SplitData`: cached frozen features, token ids for the
soft-prompt path, log-mel views for the trainable audio tower."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Sequence, TextIO

import numpy as np
import torch

from ..aligned import tower_fingerprint
from ..preprocess.text import apply_template
from .audio import audio_views
from .data import Item
from .features import FeatureCache, cached_features, content_keys, text_featurize
from .model import Rows, SplitData

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


def _text_rows(stack, items: list[Item], opts: FeatureOptions, log) -> tuple[Rows, list[str]]:
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
        feats, ok, sk = cached_features(enc, fp, texts, content_keys("text", texts), cache, 128, log,
                                        featurize=text_featurize(enc))
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


def _file_rows(stack, modality: str, items: list[Item], opts: FeatureOptions, log) -> tuple[Rows, list[str]]:
    enc = stack.encoder(modality)
    owners = [i for i, it in enumerate(items) if getattr(it, modality)]
    paths = [getattr(items[i], modality) for i in owners]
    fp = tower_fingerprint(stack, modality)
    cache = FeatureCache(modality, fp, opts.cache_root)
    feats, ok, skipped = cached_features(enc, fp, paths, content_keys(modality, paths), cache,
                                         32 if modality == "image" else 16, log)
    return Rows(item=torch.as_tensor(np.asarray(owners, dtype=np.int64)[ok]),
                feats=torch.from_numpy(feats)), skipped


def build_split(stack, items: Sequence[Item], opts: FeatureOptions,
                log: TextIO | None = sys.stderr) -> tuple[SplitData, list[str]]:
    """Features of one split's items; returns (data, skip lines)."""
    items = list(items)
    data = SplitData(ids=[it.id for it in items], groups=np.asarray([it.group for it in items]))
    skipped: list[str] = []
    for m in opts.modalities:
        if m not in stack.encoders or not any(m in it.modalities for it in items):
            continue
        if m == "text":
            rows, sk = _text_rows(stack, items, opts, log)
        elif m == "audio" and opts.audio_views >= 0:
            rows, sk = audio_views(stack.encoder("audio").cfg, items, opts.audio_views, opts.audio_seed, log)
        else:
            rows, sk = _file_rows(stack, m, items, opts, log)
        data.rows[m] = rows
        skipped += sk
    return data, skipped
