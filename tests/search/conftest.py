"""Fixtures shared by the search tests: the `tiny` encoder stack (loaded
once per session) and a small real index of synthetic images, sounds and
texts built with it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image, ImageDraw


COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220),
           "yellow": (240, 220, 40), "black": (10, 10, 10), "white": (245, 245, 245)}
TONES = {"low": 220.0, "mid": 440.0, "high": 880.0, "chirp": 0.0}
TEXTS = ["a red square on white", "a calm low hum", "birds singing at dawn",
         "a blue circle", "a loud high beep", "green field under a yellow sun"]


@pytest.fixture(scope="session")
def tiny_stack():
    from xmodal.alignment import load_encoder

    return load_encoder("tiny")


def make_corpus(root: Path) -> Path:
    """Write a clip-retrieval style folder: media + .txt caption + .json
    metadata sidecars, and lone .txt files as text items."""
    for sub in ("img", "snd", "txt"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, rgb in COLOURS.items():
        img = Image.new("RGB", (96, 72), (250, 250, 250))
        ImageDraw.Draw(img).ellipse((10, 8, 86, 64), fill=rgb)
        img.save(root / "img" / f"{name}.png")
        (root / "img" / f"{name}.txt").write_text(f"a {name} circle")
        (root / "img" / f"{name}.json").write_text(json.dumps({"colour": name, "license": "cc0"}))
    rate = 16000
    t = np.arange(rate) / rate
    for name, freq in TONES.items():
        wave = np.sin(2 * np.pi * (freq or 200 + 600 * t) * t) * 0.3
        sf.write(root / "snd" / f"{name}.wav", wave.astype(np.float32), rate)
        (root / "snd" / f"{name}.txt").write_text(f"a {name} tone")
        (root / "snd" / f"{name}.json").write_text(json.dumps({"license": "by"}))
    for i, text in enumerate(TEXTS):
        (root / "txt" / f"{i}.txt").write_text(text)
    return root


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory, tiny_stack):
    """(index path, corpus root) of a small index built from a synthetic
    folder corpus by the indexer's real build, with the `tiny` encoder."""
    from xmodal.indexer.build import BuildConfig, build

    base = tmp_path_factory.mktemp("tiny")
    root = make_corpus(base / "corpus")
    out = base / "tiny.xmodal"
    build(BuildConfig(corpus=[str(root)], out=str(out), model="tiny", factory="Flat",
                      tune_queries=50, workers=1), stack=tiny_stack, progress=False)
    return out, root
