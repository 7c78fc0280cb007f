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


def _read_json(name: str) -> dict[str, Any]:
    try:
        text = resources.files("xmodal.alignment.configs").joinpath(f"{name}.json").read_text()
    except FileNotFoundError:
        raise XmodalError(f"no built-in config named '{name}'") from None
    return json.loads(text)


def load_config(name: str, towers: str | None = None) -> StackConfig:
    """Read `alignment/configs/<name>.json`, with the tower options of
    `towers` ("text=mpnet,image=lite2", see `with_towers`) applied."""
    data = _read_json(name)
    return parse_config(with_towers(data, towers) if towers else data)


SECTIONS = {"text": TextConfig, "image": ImageConfig, "audio": AudioConfig}


def tower_options() -> dict[str, dict[str, dict[str, Any]]]:
    """modality -> option name -> the config keys it sets (`configs/towers.json`)."""
    return {m: v for m, v in _read_json("towers").items() if m in SECTIONS}


def with_towers(data: dict[str, Any], towers: str) -> dict[str, Any]:
    """A config dict with tower options applied: `towers` is
    "modality=option[,modality=option]". An option that changes nothing
    (the config already has that tower) leaves its section as it is, so the
    default towers keep their fingerprints whichever way they are named."""
    options = tower_options()
    out = dict(data)
    for part in filter(None, (p.strip() for p in towers.split(","))):
        modality, _, name = (x.strip().lower() for x in part.partition("="))
        if modality not in options or name not in options[modality]:
            known = "; ".join(f"{m}={'|'.join(o)}" for m, o in options.items())
            raise XmodalError(f"tower option {part!r} is not one of: {known}")
        section = dict(out[modality])
        defaults = {f.name: f.default for f in fields(SECTIONS[modality])}
        changes = {k: v for k, v in options[modality][name].items()
                   if section.get(k, defaults.get(k)) != (tuple(v) if isinstance(v, list) else v)}
        out[modality] = {**section, **changes}
    return out
