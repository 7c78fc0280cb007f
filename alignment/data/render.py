"""Rendering planned instrument clips with the fluidsynth binary.

Clips are rendered in batches (one GM family per MIDI file, one clip per
4-second slot, all sound cut off between slots) so the 140 MB soundfont is
loaded 17 times instead of 400; each batch is then sliced into 3-second
16 kHz mono wav files. A batch whose clips all exist is not rendered again.
"""
from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from ..core.atomic import atomic_path
from ..core.errors import XmodalError
from .base import Built, Log
from .debian import require_tool
from .instruments import CLIP_SECONDS, SAMPLE_RATE, SLOT_SECONDS, ClipPlan, schedule
from .midi import TICKS_PER_BEAT, Track, write_midi

SYSTEM_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SILENCE_PEAK = 1e-3
_TICKS_PER_S = TICKS_PER_BEAT * 2  # MIDI tempo fixed at 120 bpm: 960 ticks per second


def find_soundfont(root: Path, log: Log = print) -> Path:
    """FluidR3_GM.sf2 from the `fluid-soundfont-gm` package (downloaded into
    the cache), or the system copy when apt is unavailable."""
    from .debian import fetch_package

    try:
        pkg = fetch_package("fluid-soundfont-gm", root, log=log)
        hits = sorted(pkg.rglob("FluidR3_GM.sf2"))
        if hits:
            return hits[0]
        raise XmodalError("fluid-soundfont-gm: package holds no FluidR3_GM.sf2")
    except XmodalError as exc:
        if SYSTEM_SF2.exists():
            log(f"{exc}; using the installed {SYSTEM_SF2}")
            return SYSTEM_SF2
        raise


def fluidsynth_bin() -> str:
    return require_tool("fluidsynth", "the instruments corpus renders clips with it")


def batch_midi(plans: list[ClipPlan]) -> Track:
    """One track holding each plan in its own slot, silenced at slot end."""
    track = Track()
    track.tempo(0, 120.0)
    for i, plan in enumerate(plans):
        start = i * SLOT_SECONDS
        schedule(plan, track, start, _TICKS_PER_S)
        end = int(round((start + CLIP_SECONDS - 0.05) * _TICKS_PER_S))
        for ch in (0, 9):
            track.control(end, ch, 120, 0)   # all sound off
            track.control(end, ch, 123, 0)   # all notes off
    track.control(int(round(len(plans) * SLOT_SECONDS * _TICKS_PER_S)), 0, 121, 0)
    return track


def render_midi(mid: Path, wav: Path, sf2: Path, sample_rate: int = SAMPLE_RATE) -> None:
    """`fluidsynth -ni -F wav -r SR SF2 mid`, reverb and chorus off."""
    cmd = [fluidsynth_bin(), "-ni", "-R", "0", "-C", "0", "-g", "1.0", "-F", str(wav),
           "-r", str(sample_rate), str(sf2), str(mid)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not wav.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise XmodalError(f"{mid.name}: fluidsynth failed: {tail[0]}")


def slice_batch(wav: Path, plans: list[ClipPlan], clips: Path, out: Built,
                sample_rate: int = SAMPLE_RATE) -> dict[str, Path]:
    """Cut the batch render into one mono clip per plan; silent clips are skipped."""
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise XmodalError(f"{wav.name}: rendered at {sr} Hz, expected {sample_rate}")
    mono = audio.mean(axis=1)
    n = int(round(CLIP_SECONDS * sr))
    done = {}
    for i, plan in enumerate(plans):
        a = int(round(i * SLOT_SECONDS * sr))
        clip = mono[a:a + n]
        if len(clip) < n:
            clip = np.pad(clip, (0, n - len(clip)))
        peak = float(np.abs(clip).max()) if len(clip) else 0.0
        if peak < SILENCE_PEAK:
            out.skip(plan.id, f"rendered silent (peak {peak:.1e}); the soundfont has no "
                              "audible sample for these parameters")
            continue
        dest = clips / f"{plan.id.split('/', 1)[1]}.wav"
        with atomic_path(dest, suffix=".wav") as tmp:  # soundfile picks the format by extension
            sf.write(str(tmp), np.clip(clip, -1.0, 1.0), sr, subtype="PCM_16")
        done[plan.id] = dest
    return done


def render_batches(plans: list[ClipPlan], root: Path, sf2: Path, out: Built,
                   log: Log = print, workers: int = 2) -> dict[str, Path]:
    """Render all plans (batched by family); return {plan id: wav path}."""
    clips = Path(root) / "clips"
    work = Path(root) / "render"
    clips.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    batches: dict[str, list[ClipPlan]] = {}
    for p in plans:
        batches.setdefault(p.family.replace(" ", "_"), []).append(p)
    fluidsynth_bin()
    result: dict[str, Path] = {}

    def one(item: tuple[str, list[ClipPlan]]) -> dict[str, Path]:
        name, group = item
        existing = {p.id: clips / f"{p.id.split('/', 1)[1]}.wav" for p in group}
        if all(w.exists() for w in existing.values()):
            return existing
        mid, wav = work / f"{name}.mid", work / f"{name}.wav"
        write_midi(mid, batch_midi(group))
        render_midi(mid, wav, sf2)
        got = slice_batch(wav, group, clips, out)
        wav.unlink(missing_ok=True)
        log(f"instruments: rendered {len(got)}/{len(group)} clips of {name}")
        return got

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for got in pool.map(one, sorted(batches.items())):
            result.update(got)
    return result
