"""`bench zeroshot` on a planted corpus: classes from category paths, the
label space from every split, the held-out split scored, metrics equal to
a brute-force count, and the report (JSON + Markdown + confusion PNG)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xmodal.alignment.core.contracts import EncodeResult, l2_normalise
from xmodal.alignment.data.pairs import Pair
from xmodal.benchmarks import zeroshot as zs
from xmodal.benchmarks.cli import bench
from xmodal.benchmarks.datasets.base import EvalSet

CATS = ["animals/birds", "animals/fish", "vehicles", "food/fruit", "unsorted"]
DIM = 12


class PlantedStack:
    """Images are 'paths' naming their planted vector; texts map to the
    prototype of the class word they contain."""

    spec, fingerprint, aligned, modalities, dim = "planted", "fp", True, ["text", "image"], DIM

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.protos = {w: v for w, v in zip(["animals", "vehicles", "food"], l2_normalise(rng.standard_normal((3, DIM))))}
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, modality, items, batch_size=32, workers=1, names=None, on_batch=None):
        if modality == "text":
            rows = [self.protos[next(w for w in self.protos if w in t)] for t in items]
        else:
            rows = [self.vectors[p] for p in items]
        return EncodeResult(np.array(rows, np.float32), list(range(len(items))), [])


@pytest.fixture
def planted(monkeypatch):
    stack = PlantedStack()
    rng = np.random.default_rng(5)
    sets = {}
    for split, n in (("train", 30), ("val", 10), ("test", 60)):
        items = []
        for i in range(n):
            cat = CATS[i % len(CATS)] if split == "test" else CATS[i % 3]  # every class occurs somewhere
            top = cat.split("/")[0]
            path = f"/planted/{split}/{i}.png"
            base = stack.protos.get(top, np.zeros(DIM))
            stack.vectors[path] = l2_normalise((base + 0.8 * rng.standard_normal(DIM) / np.sqrt(DIM))[None])[0]
            items.append(Pair(f"{split}{i}", "image", path, ["x"], metadata={"category": cat}))
        sets[split] = EvalSet("openclipart", split, items)
    monkeypatch.setattr(zs, "load_offline_corpus", lambda name, split: sets[split])
    return stack, sets


def test_scores_the_test_split_among_every_class_and_matches_brute_force(planted):
    stack, sets = planted
    (r,) = zs.run_zeroshot(stack, "planted", "openclipart", "test")
    assert r.classes == ["animals", "food", "vehicles"] and r.label_texts == r.classes
    kept = [it for it in sets["test"].items if not it.metadata["category"].startswith("unsorted")]
    assert r.n_items == len(kept) and len(r.skipped) == 60 - len(kept)  # 'unsorted' is no class
    protos = np.stack([stack.protos[c] for c in r.classes])
    correct = tp = 0
    per = {c: [0, 0, 0] for c in range(3)}  # tp, fp, fn
    for it in kept:
        truth = r.classes.index(it.metadata["category"].split("/")[0])
        s = [float(np.dot(stack.vectors[it.path], protos[c])) for c in range(3)]
        guess = max(range(3), key=lambda c: (s[c], -c))
        correct += guess == truth
        if guess == truth:
            per[truth][0] += 1
        else:
            per[guess][1] += 1
            per[truth][2] += 1
    f1 = [2 * a / (2 * a + b + c) if a else 0.0 for a, b, c in per.values()]
    assert r.metrics["top1"] == pytest.approx(correct / len(kept))
    assert r.metrics["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert r.metrics["chance"]["top1"] == pytest.approx(1 / 3)
    assert r.metrics["top1"] > 0.8  # planted clusters are separable
    assert [(v.templates, v.article) for v in r.variants][0] == ("ensemble", True)


def test_unknown_dataset_is_one_line():
    from xmodal.alignment.core.errors import BadInput

    with pytest.raises(BadInput, match="emoji.*no categories"):
        zs.run_zeroshot(PlantedStack(), "planted", "emoji")


def test_cli_writes_json_markdown_and_confusion_png(planted, tmp_path, monkeypatch):
    stack, _ = planted
    import xmodal.alignment

    monkeypatch.setattr(xmodal.alignment, "load_encoder", lambda *a, **k: stack)
    out = tmp_path / "run"
    res = CliRunner().invoke(bench, ["zeroshot", "--model", "planted", "--dataset", "openclipart",
                                     "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    (run,) = report["results"]["runs"]
    assert run["split"] == "test" and run["modality"] == "image" and len(run["metrics"]["confusion"]) == 3
    md = (out / "summary.md").read_text()
    assert "chance (uniform)" in md and "Worst classes" in md
    assert (out / "confusion-image.png").stat().st_size > 1000
