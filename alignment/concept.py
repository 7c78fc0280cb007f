"""A concept bridge from the image tower's own ImageNet classifier (ConSE).

EfficientNet's classifier says which of the 1000 ImageNet classes an image
looks like. Weighting the text tower's embeddings of those classes' names
by the classifier's softmax over its top T classes gives a second, dense
view of the image that already lives in the *text* tower's feature space
(Norouzi et al. 2014, "Zero-shot learning by convex combination of semantic
embeddings"). It carries knowledge the pooled features alone do not expose
to a head trained on a few thousand pairs, and it transfers to domains no
training corpus covers.

`ConceptBridge` computes that concept vector from pooled features (the
classifier is a frozen copy of the tower's own; the class-name embeddings
are a buffer stored with the alignment). `GatedConceptHead` is the image
head: plain head(pooled) + gate * projection(concept), so gate 0 is exactly
the plain head. Everything is tensor ops (top-k, softmax, matmul), so the
head exports like any other module.
"""
from __future__ import annotations

import torch
from torch import nn

from .heads import Head

#: how class names are written before the text tower embeds them
CLASS_TEMPLATE = "a picture of {}"


def imagenet_class_names(style: str = "description") -> list[str]:
    """The 1000 ImageNet-1k class names from timm's `ImageNetInfo`:
    'description' ("tench, Tinca tinca") or 'first' (first synonym)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    names = [info.index_to_description(i) for i in range(info.num_classes())]
    if style == "first":
        return [n.split(",")[0].strip() for n in names]
    if style != "description":
        raise ValueError(f"class name style must be 'description' or 'first', got {style!r}")
    return names


class ConceptBridge(nn.Module):
    """Pooled image features -> softmax(top-T logits / tau) @ class embeddings."""

    def __init__(self, classifier: nn.Linear, class_embeddings: torch.Tensor, top: int = 10, tau: float = 1.0):
        super().__init__()
        if class_embeddings.shape[0] != classifier.out_features:
            raise ValueError(f"{class_embeddings.shape[0]} class embeddings for a "
                             f"{classifier.out_features}-class classifier")
        self.classifier = nn.Linear(classifier.in_features, classifier.out_features)
        self.classifier.load_state_dict(classifier.state_dict())
        self.classifier.requires_grad_(False)
        self.register_buffer("class_embeddings", class_embeddings.detach().float().clone())
        self.top, self.tau = int(top), float(tau)

    @property
    def out_dim(self) -> int:
        return int(self.class_embeddings.shape[1])

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(pooled)
        val, idx = logits.topk(self.top, dim=1)
        weight = torch.softmax(val / self.tau, dim=1)
        return torch.einsum("nt,ntd->nd", weight, self.class_embeddings[idx])


class GatedConceptHead(nn.Module):
    """The image head that sees [pooled features ; concept vector]:
    `base(pooled) + gate * proj(bridge(pooled))`, one dense vector."""

    def __init__(self, base: Head, bridge: ConceptBridge, proj: Head, gate: float = 0.5):
        super().__init__()
        if proj.in_dim != bridge.out_dim or proj.out_dim != base.out_dim:
            raise ValueError(f"concept projection {proj.in_dim}->{proj.out_dim} does not fit "
                             f"bridge {bridge.out_dim} / head {base.out_dim}")
        self.base, self.bridge, self.proj = base, bridge, proj
        self.gate = nn.Parameter(torch.tensor(float(gate)))
        self.in_dim, self.out_dim, self.kind = base.in_dim, base.out_dim, base.kind
        # training-time dropout on the plain head's input only: the
        # classifier behind the concept vector must see the clean features
        self.input_dropout = 0.0

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        x = pooled
        if self.training and self.input_dropout > 0:
            x = nn.functional.dropout(pooled, self.input_dropout)
        return self.base(x) + self.gate * self.proj(self.bridge(pooled))


def class_embeddings(text_tower, names: list[str], template: str = CLASS_TEMPLATE,
                     batch: int = 100) -> torch.Tensor:
    """The text tower's (pre-head) features of every class name."""
    out = []
    with torch.inference_mode():
        for s in range(0, len(names), batch):
            tok = text_tower.tokenize([template.format(n) for n in names[s : s + batch]])
            out.append(text_tower.features(tok["input_ids"], tok["attention_mask"]).float())
    return torch.cat(out).clone()


def image_classifier(image_tower) -> nn.Linear:
    """The ImageNet classifier of a timm image tower (ValueError if none)."""
    clf = getattr(image_tower, "classifier", None) or getattr(getattr(image_tower, "model", None), "classifier", None)
    if not isinstance(clf, nn.Linear):
        raise ValueError("the concept bridge needs an image tower with its ImageNet classifier "
                         "(EfficientNet-Lite); this tower has none")
    return clf
