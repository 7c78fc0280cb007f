"""JSONL / CSV / Parquet manifests: one item per row.

Columns: ``id`` (optional; else the path, else ``<manifest>:<row>``),
``path`` (or ``uri``/``file``/``image``/``audio``; relative to the manifest's
folder) or ``text``, ``modality`` (optional; sniffed from the file),
``caption``/``captions`` (a string or a list), and any other column becomes
metadata.

Every path must pass the corpus `Confinement` (inside the manifest's folder
or an allowed root, a regular file, not /proc): a row naming
`/etc/passwd` or `../../x` is skipped with a line. Texts and captions are
size-capped; ids and metadata carry no undecodable characters."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

from xmodal.alignment.core.items import Record
from xmodal.alignment.core.jsonl import read_json_lines

from xmodal.alignment.preprocess.text import escape_tree

from .base import Entry, Skipped, guarded
from .confine import Confinement, safe_text
from .sniff import sniff_file

PATH_KEYS = ("path", "uri", "file", "filepath", "image", "audio", "url")
RESERVED = {"id", "modality", "text", "caption", "captions", *PATH_KEYS}
MODALITIES = ("text", "image", "audio")


def _captions(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("[") and s.endswith("]"):  # CSV cells holding a JSON list
            try:
                parsed = json.loads(s)
                if isinstance(parsed, list):
                    return [str(v) for v in parsed]
            except ValueError:
                pass
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def row_to_entry(row: dict[str, Any], base: Path, where: str, confine: Confinement | None = None) -> Entry:
    """One manifest row -> Record, or Skipped naming the row and the problem."""
    confine = confine or Confinement.for_paths([base])
    row = escape_tree(row)
    path_val = next((row[k] for k in PATH_KEYS if row.get(k) not in (None, "")), None)
    text = row.get("text")
    text = None if text is None or (isinstance(text, float) and text != text) else str(text)
    modality = (str(row.get("modality") or "").strip().lower()) or None
    if modality and modality not in MODALITIES:
        return Skipped(where, f"unknown modality '{modality}' (use text, image or audio)")
    caps = _captions(row.get("captions")) + _captions(row.get("caption"))
    for body in [*caps, *([text] if text is not None else [])]:
        too_big = confine.text_too_big(len(body.encode("utf-8")), where)
        if too_big:
            return too_big
    meta = {k: v for k, v in row.items() if k not in RESERVED and v is not None}
    # A "metadata" object column (as our own corpora write) is the metadata
    # itself, not one field of it; other columns win on a name clash.
    nested = meta.pop("metadata", None)
    if isinstance(nested, dict):
        meta = {**nested, **meta}
    elif nested is not None:
        meta["metadata"] = nested
    given_id = row.get("id")
    if path_val is not None:
        p = Path(str(path_val))
        p = p if p.is_absolute() else base / p
        problem = confine.check(p, f"{where} ({safe_text(str(p))})")
        if problem:
            return problem
        if modality in (None, "image", "audio"):
            found, reason = sniff_file(p)
            if found is None:
                return Skipped(f"{where} ({p})", reason or "not an image, audio or text file")
            if modality and found != modality:
                return Skipped(f"{where} ({p})", f"declared {modality} but the content is {found}")
            modality = found
        item_id = str(given_id) if given_id not in (None, "") else str(path_val)
        if modality == "text":
            body = text
            if body is None:
                raw, problem = confine.read_text_bytes(p, f"{where} ({safe_text(str(p))})")
                if problem:
                    return problem
                try:
                    body = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return Skipped(f"{where} ({safe_text(str(p))})", f"unreadable text: {exc}")
            return Record(item_id, "text", uri=str(p), text=body.strip(), metadata=meta)
        return Record(item_id, modality, uri=str(p), captions=caps, metadata=meta)
    if text is not None or caps:
        body = text if text is not None else caps.pop(0)
        item_id = str(given_id) if given_id not in (None, "") else where
        return Record(item_id, "text", text=body.strip(), metadata=meta)
    return Skipped(where, "row has neither a path nor a text")


def read_jsonl(path: Path, confine: Confinement | None = None) -> Iterator[Entry]:
    for line in read_json_lines(path, path.name, on_bad="report", objects=True, errors="replace"):
        if line.ok:
            yield from guarded(lambda: [row_to_entry(line.value, path.parent, line.where, confine)], line.where)
        else:
            yield Skipped(line.where, line.problem or "")


def read_csv(path: Path, confine: Confinement | None = None) -> Iterator[Entry]:
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for n, row in enumerate(csv.DictReader(fh), 2):
            clean = {k: (v if v != "" else None) for k, v in row.items() if k is not None}
            where = f"{path.name}:{n}"
            yield from guarded(lambda: [row_to_entry(clean, path.parent, where, confine)], where)


def read_parquet(path: Path, confine: Confinement | None = None) -> Iterator[Entry]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        yield Skipped(str(path), f"unreadable Parquet file ({exc})")
        return
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            where = f"{path.name}:{n}"
            yield from guarded(lambda: [row_to_entry(row, path.parent, where, confine)], where)
