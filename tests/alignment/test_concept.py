"""The ConSE concept bridge and the gated image head."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xmodal.alignment.heads import make_head
from xmodal.alignment.concept import ConceptBridge, GatedConceptHead, imagenet_class_names


def _bridge(n_classes=12, in_dim=8, text_dim=5, top=3, tau=0.7, seed=0):
    g = torch.Generator().manual_seed(seed)
    clf = nn.Linear(in_dim, n_classes)
    with torch.no_grad():
        clf.weight.copy_(torch.randn(n_classes, in_dim, generator=g))
        clf.bias.copy_(torch.randn(n_classes, generator=g))
    names = torch.randn(n_classes, text_dim, generator=g)
    return ConceptBridge(clf, names, top=top, tau=tau), clf, names


def test_concept_vector_matches_brute_force():
    bridge, clf, names = _bridge()
    x = torch.randn(7, 8, generator=torch.Generator().manual_seed(1))
    got = bridge(x).numpy()
    logits = (x @ clf.weight.T + clf.bias).detach().numpy()
    e = names.numpy()
    for i in range(len(x)):
        top = np.argsort(-logits[i])[:3]                 # the 3 most likely classes
        w = np.exp(logits[i, top] / 0.7)
        w /= w.sum()                                       # softmax over those only
        want = sum(w[j] * e[c] for j, c in enumerate(top))
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)


def test_bridge_keeps_a_frozen_copy_of_the_classifier():
    bridge, clf, _ = _bridge()
    assert not any(p.requires_grad for p in bridge.classifier.parameters())
    with torch.no_grad():
        clf.weight.zero_()  # the tower's own classifier changing must not leak in
    assert bridge.classifier.weight.abs().sum() > 0


def test_zero_gate_is_the_plain_head():
    bridge, _, _ = _bridge()
    base = make_head(8, 4, "linear", seed=3)
    head = GatedConceptHead(base, bridge, make_head(5, 4, "mlp", seed=4), gate=0.0)
    x = torch.randn(6, 8)
    torch.testing.assert_close(head(x), base(x), rtol=0, atol=0)
    with torch.no_grad():
        head.gate.fill_(0.5)
    assert not torch.allclose(head(x), base(x))


def test_shapes_are_checked():
    bridge, _, _ = _bridge()
    with pytest.raises(ValueError):
        GatedConceptHead(make_head(8, 4, "linear", 0), bridge, make_head(6, 4, "linear", 1))
    with pytest.raises(ValueError):
        ConceptBridge(nn.Linear(8, 10), torch.zeros(12, 5))


def test_imagenet_class_names():
    desc, first = imagenet_class_names(), imagenet_class_names("first")
    assert len(desc) == len(first) == 1000
    assert desc[0].startswith("tench, ") and first[0] == "tench"
    with pytest.raises(ValueError):
        imagenet_class_names("latin")
