"""What training updates, and the split tensors it reads.

`SplitData` holds one split ready for training: per modality, one row per
caption / image / audio view, the item each row belongs to, and either
cached frozen-tower features or the raw tower inputs (token ids for the
soft-prompt path, log-mel windows for the trainable audio tower).

`Aligner` holds the trainable parts: one projection head per modality, the
learnable temperature, optionally a soft prompt (run through the frozen text
tower: `init_soft_prompt`, `prompted_text`) and optionally the audio tower
itself (audio binding: `cropped_audio`). A modality trained through its
tower gets a `TowerFn` (one of those two, or a new one for a new tower); a
new head kind is one entry in `xmodal.alignment.heads.HEADS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..heads import make_head
from ..losses import LOGIT_SCALE_INIT, LOGIT_SCALE_MAX


@dataclass
class Rows:
    """One modality of one split. `item[r]` is the item index of row r;
    `clean[r]` is False for augmented views (used in training only)."""

    item: torch.Tensor
    feats: torch.Tensor | None = None
    inputs: dict[str, torch.Tensor] | None = None
    clean: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.item = torch.as_tensor(self.item, dtype=torch.long)
        if self.clean is None:
            self.clean = torch.ones(len(self.item), dtype=torch.bool)

    def __len__(self) -> int:
        return len(self.item)

    @property
    def in_dim(self) -> int:
        return int(self.feats.shape[1]) if self.feats is not None else -1


@dataclass
class SplitData:
    """One split: item ids/groups and per-modality rows."""

    ids: list[str]
    groups: np.ndarray
    rows: dict[str, Rows] = field(default_factory=dict)

    @property
    def modalities(self) -> list[str]:
        return [m for m, r in self.rows.items() if len(r)]

    def subset(self, keep_items: np.ndarray) -> "SplitData":
        """Only the given item indices (renumbered), e.g. for few-shot."""
        keep_items = np.asarray(sorted(set(int(i) for i in keep_items)), dtype=np.int64)
        remap = -np.ones(len(self.ids), dtype=np.int64)
        remap[keep_items] = np.arange(len(keep_items))
        rows = {}
        for m, r in self.rows.items():
            sel = np.nonzero(remap[r.item.numpy()] >= 0)[0]
            idx = torch.as_tensor(sel)
            rows[m] = Rows(
                item=torch.as_tensor(remap[r.item.numpy()[sel]]),
                feats=None if r.feats is None else r.feats[idx],
                inputs=None if r.inputs is None else {k: v[idx] for k, v in r.inputs.items()},
                clean=r.clean[idx],
            )
        return SplitData([self.ids[i] for i in keep_items], self.groups[keep_items], rows)


TowerFn = Callable[[dict[str, torch.Tensor], "Aligner"], torch.Tensor]
MEL_KEY = "mel"  # the log-mel views of `Rows.inputs` for the audio tower


def init_soft_prompt(tower: nn.Module, n_ctx: int, init: str | None = "a picture of", seed: int = 0) -> torch.Tensor:
    """(n_ctx, hidden) initial CoOp-style context vectors for the text tower.

    With `init` text: its word embeddings (no [CLS]/[SEP]), cut or padded
    with small random vectors to n_ctx. Without: N(0, 0.02^2), as CoOp."""
    hidden = int(tower.out_dim)
    gen = torch.Generator().manual_seed(seed)
    out = torch.randn(n_ctx, hidden, generator=gen) * 0.02
    if init:
        ids = tower.tokenizer(init, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        with torch.no_grad():
            emb = tower.bert.embeddings.word_embeddings(ids[:n_ctx]).float()
        out[: emb.shape[0]] = emb
    return out


def prompted_text(tower: nn.Module) -> TowerFn:
    """Text tower features with the model's soft prompt spliced in. The
    tower stays frozen; gradients reach only the prompt. Rows are trimmed to
    the longest caption of the batch so padding costs nothing."""

    def run(inputs: dict[str, torch.Tensor], model: "Aligner") -> torch.Tensor:
        mask = inputs["attention_mask"]
        length = int(mask.sum(1).max())
        return tower.features(inputs["input_ids"][:, :length], mask[:, :length], prompt=model.prompt)

    return run


def cropped_audio(crop_frames: int = 250) -> TowerFn:
    """Trainable audio tower features from log-mel views: random time crops
    while training, the whole view in eval mode."""

    def run(inputs: dict[str, torch.Tensor], model: "Aligner") -> torch.Tensor:
        mel = inputs[MEL_KEY].float()
        if model.training and crop_frames and mel.shape[-1] > crop_frames:
            start = int(torch.randint(0, mel.shape[-1] - crop_frames + 1, (1,)))
            mel = mel[..., start : start + crop_frames]
        return model.audio_tower(mel)

    return run


class Aligner(nn.Module):
    """Trainable heads + temperature (+ soft prompt, + audio tower).

    `tower_fns[m]` computes modality m's tower features from raw inputs
    for the modalities trained through their tower (text with a soft
    prompt, audio when binding); all others read cached features.
    """

    def __init__(
        self,
        in_dims: dict[str, int],
        dim: int,
        head_kinds: dict[str, str] | str = "linear",
        seed: int = 0,
        prompt: torch.Tensor | None = None,
        audio_tower: nn.Module | None = None,
    ):
        super().__init__()
        kinds = head_kinds if isinstance(head_kinds, dict) else {m: head_kinds for m in in_dims}
        self.heads = nn.ModuleDict(
            {m: make_head(d, dim, kinds.get(m, "linear"), seed + i) for i, (m, d) in enumerate(sorted(in_dims.items()))}
        )
        self.dim = dim
        self.log_scale = nn.Parameter(torch.tensor(float(LOGIT_SCALE_INIT)))
        self.prompt = nn.Parameter(prompt.clone().float()) if prompt is not None else None
        self.audio_tower = audio_tower
        self.tower_fns: dict[str, TowerFn] = {}
        # dropout on cached tower features while training: the frozen
        # features are the same every epoch, so this is the regulariser
        # that stops small corpora being memorised
        self.feature_dropout = 0.0

    def clamp_(self) -> None:
        """Keep the temperature inside CLIP's range after each step."""
        with torch.no_grad():
            self.log_scale.clamp_(0.0, LOGIT_SCALE_MAX)

    def embed(self, modality: str, rows: Rows, index: torch.Tensor) -> torch.Tensor:
        """Shared-space embeddings (not normalised) of `rows[index]`."""
        fn = self.tower_fns.get(modality)
        if fn is not None and rows.inputs is not None:
            feats = fn({k: v[index] for k, v in rows.inputs.items()}, self)
        else:
            feats = rows.feats[index]
            # a concept head drops out its own plain-head input (see GatedConceptHead)
            if self.training and self.feature_dropout > 0 and not hasattr(self.heads[modality], "bridge"):
                feats = torch.nn.functional.dropout(feats, self.feature_dropout)
        return self.heads[modality](feats)

    @torch.no_grad()
    def embed_all(self, modality: str, rows: Rows, batch: int = 256, clean_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Embed every (clean) row in eval mode -> (vectors, item index)."""
        was = self.training
        self.eval()
        idx = torch.nonzero(rows.clean).flatten() if clean_only else torch.arange(len(rows))
        out = [self.embed(modality, rows, idx[s : s + batch]) for s in range(0, len(idx), batch)]
        self.train(was)
        vec = torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)
        return vec.astype(np.float32), rows.item[idx].numpy()
