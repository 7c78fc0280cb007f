"""Synthetic paired features with planted structure, for tests and demos.

Every item has a latent vector z; each modality sees it through its own
fixed random map (plus a mild nonlinearity) and per-row noise. The right
alignment is therefore known to exist, while the raw feature spaces are
unrelated (random maps, different dims), so untrained recall is at chance.
"""
from __future__ import annotations

import numpy as np
import torch

from xmodal.alignment.train.model import Rows, SplitData


def make_maps(dims: dict[str, int], latent: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {m: rng.normal(size=(latent, d)) / np.sqrt(latent) for m, d in sorted(dims.items())}


def synthetic_split(
    n_items: int,
    dims: dict[str, int] | None = None,
    latent: int = 8,
    captions: int = 2,
    noise: float = 0.1,
    seed: int = 0,
    map_seed: int = 1234,
    prefix: str = "item",
    maps: dict[str, np.ndarray] | None = None,
) -> SplitData:
    """`n_items` items with text (several captions) and the other modalities
    in `dims` (default text 24-d, image 40-d). Same `map_seed` = same
    feature spaces, so different `seed`s give train/val/test of one task."""
    dims = dims or {"text": 24, "image": 40}
    maps = maps or make_maps(dims, latent, map_seed)
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_items, latent))
    rows = {}
    for m, w in maps.items():
        reps = captions if m == "text" else 1
        item = np.repeat(np.arange(n_items), reps)
        x = np.tanh(z[item] @ w) + noise * rng.normal(size=(len(item), w.shape[1]))
        rows[m] = Rows(item=torch.as_tensor(item), feats=torch.as_tensor(x, dtype=torch.float32))
    ids = [f"{prefix}{seed}-{i}" for i in range(n_items)]
    return SplitData(ids=ids, groups=np.asarray(ids), rows=rows)


COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30),
           "purple": (150, 40, 180), "orange": (240, 140, 20), "black": (10, 10, 10), "white": (245, 245, 245)}


def write_synthetic_files(out_dir, n_items: int = 24, seed: int = 0, audio: bool = True,
                          split_of=None) -> str:
    """Tiny PNGs (a coloured square), WAV tones (pitch by colour) and
    captions naming the colour, plus `pairs.jsonl`; returns its path.
    `split_of(i)` may give each item's split (default: hashed by group)."""
    import json
    from pathlib import Path

    import soundfile as sf
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    lines = []
    for i in range(n_items):
        colour = names[i % len(names)]
        rgb = np.clip(np.asarray(COLOURS[colour]) + rng.normal(0, 8, 3), 0, 255)
        img = np.full((32, 32, 3), rgb, dtype=np.uint8)
        Image.fromarray(img).save(out / f"img{i}.png")
        rec = {"id": f"s{i}", "captions": [f"a {colour} square", f"something {colour}"], "image": f"img{i}.png",
               "group": f"{colour}-{i}"}
        if audio:
            t = np.arange(8000) / 16000
            freq = 220 * 2 ** (names.index(colour) / 2)
            wav = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.normal(size=t.shape)
            sf.write(out / f"snd{i}.wav", wav.astype(np.float32), 16000)
            rec["audio"] = f"snd{i}.wav"
        if split_of is not None:
            rec["split"] = split_of(i)
        lines.append(json.dumps(rec))
    path = out / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)
