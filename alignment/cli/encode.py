"""`xmodal encode`: text / image / audio -> vectors, one JSON object per item.

Thin over `load_encoder(...).embed(...)`. Bad items get one `skipped ...`
line each on stderr and the rest still print. Exit code: 0 all encoded,
1 some skipped, 2 usage / model errors.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable

import click

from ..backends.flags import backend_flags
from ..core.errors import XmodalError
from ..core.output import emit, fail, json_option, wants_json

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
AUDIO_EXT = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif"}


def expand_paths(values: Iterable[str], exts: set[str]) -> list[str]:
    """Paths as given; a directory expands to its media files (sorted)."""
    out: list[str] = []
    for value in values:
        p = Path(value)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in exts)
        else:
            out.append(value)
    return out


def _row(item: str, modality: str, vector) -> dict[str, Any]:
    return {"item": item, "modality": modality, "dim": int(len(vector)),
            "vector": [round(float(v), 6) for v in vector]}


def _line(rows: list[dict[str, Any]]) -> str:
    row = rows[0]
    head = ", ".join(f"{v:+.3f}" for v in row["vector"][:4])
    return f"{row['modality']:<6} {row['dim']:>5}  [{head}, ...]  {row['item']}"


def _show(row: dict[str, Any], as_json: bool) -> None:
    emit([row], as_json, _line, sort_keys=False, ascii=True)


@click.command()
@click.option("--model", "-m", default="lite", show_default=True, help="Model spec, e.g. lite, tiny, openclip:ViT-B-32/<file>.")
@click.option("--text", "-t", "texts", multiple=True, help="Text to encode (repeatable).")
@click.option("--image", "-i", "images", multiple=True, type=click.Path(), help="Image file or folder (repeatable).")
@click.option("--audio", "-a", "audios", multiple=True, type=click.Path(), help="Audio file or folder (repeatable).")
@click.option("--batch-size", "-b", default=32, show_default=True, type=click.IntRange(1, 4096))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Decoding workers (processes for images/audio).")
@json_option()
@backend_flags
def encode(model: str, texts: tuple[str, ...], images: tuple[str, ...], audios: tuple[str, ...],
           batch_size: int, workers: int, as_json: bool | None, backend: str | None, device: str | None,
           precision: str | None) -> None:
    """Encode texts, images and audio clips into the model's shared space."""
    jobs = [("text", list(texts)), ("image", expand_paths(images, IMAGE_EXT)),
            ("audio", expand_paths(audios, AUDIO_EXT))]
    if not any(items for _, items in jobs):
        raise click.UsageError("nothing to encode: give --text, --image or --audio")
    as_json = wants_json(as_json)  # decided once for the whole stream
    try:
        from ..registry import load_encoder

        stack = load_encoder(model, backend, device, precision)
        for modality, items in jobs:
            if items:
                stack.encoder(modality)  # fail early if the model lacks it
    except XmodalError as exc:
        fail(str(exc))
    skipped = 0
    for modality, items in jobs:
        if not items:
            continue
        # quoted texts in error lines, so an empty caption still shows as ""
        names = [json.dumps(t if len(t) <= 60 else t[:57] + "...") for t in items] if modality == "text" else None
        res = stack.embed(modality, items, batch_size=batch_size, workers=workers, names=names)
        for pos, vec in zip(res.ok, res.vectors):
            _show(_row(items[pos], modality, vec), as_json)
        for err in res.errors:
            click.echo(err.line(), err=True)
        skipped += len(res.errors)
    if skipped:
        click.echo(f"{skipped} item(s) skipped", err=True)
        sys.exit(1)
