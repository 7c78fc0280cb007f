"""Tiny media writers shared by the benchmark tests (a module with a unique
name: importing from `conftest` picks whichever conftest loaded last)."""
from pathlib import Path

import numpy as np


def write_png(path: Path, seed: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, size=(24, 24, 3), dtype=np.uint8)).save(path)


def write_wav(path: Path, seed: int, seconds: float = 0.5, rate: int = 16000) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t)).astype(np.float32), rate)
