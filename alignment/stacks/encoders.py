"""Encoder objects shared by the built-in stacks: tower + head + the
modality's preprocessing, satisfying `xmodal.alignment.core.contracts.Encoder`.

Every encoder exposes `tower` (nn.Module) and `head` (`Head`) as plain
attributes so an alignment checkpoint can swap in trained heads / tower
weights; the text encoder also exposes `prompt` and `template`.

Encoding is split in two so that one definition serves every inference
backend: `graph_inputs(batch)` is the Python side (tokenising, stacking,
the per-clip pooling matrix) and `frozen()` is the module that maps those
tensors to unnormalised shared-space vectors (tower + head + soft prompt,
everything that is fixed at inference). Eager torch calls `frozen()`
directly; the ONNX Runtime / OpenVINO backends run its exported graph.
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


class FrozenText(nn.Module):
    """(input_ids, attention_mask) -> head(tower features with the prompt)."""

    def __init__(self, tower: nn.Module, head: Head, prompt: torch.Tensor | None):
        super().__init__()
        self.tower, self.head = tower, head
        # a buffer, so .to(device) moves it and the exporter bakes it in
        self.register_buffer("prompt", prompt, persistent=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.tower.features(input_ids, attention_mask, prompt=self.prompt).float())


class FrozenImage(nn.Module):
    """(n, 3, H, W) pixels -> head(tower(pixels))."""

    def __init__(self, tower: nn.Module, head: Head):
        super().__init__()
        self.tower, self.head = tower, head

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.tower(pixels).float())


class FrozenPooled(nn.Module):
    """Window-level tower, then the clip mean as a matrix product with
    `pool` (n_clips, n_windows; row i holds 1/k_i over clip i's windows),
    then the head: one graph for clips with different window counts."""

    def __init__(self, tower: nn.Module, head: Head):
        super().__init__()
        self.tower, self.head = tower, head

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        *inputs, pool = tensors
        feats = self.tower(*inputs).float()
        return self.head(pool.to(feats.dtype) @ feats)


def pool_matrix(counts: list[int]) -> torch.Tensor:
    """(len(counts), sum(counts)) matrix averaging each clip's windows."""
    pool = torch.zeros(len(counts), sum(counts))
    start = 0
    for i, k in enumerate(counts):
        pool[i, start : start + k] = 1.0 / k
        start += k
    return pool


class TowerEncoder:
    """Common part: graph inputs -> frozen module (on the bound runner) ->
    L2 norm. `runner` is set by `xmodal.alignment.backends.bind`; without
    one the encoder runs eagerly on the CPU."""

    modality = ""
    runner: Any = None

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

    def graph_inputs(self, batch: list[Any]) -> dict[str, torch.Tensor]:
        """Prepared items -> the named CPU tensors `frozen()` takes, in
        its positional order (the names become the exported graph's inputs)."""
        raise NotImplementedError

    def frozen(self) -> nn.Module:
        """The inference-time module: forward(*graph_inputs.values()) -> (n, dim)."""
        raise NotImplementedError

    def example_items(self) -> list[Any]:
        """Raw items of this modality to trace/export and probe with."""
        raise NotImplementedError

    def features(self, batch: list[Any]) -> torch.Tensor:
        """Tower features before the head (eager torch)."""
        frozen = self.frozen()
        saved, frozen.head = frozen.head, nn.Identity()
        try:
            return frozen(*self.graph_inputs(batch).values())
        finally:
            frozen.head = saved

    def encode(self, batch: list[Any]) -> np.ndarray:
        """Prepared items -> (n, dim) float32, L2-normalised rows."""
        if not batch:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(self.run_graph(self.graph_inputs(batch)))

    def run_graph(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """Graph inputs -> unnormalised (n, dim) float32 on the bound runner."""
        if self.runner is not None:
            return np.asarray(self.runner.run(self, inputs), dtype=np.float32)
        with torch.inference_mode():
            z = self.frozen()(*inputs.values())
        return z.float().cpu().numpy()


class TextEncoder(TowerEncoder):
    """Text: template applied in prepare(), soft prompt spliced in the graph."""

    modality = "text"
    decode_in = "inline"  # a strip and a template: not worth a hand-off
    length_sorted = True  # the pipeline batches texts of similar length together

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

    def graph_inputs(self, batch: list[str]) -> dict[str, torch.Tensor]:
        n_ctx = 0 if self.prompt is None else int(self.prompt.shape[0])
        tok = self.tower.tokenize(list(batch), n_ctx=n_ctx)
        return {"input_ids": tok["input_ids"], "attention_mask": tok["attention_mask"]}

    def encode(self, batch: list[str]) -> np.ndarray:
        """Tokenise once; towers that take any length run sub-batches of
        similar token length, each trimmed to its own longest (padding is
        most of the work on short captions), and the rows go back in order."""
        if not batch:
            return np.zeros((0, self.dim), np.float32)
        from ..backends.batching import micro_batch

        inputs = self.graph_inputs(batch)
        micro = micro_batch(self)
        if not getattr(self.tower, "variable_length", False) or len(batch) <= micro:
            return l2_normalise(self.run_graph(inputs))
        lengths = inputs["attention_mask"].sum(1)
        order = torch.argsort(lengths, stable=True)
        out = np.empty((len(batch), self.dim), np.float32)
        for s in range(0, len(batch), micro):
            idx = order[s : s + micro]
            width = int(lengths[idx].max())
            out[idx.numpy()] = self.run_graph({k: v[idx, :width] for k, v in inputs.items()})
        return l2_normalise(out)

    def frozen(self) -> nn.Module:
        return FrozenText(self.tower, self.head, self.prompt)

    def example_items(self) -> list[str]:
        return [self.prepare("a photo of a small red bird on a branch"), self.prepare("drum loop")]


class ImageEncoder(TowerEncoder):
    """Images: robust decode -> `transform` (PIL -> CHW tensor) -> tower."""

    modality = "image"
    decode_in = "processes"  # decode + resize hold the GIL for much of their time

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

    def graph_inputs(self, batch: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"pixels": torch.stack(batch)}

    def frozen(self) -> nn.Module:
        return FrozenImage(self.tower, self.head)

    def example_items(self) -> list[Any]:
        from PIL import Image

        rng = np.random.default_rng(0)
        return [self.prepare(Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)))
                for h, w in ((240, 320), (300, 200))]


