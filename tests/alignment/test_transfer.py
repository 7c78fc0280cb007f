"""Prompt transfer: the target run starts from the source's trained parts."""
import json

import pytest
import torch

from xmodal.alignment.aligned import load_checkpoint
from xmodal.alignment.train.data import read_jsonl
from xmodal.alignment.train.fit import export_tensors, load_into, make_aligner
from xmodal.alignment.train.recipes import get_recipe
from xmodal.alignment.train.prepare import base_stack
from xmodal.alignment.train.run import train_run, transfer_run
from xmodal.alignment.train.transfer import pick_shots
from xmodal.alignment.train.data import Item

from train_synthetic import write_synthetic_files


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    jsonl = write_synthetic_files(root / "src", 16, seed=0, split_of=lambda i: ["train", "train", "val", "test"][i % 4])
    items, _ = read_jsonl(jsonl)
    train_run(get_recipe("tiny"), items, str(root / "src-ckpt"), cache_root=str(root / "cache"))
    return root


def test_load_into_reproduces_every_source_tensor(source):
    tensors, info = load_checkpoint(source / "src-ckpt")
    recipe = get_recipe("tiny")
    stack = base_stack("tiny")
    model = make_aligner(stack, recipe, list(info.heads), info.dim)
    fresh = {k: v.clone() for k, v in export_tensors(model).items()}
    load_into(model, tensors, stack, recipe)
    got = export_tensors(model)
    assert set(got) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(got[k].reshape(v.shape), v), k
    # and it really changed something relative to a fresh init
    assert any(not torch.equal(fresh[k], got[k]) for k in fresh if k.startswith("head."))


def test_transfer_reports_zero_few_scratch_and_records_source(source):
    tgt = write_synthetic_files(source / "tgt", 16, seed=5, split_of=lambda i: "test" if i % 2 else "train")
    items, _ = read_jsonl(tgt)
    report = transfer_run(str(source / "src-ckpt"), items, 4, str(source / "tgt-ckpt"), epochs=2,
                          cache_root=str(source / "cache"))
    assert set(report["results"]) == {"zero_shot", "few_shot", "from_scratch"}
    assert report["shots"] == 4
    for res in report["results"].values():
        assert res["all"]["text->image"]["n_queries"] == 16  # 8 test items x 2 captions
    cfg = json.loads((source / "tgt-ckpt" / "alignment.json").read_text())
    src_sha = load_checkpoint(source / "src-ckpt")[1].weights_sha256
    assert cfg["recipe"]["transfer_from"]["weights_sha256"] == src_sha


def test_shots_are_spread_over_groups():
    items = [Item(id=f"{g}{i}", captions=["x"], image="p", group=g) for g in "abcd" for i in range(5)]
    picked = pick_shots(items, 6, seed=1)
    groups = [it.group for it in picked]
    assert len(picked) == 6 and set(groups) == set("abcd")
    assert pick_shots(items, 6, seed=1) == picked  # seeded
