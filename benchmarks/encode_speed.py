"""Encoding throughput of a model stack: full pipeline vs bare forward pass.

For each modality it measures, in the same run:
- `pipeline_per_s`: items/s through `stack.embed` from files on disk
  (decode + preprocess in worker threads overlapped with the model), and
- `forward_per_s`: items/s of the same tower + head on pre-decoded tensors
  (pre-tokenised text, pre-transformed images, pre-computed log-mels).
Their ratio shows how close the data path gets to keeping the model busy.
On a machine with few cores, decoding competes with the model for the same
cores, so the ratio stays below 1 even with perfect overlap.

Run on demand (not a test):
    python -m xmodal.benchmarks.encode_speed --model lite --out encode-speed.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .report import environment, git_state

WORDS = ("a red car parked near the old stone bridge at night while a dog barks loudly "
         "two children play football on green grass beside the river under a cloudy sky "
         "an orchestra tunes violins before the concert begins in the crowded hall").split()


def make_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` JPEG photos (random crops/flips/sizes of real sample photos when
    scikit-learn ships them, else smooth synthetic scenes), 480-1024 px."""
    from PIL import Image, ImageOps

    rng = random.Random(seed)
    sources = _sample_photos()
    paths = []
    for i in range(n):
        w, h = rng.choice([(640, 480), (800, 600), (1024, 768), (480, 640)])
        if sources:
            src = rng.choice(sources)
            x0 = rng.randint(0, src.width // 4)
            y0 = rng.randint(0, src.height // 4)
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
    """`n` stereo 44.1 kHz WAV clips: tones + noise bursts (needs resampling,
    down-mixing and several windows each, like real recordings)."""
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


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bare_forward(encoder, prepared: list[Any], batch_size: int) -> float:
    """Seconds for tower + head on already-decoded items (text: tokenised
    beforehand, so only the network is timed)."""
    import torch

    batches = [prepared[i:i + batch_size] for i in range(0, len(prepared), batch_size)]
    if encoder.modality == "text":
        n_ctx = 0 if encoder.prompt is None else int(encoder.prompt.shape[0])
        toks = [encoder.tower.tokenize(b, n_ctx=n_ctx) for b in batches]

        def run():
            for tok in toks:
                encoder.head(encoder.tower.features(tok["input_ids"], tok["attention_mask"], prompt=encoder.prompt))
    else:
        def run():
            for b in batches:
                encoder.head(encoder.features(b))

    with torch.inference_mode():
        return _timed(run)


def measure(stack, modality: str, items: list[Any], batch_size: int, workers: int,
            rounds: int = 3) -> dict[str, Any]:
    """Pipeline and bare-forward throughput for one modality.

    The two are timed alternately for `rounds` rounds and the medians are
    reported, so that both see the same background load on a shared machine."""
    import torch

    enc = stack.encoder(modality)
    warm = items[: min(len(items), batch_size)]
    stack.embed(modality, warm, batch_size=batch_size, workers=workers)  # lazy imports, allocator warm-up
    decode_start = time.perf_counter()
    prepared = [enc.prepare(x) for x in items]
    decode_s = time.perf_counter() - decode_start
    with torch.inference_mode():
        enc.encode(prepared[:batch_size])  # warm-up for the bare path

    pipe, fwd, encoded, skipped = [], [], 0, 0
    for _ in range(rounds):
        start = time.perf_counter()
        res = stack.embed(modality, items, batch_size=batch_size, workers=workers)
        pipe.append(time.perf_counter() - start)
        encoded, skipped = len(res.ok), len(res.errors)
        fwd.append(bare_forward(enc, prepared, batch_size))
    n = len(items)
    pipe_s, fwd_s = float(np.median(pipe)), float(np.median(fwd))
    return {
        "items": n,
        "encoded": encoded,
        "skipped": skipped,
        "batch_size": batch_size,
        "rounds": rounds,
        "pipeline_s_per_round": [round(x, 3) for x in pipe],
        "forward_s_per_round": [round(x, 3) for x in fwd],
        "pipeline_per_s": round(n / pipe_s, 2),
        "forward_per_s": round(n / fwd_s, 2),
        "pipeline_vs_forward": round(fwd_s / pipe_s, 3),
        "decode_1thread_per_s": round(n / decode_s, 2),
    }


def run(model: str, n_images: int, n_clips: int, n_texts: int, batch_size: int,
        workers: int, threads: int | None, rounds: int = 3, workdir: Path | None = None) -> dict[str, Any]:
    """Generate the data, load the model, measure every modality it has."""
    import torch

    from xmodal.alignment import load_encoder

    if threads:
        torch.set_num_threads(threads)
    git = git_state()  # the code that runs, even if the tree moves during the run
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        data = {"image": [str(p) for p in make_images(folder, n_images)] if n_images else [],
                "audio": [str(p) for p in make_clips(folder, n_clips)] if n_clips else [],
                "text": make_texts(n_texts)}
        gen_s = time.perf_counter() - t0
        load_start = time.perf_counter()
        stack = load_encoder(model)
        load_s = time.perf_counter() - load_start
        out: dict[str, Any] = {
            "model": model, "dim": stack.dim, "fingerprint": stack.fingerprint, "aligned": stack.aligned,
            "load_s": round(load_s, 2), "data_generation_s": round(gen_s, 2),
            # the machine may be shared: load tells how contended the run was
            "machine": {"decode_workers": workers, "loadavg_1m_start": round(os.getloadavg()[0], 2)},
            "data": {"images": "JPEG 480-1024 px (crops of sklearn sample photos)",
                     "audio": "10 s stereo 44.1 kHz 16-bit WAV", "text": "6-20 word captions"},
            "modalities": {},
        }
        sizes = {"text": batch_size * 2, "image": batch_size, "audio": max(1, batch_size // 2)}
        for modality in ("text", "image", "audio"):
            if data[modality] and modality in stack.modalities:
                out["modalities"][modality] = measure(stack, modality, data[modality], sizes[modality], workers,
                                                       rounds)
        out["machine"].update(environment(git))  # versions, CPU, threads, load at the end; git at the start
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="lite")
    ap.add_argument("--out", type=Path, required=True, help="JSON report path")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32, help="image batch; text x2, audio /2")
    ap.add_argument("--workers", type=int, default=2, help="decoding threads")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    ap.add_argument("--rounds", type=int, default=3, help="alternating pipeline/forward timings; medians reported")
    args = ap.parse_args(argv)
    report = run(args.model, args.images, args.clips, args.texts, args.batch_size, args.workers, args.threads,
                 args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for modality, m in report["modalities"].items():
        print(f"{modality:<6} pipeline {m['pipeline_per_s']:>8.1f}/s   bare forward {m['forward_per_s']:>8.1f}/s"
              f"   ratio {m['pipeline_vs_forward']:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
