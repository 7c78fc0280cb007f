"""Architecture configs: one JSON per built-in stack in `configs/`, turned
into dataclasses here and nowhere else."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from .core.errors import XmodalError


@dataclass(frozen=True)
class TextConfig:
    """Text tower: `minilm` / `mpnet` (pretrained) or `tiny_bert` (random, for tests)."""

    kind: str
    max_tokens: int = 256
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    head: str = "linear"


@dataclass(frozen=True)
class ImageConfig:
    """Image tower + the resize / centre-crop / normalise it expects."""

    kind: str
    image_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    channels: tuple[int, ...] = (8, 16, 32)
    head: str = "linear"


@dataclass(frozen=True)
class AudioConfig:
    """Log-mel front end + CNN tower. Clips shorter than one window are
    repeated to fill it; longer ones give up to `max_windows` evenly spaced
    windows whose features are averaged."""

    kind: str = "cnn"               # or "efficientnet_lite0" (ImageNet-initialised)
    sample_rate: int = 16000
    window_seconds: float = 5.0
    max_windows: int = 6
    max_seconds: float = 3600.0
    min_seconds: float = 0.05
    n_fft: int = 512
    hop_length: int = 160
    n_mels: int = 64
    channels: tuple[int, ...] = (32, 64, 128, 256)
    head: str = "linear"

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))


@dataclass(frozen=True)
class StackConfig:
    """A whole built-in stack: shared `dim`, init `seed`, three towers."""

    name: str
    dim: int
    seed: int
    text: TextConfig
    image: ImageConfig
    audio: AudioConfig
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _build(cls, data: dict[str, Any], where: str):
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise XmodalError(f"config {where}: unknown keys {sorted(unknown)}")
    # JSON lists become tuples so configs stay hashable and immutable.
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**clean)


def parse_config(data: dict[str, Any]) -> StackConfig:
    """A JSON dict -> StackConfig (the one conversion boundary)."""
    try:
        name = data["name"]
        return StackConfig(
            name=name,
            dim=int(data["dim"]),
            seed=int(data.get("seed", 0)),
            text=_build(TextConfig, data["text"], f"{name}.text"),
            image=_build(ImageConfig, data["image"], f"{name}.image"),
            audio=_build(AudioConfig, data["audio"], f"{name}.audio"),
            raw=data,
        )
    except KeyError as exc:
        raise XmodalError(f"config {data.get('name', '?')}: missing key {exc}") from None


def load_config(name: str) -> StackConfig:
    """Read `alignment/configs/<name>.json`."""
    try:
        text = resources.files("xmodal.alignment.configs").joinpath(f"{name}.json").read_text()
    except FileNotFoundError:
        raise XmodalError(f"no built-in config named '{name}'") from None
    return parse_config(json.loads(text))
