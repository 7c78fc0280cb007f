"""Training on synthetic features with planted structure, recall against a
brute-force reference, early stopping, and audio binding through text."""
import numpy as np
import pytest
import torch

from xmodal.alignment.train.model import Aligner, Rows, SplitData
from xmodal.alignment.train.evaluate import evaluate_model
from xmodal.alignment.train.recipes import TrainConfig
from xmodal.alignment.train.trainer import train

from train_synthetic import make_maps, synthetic_split


pytestmark = pytest.mark.usefixtures("one_thread")


def test_training_goes_from_chance_to_near_perfect_held_out_recall():
    train_d = synthetic_split(300, seed=0)
    val_d = synthetic_split(60, seed=1)
    test_d = synthetic_split(100, seed=2)  # unseen items, same feature spaces
    model = Aligner({"text": 24, "image": 40}, 16, "mlp", seed=0)
    before = evaluate_model(model, test_d)
    assert before["text->image"].recall[1] < 0.1  # chance is 0.01
    hist = train(model, train_d, val_d, TrainConfig(epochs=25, batch_size=64, lr=3e-3, patience=5))
    after = evaluate_model(model, test_d)
    assert after["text->image"].recall[1] > 0.85
    assert after["image->text"].recall[5] > 0.95
    assert hist.best_epoch >= 1


def test_early_stopping_keeps_the_best_validation_epoch():
    train_d = synthetic_split(200, seed=0, noise=0.3)
    val_d = synthetic_split(40, seed=1, noise=0.3)
    model = Aligner({"text": 24, "image": 40}, 8, "linear", seed=0)
    hist = train(model, train_d, val_d, TrainConfig(epochs=60, batch_size=32, lr=1e-2, patience=3))
    scores = [e["val_score"] for e in hist.epochs]
    assert hist.best_score == pytest.approx(max(scores), abs=1e-4)
    assert len(scores) < 60 and len(scores) - hist.best_epoch == 3  # stopped after `patience` bad epochs
    from xmodal.alignment.train.evaluate import mean_recall

    assert mean_recall(evaluate_model(model, val_d)) == pytest.approx(hist.best_score, abs=1e-4)


def _bind_split(n, seed, maps, with_image, with_audio):
    data = synthetic_split(n, dims={"text": 24, "image": 40, "audio": 20}, seed=seed, maps=maps)
    keep = {"text": True, "image": with_image, "audio": with_audio}
    data.rows = {m: r for m, r in data.rows.items() if keep[m]}
    return data


def _binding_data() -> tuple[SplitData, SplitData]:
    """Train: text-image items and separate text-audio items (training never
    shows an audio clip together with an image); test: items with all three."""
    maps = make_maps({"text": 24, "image": 40, "audio": 20}, 8, 7)
    ti = _bind_split(200, 0, maps, with_image=True, with_audio=False)
    ta = _bind_split(200, 1, maps, with_image=False, with_audio=True)
    n = len(ti.ids)
    rows = {}
    for m in ("text", "image", "audio"):
        parts = [(r.item + off, r.feats) for d, off in ((ti, 0), (ta, n)) if (r := d.rows.get(m)) is not None]
        rows[m] = Rows(item=torch.cat([p[0] for p in parts]), feats=torch.cat([p[1] for p in parts]))
    train_d = SplitData(ti.ids + ta.ids, np.concatenate([ti.groups, ta.groups]), rows)
    test_d = _bind_split(80, 2, maps, with_image=True, with_audio=True)
    return train_d, test_d


def test_audio_binds_to_images_through_text_without_audio_image_pairs():
    train_d, test_d = _binding_data()
    model = Aligner({"text": 24, "image": 40, "audio": 20}, 16, "mlp", seed=0)
    assert evaluate_model(model, test_d)["audio->image"].recall[1] < 0.15
    train(model, train_d, None, TrainConfig(epochs=25, batch_size=64, lr=3e-3))
    res = evaluate_model(model, test_d)
    assert res["audio->image"].recall[1] > 0.7
    assert res["audio->image"].recall[10] > 0.95


def test_jsonl_reader_merges_linked_items_and_skips_bad_lines(tmp_path):
    import json

    from xmodal.alignment.train.data import read_jsonl

    lines = [
        {"id": "s#image", "modality": "image", "path": "a.png", "captions": ["A cat"], "group": "cat",
         "metadata": {"stamp": "s"}},
        {"id": "s#sound", "modality": "audio", "path": "a.ogg", "captions": ["A cat", "the sound of a cat"],
         "group": "cat", "metadata": {"stamp": "s"}},
        {"id": "x", "image": "b.png", "captions": ["   "]},
        {"id": "y", "image": "c.png", "captions": ["a dog"], "split": "holdout"},
    ]
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    items, skipped = read_jsonl(p)
    assert len(items) == 1 and items[0].id == "s"
    assert items[0].image.endswith("a.png") and items[0].audio.endswith("a.ogg")
    assert items[0].captions == ["A cat", "the sound of a cat"]
    assert len(skipped) == 3 and any("non-empty caption" in s for s in skipped)
    assert any("unknown split" in s for s in skipped) and any("invalid JSON" in s for s in skipped)


