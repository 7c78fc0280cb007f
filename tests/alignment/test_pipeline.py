"""The decoding pipeline: worker processes give the same vectors as threads
and the inline path, keep input order, report bad items, and survive a
decoder that kills its worker (only that item is lost)."""
import os

import numpy as np
import pytest
from PIL import Image

from xmodal.alignment import load_encoder, pipeline


@pytest.fixture(scope="module")
def stack():
    return load_encoder("tiny", backend="torch")


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(23):
        p = tmp_path / f"im{i}.png"
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def test_processes_threads_and_inline_agree(stack, images, monkeypatch):
    items = images[:10] + [str(images[0]) + ".missing", b"not an image"] + images[10:]
    enc = stack.encoder("image")
    assert pipeline.decode_mode(enc) == "processes"
    pipeline.close_pools()
    got = {}
    for mode in ("processes", "threads", "inline"):
        monkeypatch.setattr(enc, "decode_in", mode, raising=False)
        got[mode] = stack.embed("image", items, batch_size=4, workers=2)
    ref = got["inline"]
    assert [e.index for e in ref.errors] == [10, 11] and len(ref.ok) == 23
    for mode in ("processes", "threads"):
        assert got[mode].ok == ref.ok and [e.line() for e in got[mode].errors] == [e.line() for e in ref.errors]
        assert np.allclose(got[mode].vectors, ref.vectors, atol=1e-6)
    assert any(held[0] is enc for held in pipeline._pools.values())  # a worker pool did decode
    pipeline.close_pools()


class Bomb:
    name = "bomb.png"


def test_a_worker_crash_loses_only_its_item(stack, images, monkeypatch):
    enc = stack.encoder("image")
    real = type(enc).prepare

    def prepare(self, item):
        if isinstance(item, Bomb):
            os._exit(3)  # what a segfaulting decoder does to its process
        return real(self, item)

    monkeypatch.setattr(type(enc), "prepare", prepare)
    pipeline.close_pools()  # fork fresh workers that see the patched prepare
    items = images[:9] + [Bomb()] + images[9:]
    res = stack.embed("image", items, batch_size=4, workers=2)
    pipeline.close_pools()
    assert len(res.ok) == 23 and [e.item for e in res.errors] == ["bomb.png"]
    assert "crashed" in res.errors[0].reason
    monkeypatch.setattr(type(enc), "prepare", real)
    clean = stack.embed("image", images, batch_size=4, workers=2)
    assert np.allclose(clean.vectors, res.vectors, atol=1e-6)
    pipeline.close_pools()


def test_texts_are_length_sorted_and_come_back_in_order(stack, monkeypatch):
    words = "a small red bird sat on the old stone wall near the river at dawn".split()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, int(rng.integers(1, 14)))) for _ in range(70)]
    texts[5] = "   "  # a bad item keeps its place in the report
    enc = stack.encoder("text")
    seen = []
    real = enc.encode
    monkeypatch.setattr(enc, "encode", lambda batch: seen.append([len(t) for t in batch]) or real(batch))
    res = stack.embed("text", texts, batch_size=16)
    assert res.ok == [i for i in range(70) if i != 5] and [e.index for e in res.errors] == [5]
    flat = [n for b in seen for n in b]
    assert flat == sorted(flat)  # batches of similar length
    one_by_one = np.concatenate([real([enc.prepare(t)]) for i, t in enumerate(texts) if i != 5])
    assert np.allclose(res.vectors, one_by_one, atol=1e-5)


def test_text_micro_batches_trim_padding_without_changing_vectors(stack, monkeypatch):
    from xmodal.alignment.backends import batching

    enc = stack.encoder("text")
    texts = [enc.prepare(" ".join(["word"] * n)) for n in (1, 30, 2, 25, 3, 3, 12, 40, 1, 7)]
    widths = []
    real = enc.run_graph
    monkeypatch.setattr(enc, "run_graph", lambda inputs: widths.append(inputs["input_ids"].shape) or real(inputs))
    monkeypatch.setattr(batching, "MICRO", {"torch": 3})
    got = enc.encode(texts)
    assert len(widths) == 4 and max(w[1] for w in widths[:2]) < widths[-1][1]
    widths.clear()
    monkeypatch.setattr(batching, "MICRO", {"torch": 100})
    whole = enc.encode(texts)
    assert len(widths) == 1
    assert np.allclose(got, whole, atol=1e-5)
