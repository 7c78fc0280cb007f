"""Build an `Aligner` for a stack, run the training stages, export tensors.

Stage 1 trains the heads (+ temperature, + the audio tower when binding
audio) on cached features. Stage 2 (optional, `n_ctx > 0`) adds a soft
prompt and trains it with the heads through the frozen text tower for a
few short epochs; it is kept only if it beats stage 1 on validation, and
both scores are recorded (prompt-tuning vs heads-only). `fit_stages`
returns a `Fitted`: the model, the stage summary (recorded in the
checkpoint) and, when stage 2 ran, the heads-only model for the held-out
comparison.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..aligned import load_audio_tower, prefixed
from .concept import add_concept, concept_config, concept_tensors
from .model import Aligner, SplitData, cropped_audio, init_soft_prompt, prompted_text
from .recipes import Recipe
from .trainer import History, train

log = logging.getLogger(__name__)


@dataclass
class Fitted:
    """The trained model, what the stages did (`summary`, JSON for the
    checkpoint) and the heads-only variant when a soft prompt was tried."""

    model: Aligner
    summary: dict = field(default_factory=dict)
    heads_only: Aligner | None = None


def fit_new(stack, recipe: Recipe, train_data: SplitData, val_data: SplitData | None) -> Fitted:
    """A fresh, seeded aligner for the modalities of `train_data`, trained
    through every stage of the recipe."""
    torch.manual_seed(recipe.seed)
    model = make_aligner(stack, recipe, train_data.modalities)
    return fit_stages(model, stack, recipe, train_data, val_data)


def make_aligner(stack, recipe: Recipe, modalities: list[str], dim: int | None = None) -> Aligner:
    """Fresh trainable parts for the given modalities of a stack."""
    in_dims = {m: int(stack.encoder(m).tower.out_dim) for m in modalities}
    audio_tower = None
    if recipe.train_audio_tower and "audio" in modalities:
        audio_tower = copy.deepcopy(stack.encoder("audio").tower)
        # an ImageNet-initialised tower trains only its tail; its trunk stays ImageNet
        trainable = audio_tower.tail if hasattr(audio_tower, "tail") else audio_tower
        for p in trainable.parameters():
            p.requires_grad_(True)
    model = Aligner(in_dims, dim or stack.dim, recipe.head, seed=recipe.seed, audio_tower=audio_tower)
    model.feature_dropout = recipe.feature_dropout
    concept = concept_config(recipe.concept)
    if concept and {"text", "image"} <= set(modalities):
        add_concept(model, stack, concept, recipe.seed).projection = concept["projection"]
    if audio_tower is not None:
        model.tower_fns["audio"] = cropped_audio(recipe.audio_crop_frames)
    return model


def enable_prompt(model: Aligner, stack, recipe: Recipe, init: torch.Tensor | None = None) -> None:
    """Give the model a trainable soft prompt run through the frozen tower."""
    tower = stack.encoder("text").tower
    tower.eval()
    for p in tower.parameters():
        p.requires_grad_(False)
    if init is None:
        init = init_soft_prompt(tower, recipe.n_ctx, recipe.prompt_init, recipe.seed)
    model.prompt = nn.Parameter(init.clone().float())
    model.tower_fns["text"] = prompted_text(tower)


def disable_prompt(model: Aligner) -> None:
    """Back to heads only: cached text features, no prompt."""
    model.prompt = None
    model.tower_fns.pop("text", None)


def load_into(model: Aligner, tensors: dict[str, torch.Tensor], stack, recipe: Recipe) -> None:
    """Initialise trainable parts from a checkpoint's tensors (transfer)."""
    for m, head in model.heads.items():
        sub = prefixed(tensors, f"head.{m}")
        if sub:
            getattr(head, "base", head).load_state_dict(sub, strict=True)
        if hasattr(head, "bridge") and "concept.gate" in tensors:
            with torch.no_grad():
                head.gate.copy_(tensors["concept.gate"].reshape(()))
            if prefixed(tensors, "head.concept"):
                head.proj.load_state_dict(prefixed(tensors, "head.concept"), strict=True)
    if "log_scale" in tensors:
        with torch.no_grad():
            model.log_scale.copy_(tensors["log_scale"].reshape(()))
    if model.audio_tower is not None and prefixed(tensors, "tower.audio"):
        load_audio_tower(model.audio_tower, prefixed(tensors, "tower.audio"))
    if "prompt.text" in tensors:
        enable_prompt(model, stack, recipe, init=tensors["prompt.text"])