def test_corpus_pairs_become_items_the_way_jsonl_lines_do(tmp_path):
    """A fetched corpus's Pairs go through the same conversion as a JSON Lines
    file: a stamp's picture and sound merge into one triple, a repeated id is
    skipped, the split and corpus come from where the pairs were read."""
    from xmodal.alignment.data import corpus_dir
    from xmodal.alignment.data.pairs import Pair, write_pairs
    from xmodal.alignment.train.data import from_corpora, read_jsonl

    root = corpus_dir("tuxpaint", tmp_path)
    root.mkdir(parents=True)
    pairs = [Pair("s#image", "image", "/m/a.png", ["A cat"], "cat", {"stamp": "s"}),
             Pair("s#sound", "audio", "/m/a.ogg", ["A cat", "the sound of a cat"], "cat", {"stamp": "s"}),
             Pair("d", "image", "/m/d.png", ["a dog"], "dog"),
             Pair("d", "image", "/m/d2.png", ["a dog again"], "dog"),
             Pair("t", "text", "/m/t.txt", ["only text"], "t")]
    write_pairs(root / "train.jsonl", pairs)
    write_pairs(root / "pairs.jsonl", pairs)
    for split in ("val", "test"):
        write_pairs(root / f"{split}.jsonl", [])
    (root / ".done").write_text("test\n")
    items = from_corpora(["tuxpaint"], cache=str(tmp_path))
    assert [(it.id, it.image, it.audio, it.split, it.corpus) for it in items] == [
        ("s", "/m/a.png", "/m/a.ogg", "train", "tuxpaint"), ("d", "/m/d.png", None, "train", "tuxpaint")]
    assert items[0].captions == ["A cat", "the sound of a cat"]
    via_file, _ = read_jsonl(root / "train.jsonl")  # the same lines read as a user's file
    assert [(it.id, it.image, it.audio, it.captions) for it in via_file] == [
        (it.id, it.image, it.audio, it.captions) for it in items]


def test_staged_binding_trains_audio_only_and_reaches_images():
    from xmodal.alignment.train.fit import bind_audio, without
    from xmodal.alignment.train.recipes import Recipe

    train_d, test_d = _binding_data()
    model = Aligner({"text": 24, "image": 40, "audio": 20}, 16, "mlp", seed=0)
    cfg = TrainConfig(epochs=20, batch_size=64, lr=3e-3)
    train(model, without(train_d, "audio"), None, cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bind_audio(model, Recipe(train=cfg, audio_epochs=20), train_d, None)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("heads.audio"))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("heads.audio"))
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again afterwards
    assert evaluate_model(model, test_d)["audio->image"].recall[1] > 0.6


def test_sampler_draws_distinct_captions_per_item_up_to_the_cap():
    from xmodal.alignment.train.trainer import Sampler

    # item 0 has 5 captions, item 1 has 2, item 2 none (image only)
    text = Rows(item=[0, 0, 0, 0, 0, 1, 1], feats=torch.zeros(7, 3))
    image = Rows(item=[0, 1, 2], feats=torch.zeros(3, 3))
    data = SplitData(["a", "b", "c"], np.array(["a", "b", "c"]), {"text": text, "image": image})
    sampler = Sampler(data, np.random.default_rng(0))
    for _ in range(20):
        rows, owners = sampler.pick(np.array([0, 1, 2]), "text", per_item=3)
        assert list(owners) == [0, 0, 0, 1, 1]
        assert len(set(rows[:3])) == 3 and set(rows[:3]) <= {0, 1, 2, 3, 4} and set(rows[3:]) == {5, 6}
        one, own1 = sampler.pick(np.array([0, 1, 2]), "text")
        assert list(own1) == [0, 1] and one[0] in range(5) and one[1] in (5, 6)


def test_training_with_several_captions_per_item_still_learns_the_planted_map():
    train_d = synthetic_split(300, seed=0)
    test_d = synthetic_split(100, seed=2)
    model = Aligner({"text": 24, "image": 40}, 16, "mlp", seed=0)
    cfg = TrainConfig(epochs=15, batch_size=64, lr=3e-3, patience=15, captions_per_item=3)
    train(model, train_d, None, cfg)
    assert evaluate_model(model, test_d)["text->image"].recall[1] > 0.8


def test_recipe_refuses_a_caption_count_below_one():
    from xmodal.alignment.core.errors import XmodalError
    from xmodal.alignment.train.recipes import Recipe

    with pytest.raises(XmodalError, match="captions_per_item"):
        Recipe.from_dict({"train": {"captions_per_item": 0}})
