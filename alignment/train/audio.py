"""Audio binding: train the log-mel CNN audio tower against the text (and,
where triples exist, image) embeddings, ImageBind-style.

Each clip becomes one clean log-mel view (the encoder's own front end, first
window) plus k augmented views computed once per run (here). Training feeds
random time crops of the views through the (trainable) audio tower
(`model.cropped_audio`); evaluation uses the full clean view. Because the
text and image heads are trained in the same space, audio->image retrieval
works for classes that only ever had audio-text pairs.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from ..core.errors import BadInput
from ..preprocess.audio import load_windows, log_mel
from .augment import AugmentConfig, augment
from .data import Item

log = logging.getLogger(__name__)


def clip_views(path: str, cfg, k: int, rng: np.random.Generator, aug: AugmentConfig) -> np.ndarray:
    """(1 + k, n_mels, frames) float16: the clean first window + k augmented."""
    wav = load_windows(path, cfg)[0]
    waves = [wav] + [augment(wav, cfg.sample_rate, rng, aug) for _ in range(k)]
    return log_mel(np.stack(waves), cfg).astype(np.float16)


def audio_views(cfg, items: Sequence[Item], k: int, seed: int = 0,
                aug: AugmentConfig = AugmentConfig()) -> tuple[torch.Tensor, list[int], list[bool], list[str]]:
    """Log-mel views of every item with audio (the audio tower's inputs):
    (views (n, n_mels, frames) float16, owning item of each view, whether
    each is the clean view, skip lines)."""
    rng = np.random.default_rng(seed)
    mels, owners, clean, skipped = [], [], [], []
    todo = [i for i, it in enumerate(items) if it.audio]
    for n, i in enumerate(todo):
        try:
            v = clip_views(items[i].audio, cfg, k, rng, aug)
        except BadInput as exc:
            skipped.append(f"skipped {exc}")
            continue
        mels.append(v)
        owners += [i] * len(v)
        clean += [True] + [False] * (len(v) - 1)
        if (n + 1) % 200 == 0 or n + 1 == len(todo):
            log.info(f"  audio views: {n + 1}/{len(todo)} clips ({len(skipped)} skipped)")
    if mels:
        views = torch.from_numpy(np.concatenate(mels))
    else:
        views = torch.zeros((0, cfg.n_mels, 1), dtype=torch.float16)
    return views, owners, clean, skipped
