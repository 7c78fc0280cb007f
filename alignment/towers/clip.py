"""Towers wrapping pretrained contrastive models (open_clip, transformers
CLIP / SigLIP / CLAP) behind the same small interface as the lite towers:
text towers have `tokenize(texts, n_ctx)` and `features(ids, mask, prompt)`,
image/audio towers are called on a stacked batch. Their outputs already
live in a shared space, so the stacks put an identity `Head` after them."""
from __future__ import annotations

import torch
from torch import nn

from ..core.errors import XmodalError


def _pooled(out) -> torch.Tensor:
    """transformers >= 5 returns model outputs from get_*_features; older
    versions return the tensor itself."""
    if isinstance(out, torch.Tensor):
        return out
    return out.pooler_output


def _no_prompt(prompt: torch.Tensor | None, what: str) -> None:
    if prompt is not None:
        raise XmodalError(f"{what}: soft prompts are only supported by the lite/tiny text towers")


class OpenClipText(nn.Module):
    """open_clip text tower: tokenizer + `model.encode_text`."""

    def __init__(self, model: nn.Module, tokenizer, context_length: int):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = context_length

    def tokenize(self, texts: list[str], n_ctx: int = 0) -> dict[str, torch.Tensor]:
        ids = self.tokenizer(texts)
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}

    def features(self, input_ids, attention_mask, prompt=None) -> torch.Tensor:
        _no_prompt(prompt, "openclip")
        return self.model.encode_text(input_ids)


class OpenClipImage(nn.Module):
    """open_clip image tower: (n, 3, H, W) -> `model.encode_image`."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(x)


class HFText(nn.Module):
    """transformers CLIPModel / SiglipModel / ClapModel text side."""

    def __init__(self, model: nn.Module, tokenizer, max_tokens: int, pad_to_max: bool):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        # SigLIP was trained on max_length padding; CLIP/CLAP use attention masks
        self.pad_to_max = pad_to_max
        self.variable_length = not pad_to_max  # masked: trailing padding can be trimmed

    def tokenize(self, texts: list[str], n_ctx: int = 0) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(list(texts), padding="max_length" if self.pad_to_max else True,
                             truncation=True, max_length=self.max_tokens, return_tensors="pt")
        mask = enc.get("attention_mask")
        if mask is None:
            mask = torch.ones_like(enc["input_ids"])
        return {"input_ids": enc["input_ids"], "attention_mask": mask}

    def features(self, input_ids, attention_mask, prompt=None) -> torch.Tensor:
        _no_prompt(prompt, "hfclip/clap")
        if self.pad_to_max:  # SigLIP ignores masks by design
            return _pooled(self.model.get_text_features(input_ids=input_ids))
        return _pooled(self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))


class HFImage(nn.Module):
    """transformers CLIP / SigLIP image side on pixel_values."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return _pooled(self.model.get_image_features(pixel_values=pixel_values))


class ClapAudio(nn.Module):
    """transformers ClapModel audio side on the feature extractor's output."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_features: torch.Tensor, is_longer: torch.Tensor | None = None) -> torch.Tensor:
        kwargs = {"input_features": input_features}
        if is_longer is not None:
            kwargs["is_longer"] = is_longer
        return _pooled(self.model.get_audio_features(**kwargs))
