"""Group splits, the Pair file format and image checks."""
import json
import struct
import zlib
from collections import Counter

import pytest
from PIL import Image

from xmodal.alignment.data import Pair, SplitConfig, assign, read_pairs, write_pairs
from xmodal.alignment.data.images import inspect_image
from xmodal.alignment.data.pairs import group_key
from xmodal.alignment.data.splits import check_disjoint, split_of_group, write_splits
from xmodal.alignment.core.errors import BadInput


def pairs_with_groups(n_groups=300, per_group=(1, 2, 3, 7)):
    out = []
    for g in range(n_groups):
        for k in range(per_group[g % len(per_group)]):
            out.append(Pair(f"i{g}-{k}", "image", f"/x/{g}-{k}.png", [f"cap {g}"], f"group {g}"))
    return out


def test_no_group_crosses_splits_and_fractions_are_close():
    pairs = pairs_with_groups()
    splits = assign(pairs)
    where = {}
    for name, items in splits.items():
        for p in items:
            assert where.setdefault(p.group, name) == name
    assert sum(len(v) for v in splits.values()) == len(pairs)
    n_groups = Counter(where.values())
    assert 0.7 < n_groups["train"] / 300 < 0.9
    assert 0.04 < n_groups["val"] / 300 < 0.16 and 0.04 < n_groups["test"] / 300 < 0.16


def test_split_is_deterministic_and_order_free():
    pairs = pairs_with_groups(50)
    a = {k: sorted(p.id for p in v) for k, v in assign(pairs).items()}
    b = {k: sorted(p.id for p in v) for k, v in assign(list(reversed(pairs))).items()}
    assert a == b
    assert split_of_group("group 7") == split_of_group("group 7")


def test_big_groups_stay_in_train():
    cfg = SplitConfig(max_eval_group=5)
    big = [Pair(f"b{i}", "image", "/b", ["same"], "collection") for i in range(6)]
    assert {p.id for p in assign(big, cfg)["train"]} == {p.id for p in big}


def test_check_disjoint_catches_a_straddling_group():
    a, b = Pair("1", "image", "/a", ["c"], "g"), Pair("2", "image", "/b", ["c"], "g")
    with pytest.raises(ValueError, match="group 'g'"):
        check_disjoint({"train": [a], "test": [b]})


def test_numbered_near_duplicates_share_a_group():
    assert group_key("Clipart arrow08_4") == group_key("clipart  Arrow08-5") == "clipart arrow"


def test_write_splits_files_round_trip(tmp_path):
    pairs = pairs_with_groups(40)
    summary = write_splits(tmp_path, pairs)
    back = {s: read_pairs(tmp_path / f"{s}.jsonl") for s in ("train", "val", "test")}
    check_disjoint(back)
    assert sorted(p.id for v in back.values() for p in v) == sorted(p.id for p in pairs)
    on_disk = json.loads((tmp_path / "splits.json").read_text())
    assert on_disk["splits"]["test"]["items"] == len(back["test"]) == summary["splits"]["test"]["items"]


def test_pairs_round_trip_and_bad_lines(tmp_path):
    p = Pair("a", "audio", "/abs/a.wav", ["a dog barking"], "dog", {"sr": 16000})
    write_pairs(tmp_path / "p.jsonl", [p])
    assert read_pairs(tmp_path / "p.jsonl") == [p]
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "modality": "smell", "path": "/p", '
                                       '"captions": ["c"], "group": "g"}\n')
    with pytest.raises(BadInput, match="bad.jsonl:1: unknown modality"):
        read_pairs(tmp_path / "bad.jsonl")
    (tmp_path / "empty.jsonl").write_text('{"id": "x", "modality": "image", "path": "/p", '
                                         '"captions": ["  "], "group": "g"}\n')
    with pytest.raises(BadInput, match="captions"):
        read_pairs(tmp_path / "empty.jsonl")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_found_from_header_only(tmp_path):
    # A 40000 x 40000 greyscale PNG header over a few bytes of data: decoding it
    # would need 1.6 GB; the check must refuse it without decoding.
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 100)) \
        + _chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(BadInput, match="bomb.png: decompression bomb: 40000x40000"):
        inspect_image(tmp_path / "bomb.png")


def test_small_image_passes_and_truncated_fails(tmp_path):
    Image.new("RGBA", (5, 7)).save(tmp_path / "ok.png")
    info = inspect_image(tmp_path / "ok.png")
    assert (info.width, info.height, info.mode) == (5, 7, "RGBA")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="cut.png: unreadable image"):
        inspect_image(tmp_path / "cut.png")
    with pytest.raises(BadInput, match="decompression bomb"):
        inspect_image(tmp_path / "ok.png", bomb_pixels=10)
