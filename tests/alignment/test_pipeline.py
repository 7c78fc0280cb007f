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
