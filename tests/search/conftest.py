"""Fixtures shared by the search tests: the `tiny` encoder stack (loaded
once per session) and a small real index of synthetic images, sounds and
texts embedded with it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image, ImageDraw

from search_index import build_from_vectors

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220),
           "yellow": (240, 220, 40), "black": (10, 10, 10), "white": (245, 245, 245)}
TONES = {"low": 220.0, "mid": 440.0, "high": 880.0, "chirp": 0.0}
TEXTS = ["a red square on white", "a calm low hum", "birds singing at dawn",
         "a blue circle", "a loud high beep", "green field under a yellow sun"]


@pytest.fixture(scope="session")
def tiny_stack():
    from xmodal.alignment import load_encoder

    return load_encoder("tiny")


def make_corpus(root: Path) -> list[dict]:
    """Write synthetic media; return item dicts (id, modality, uri|text, captions)."""
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for name, rgb in COLOURS.items():
        img = Image.new("RGB", (96, 72), (250, 250, 250))
        ImageDraw.Draw(img).ellipse((10, 8, 86, 64), fill=rgb)
        path = root / f"{name}.png"
        img.save(path)
        items.append({"id": f"img/{name}", "modality": "image", "uri": str(path),
                      "captions": [f"a {name} circle"], "metadata": {"colour": name, "license": "cc0"}})
    rate = 16000
    t = np.arange(int(rate * 1.0)) / rate
    for name, freq in TONES.items():
        wave = np.sin(2 * np.pi * (freq or 200 + 600 * t) * t) * 0.3
        path = root / f"{name}.wav"
        sf.write(path, wave.astype(np.float32), rate)
        items.append({"id": f"snd/{name}", "modality": "audio", "uri": str(path),
                      "captions": [f"a {name} tone"], "metadata": {"license": "by"}})
    for i, text in enumerate(TEXTS):
        items.append({"id": f"txt/{i}", "modality": "text", "text": text, "captions": [],
                      "metadata": {"license": "cc0"}})
    return items


def embed_rows(stack, items):
    """Embed items + captions with `stack` -> (ShardRows, vectors)."""
    from xmodal.indexer.shards import ShardRow

    rows, vecs = [], []
    for it in items:
        source = it.get("uri") or it.get("text")
        vec = {"image": stack.encode_images, "audio": stack.encode_audio,
               "text": stack.encode_text}[it["modality"]]([source])[0]
        rows.append(ShardRow(it["id"], it["modality"], "item", None, it.get("uri"), it.get("text"),
                             dict(it["metadata"])))
        vecs.append(vec)
        for j, cap in enumerate(it["captions"]):
            rows.append(ShardRow(f"{it['id']}#caption{j}", "text", "caption", it["id"], None, cap,
                                 dict(it["metadata"])))
            vecs.append(stack.encode_text([cap])[0])
    return rows, np.stack(vecs)


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory, tiny_stack):
    """(index path, corpus root, items) of a small `tiny`-encoded index."""
    base = tmp_path_factory.mktemp("tiny")
    items = make_corpus(base / "corpus")
    rows, vecs = embed_rows(tiny_stack, items)
    path = build_from_vectors(base / "tiny.xmodal", rows, vecs, spec=tiny_stack.spec,
                              fingerprint=tiny_stack.fingerprint)
    return path, base / "corpus", items
