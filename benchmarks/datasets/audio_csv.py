"""AudioCaps and Clotho caption CSVs.

AudioCaps: `{train,val,test}.csv` with audiocap_id, youtube_id, start_time,
caption -- one row per caption, several rows per clip. Clips are looked up
under --root by youtube_id (also `Y<youtube_id>`, as AudioSet downloads name
them) or by any of the clip's audiocap_ids.

Clotho: `clotho_captions_{development,validation,evaluation}.csv` with
file_name, caption_1..caption_5; clips looked up by file name under --root.
The standard test set is `evaluation`."""
from __future__ import annotations

import csv
from pathlib import Path

from xmodal.alignment.core.errors import BadInput

from .base import AUDIO_EXTS, EvalItem, EvalSet, clean_captions, find_first, index_files, require_dir

CLOTHO_SPLITS = {"test": "evaluation", "val": "validation", "train": "development",
                 "evaluation": "evaluation", "validation": "validation", "development": "development"}


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise BadInput(str(path), f"missing column(s) {', '.join(missing)}",
                           "expected columns: " + ", ".join(required))
        return list(reader)


def load_audiocaps(root: str | None, split: str = "test") -> EvalSet:
    """Load one AudioCaps split; rows of the same clip become one item."""
    base = require_dir(root, "audiocaps")
    ann = find_first(base, [f"{split}.csv", f"dataset/{split}.csv", f"audiocaps/{split}.csv"], "audiocaps")
    rows = _read_csv(ann, ["audiocap_id", "youtube_id", "start_time", "caption"])
    files = index_files(base, AUDIO_EXTS)
    clips: dict[str, dict] = {}
    skipped: list[tuple[str, str]] = []
    for n, row in enumerate(rows):
        yt = (row.get("youtube_id") or "").strip()
        if not yt:
            skipped.append((f"{ann.name} row {n + 2}", "no youtube_id"))
            continue
        clip = clips.setdefault(yt, {"ids": [], "captions": [], "start": row.get("start_time", "")})
        clip["ids"].append((row.get("audiocap_id") or "").strip())
        clip["captions"].append(row.get("caption"))
    items = []
    for yt, clip in clips.items():
        path = next((files[k] for k in [yt, f"Y{yt}", *clip["ids"]] if k and k in files), None)
        if path is None:
            skipped.append((yt, f"audio clip not found under {base} (by youtube_id or audiocap_id)"))
            continue
        caps = clean_captions(yt, clip["captions"], skipped)
        if not caps:
            skipped.append((yt, "no usable captions"))
            continue
        items.append(EvalItem(yt, "audio", str(path), caps,
                              metadata={"start_time": clip["start"], "audiocap_ids": clip["ids"]}))
    if not items:
        raise BadInput(str(ann), f"no usable '{split}' clips", f"check that the audio files are under {base}")
    return EvalSet("audiocaps", split, items, skipped, source=str(ann))


def load_clotho(root: str | None, split: str = "test") -> EvalSet:
    """Load one Clotho split (test = `evaluation`), five captions per clip."""
    base = require_dir(root, "clotho")
    part = CLOTHO_SPLITS.get(split)
    if part is None:
        raise BadInput(f"clotho split '{split}'", "unknown split", "use test, val or train")
    fname = f"clotho_captions_{part}.csv"
    ann = find_first(base, [fname, f"csv/{fname}", f"clotho_csv_files/{fname}"], "clotho")
    cap_cols = [f"caption_{i}" for i in range(1, 6)]
    rows = _read_csv(ann, ["file_name", *cap_cols])
    files = index_files(base, AUDIO_EXTS)
    items: list[EvalItem] = []
    skipped: list[tuple[str, str]] = []
    for n, row in enumerate(rows):
        name = (row.get("file_name") or "").strip()
        if not name:
            skipped.append((f"{ann.name} row {n + 2}", "no file_name"))
            continue
        path = files.get(name)
        if path is None:
            skipped.append((name, f"audio clip not found under {base}"))
            continue
        caps = clean_captions(name, [row.get(c) for c in cap_cols], skipped)
        if not caps:
            skipped.append((name, "no usable captions"))
            continue
        items.append(EvalItem(name, "audio", str(path), caps))
    if not items:
        raise BadInput(str(ann), f"no usable '{split}' clips", f"check that the audio files are under {base}")
    return EvalSet("clotho", split, items, skipped, source=str(ann))
