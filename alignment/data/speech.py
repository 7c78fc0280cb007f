"""The `speech` corpus: spoken captions.

Two sources, both captioned by the words spoken:
- espeak-ng renderings of the Tux Paint stamp descriptions, each spoken by
  `RENDITIONS` voice/speed variants chosen deterministically from the text;
- Tux Paint's own recorded English descriptions (NAME_desc.ogg/.wav).
The group is the same normalised caption group the tuxpaint corpus uses, so
a description and all its spoken versions land in the same split in both
corpora.
"""
from __future__ import annotations

import hashlib
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..core.atomic import atomic_path
from ..core.errors import BadInput
from .base import Built, Log
from .debian import require_tool
from .pairs import Pair, group_key
from .sounds import check_audio
from .tuxpaint import sound_effect

VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-us+f3", "en-gb+f2", "en-us+m3",
          "en-gb-x-rp+f4"]
SPEEDS = [130, 155, 180]
RENDITIONS = 2


def voice_plan(text: str, k: int) -> tuple[str, int]:
    """Deterministic (voice, words-per-minute) for rendition `k` of `text`."""
    h = int.from_bytes(hashlib.sha256(f"{k}\x00{text}".encode()).digest()[:8], "big")
    return VOICES[h % len(VOICES)], SPEEDS[(h // len(VOICES)) % len(SPEEDS)]


def espeak_bin() -> str:
    return require_tool("espeak-ng", "the speech corpus speaks captions with it")


def speak(text: str, voice: str, speed: int, dest: Path) -> Path:
    """Render `text` to `dest` (wav) with espeak-ng; text goes via stdin."""
    if dest.exists():
        return dest
    with atomic_path(dest) as tmp:
        proc = subprocess.run([espeak_bin(), "-v", voice, "-s", str(speed), "-w", str(tmp),
                               "--stdin"], input=text, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size <= 44:
            raise BadInput(text[:60], f"espeak-ng produced no audio ({proc.stderr.strip()[-120:]})")
    return dest


def spoken_captions(text: str) -> list[str]:
    """The words spoken, then a description of the recording."""
    words = text.rstrip(".")
    return [words, f'a voice saying "{words}"']


def build(root: Path, log: Log = print, cache=None) -> Built:
    """Speak the tuxpaint descriptions and collect Tux Paint's recordings."""
    from .corpora import fetch, load_corpus

    fetch("tuxpaint", cache, log=log)
    tux = load_corpus("tuxpaint", cache=cache)
    # Same split group as the stamp (after near-duplicate merging), so a
    # description is in one split across both corpora.
    groups = {p.metadata["description"]: p.group for p in tux if p.metadata.get("description")}
    texts = sorted(groups)
    out = Built(notes={"espeak_texts": len(texts), "renditions": RENDITIONS})
    out.pairs.extend(synthesise(texts, root / "espeak", out, log, groups=groups))
    out.pairs.extend(recorded_descriptions(tux, out))
    return out


def synthesise(texts: list[str], dest: Path, out: Built, log: Log = print,
               workers: int = 2, groups: dict[str, str] | None = None) -> list[Pair]:
    """espeak-ng renditions of `texts` under `dest`; `groups` maps a text to
    its split group (default: the text's caption group)."""
    groups = groups or {}
    espeak_bin()
    dest.mkdir(parents=True, exist_ok=True)
    jobs = [(t, k, *voice_plan(t, k)) for t in texts for k in range(RENDITIONS)]

    def one(job):
        text, k, voice, speed = job
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        try:
            wav = speak(text, voice, speed, dest / f"{key}-{k}.wav")
            info = check_audio(wav)
        except BadInput as exc:
            out.skip(f"espeak:{text[:60]}", exc.reason)
            return None
        return Pair(id=f"speech/espeak/{key}-{k}", modality="audio", path=str(wav.resolve()),
                    captions=spoken_captions(text),
                    group=groups.get(text) or group_key(text) or text.lower(),
                    metadata={"source": "espeak-ng", "text": text, "voice": voice,
                              "speed_wpm": speed, **info})

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = [p for p in pool.map(one, jobs) if p is not None]
    log(f"speech: {len(done)}/{len(jobs)} espeak-ng renditions")
    return done


def recorded_descriptions(tux: list[Pair], out: Built) -> list[Pair]:
    """Tux Paint's recorded English descriptions NAME_desc.ogg/.wav."""
    pairs = []
    seen = set()
    for p in tux:
        if p.modality != "image":
            continue
        stem = Path(p.metadata.get("rasterised_from") or p.path)
        # one recording per stamp (an .ogg and a .wav of it would share an id)
        rec = sound_effect(stem.with_name(stem.stem + "_desc"))
        if rec is None or rec in seen:
            continue
        seen.add(rec)
        try:
            info = check_audio(rec)
        except BadInput as exc:
            out.skip(str(rec), exc.reason)
            continue
        text = p.metadata["description"]
        pairs.append(Pair(id=f"speech/recorded/{p.metadata['stamp'].split('/', 1)[1]}",
                          modality="audio", path=str(rec.resolve()),
                          captions=spoken_captions(text), group=p.group,
                          metadata={"source": "tuxpaint recording", "text": text,
                                    "stamp": p.metadata["stamp"], **info}))
    return pairs
