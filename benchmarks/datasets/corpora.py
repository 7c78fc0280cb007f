"""Adapters for the offline corpora built by the alignment package
(openclipart, tuxpaint, instruments, emoji, ...): their held-out splits through
`xmodal.alignment.data.load_corpus(name, split)`."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from xmodal.alignment.core.errors import BadInput, XmodalError

from .base import MEDIA, EvalItem, EvalSet, clean_captions

OFFLINE_CORPORA = ("openclipart", "tuxpaint", "instruments", "emoji")


def load_offline_corpus(name: str, split: str = "test") -> EvalSet:
    """The `split` of an offline corpus as an EvalSet.

    Pairs whose media file is missing are skipped and reported; text-only
    pairs are ignored (the captions of media items are the text side)."""
    try:
        from xmodal.alignment.data import load_corpus
    except ImportError as exc:
        raise XmodalError(f"offline corpus {name}: xmodal.alignment.data is unavailable ({exc})") from None
    items: list[EvalItem] = []
    skipped: list[tuple[str, str]] = []
    for pair in load_corpus(name, split):  # corpus pairs are evaluation items as they are
        if pair.modality not in MEDIA:
            continue
        if not pair.path or not Path(pair.path).is_file():
            skipped.append((pair.id, f"{pair.modality} file not found: {pair.path or '(none)'}"))
            continue
        items.append(replace(pair, captions=clean_captions(pair.id, pair.captions, skipped)))
    if not items:
        raise BadInput(f"corpus {name} split {split}", "has no usable media items",
                       "build it first: xmodal data --help")
    return EvalSet(name, split, items, skipped, source=f"xmodal.alignment.data:{name}")
