"""Zero-shot classification: prompts and prototypes, ranking, and the
metrics checked against a brute-force (pure Python loops) reference on
planted synthetic data whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest

from xmodal.alignment.zeroshot import chance_levels, classification_metrics
from xmodal.alignment.core.contracts import EncodeResult, l2_normalise
from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.zeroshot import build_classifier, label_prompts, parse_labels  # noqa: E501


class PlantedText:
    """A text tower that maps a prompt to the planted prototype of the label
    it contains (plus a per-template offset), so prototypes are known."""

    def __init__(self, protos: dict[str, np.ndarray], seed: int = 0):
        self.protos, self.rng = protos, np.random.default_rng(seed)
        self.spec, self.fingerprint, self.aligned, self.modalities = "planted", "fp", True, ["text"]
        self.dim = len(next(iter(protos.values())))
        self.seen: list[str] = []

    def embed(self, modality, items, batch_size=32, workers=1, names=None, on_batch=None):
        self.seen += list(items)
        rows = []
        for t in items:
            label = next(lb for lb in sorted(self.protos, key=len, reverse=True) if lb in t)
            rows.append(self.protos[label] + 0.3 * self.rng.standard_normal(self.dim))
        return EncodeResult(l2_normalise(np.array(rows)), list(range(len(items))), [])


def planted(n_classes=6, per_class=40, dim=16, noise=0.9, seed=0):
    rng = np.random.default_rng(seed)
    protos = l2_normalise(rng.standard_normal((n_classes, dim)))
    sizes = rng.integers(per_class // 2, per_class * 2, n_classes)  # imbalanced on purpose
    y = np.repeat(np.arange(n_classes), sizes)
    x = l2_normalise(protos[y] + noise * rng.standard_normal((len(y), dim)) / np.sqrt(dim))
    return protos, x, y


def brute_force(scores, y, n_classes):
    """Accuracy@1/@5 and macro F1 with loops, no numpy vector ops."""
    top1 = top5 = 0
    tp, fp, fn = [0] * n_classes, [0] * n_classes, [0] * n_classes
    for i in range(len(y)):
        row = [float(s) for s in scores[i]]
        ranked = sorted(range(n_classes), key=lambda j: (-row[j], j))
        top1 += ranked[0] == y[i]
        top5 += y[i] in ranked[:5]
        if ranked[0] == y[i]:
            tp[y[i]] += 1
        else:
            fp[ranked[0]] += 1
            fn[y[i]] += 1
    f1s, recalls = [], []
    for c in range(n_classes):
        if tp[c] + fn[c] == 0:
            continue
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 0.0
        r = tp[c] / (tp[c] + fn[c])
        recalls.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return top1 / len(y), top5 / len(y), sum(recalls) / len(recalls), sum(f1s) / len(f1s)


@pytest.mark.parametrize("noise", [0.2, 0.9, 1.5])
def test_metrics_match_brute_force_on_planted_data(noise):
    protos, x, y = planted(n_classes=8, noise=noise, seed=int(noise * 10))
    labels = [f"class{c}" for c in range(8)]
    stack = PlantedText({lb: protos[c] for c, lb in enumerate(labels)})
    clf = build_classifier(stack, labels, "image", templates=["{}", "a picture of {}"])
    scores = clf.scores(x)
    m = classification_metrics(scores, y, labels)
    ref = brute_force(scores, y, 8)
    assert (m.top1, m.top5, m.mean_per_class_recall, m.macro_f1) == pytest.approx(ref, abs=1e-12)
    assert sum(map(sum, m.confusion)) == len(y) and m.n == len(y)
    if noise == 0.2:  # planted clusters are well separated: the classifier must find them
        assert m.top1 > 0.95 and m.macro_f1 > 0.95
    assert m.top1 > 2 * m.chance["top1"]  # better than chance at every noise level planted here


def test_chance_levels_match_simulated_uniform_guessing():
    rng = np.random.default_rng(1)
    y = rng.choice(5, size=4000, p=[0.4, 0.3, 0.2, 0.1, 0.0])
    labels = list("abcde")
    sims = [classification_metrics(rng.random((len(y), 5)), y, labels) for _ in range(20)]
    ch = chance_levels(y, 5)
    assert np.mean([s.top1 for s in sims]) == pytest.approx(ch["top1"], abs=0.01)
    assert np.mean([s.macro_f1 for s in sims]) == pytest.approx(ch["macro_f1"], abs=0.01)
    assert ch["majority"] == pytest.approx(np.mean(y == 0))


def test_worst_classes_name_their_confusions():
    labels = ["cat", "dog", "car"]
    y = np.array([0, 0, 1, 1, 2, 2])
    scores = np.array([[1, 0, 0], [1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], float)
    m = classification_metrics(scores, y, labels)
    assert m.worst[0].label == "dog" and m.worst[0].recall == 0.5
    assert m.worst[0].confused_with == [("cat", 1)]
    assert m.per_class_f1["cat"] == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_prototypes_are_the_template_ensemble_and_ranking_is_stable():
    protos = {lb: v for lb, v in zip(["apple", "owl"], l2_normalise(np.eye(4)[:2]))}
    stack = PlantedText(protos)
    clf = build_classifier(stack, ["apple", "owl"], "image", templates="picture")
    assert stack.seen == ["a picture of an apple", "a picture of an owl"]
    assert np.allclose(np.linalg.norm(clf.prototypes, axis=1), 1)
    top = clf.top(np.array([[1, 0, 0, 0], [0.5, 0.5, 0, 0]], np.float32), k=2, min_score=0.3)
    assert [s.label for s in top[0]] == ["apple"]  # owl under min_score
    assert len(top[1]) == 2


def test_labels_from_a_list_or_a_file(tmp_path):
    assert parse_labels(" cat, dog ,cat,,car") == ["cat", "dog", "car"]
    f = tmp_path / "labels.txt"
    f.write_text("# vehicles and pets\nvehicle\n\nanimal\n")
    assert parse_labels(str(f)) == ["vehicle", "animal"]
    with pytest.raises(BadInput):
        parse_labels(" , ")
    assert label_prompts("dog", ["the sound of {}", "{}"], with_article=False) == ["the sound of dog", "dog"]


def test_classify_cli_ranks_labels_per_file_and_skips_bad_ones(tmp_path):
    import json

    import soundfile as sf
    from click.testing import CliRunner
    from PIL import Image

    from xmodal.alignment import load_encoder
    from xmodal.alignment.cli.root import cli

    img = tmp_path / "a.png"
    Image.new("RGB", (20, 20), (200, 10, 30)).save(img)
    (tmp_path / "broken.png").write_bytes(b"garbage")
    wav = tmp_path / "b.wav"
    sf.write(wav, 0.2 * np.sin(np.arange(8000) / 5.0), 16000)
    (tmp_path / "notes.txt").write_text("x")
    res = CliRunner().invoke(cli, ["classify", "--model", "tiny", "--labels", "cat,dog,car", "--top", "2",
                                   "--json", str(img), str(tmp_path / "broken.png"), str(wav),
                                   str(tmp_path / "notes.txt")])
    assert res.exit_code == 1, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["item"], r["modality"]) for r in rows] == [(str(img), "image"), (str(wav), "audio")]
    stack = load_encoder("tiny")
    clf = build_classifier(stack, ["cat", "dog", "car"], "image")
    want = clf.top(stack.encode_images([str(img)]), 2)[0]
    assert [s["label"] for s in rows[0]["labels"]] == [s.label for s in want]
    assert [s["score"] for s in rows[0]["labels"]] == pytest.approx([s.score for s in want], abs=1e-5)
    assert sum(line.startswith("skipped") for line in res.stderr.splitlines()) == 2
    bad = CliRunner().invoke(cli, ["classify", "--model", "tiny", "--labels", " , ", str(img)])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "no labels" in bad.stderr
