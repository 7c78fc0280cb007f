"""What every evaluation dataset loader returns: an `EvalSet` of media
items (images or audio clips) with their captions, plus what was skipped.

An evaluation item is a corpus `Pair` (`xmodal.alignment.data.pairs`): one
media file, its ground-truth captions (text<->media relevance: a caption is
relevant to the item it belongs to) and its `group` (image<->audio
relevance: same non-empty group; "" = none)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.data.pairs import Pair

MEDIA = ("image", "audio")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")


EvalItem = Pair  # one gallery/query media item (modality "image" | "audio")


@dataclass
class EvalSet:
    """A dataset split ready for retrieval evaluation."""

    name: str
    split: str
    items: list[EvalItem]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    source: str = ""

    def of(self, modality: str) -> list[EvalItem]:
        return [it for it in self.items if it.modality == modality]

    @property
    def modalities(self) -> list[str]:
        return [m for m in MEDIA if any(it.modality == m for it in self.items)]

    @property
    def n_captions(self) -> int:
        return sum(len(it.captions) for it in self.items)

    def summary(self) -> dict[str, Any]:
        counts = {m: len(self.of(m)) for m in self.modalities}
        return {"name": self.name, "split": self.split, "items": counts,
                "captions": self.n_captions, "skipped": len(self.skipped), "source": self.source}


def clean_captions(item: str, raw: Iterable[Any], skipped: list[tuple[str, str]]) -> list[str]:
    """Strip captions; empty ones are reported, not evaluated."""
    out = []
    for n, cap in enumerate(raw):
        text = str(cap or "").strip()
        if text:
            out.append(text)
        else:
            skipped.append((f"{item} caption {n + 1}", "empty caption"))
    return out


def require_dir(root: str | os.PathLike | None, dataset: str) -> Path:
    if root is None:
        raise BadInput(f"dataset {dataset}", "needs --root DIR", "point it at the folder holding the dataset files")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise BadInput(str(path), "is not a directory", f"pass the {dataset} folder as --root")
    return path


def find_first(root: Path, names: Iterable[str], dataset: str) -> Path:
    """The first existing candidate file under `root`, else one clear error."""
    names = list(names)
    for name in names:
        if (root / name).is_file():
            return root / name
    raise BadInput(str(root), f"no {dataset} annotation file found",
                   "expected one of: " + ", ".join(names))


def index_files(root: Path, exts: tuple[str, ...]) -> dict[str, Path]:
    """Map file name and stem -> path for every media file under `root`
    (one directory walk instead of a stat per candidate name)."""
    found: dict[str, Path] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if f.lower().endswith(exts):
                p = Path(dirpath) / f
                found.setdefault(f, p)
                found.setdefault(p.stem, p)
    return found
