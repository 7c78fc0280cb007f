"""Each dataset loader on tiny fixture files in the real formats."""
import json

import pytest

from xmodal.alignment.core.errors import BadInput
from xmodal.benchmarks.datasets import load_dataset


def test_flickr30k_karpathy_test_split(flickr_root):
    ds = load_dataset("flickr30k", str(flickr_root), "test")
    assert [it.id for it in ds.items] == ["1000.jpg", "1001.jpg", "1004.jpg"]
    assert all(it.modality == "image" for it in ds.items)
    assert ds.items[0].captions[0] == "a photo number 0 caption 0"
    assert len(ds.items[0].captions) == 5
    assert len(ds.items[2].captions) == 4  # the blank caption is dropped ...
    reasons = dict(ds.skipped)
    assert reasons["1004.jpg caption 2"] == "empty caption"  # ... and reported
    assert "not found" in reasons["1002.jpg"]
    assert ds.n_captions == 14


def test_flickr30k_train_split(flickr_root):
    ds = load_dataset("flickr30k", str(flickr_root), "train")
    assert [it.id for it in ds.items] == ["1003.jpg"]


def test_mscoco_uses_filepath_and_restval_is_train(coco_root):
    test = load_dataset("mscoco", str(coco_root), "test")
    assert [it.id for it in test.items] == ["500", "503"]
    assert test.items[0].path.endswith("val2014/COCO_val2014_000000000000.jpg")
    train = load_dataset("coco", str(coco_root), "train")
    assert [it.id for it in train.items] == ["501"]


def test_audiocaps_groups_rows_per_clip_and_finds_files(audiocaps_root):
    ds = load_dataset("audiocaps", str(audiocaps_root), "test")
    by_id = {it.id: it for it in ds.items}
    assert set(by_id) == {"ytA", "ytB"}
    assert by_id["ytA"].captions == ["a dog barks", "barking nearby"]
    assert by_id["ytA"].path.endswith("YytA.wav")
    assert by_id["ytB"].path.endswith("3.wav")  # found by audiocap_id
    assert by_id["ytA"].modality == "audio"
    assert any(item == "ytC" for item, _ in ds.skipped)


def test_clotho_evaluation_split(clotho_root):
    ds = load_dataset("clotho", str(clotho_root), "test")
    by_id = {it.id: it for it in ds.items}
    assert set(by_id) == {"birds.wav", "train.wav"}
    assert len(by_id["birds.wav"].captions) == 5
    assert by_id["train.wav"].captions == ["a train passes", "train horn", "rails", "station"]
    assert ("gone.wav" in {item for item, _ in ds.skipped})


def test_missing_root_and_missing_columns_are_one_line_errors(tmp_path, clotho_root):
    with pytest.raises(BadInput, match="needs --root"):
        load_dataset("flickr30k", None)
    (tmp_path / "ac").mkdir()
    (tmp_path / "ac" / "test.csv").write_text("youtube_id,caption\nabc,hi\n")
    with pytest.raises(BadInput, match="missing column"):
        load_dataset("audiocaps", str(tmp_path / "ac"))
    with pytest.raises(BadInput, match="unknown split"):
        load_dataset("clotho", str(clotho_root), "nope")


def test_malformed_karpathy_json(tmp_path):
    (tmp_path / "dataset_flickr30k.json").write_text(json.dumps({"nope": []}))
    with pytest.raises(BadInput, match="not a Karpathy split file"):
        load_dataset("flickr30k", str(tmp_path))


def test_items_carry_captions(flickr_root):
    item = load_dataset("flickr30k", str(flickr_root)).items[0]
    assert item.modality == "image" and item.path and len(item.captions) == 5 and item.group == ""


def test_offline_corpus_adapter_keeps_groups_and_reports_missing_files(tmp_path, monkeypatch):
    import xmodal.alignment.data as data
    from xmodal.alignment.data.pairs import Pair

    from bench_media import write_png, write_wav

    write_png(tmp_path / "frog.png", 1)
    write_wav(tmp_path / "frog.wav", 1)
    pairs = [Pair("frog#image", "image", str(tmp_path / "frog.png"), ["A frog."], "a frog"),
             Pair("frog#sound", "audio", str(tmp_path / "frog.wav"), ["A frog.", "the sound of a frog"], "a frog"),
             Pair("crow#image", "image", str(tmp_path / "missing.png"), ["A crow."], "a crow")]
    seen = {}

    def fake_load_corpus(name, split=None, cache=None):
        seen["args"] = (name, split)
        return pairs

    monkeypatch.setattr(data, "load_corpus", fake_load_corpus)
    ds = load_dataset("tuxpaint")
    assert seen["args"] == ("tuxpaint", "test")  # the held-out split by default
    assert [(it.id, it.modality, it.group) for it in ds.items] == [
        ("frog#image", "image", "a frog"), ("frog#sound", "audio", "a frog")]
    assert ds.items[1].captions == ["A frog.", "the sound of a frog"]
    assert ds.skipped and ds.skipped[0][0] == "crow#image"
    with pytest.raises(BadInput, match="--root does not apply"):
        load_dataset("tuxpaint", root=str(tmp_path))
