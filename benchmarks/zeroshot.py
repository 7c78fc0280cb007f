"""`xmodal bench zeroshot`: zero-shot classification of an offline corpus's
held-out split by the categories it carries (Tux Paint and openclipart
category paths, the GM instrument families of the instrument clips).

The label space is every class the corpus has in any split (what a user
would give as labels); the items scored are one split (default `test`,
held out from alignment training). Prompts, prototypes and metrics come
from `xmodal.alignment.zeroshot`; several template variants are scored on
the same media vectors, so the template ablation costs only text encodes.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.core.protocols import Embedder
from xmodal.alignment.zeroshot import DEFAULT_TEMPLATES, build_classifier, classification_metrics

from .datasets.corpora import load_offline_corpus

Log = Callable[[str], None]
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ClassSource:
    """Which metadata field names an item's class, and how deep a category
    path ('animals/birds') is cut (0 = the whole path)."""

    key: str
    path: bool = False
    exclude: tuple[str, ...] = ()


# What each corpus carries as a class. Emoji annotations (CLDR names and
# keywords) hold no emoji group, so emoji has no entry yet.
CLASS_SOURCES = {
    "tuxpaint": ClassSource("category", path=True),
    "openclipart": ClassSource("category", path=True, exclude=("unsorted",)),
    "instruments": ClassSource("family"),
}


def class_of(metadata: dict[str, Any], src: ClassSource, depth: int) -> str | None:
    """The class name of one item, or None when it has none (or an excluded one)."""
    value = metadata.get(src.key)
    if not isinstance(value, str) or not value.strip():
        return None
    if src.path:
        parts = [p for p in value.split("/") if p]
        value = "/".join(parts[:depth] if depth > 0 else parts)
    return None if value in src.exclude else value


def label_text(cls: str) -> str:
    """What a class is called in prompts: its last path part, words spaced
    ('signs_and_symbols' -> 'signs and symbols')."""
    return cls.rsplit("/", 1)[-1].replace("_", " ").replace("-", " ").strip()


@dataclass
class Variant:
    """One prompt variant scored on the same media vectors."""

    templates: str
    article: bool
    top1: float = 0.0
    top5: float = 0.0
    mean_per_class_recall: float = 0.0
    macro_f1: float = 0.0


@dataclass
class ZeroShotResult:
    dataset: str
    split: str
    model: str
    modality: str
    class_key: str
    depth: int
    n_items: int
    classes: list[str]
    label_texts: list[str]
    templates: str                       # the headline variant (the CLI's default)
    article: bool
    metrics: dict[str, Any]              # ClassificationMetrics of the headline variant
    variants: list[Variant] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    encode_seconds: float = 0.0


def _variants(modality: str, templates: str | None) -> list[tuple[str, bool]]:
    head = templates or DEFAULT_TEMPLATES[modality]
    single = "picture" if modality == "image" else "sound"
    out = [(head, True), ("none", False), (single, True), (head, False)]
    return list(dict.fromkeys(out))


def run_zeroshot(stack: Embedder, model: str, dataset: str, split: str = "test", depth: int = 1,
                 templates: str | None = None, modalities: tuple[str, ...] = (),
                 log: Log = lambda s: None) -> list[ZeroShotResult]:
    """Classify `split` of `dataset` among all its classes, one result per
    media modality it holds (or `modalities`); in each, the first variant
    (the modality's default templates, with articles) is the headline."""
    src = CLASS_SOURCES.get(dataset)
    if src is None:
        raise BadInput(f"dataset {dataset}", "carries no categories to classify by",
                       f"use one of {', '.join(CLASS_SOURCES)} (emoji annotations hold no groups)")
    if split not in SPLITS:
        raise BadInput(f"--split {split}", f"is not one of {', '.join(SPLITS)}")
    every = {s: load_offline_corpus(dataset, s) for s in SPLITS}
    classes = sorted({c for es in every.values() for it in es.items if (c := class_of(it.metadata, src, depth))})
    evalset = every[split]
    skipped = [{"item": i, "reason": r} for i, r in evalset.skipped]
    skipped += [{"item": it.id, "reason": f"no {src.key} (or an excluded one)"} for it in evalset.items
                if not class_of(it.metadata, src, depth)]
    items = [it for it in evalset.items if class_of(it.metadata, src, depth)]
    present = sorted({it.modality for it in items})
    wanted = [m for m in present if not modalities or m in modalities]
    if not wanted:
        raise BadInput(f"dataset {dataset}", f"has no {'/'.join(modalities)} items (it has {', '.join(present)})")
    texts = [label_text(c) for c in classes]
    if len(set(texts)) < len(texts):  # two paths ending alike: prompt with the whole path instead
        texts = [c.replace("/", " ").replace("_", " ") for c in classes]
    out = []
    for modality in wanted:
        mine = [it for it in items if it.modality == modality]
        log(f"{dataset} {split}: {len(mine)} {modality} items, {len(classes)} classes ({src.key})")
        t0 = time.perf_counter()
        res = stack.embed(modality, [it.path for it in mine])
        secs = time.perf_counter() - t0
        skips = skipped + [{"item": mine[e.index].id, "reason": e.reason} for e in res.errors]
        y = np.array([classes.index(class_of(mine[i].metadata, src, depth)) for i in res.ok], dtype=np.int64)
        variants, head = [], None
        for temps, art in _variants(modality, templates):
            clf = build_classifier(stack, texts, modality, temps, art)
            m = classification_metrics(clf.scores(res.vectors), y, classes)
            variants.append(Variant(temps, art, m.top1, m.top5, m.mean_per_class_recall, m.macro_f1))
            head = head or m
            log(f"  {modality} templates {temps} article {art}: top-1 {m.top1:.3f} macro F1 {m.macro_f1:.3f}")
        out.append(ZeroShotResult(dataset, split, model, modality, src.key, depth, len(y), classes, texts,
                                  variants[0].templates, variants[0].article, asdict(head), variants, skips,
                                  round(secs, 2)))
    return out
