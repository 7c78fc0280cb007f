"""Evaluation datasets: standard formats users bring (Flickr30k / MSCOCO
Karpathy splits, AudioCaps, Clotho) and xmodal's offline corpora."""
from __future__ import annotations

from xmodal.alignment.core.errors import BadInput

from .audio_csv import load_audiocaps, load_clotho
from .base import EvalItem, EvalSet
from .corpora import OFFLINE_CORPORA, load_offline_corpus
from .karpathy import load_karpathy

FILE_DATASETS = ("flickr30k", "mscoco", "audiocaps", "clotho")


def dataset_names() -> list[str]:
    return [*FILE_DATASETS, *OFFLINE_CORPORA]


def load_dataset(name: str, root: str | None = None, split: str = "test") -> EvalSet:
    """Load `split` of dataset `name`; file datasets need `root`.

    Any name that is not a file dataset is tried as an offline corpus, so
    corpora added to the alignment package work without a change here."""
    key = name.strip().lower()
    if key in ("flickr30k", "mscoco"):
        return load_karpathy(key, root, split)
    if key == "coco":
        return load_karpathy("mscoco", root, split)
    if key == "audiocaps":
        return load_audiocaps(root, split)
    if key == "clotho":
        return load_clotho(root, split)
    if root is not None:
        raise BadInput(f"dataset {name}", "is not a file dataset, --root does not apply",
                       "known: " + ", ".join(dataset_names()))
    return load_offline_corpus(key, split)


__all__ = ["EvalItem", "EvalSet", "dataset_names", "load_dataset", "load_karpathy",
           "load_audiocaps", "load_clotho", "load_offline_corpus"]
