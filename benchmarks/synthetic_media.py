"""A throwaway corpus for throughput runs when the user names none:
JPEG photos, long stereo WAV clips and caption-like sentences, sized like
real inputs so decoding costs what it costs on real data (the point of a
pipeline-vs-forward comparison), written as an indexer JSONL manifest."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

WORDS = ("a red car parked near the old stone bridge at night while a dog barks loudly "
         "two children play football on green grass beside the river under a cloudy sky "
         "an orchestra tunes violins before the concert begins in the crowded hall").split()
SIZES = [(640, 480), (800, 600), (1024, 768), (480, 640)]


def make_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` JPEG photos of 480-1024 px: random crops/flips of the sample
    photos scikit-learn ships when it is installed, else smooth synthetic
    scenes."""
    from PIL import Image, ImageOps

    rng = random.Random(seed)
    sources = _sample_photos()
    paths = []
    for i in range(n):
        w, h = rng.choice(SIZES)
        if sources:
            src = rng.choice(sources)
            x0, y0 = rng.randint(0, src.width // 4), rng.randint(0, src.height // 4)
            im = src.crop((x0, y0, x0 + src.width * 3 // 4, y0 + src.height * 3 // 4)).resize((w, h))
            if rng.random() < 0.5:
                im = ImageOps.mirror(im)
        else:
            yy, xx = np.mgrid[0:h, 0:w]
            arr = np.stack([(xx * (i + 1)) % 256, (yy * 3) % 256, ((xx + yy) // 2) % 256], -1)
            im = Image.fromarray(arr.astype(np.uint8))
        p = folder / f"img{i:04d}.jpg"
        im.save(p, "JPEG", quality=90)
        paths.append(p)
    return paths


def _sample_photos() -> list:
    try:
        import sklearn
        from PIL import Image
    except ImportError:
        return []
    d = Path(sklearn.__file__).parent / "datasets" / "images"
    return [Image.open(p).convert("RGB") for p in sorted(d.glob("*.jpg"))]


def make_clips(folder: Path, n: int, seconds: float = 10.0, rate: int = 44100, seed: int = 0) -> list[Path]:
    """`n` stereo 44.1 kHz 16-bit WAV clips of tones + noise: like real
    recordings they need resampling, down-mixing and several windows each."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for i in range(n):
        f0 = rng.uniform(100, 2000)
        wav = 0.3 * np.sin(2 * np.pi * f0 * t) * (1 + np.sin(2 * np.pi * rng.uniform(0.2, 3) * t)) / 2
        wav = wav + 0.05 * rng.standard_normal(len(t))
        stereo = np.stack([wav, np.roll(wav, 100)], 1).astype(np.float32)
        p = folder / f"clip{i:03d}.wav"
        sf.write(p, stereo, rate, subtype="PCM_16")
        paths.append(p)
    return paths


def make_texts(n: int, seed: int = 0) -> list[str]:
    """`n` caption-like sentences of 6-20 words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20))) for _ in range(n)]


def write_corpus(folder: Path, images: int, clips: int, texts: int, clip_seconds: float = 10.0) -> Path:
    """All three kinds into `folder`; returns the JSONL manifest naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": p.stem, "path": p.name, "modality": "image"} for p in make_images(folder, images)]
    rows += [{"id": p.stem, "path": p.name, "modality": "audio"}
             for p in make_clips(folder, clips, seconds=clip_seconds)]
    rows += [{"id": f"text{i:04d}", "text": t} for i, t in enumerate(make_texts(texts))]
    manifest = folder / "corpus.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest
