"""The `art4apps` corpus: Art4Apps vocabulary pictures, as shipped by pysiogame.

Package `pysiogame` (an educational game) carries the Art4Apps picture
dictionary under `res/images/art4apps/<topic>/<word>.jpg`: one drawing per
word ("animals/giraffe.jpg", "actions/climb.jpg"). Captions come from the
word and its topic; each word is its own caption group.
"""
from __future__ import annotations

from pathlib import Path

from .base import Built, Log
from .debian import fetch_package
from .gm import article
from .images import inspect_image
from .names import words_of
from .pairs import Pair, group_key

PICTURES = "usr/share/games/pysiogame/res/images/art4apps"
TOPIC = {"actions": "an action", "body": "a part of the body", "clothes_n_accessories": "clothing",
         "construction": "construction", "fruit_n_veg": "fruit and vegetables", "jobs": "a job",
         "transport": "transport"}


def captions_for(word: str, topic: str) -> list[str]:
    """Captions of one picture ('giraffe', 'animals')."""
    about = TOPIC.get(topic, topic.replace("_n_", " and ").replace("_", " "))
    if topic == "actions":
        return [f"a picture of someone who can {word}", f"{word}, an action", f"to {word}"]
    return [f"a picture of {article(word)}", f"{word}, {about}", f"a drawing of {article(word)}"]


def build(root: Path, log: Log = print) -> Built:
    """Download and unpack pysiogame, then caption its Art4Apps pictures."""
    pkg = fetch_package("pysiogame", root, log=log)
    return build_from_dir(pkg / PICTURES)


def build_from_dir(pictures: Path) -> Built:
    out = Built()
    for f in sorted(p for p in pictures.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        topic, word = f.parent.name, words_of(f.stem) or f.stem.replace("_", " ")
        info = out.checked(f, inspect_image)
        if info is None:
            continue
        out.pairs.append(Pair(id=f"art4apps/{topic}/{f.stem}", modality="image", path=str(f.resolve()),
                              captions=captions_for(word, topic), group=group_key(word),
                              metadata={"topic": topic, "width": info.width, "height": info.height}))
    return out
