"""Throughput benchmark with the tiny stack on tiny corpora: the stages,
the interleaved multi-variant runner, and the CLI end to end."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from xmodal.benchmarks.cli import bench
from xmodal.benchmarks.memory import peak_rss
from xmodal.benchmarks.synthetic_media import write_corpus
from xmodal.benchmarks.throughput import collect, cosine_rows
from xmodal.benchmarks.throughput_run import ThroughputOptions, Variant, run_throughput

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


def test_synthetic_corpus_is_readable_media(tmp_path):
    manifest = write_corpus(tmp_path / "c", images=2, clips=1, texts=3, clip_seconds=0.2)
    rows = collect([str(manifest)], ["text", "image", "audio"], None)
    assert {m: len(r) for m, r in rows.items()} == {"image": 2, "audio": 1, "text": 3}
    from PIL import Image

    with Image.open(rows["image"][0]["path"]) as im:
        assert im.format == "JPEG" and min(im.size) >= 480


def test_peak_rss_sees_an_allocation():
    with peak_rss(interval=0.005) as mem:
        block = np.ones(40 * 2**20 // 8)  # 40 MiB, touched
        block.sum()
    assert mem["peak_rss_bytes"] - mem["start_rss_bytes"] > 20 * 2**20


def test_cosine_rows():
    a = np.array([[1, 0], [0, 2]], np.float32)
    assert cosine_rows(a, a * 3) == pytest.approx((1.0, 1.0))
    assert cosine_rows(a, np.array([[1, 0], [2, 0]], np.float32)) == pytest.approx((0.5, 0.0))
    assert cosine_rows(a, a[:1]) == (None, None) and cosine_rows(None, a) == (None, None)


def test_variants_are_interleaved_and_compared_to_the_first(tmp_path):
    from xmodal.alignment import load_encoder

    manifest = make_corpus(tmp_path)
    logs = []
    opts = ThroughputOptions("tiny", [str(manifest)], ["text"], limit=4, batch_size=2, rounds=2)
    variants = [Variant("a", lambda: load_encoder("tiny")), Variant("b", lambda: load_encoder("tiny"))]
    res = run_throughput(opts, variants, log=logs.append)
    order = [line.split(", ")[2].split(":")[0] for line in logs if "round" in line]
    assert order == ["a", "b", "b", "a"]  # the order rotates per round
    (mod,) = res.modalities
    assert mod.modality == "text" and mod.items == 4 and len(mod.loadavg_1m_per_round) == 2
    a, b = mod.variants
    assert (a.name, b.name, res.reference) == ("a", "b", "a")
    assert a.forward_over_reference is None and a.cosine_to_reference_min is None
    # tiny is seeded: a second build gives the same vectors, and the ratio is measured, not assumed
    assert b.cosine_to_reference_min == pytest.approx(1.0, abs=1e-5)
    assert b.forward_over_reference == pytest.approx(b.forward_items_per_s / a.forward_items_per_s)
    assert len(b.rounds["forward_items_per_s"]) == 2 and b.pipeline_items == 4
    assert [v.name for v in res.variants] == ["a", "b"] and res.variants[0].dim == 32


def test_cli_throughput_smoke(tmp_path):
    manifest = make_corpus(tmp_path)
    r = CliRunner().invoke(bench, ["throughput", "--model", "tiny", "--corpus", str(manifest), "--backend", "torch",
                                   "--batch-size", "4", "--rounds", "2", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["benchmark"] == "throughput" and rep["params"]["rounds"] == 2
    by = {m["modality"]: m for m in rep["results"]["modalities"]}
    assert set(by) == {"text", "image", "audio"}
    (img,) = by["image"]["variants"]
    assert by["image"]["items"] == 7 and img["forward_items"] == 6  # the broken PNG fails to decode
    assert img["pipeline_items"] == 6 and img["pipeline_skipped"] == 1
    for m in by.values():
        (v,) = m["variants"]
        assert v["name"] == "torch" and v["pipeline_items_per_s"] > 0 and v["forward_items_per_s"] > 0
        assert v["pipeline_peak_rss_bytes"] > 0
        assert len(v["rounds"]["pipeline_items_per_s"]) == 2
    assert (tmp_path / "o" / "throughput.png").exists()
    assert "| image | torch | 4 | 7 |" in (tmp_path / "o" / "summary.md").read_text()
    assert f"report: {tmp_path / 'o' / 'report.json'}" in r.stderr
    for m in by.values():  # the physical bound: FLOPs counted, peak measured
        assert m["flops_per_item"] > 0 and m["peak_gflops"] > 0
        assert m["bound_items_per_s"] == pytest.approx(m["peak_gflops"] * 1e9 / m["flops_per_item"])


@pytest.mark.slow
def test_cli_throughput_backends_interleaved(tmp_path, monkeypatch):
    from xmodal.alignment.backends import graph

    if not graph.installed("onnx"):
        pytest.skip("onnxruntime not installed")
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    manifest = make_corpus(tmp_path)
    r = CliRunner().invoke(bench, ["throughput", "--model", "tiny", "--corpus", str(manifest), "--modality", "image",
                                   "--backend", "onnx", "torch", "--rounds", "1", "--out", str(tmp_path / "o"),
                                   "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["params"]["backends"] == ["torch", "onnx"]  # torch eager first: the reference
    (img,) = rep["results"]["modalities"]
    ref, onnx = img["variants"]
    assert (ref["name"], onnx["name"]) == ("torch", "onnx") and onnx["batch_size"] == 32
    assert onnx["cosine_to_reference_min"] >= 0.999 and onnx["forward_over_reference"] > 0
