"""Encoder objects shared by the built-in stacks: tower + head + the
modality's preprocessing, satisfying `xmodal.alignment.core.contracts.Encoder`.

Every encoder exposes `tower` (nn.Module) and `head` (`Head`) as plain
attributes so an alignment checkpoint can swap in trained heads / tower
weights; the text encoder also exposes `prompt` and `template`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..config import AudioConfig
from ..core.contracts import l2_normalise
from ..heads import Head
from ..preprocess.audio import prepare_audio
from ..preprocess.image import decode_image, describe
from ..preprocess.text import apply_template, clean_text


class TowerEncoder:
    """Common part: `features(batch)` from the tower, then head + L2 norm."""

    modality = ""

    def __init__(self, tower: nn.Module, head: Head):
        self.tower = tower
        self.head = head

    @property
    def dim(self) -> int:
        return self.head.out_dim

    @property
    def module(self) -> nn.Module:
        """Tower and head as one module (for .eval() / parameter listing)."""
        return nn.ModuleDict({"tower": self.tower, "head": self.head})

    def features(self, batch: list[Any]) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, batch: list[Any]) -> np.ndarray:
        """Prepared items -> (n, dim) float32, L2-normalised rows."""
        if not batch:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            z = self.head(self.features(batch).float())
        return l2_normalise(z.cpu().numpy())


class TextEncoder(TowerEncoder):
    """Text: template applied in prepare(), soft prompt spliced in encode()."""

    modality = "text"

    def __init__(self, tower: nn.Module, head: Head, template: str = "{}",
                 prompt: torch.Tensor | None = None):
        super().__init__(tower, head)
        self.template = template
        self.prompt = prompt

    @property
    def max_tokens(self) -> int:
        return int(getattr(self.tower, "max_tokens", 77))

    def prepare(self, item: Any) -> str:
        return apply_template(self.template, clean_text(item, self.max_tokens))

    def features(self, batch: list[str]) -> torch.Tensor:
        n_ctx = 0 if self.prompt is None else int(self.prompt.shape[0])
        tok = self.tower.tokenize(list(batch), n_ctx=n_ctx)
        return self.tower.features(tok["input_ids"], tok["attention_mask"], prompt=self.prompt)


class ImageEncoder(TowerEncoder):
    """Images: robust decode -> `transform` (PIL -> CHW tensor) -> tower."""

    modality = "image"

    def __init__(self, tower: nn.Module, head: Head, transform: Callable[[Any], torch.Tensor],
                 decode_size: int):
        super().__init__(tower, head)
        self.transform = transform
        # short side the transform resizes to: big JPEGs may decode at a
        # reduced scale down to this size (DCT scaling, much faster)
        self.decode_size = decode_size

    def prepare(self, item: Any) -> torch.Tensor:
        im = decode_image(item, draft_size=self.decode_size)
        return self.transform(im)

    def features(self, batch: list[torch.Tensor]) -> torch.Tensor:
        return self.tower(torch.stack(batch))


class AudioEncoder(TowerEncoder):
    """Audio: decode -> (k, n_mels, frames) windows -> tower -> mean over
    each clip's windows -> head."""

    modality = "audio"

    def __init__(self, tower: nn.Module, head: Head, cfg: AudioConfig):
        super().__init__(tower, head)
        self.cfg = cfg

    def prepare(self, item: Any) -> torch.Tensor:
        return torch.from_numpy(prepare_audio(item, self.cfg, describe(item)))

    def features(self, batch: list[torch.Tensor]) -> torch.Tensor:
        counts = [int(b.shape[0]) for b in batch]
        feats = self.tower(torch.cat(batch))
        return torch.stack([chunk.mean(0) for chunk in torch.split(feats, counts)])
