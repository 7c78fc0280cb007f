"""The concept bridge end to end on the tiny stack: trained with the heads,
saved, and installed by `tiny+align:DIR` giving the trainer's vectors."""
from dataclasses import replace

import numpy as np
import pytest

from xmodal.alignment import load_encoder
from xmodal.alignment.aligned import load_checkpoint
from xmodal.alignment.concept import GatedConceptHead
from xmodal.alignment.train.data import by_split
from xmodal.alignment.train.evaluate import embed_split
from xmodal.alignment.train.recipes import get_recipe
from xmodal.alignment.train.stack_eval import embed_items

from align_helpers import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    recipe = replace(get_recipe("tiny"), n_ctx=0, feature_dropout=0.3,
                     concept={"top": 5, "tau": 2.0, "projection": "own", "proj_kind": "linear", "gate": 0.3})
    return train_tiny(tmp_path_factory.mktemp("concept"), recipe)


def test_the_image_head_is_gated_and_the_gate_trains(trained):
    head = trained["model"].heads["image"]
    assert isinstance(head, GatedConceptHead)
    assert head.gate.item() != pytest.approx(0.3)           # it moved with the heads
    assert not head.bridge.classifier.weight.requires_grad  # the tower's classifier stays frozen


def test_checkpoint_records_the_bridge(trained):
    tensors, info = load_checkpoint(trained["ckpt"])
    assert info.concept["top"] == 5 and info.concept["projection"] == "own"
    assert tensors["concept.class_embeddings"].shape == (1000, 32)
    assert "head.concept.net.weight" in tensors
    assert info.heads["image"].kind == "linear"


def test_installed_bridge_gives_the_trainers_vectors(trained):
    stack = load_encoder(f"tiny+align:{trained['ckpt']}")
    assert isinstance(stack.encoders["image"].head, GatedConceptHead)
    test_items = by_split(trained["items"], "test")
    via_stack, _ = embed_items(stack, test_items)
    via_trainer = embed_split(trained["model"], trained["prep"].data["test"])
    a = via_stack.vectors["image"]
    b = via_trainer.vectors["image"] / np.linalg.norm(via_trainer.vectors["image"], axis=1, keepdims=True)
    np.testing.assert_allclose(a, b, atol=2e-5)
