"""Adapters for the offline corpora built by the alignment package
(openclipart, tuxpaint, instruments, emoji, ...): their held-out splits through
`xmodal.alignment.data.load_corpus(name, split)`."""
from __future__ import annotations

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
    pairs = load_corpus(name, split)
    items: list[EvalItem] = []
    skipped: list[tuple[str, str]] = []
    for pair in pairs:
        modality = getattr(pair, "modality", None)
        if modality not in MEDIA:
            continue
        path = str(getattr(pair, "path", "") or "")
        if not path or not Path(path).is_file():
            skipped.append((str(pair.id), f"{modality} file not found: {path or '(none)'}"))
            continue
        caps = clean_captions(str(pair.id), list(getattr(pair, "captions", None) or []), skipped)
        group = getattr(pair, "group", None)
        meta = dict(getattr(pair, "metadata", None) or {})
        items.append(EvalItem(str(pair.id), modality, path, caps,
                              str(group) if group not in (None, "") else None, meta))
    if not items:
        raise BadInput(f"corpus {name} split {split}", "has no usable media items",
                       "build it first: xmodal data --help")
    return EvalSet(name, split, items, skipped, source=f"xmodal.alignment.data:{name}")
