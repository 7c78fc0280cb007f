"""Training side of the ConSE concept bridge (see `alignment.concept`): give an
`Aligner` the gated concept image head, and export / restore its tensors.

The recipe's `concept` dict says how: `top` classes, softmax temperature
`tau`, class `names` style, the `template` they are embedded with,
`projection` ("text": the concept vector goes through the text head, since
it lives in the text tower's space; "own": a separate head of `proj_kind`)
and the `gate` it starts at.
"""
from __future__ import annotations

from typing import Any

import torch

from ..concept import (CLASS_TEMPLATE, ConceptBridge, GatedConceptHead, class_embeddings,
                       image_classifier, imagenet_class_names)
from ..heads import make_head

DEFAULTS: dict[str, Any] = {"top": 10, "tau": 1.0, "names": "description", "template": CLASS_TEMPLATE,
                            "projection": "text", "proj_kind": "mlp", "gate": 0.5}


def concept_config(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    """The recipe's concept dict with defaults filled in (None: no bridge)."""
    if not cfg:
        return None
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        from ..core.errors import XmodalError

        raise XmodalError(f"recipe.concept: unknown keys {sorted(unknown)}")
    return {**DEFAULTS, **cfg}


def add_concept(model, stack, cfg: dict[str, Any], seed: int = 0) -> GatedConceptHead:
    """Replace the model's image head by the gated concept head."""
    text_tower = stack.encoder("text").tower
    names = imagenet_class_names("first" if cfg["names"] == "first" else "description")
    emb = class_embeddings(text_tower, names, cfg["template"])
    bridge = ConceptBridge(image_classifier(stack.encoder("image").tower), emb, cfg["top"], cfg["tau"])
    if cfg["projection"] == "text":
        proj = model.heads["text"]
    else:
        proj = make_head(bridge.out_dim, model.dim, cfg["proj_kind"], seed + 101)
    head = GatedConceptHead(model.heads["image"], bridge, proj, cfg["gate"])
    head.input_dropout = model.feature_dropout
    model.heads["image"] = head
    return head


def concept_tensors(head: GatedConceptHead, projection: str) -> dict[str, torch.Tensor]:
    """The checkpoint tensors of a concept head (the plain head is saved as
    `head.image.*` by the caller; the classifier comes from the tower)."""
    out = {"concept.class_embeddings": head.bridge.class_embeddings.detach().clone(),
           "concept.gate": head.gate.detach().reshape(1)}
    if projection != "text":
        out.update({f"head.concept.{k}": v for k, v in head.proj.state_dict().items()})
    return out
