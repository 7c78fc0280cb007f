"""The corpus registry, `fetch` and `load_corpus`.

`fetch(name)` runs the corpus's builder once (each builder stage is itself
resumable), then writes ``pairs.jsonl``, ``skipped.jsonl``, the split files
and ``summary.json`` atomically and leaves a ``.done`` marker. Fetching a
finished corpus returns at once.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_path
from ..core.errors import XmodalError
from .base import Log
from .cache import Stages, corpus_dir, corpus_lock, write_json_atomic
from .dedup import merge_duplicate_groups
from .pairs import Pair, read_pairs, write_pairs
from .splits import SPLITS, SplitConfig, write_splits

# name -> one-line description; the builder is module xmodal.alignment.data.<name>
# with build(root, log) -> Built (imported only when that corpus is used).
CORPORA = {
    "openclipart": "8,121 clip-art PNGs captioned from SVG title/description/keywords/category",
    "tuxpaint": "Tux Paint stamps: images + English descriptions, sound effects, triples",
    "instruments": "General MIDI instrument clips rendered with fluidsynth, captioned",
    "freedesktop": "freedesktop sound theme event sounds, captioned from their names",
    "speech": "spoken captions: espeak-ng renderings + Tux Paint's recorded descriptions",
    "emoji": "Noto Color Emoji pictures captioned with Unicode CLDR names and keywords",
    "scratch": "Scratch 1.4 media library: cartoon sprites, backdrops and sounds, captioned from names",
    "art4apps": "Art4Apps picture dictionary (via pysiogame): one drawing per word, by topic",
    "sentences": ">= 1M real English sentences from 16 Debian packages (WordNet, GCIDE, FOLDOC, "
                 "fortunes, Python/Linux/PostgreSQL/Java/Perl/Rust/Django/Git docs, man pages, the "
                 "Debian handbook) and package descriptions, as a text manifest, for the scale benchmarks",
}


def _module(name: str):
    if name not in CORPORA:
        raise XmodalError(f"unknown corpus {name!r} (known: {', '.join(CORPORA)}; "
                          "see `xmodal data list`)")
    return importlib.import_module(f"{__package__}.{name}")


def describe(name: str) -> str:
    """One-line description of corpus `name`."""
    if name not in CORPORA:
        _module(name)  # raises the one-line unknown-corpus error
    return CORPORA[name]


def is_fetched(name: str, cache: str | os.PathLike | None = None) -> bool:
    """True when corpus `name` has been completely fetched."""
    root = corpus_dir(name, cache)
    return (root / ".done").exists() and (
        (root / "pairs.jsonl").exists() or (root / "sentences.jsonl").exists())


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fetch(name: str, cache: str | os.PathLike | None = None, *, log: Log = _stderr,
          force: bool = False) -> Path:
    """Build corpus `name` in the cache if needed; return its directory."""
    mod = _module(name)
    root = corpus_dir(name, cache)
    if is_fetched(name, cache) and not force:
        return root
    with corpus_lock(root):
        if is_fetched(name, cache) and not force:  # another process finished it meanwhile
            return root
        _build(name, mod, root, cache, log)
    return root


def _build(name: str, mod, root: Path, cache, log: Log) -> None:
    """Run the builder and write pairs, skipped, splits, summary and .done."""
    (root / ".done").unlink(missing_ok=True)
    t0 = time.time()
    if hasattr(mod, "build_manifest"):  # a benchmark manifest, not training pairs
        summary = mod.build_manifest(root, log)
        Stages(root).mark("build", {"items": summary["items"], "seconds": round(time.time() - t0, 1)})
        (root / ".done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        return
    kwargs = {"cache": cache} if _takes_cache(mod) else {}
    built = mod.build(root, log=log, **kwargs)
    if not built.pairs:
        raise XmodalError(f"corpus {name}: no usable items were produced "
                          f"({len(built.skipped)} skipped; see {root / 'skipped.jsonl'})")
    _check_unique(name, built.pairs)
    if any(p.modality == "image" for p in built.pairs):
        built.notes["near_duplicates"] = merge_duplicate_groups(built.pairs, log)
    with atomic_path(root / "pairs.jsonl") as tmp:
        write_pairs(tmp, built.pairs)
    with atomic_path(root / "skipped.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in built.skipped),
                       encoding="utf-8")
    split_summary = write_splits(root, built.pairs, SplitConfig())
    summary: dict[str, Any] = {
        "name": name, "items": len(built.pairs),
        "by_modality": dict(sorted(Counter(p.modality for p in built.pairs).items())),
        "groups": len({p.group for p in built.pairs}),
        "skipped": len(built.skipped),
        "skipped_by_reason": _reasons(built.skipped),
        "splits": {k: v["items"] for k, v in split_summary["splits"].items()},
        "seconds": round(time.time() - t0, 1), "notes": built.notes,
    }
    write_json_atomic(root / "summary.json", summary)
    Stages(root).mark("build", {"items": len(built.pairs)})
    (root / ".done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))


def _takes_cache(mod) -> bool:
    import inspect

    return "cache" in inspect.signature(mod.build).parameters


def _check_unique(name: str, pairs: list[Pair]) -> None:
    dup = [k for k, n in Counter(p.id for p in pairs).items() if n > 1]
    if dup:
        raise XmodalError(f"corpus {name}: duplicate item ids, e.g. {dup[0]!r} (builder bug)")


def _reasons(skipped: list[dict[str, str]]) -> dict[str, int]:
    """Skip reasons bucketed by their first words (for the summary)."""
    out: Counter = Counter()
    for s in skipped:
        reason = s["reason"]
        head = reason.split(":", 1)[0] if ":" in reason[:60] else reason[:60]
        out[head] += 1
    return dict(out.most_common())


def summary(name: str, cache: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The fetched corpus's summary.json, or None if not fetched."""
    path = corpus_dir(name, cache) / "summary.json"
    if not is_fetched(name, cache) or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_corpus(name: str, split: str | None = None,
                cache: str | os.PathLike | None = None) -> list[Pair]:
    """Items of a fetched corpus (all, or one split: train/val/test)."""
    _module(name)
    if split is not None and split not in SPLITS:
        raise XmodalError(f"unknown split {split!r} (use one of {', '.join(SPLITS)})")
    if not is_fetched(name, cache):
        raise XmodalError(f"corpus {name!r} is not fetched yet "
                          f"(run `xmodal data fetch {name}`)")
    root = corpus_dir(name, cache)
    return read_pairs(root / (f"{split}.jsonl" if split else "pairs.jsonl"))
