"""Checkpoint round trip: train on the tiny stack, save, reload through the
registry (`tiny+align:DIR`), and get the very vectors the trainer had."""
import copy
import json
import shutil

import numpy as np
import pytest
import torch

from xmodal.alignment import BadInput, load_encoder
from xmodal.alignment.aligned import CONFIG, WEIGHTS, apply_alignment, load_checkpoint
from xmodal.alignment.train.data import by_split
from xmodal.alignment.train.fit import export_tensors
from xmodal.alignment.train.recipes import get_recipe
from xmodal.alignment.train.evaluate import embed_split
from xmodal.alignment.train.stack_eval import embed_items

from align_helpers import train_tiny


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("align"), get_recipe("tiny"))


def test_tensors_and_config_round_trip(trained):
    tensors, info = load_checkpoint(trained["ckpt"])
    exported = export_tensors(trained["model"])
    assert set(tensors) == set(exported)
    for k, v in exported.items():
        assert torch.equal(tensors[k], v.detach().cpu()), k
    assert info.dim == 32 and set(info.heads) == {"text", "image", "audio"}
    assert info.audio_tower and info.recipe["name"] == "tiny"
    assert (trained["ckpt"] / WEIGHTS).stat().st_size > 0


def test_registry_spec_gives_the_trainers_vectors(trained):
    stack = load_encoder(f"tiny+align:{trained['ckpt']}")
    assert stack.aligned and stack.dim == 32
    assert stack.fingerprint != trained["base_fp"]
    test_items = by_split(trained["items"], "test")
    via_stack, skipped = embed_items(stack, test_items)
    via_trainer = embed_split(trained["model"], trained["prep"].data["test"])
    assert not skipped
    for m in ("text", "image", "audio"):
        np.testing.assert_array_equal(via_stack.keys[m], via_trainer.keys[m])
        a = via_stack.vectors[m]
        b = via_trainer.vectors[m] / np.linalg.norm(via_trainer.vectors[m], axis=1, keepdims=True)
        np.testing.assert_allclose(a, b, atol=2e-5 if m != "audio" else 1e-3, err_msg=m)


def _copy(trained, name):
    dst = trained["root"] / name
    shutil.copytree(trained["ckpt"], dst)
    return dst


def test_corrupt_weights_are_refused_with_one_line(trained):
    bad = _copy(trained, "corrupt")
    data = (bad / WEIGHTS).read_bytes()
    (bad / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="checksum") as exc:
        load_checkpoint(bad)
    assert "\n" not in str(exc.value)


def test_missing_or_malformed_config_is_refused(trained, tmp_path):
    with pytest.raises(BadInput, match="not found"):
        load_checkpoint(tmp_path / "nope")
    bad = _copy(trained, "noconfig")
    (bad / CONFIG).write_text("{not json")
    with pytest.raises(BadInput, match="invalid JSON"):
        load_checkpoint(bad)


def test_checkpoint_for_other_towers_is_refused(trained):
    bad = _copy(trained, "otherdims")
    cfg = json.loads((bad / CONFIG).read_text())
    cfg["tower_fingerprints"]["image"] = "0" * 16
    (bad / CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(BadInput, match="different image tower"):
        apply_alignment(copy.deepcopy(trained["base"]), bad)
    cfg["tower_fingerprints"]["image"] = json.loads((trained["ckpt"] / CONFIG).read_text())["tower_fingerprints"]["image"]
    cfg["heads"]["text"]["in_dim"] = 999
    (bad / CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(BadInput, match="999-d"):
        apply_alignment(copy.deepcopy(trained["base"]), bad)
