"""The `freedesktop` corpus: desktop event sounds captioned from their names.

Package `sound-theme-freedesktop` names each sound after its event
("dialog-warning.oga"), so "dialog-warning" -> "a dialog warning sound".
The audio-channel-* files are spoken words ("front left") and are
captioned as speech.
"""
from __future__ import annotations

from pathlib import Path

from .base import Built, Log
from .debian import fetch_package
from .gm import article
from .pairs import Pair
from .sounds import check_audio

SOUNDS = "usr/share/sounds/freedesktop/stereo"


def captions_for(name: str) -> list[str]:
    """Captions from a sound-theme event name."""
    words = name.replace("-", " ").replace("_", " ").strip()
    if name.startswith("audio-channel-"):
        spoken = name[len("audio-channel-"):].replace("-", " ")
        return [f'a voice saying "{spoken}"', f"{spoken} audio channel announcement",
                article(f"{words} sound")]
    return [article(f"{words} sound"), f"the {words} event sound of a desktop computer", words]


def build(root: Path, log: Log = print) -> Built:
    """Download and unpack the sound theme, then caption every sound."""
    pkg = fetch_package("sound-theme-freedesktop", root, log=log)
    return build_from_dir(pkg / SOUNDS)


def build_from_dir(sounds: Path) -> Built:
    """Items for every .oga/.ogg/.wav under `sounds`."""
    out = Built()
    for f in sorted(p for p in sounds.rglob("*") if p.suffix in (".oga", ".ogg", ".wav")):
        name = f.name[: -len(f.suffix)]
        info = out.checked(f, check_audio)
        if info is None:
            continue
        out.pairs.append(Pair(id=f"freedesktop/{name}", modality="audio", path=str(f.resolve()),
                              captions=captions_for(name), group=name,
                              metadata={"event": name, **info}))
    return out
