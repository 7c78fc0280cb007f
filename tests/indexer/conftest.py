"""Fixtures for indexer tests: the tiny encoder stack and a small media corpus."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer_helpers import make_images, make_tone


@pytest.fixture(scope="session")
def tiny():
    from xmodal.alignment import load_encoder

    return load_encoder("tiny")


@pytest.fixture
def media_corpus(tmp_path: Path) -> Path:
    """8 images with captions, 2 tones, one text file, one metadata sidecar."""
    root = tmp_path / "corpus"
    make_images(root, 8)
    (root / "img3.json").write_text(json.dumps({"license": "cc0", "tags": {"animal": "cat"}}))
    (root / "sounds").mkdir()
    make_tone(root / "sounds" / "a.wav", 220)
    make_tone(root / "sounds" / "b.wav", 440)
    (root / "note.txt").write_text("a short note about dogs")
    return root