def export_tensors(model: Aligner) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors (see `xmodal.alignment.aligned`)."""
    out = {}
    for m, h in model.heads.items():
        if hasattr(h, "bridge"):  # concept head: its plain head + the concept tensors
            out.update(concept_tensors(h, h.projection))
            h = h.base
        out.update({f"head.{m}.{k}": v for k, v in h.state_dict().items()})
    out["log_scale"] = model.log_scale.detach().reshape(1)
    if model.prompt is not None:
        out["prompt.text"] = model.prompt.detach()
    if model.audio_tower is not None:
        tower = model.audio_tower
        state = tower.tail_state() if hasattr(tower, "tail_state") else tower.state_dict()
        out.update({f"tower.audio.{k}": v for k, v in state.items()})
    return out


def without(data: SplitData | None, modality: str) -> SplitData | None:
    """The split with one modality's rows dropped (items stay)."""
    if data is None:
        return None
    return SplitData(data.ids, data.groups, {m: r for m, r in data.rows.items() if m != modality})


def with_modality(data: SplitData | None, modality: str) -> SplitData | None:
    """Only the items that have `modality` (e.g. the audio items)."""
    if data is None or modality not in data.rows:
        return data
    return data.subset(np.unique(data.rows[modality].item.numpy()))


def bind_audio(model: Aligner, recipe: Recipe, train_data: SplitData, val_data: SplitData | None) -> History:
    """ImageBind-style: train the audio tower + head against the *frozen*
    text and image heads, on the items that have audio."""
    frozen = [p for m, h in model.heads.items() if m != "audio" for p in h.parameters()] + [model.log_scale]
    if model.prompt is not None:
        frozen.append(model.prompt)
    for p in frozen:
        p.requires_grad_(False)
    cfg = replace(recipe.train, epochs=recipe.audio_epochs, batch_size=min(recipe.train.batch_size, 128))
    try:
        return train(model, with_modality(train_data, "audio"), with_modality(val_data, "audio"), cfg)
    finally:
        for p in frozen:
            p.requires_grad_(True)


def fit_stages(model: Aligner, stack, recipe: Recipe, train_data: SplitData, val_data: SplitData | None) -> Fitted:
    """Stage 1 (+ optional stage 2, + staged audio binding), in place."""
    staged = recipe.staged_audio and "audio" in model.heads and "audio" in train_data.rows
    fitted = fit_text_image(model, stack, recipe, without(train_data, "audio") if staged else train_data,
                            without(val_data, "audio") if staged else val_data)
    if staged:
        log.info("stage 3: audio tower + head bound to the frozen text/image space")
        fitted.summary["audio_stage"] = _hist(bind_audio(model, recipe, train_data, val_data))
        if fitted.heads_only is not None:
            # the heads-only variant gets the same audio binding for the comparison
            fitted.heads_only.load_state_dict({**fitted.heads_only.state_dict(),
                                               **{k: v for k, v in model.state_dict().items()
                                                  if k.startswith(("heads.audio", "audio_tower"))}})
    return fitted


def fit_text_image(model: Aligner, stack, recipe: Recipe, train_data: SplitData, val_data: SplitData | None) -> Fitted:
    """Stage 1, then stage 2 when the recipe asks for a soft prompt."""
    fitted = Fitted(model)
    summary = fitted.summary
    keep_prompt = model.prompt is not None  # transferred prompt: keep training it
    if keep_prompt:
        log.info("stage 1: heads + transferred soft prompt")
    else:
        audio = model.audio_tower is not None and "audio" in train_data.rows
        log.info("stage 1: heads" + (" + audio tower" if audio else "") + " on cached features")
    h1 = train(model, train_data, val_data, recipe.train)
    summary["stage1"] = _hist(h1)
    if recipe.n_ctx <= 0 or keep_prompt or "text" not in model.heads or val_data is None:
        return fitted
    state1 = copy.deepcopy(model.state_dict())
    fitted.heads_only = copy.deepcopy(model)  # for the held-out comparison; not serialised
    log.info(f"stage 2: soft prompt ({recipe.n_ctx} tokens, init {recipe.prompt_init!r}) through the text tower")
    enable_prompt(model, stack, recipe)
    cfg2 = replace(recipe.train, epochs=recipe.prompt_epochs, batch_size=recipe.prompt_batch,
                   max_steps_per_epoch=recipe.prompt_steps, patience=recipe.prompt_epochs, lr=recipe.train.lr / 4)
    h2 = train(model, train_data, val_data, cfg2)
    summary["stage2"] = _hist(h2)
    score2 = h2.best_score  # train() restored the best-on-val prompt epoch
    summary["heads_only_val_score"] = round(h1.best_score, 4)
    summary["prompt_val_score"] = round(score2, 4)
    if score2 <= h1.best_score:
        log.info(f"soft prompt did not beat heads-only on val ({100 * score2:.2f} <= {100 * h1.best_score:.2f}): dropped")
        disable_prompt(model)
        model.load_state_dict(state1)
        summary["kept_prompt"] = False
    else:
        summary["kept_prompt"] = True
    return fitted


def _hist(h: History) -> dict:
    return {"best_epoch": h.best_epoch, "best_val_score": round(h.best_score, 4), "seconds": round(h.seconds, 1),
            "epochs": [{k: v for k, v in e.items() if k != "val"} for e in h.epochs]}

