"""Throughput benchmark smoke run with the tiny stack on a tiny corpus."""
import json

from click.testing import CliRunner

from xmodal.benchmarks.cli import bench
from xmodal.benchmarks.throughput import collect, peak_rss

from bench_media import write_png, write_wav


def make_corpus(tmp_path):
    rows = []
    for i in range(6):
        write_png(tmp_path / "media" / f"im{i}.png", i)
        rows.append({"id": f"im{i}", "path": f"media/im{i}.png", "captions": [f"image {i}"]})
    for i in range(3):
        write_wav(tmp_path / "media" / f"a{i}.wav", i, seconds=0.3)
        rows.append({"id": f"a{i}", "path": f"media/a{i}.wav", "captions": [f"sound {i}"]})
    (tmp_path / "media" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    rows.append({"id": "broken", "path": "media/broken.png", "modality": "image"})
    manifest = tmp_path / "corpus.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def test_collect_splits_by_modality_and_uses_captions_as_text(tmp_path):
    rows = collect([str(make_corpus(tmp_path))], ["text", "image", "audio"], None)
    assert len(rows["image"]) == 7 and len(rows["audio"]) == 3
    assert sorted(r["text"] for r in rows["text"])[:2] == ["image 0", "image 1"]
    assert len(collect([str(tmp_path / "corpus.jsonl")], ["image"], 2)["image"]) == 2


def test_peak_rss_sees_an_allocation():
    import numpy as np

    with peak_rss(interval=0.005) as mem:
        block = np.ones(40 * 2**20 // 8)  # 40 MiB, touched
        block.sum()
    assert mem["peak_rss_bytes"] - mem["start_rss_bytes"] > 20 * 2**20


def test_cli_throughput_smoke(tmp_path):
    manifest = make_corpus(tmp_path)
    r = CliRunner().invoke(bench, ["throughput", "--model", "tiny", "--corpus", str(manifest),
                                   "--batch-size", "4", "--rounds", "2", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output.strip().splitlines()[-1])
    by = {m["modality"]: m for m in rep["results"]["modalities"]}
    assert set(by) == {"text", "image", "audio"}
    img = by["image"]
    assert img["items"] == 7 and img["forward_items"] == 6  # the broken PNG fails to decode
    assert img["pipeline_items"] == 6 and img["pipeline_skipped"] == 1
    for m in by.values():
        assert m["pipeline_items_per_s"] > 0 and m["forward_items_per_s"] > 0
        assert m["pipeline_peak_rss_bytes"] > 0
        assert len(m["rounds"]["pipeline_items_per_s"]) == 2
    assert (tmp_path / "o" / "throughput.png").exists()
