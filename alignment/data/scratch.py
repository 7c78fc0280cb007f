"""The `scratch` corpus: Scratch 1.4's media library, captioned from names.

Package `scratch` ships cartoon sprites (`Media/Costumes/<category>/`),
stage backdrops (`Media/Backgrounds/<category>/`) and sounds
(`Media/Sounds/<category>/`), each file named after what it shows or
sounds like ("dog1-a.png", "HorseGallop.wav"). Captions come from the name
and the category folder. Letter glyph costumes (`Costumes/Letters`) and the
`.sprite` project objects are left out. Frames of one sprite ("cat1-a",
"cat1-b") and numbered variants share a caption group, so they never
straddle splits.
"""
from __future__ import annotations

from pathlib import Path

from .base import Built, Log
from .debian import fetch_package
from .gm import article
from .images import inspect_image
from .names import words_of
from .pairs import Pair, group_key
from .sounds import check_audio

MEDIA = "usr/share/scratch/Media"
IMAGE_EXT = (".png", ".gif", ".jpg", ".jpeg")
SOUND_EXT = (".wav", ".mp3")
SKIP_DIRS = ("Letters",)
# what a sprite of each costume folder is, for names that say little ("gobo1")
KIND = {"Animals": "animal", "Fantasy": "fantasy character", "People": "person",
        "Things": "object", "Transportation": "vehicle"}


def image_captions(words: str, kind: str, backdrop: bool) -> list[str]:
    """Captions of one costume or backdrop."""
    if backdrop:
        return [f"a picture of {article(words)}" if words else "a background scene",
                f"{words}, {kind} scene" if words else f"{kind} scene"]
    out = [article(words), f"a cartoon {words}", f"a drawing of {article(words)}, {article(kind)}"]
    return [c for c in out if c.strip()]


def sound_captions(words: str, category: str) -> list[str]:
    """Captions of one sound; vocal clips are sung or spoken phrases."""
    cat = category.lower()
    if cat == "vocals":
        return [f'a voice singing "{words}"', f"{words}, a vocal sound"]
    if cat == "music loops":
        return [f"a {words} music loop", f"{words} music"]
    return [article(f"{words} sound"), f"the sound of {article(words)}", f"{words}, {cat} sound"]


def build(root: Path, log: Log = print) -> Built:
    """Download and unpack Scratch, then caption its media library."""
    pkg = fetch_package("scratch", root, log=log)
    return build_from_dir(pkg / MEDIA)


def build_from_dir(media: Path) -> Built:
    """Items for every costume, backdrop and sound under `media`."""
    out = Built()
    for sub, backdrop in (("Costumes", False), ("Backgrounds", True)):
        for f in sorted(p for p in (media / sub).rglob("*") if p.suffix.lower() in IMAGE_EXT):
            category = f.parent.name
            if any(part in SKIP_DIRS for part in f.relative_to(media).parts):
                continue
            words = words_of(f.stem)
            kind = KIND.get(category, category.lower())
            info = out.checked(f, inspect_image)
            if info is None:
                continue
            rel = f.relative_to(media).with_suffix("")
            out.pairs.append(Pair(id=f"scratch/{rel.as_posix()}", modality="image", path=str(f.resolve()),
                                  captions=image_captions(words or kind, kind, backdrop),
                                  group=group_key(f"{sub} {words or f.stem}"),
                                  metadata={"category": category, "width": info.width, "height": info.height}))
    for f in sorted(p for p in (media / "Sounds").rglob("*") if p.suffix.lower() in SOUND_EXT):
        words = words_of(f.stem)
        info = out.checked(f, check_audio)
        if info is None:
            continue
        rel = f.relative_to(media).with_suffix("")
        out.pairs.append(Pair(id=f"scratch/{rel.as_posix()}", modality="audio", path=str(f.resolve()),
                              captions=sound_captions(words or f.stem.lower(), f.parent.name),
                              group=group_key(f"sound {words or f.stem}"),
                              metadata={"category": f.parent.name, **info}))
    return out
