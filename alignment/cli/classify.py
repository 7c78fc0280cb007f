"""`xmodal classify`: the top labels of image and audio files, zero-shot.

Thin over `alignment.zeroshot`: labels -> prompt prototypes, files ->
vectors, cosine ranking. One JSON object per file when piped (a table on a
terminal); an unreadable file gets one `skipped ...` line on stderr and the
rest still print. Exit code: 0 all classified, 1 some skipped, 2 usage /
model errors.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..backends.flags import backend_flags
from ..core.errors import XmodalError
from ..core.output import emit, fail, json_option, wants_json
from .encode import AUDIO_EXT, IMAGE_EXT, expand_paths


def _modality_of(path: str) -> str | None:
    ext = Path(path).suffix.lower()
    return "image" if ext in IMAGE_EXT else "audio" if ext in AUDIO_EXT else None


def _line(rows: list[dict[str, Any]]) -> str:
    row = rows[0]
    ranked = "  ".join(f"{s['label']} {s['score']:.3f}" for s in row["labels"]) or "(no label over --min-score)"
    return f"{row['modality']:<6} {row['item']}  {ranked}"


@click.command()
@click.option("--model", "-m", default="lite", show_default=True, help="Model spec, e.g. lite, tiny.")
@click.option("--labels", "-l", required=True,
              help="Comma-separated labels ('cat,dog,car') or a file with one label per line.")
@click.option("--top", "-k", default=3, show_default=True, type=click.IntRange(1, 1000), help="Labels per file.")
@click.option("--min-score", type=float, default=None, help="Leave out labels whose cosine score is lower.")
@click.option("--templates", default=None,
              help="Prompt template set (none, picture, sound, ensemble, sound-ensemble) or one template "
                   "('a photo of {}') [default: ensemble for images, sound-ensemble for audio].")
@click.option("--no-article", is_flag=True, help="Put labels in templates as they are (no 'a'/'an' before them).")
@click.option("--batch-size", "-b", default=None, type=click.IntRange(1, 4096))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Decoding workers.")
@json_option()
@backend_flags
@click.argument("files", nargs=-1, required=True, type=click.Path())
def classify(model: str, labels: str, top: int, min_score: float | None, templates: str | None,
             no_article: bool, batch_size: int | None, workers: int, as_json: bool | None,
             backend: str | None, device: str | None, precision: str | None, files: tuple[str, ...]) -> None:
    """Rank LABELS for each image / audio FILE (folders expand to their media)."""
    from ..zeroshot import build_classifier, parse_labels

    paths = expand_paths(files, IMAGE_EXT | AUDIO_EXT)
    jobs: dict[str, list[str]] = {"image": [], "audio": []}
    skipped = 0
    for p in paths:
        mod = _modality_of(p)
        if mod is None:
            click.echo(f"skipped {p}: not an image or audio file (by its extension)", err=True)
            skipped += 1
        else:
            jobs[mod].append(p)
    as_json = wants_json(as_json)
    try:
        names = parse_labels(labels)
        from ..registry import load_encoder

        stack = load_encoder(model, backend, device, precision)
        for modality, items in jobs.items():
            if not items:
                continue
            clf = build_classifier(stack, names, modality, templates, not no_article)
            res = stack.embed(modality, items, batch_size=batch_size, workers=workers)
            for pos, ranked in zip(res.ok, clf.top(res.vectors, top, min_score)):
                row = {"item": items[pos], "modality": modality,
                       "labels": [{"label": s.label, "score": s.score} for s in ranked]}
                emit([row], as_json, _line, sort_keys=False, ascii=True)
            for err in res.errors:
                click.echo(err.line(), err=True)
            skipped += len(res.errors)
    except XmodalError as exc:
        fail(str(exc))
    if skipped:
        click.echo(f"{skipped} file(s) skipped", err=True)
        sys.exit(1)
