"""Audio binding: train the log-mel CNN audio tower against the text (and,
where triples exist, image) embeddings, ImageBind-style.

Each clip becomes one clean log-mel view (the encoder's own front end, first
window) plus k augmented views computed once per run. Training feeds random
time crops of the views through the (trainable) audio tower; evaluation
uses the full clean view. Because the text and image heads are trained in
the same space, audio->image retrieval works for classes that only ever
had audio-text pairs.
"""
from __future__ import annotations

import sys
from typing import Sequence, TextIO

import numpy as np
import torch

from ..core.errors import BadInput
from ..preprocess.audio import load_windows, log_mel
from .augment import AugmentConfig, augment
from .data import Item
from .model import Aligner, Rows

MEL_KEY = "mel"


def clip_views(path: str, cfg, k: int, rng: np.random.Generator, aug: AugmentConfig) -> np.ndarray:
    """(1 + k, n_mels, frames) float16: the clean first window + k augmented."""
    wav = load_windows(path, cfg)[0]
    waves = [wav] + [augment(wav, cfg.sample_rate, rng, aug) for _ in range(k)]
    return log_mel(np.stack(waves), cfg).astype(np.float16)


def audio_views(cfg, items: Sequence[Item], k: int, seed: int = 0, log: TextIO | None = sys.stderr,
                aug: AugmentConfig = AugmentConfig()) -> tuple[Rows, list[str]]:
    """Rows of log-mel views for every item with audio (tower inputs)."""
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
        if log is not None and ((n + 1) % 200 == 0 or n + 1 == len(todo)):
            print(f"  audio views: {n + 1}/{len(todo)} clips ({len(skipped)} skipped)", file=log, flush=True)
    if mels:
        data = torch.from_numpy(np.concatenate(mels))
    else:
        data = torch.zeros((0, cfg.n_mels, 1), dtype=torch.float16)
    rows = Rows(item=torch.as_tensor(owners, dtype=torch.long), inputs={MEL_KEY: data},
                clean=torch.as_tensor(clean, dtype=torch.bool))
    return rows, skipped


def audio_tower_fn(crop_frames: int = 250):
    """Tower features from log-mel views: random time crops while training,
    the whole view in eval mode."""

    def run(inputs: dict[str, torch.Tensor], model: Aligner) -> torch.Tensor:
        mel = inputs[MEL_KEY].float()
        if model.training and crop_frames and mel.shape[-1] > crop_frames:
            start = int(torch.randint(0, mel.shape[-1] - crop_frames + 1, (1,)))
            mel = mel[..., start : start + crop_frames]
        return model.audio_tower(mel)

    return run

