"""A 2,000-item mixed corpus for the Ray tests: images with captions, audio
clips, a tar shard, a JSONL text manifest, and broken files of each kind."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from indexer_helpers import make_images, make_tone

N_IMAGES, N_AUDIO, N_TAR, N_BROKEN = 160, 24, 40, 6


def make_mixed_corpus(root: Path, total: int = 2000) -> tuple[list[str], int]:
    """Write the corpus under `root`; -> (corpus paths, broken item count).

    `total` items in all (broken ones included): images + captions in a
    folder, tones, PNGs inside a tar shard, the rest texts in a manifest."""
    folder = root / "media"
    make_images(folder, N_IMAGES)
    (folder / "sounds").mkdir()
    for i in range(N_AUDIO):
        make_tone(folder / "sounds" / f"tone{i}.wav", 110 + 37 * i, seconds=0.3)
    (folder / "zero.png").write_bytes(b"")
    (folder / "junk.jpg").write_bytes(b"\x00\x01 not a jpeg")
    (folder / "cut.png").write_bytes((folder / "img0.png").read_bytes()[:60])
    (folder / "blank.txt").write_text("\n \n")  # an empty text item
    rng = np.random.default_rng(7)
    with tarfile.open(root / "shard.tar", "w") as tar:
        for i in range(N_TAR):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(buf, "PNG")
            _add(tar, f"t{i:03d}.png", buf.getvalue())
            _add(tar, f"t{i:03d}.txt", f"tar picture {i}".encode())
        _add(tar, "t999.png", b"\x89PNG broken")
    n_text = total - N_IMAGES - N_AUDIO - N_TAR - N_BROKEN
    words = ["red", "river", "stone", "quiet", "engine", "winter", "garden", "signal", "paper", "light"]
    lines = [json.dumps({"id": f"txt{i}", "text": " ".join(rng.choice(words, 6)) + f" {i}"})
             for i in range(n_text)]
    lines.append("{not json")
    (root / "texts.jsonl").write_text("\n".join(lines) + "\n")
    return [str(folder), str(root / "shard.tar"), str(root / "texts.jsonl")], N_BROKEN


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
