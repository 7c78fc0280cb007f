"""Fixture writers: tiny datasets in the real on-disk formats."""
import csv
import json

import pytest
from bench_media import write_png, write_wav


@pytest.fixture
def flickr_root(tmp_path):
    """Karpathy-format Flickr30k: 3 test images (one missing on disk, one
    with an empty caption), 1 train image."""
    root = tmp_path / "flickr30k"
    images = []
    for i, split in enumerate(["test", "test", "test", "train", "test"]):
        name = f"{1000 + i}.jpg"
        if i != 2:  # image 2 is listed but missing
            write_png(root / "flickr30k-images" / name, i)
        sents = [{"raw": f"a photo number {i} caption {j}", "tokens": []} for j in range(5)]
        if i == 4:
            sents[1]["raw"] = "   "
        images.append({"filename": name, "imgid": i, "split": split, "sentences": sents})
    (root / "dataset_flickr30k.json").write_text(json.dumps({"images": images, "dataset": "flickr30k"}))
    return root


@pytest.fixture
def coco_root(tmp_path):
    root = tmp_path / "coco"
    images = []
    for i, split in enumerate(["test", "restval", "val", "test"]):
        folder = "val2014"
        name = f"COCO_val2014_{i:012d}.jpg"
        write_png(root / folder / name, i)
        images.append({"filepath": folder, "filename": name, "cocoid": 500 + i, "split": split,
                       "sentences": [{"raw": f"coco {i} says {j}"} for j in range(5)]})
    (root / "annotations").mkdir()
    (root / "annotations" / "dataset_coco.json").write_text(json.dumps({"images": images}))
    return root


@pytest.fixture
def audiocaps_root(tmp_path):
    """test.csv: clip A (2 captions, file named by youtube_id with Y
    prefix), clip B (file named by an audiocap_id), clip C (missing)."""
    root = tmp_path / "audiocaps"
    rows = [("1", "ytA", "30", "a dog barks"), ("2", "ytA", "30", "barking nearby"),
            ("3", "ytB", "10", "rain falls"), ("4", "ytC", "0", "wind blows")]
    root.mkdir()
    with open(root / "test.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["audiocap_id", "youtube_id", "start_time", "caption"])
        w.writerows(rows)
    write_wav(root / "audio" / "test" / "YytA.wav", 1)
    write_wav(root / "audio" / "test" / "3.wav", 2)
    return root


@pytest.fixture
def clotho_root(tmp_path):
    root = tmp_path / "clotho"
    root.mkdir()
    with open(root / "clotho_captions_evaluation.csv", "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", *[f"caption_{i}" for i in range(1, 6)]])
        w.writerow(["birds.wav", *[f"birds sing {j}" for j in range(5)]])
        w.writerow(["train.wav", "a train passes", "", "train horn", "rails", "station"])
        w.writerow(["gone.wav", *["x"] * 5])
    write_wav(root / "evaluation" / "birds.wav", 3)
    write_wav(root / "evaluation" / "train.wav", 4)
    return root
