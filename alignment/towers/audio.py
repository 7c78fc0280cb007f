"""Audio tower: a small CNN over log-mel windows (1, n_mels, frames).

Randomly initialised (fixed seed) until the alignment stage trains it; the
trained weights then arrive through the alignment checkpoint.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import AudioConfig
from ..heads import seeded


class AudioCNN(nn.Module):
    """Conv-BN-ReLU-pool blocks, then mean+max pooling over time/frequency."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        blocks: list[nn.Module] = []
        prev = 1
        for ch in channels:
            blocks += [
                nn.Conv2d(prev, ch, 3, padding=1, bias=False),
                nn.BatchNorm2d(ch),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            prev = ch
        self.body = nn.Sequential(*blocks)
        self.out_dim: int = prev

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(n, n_mels, frames) or (n, 1, n_mels, frames) -> (n, out_dim)."""
        if mel.dim() == 3:
            mel = mel.unsqueeze(1)
        h = self.body(mel)
        # mean keeps the overall texture, max keeps short salient events
        return h.mean(dim=(2, 3)) + h.amax(dim=(2, 3))


def build_audio_tower(cfg: AudioConfig, seed: int) -> AudioCNN:
    """A reproducible random-init audio CNN for a config."""
    with seeded(seed):
        return AudioCNN(tuple(cfg.channels)).eval()