class AudioEncoder(TowerEncoder):
    """Audio: decode -> (k, n_mels, frames) windows -> tower -> mean over
    each clip's windows -> head."""

    modality = "audio"
    decode_in = "processes"  # decode + resample + log-mel

    def __init__(self, tower: nn.Module, head: Head, cfg: AudioConfig):
        super().__init__(tower, head)
        self.cfg = cfg

    def prepare(self, item: Any) -> torch.Tensor:
        return torch.from_numpy(prepare_audio(item, self.cfg, describe(item)))

    def graph_inputs(self, batch: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"windows": torch.cat(batch), "pool": pool_matrix([int(b.shape[0]) for b in batch])}

    def frozen(self) -> nn.Module:
        return FrozenPooled(self.tower, self.head)

    def example_items(self) -> list[Any]:
        return example_audio(self, self.cfg.sample_rate, self.cfg.window_seconds)


def example_audio(encoder: Any, rate: int, window_seconds: float) -> list[Any]:
    """Two synthetic clips (one and two windows long) through `prepare`."""
    rng = np.random.default_rng(0)
    out = []
    for seconds in (window_seconds * 0.6, window_seconds * 1.6):
        t = np.arange(int(rate * seconds)) / rate
        wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.shape)
        out.append(encoder.prepare((wave.astype(np.float32), rate)))
    return out
