"""`xmodal tag INDEX --labels ...`: zero-shot tags into item metadata as a
new index generation (`--undo` restores the generation before the latest
tagging). Thin over `indexer.tagging`; one JSON line when piped, `key:
value` lines on a terminal; progress on stderr."""
from __future__ import annotations

import sys

import click

from xmodal.alignment.backends.flags import backend_flags
from xmodal.alignment.backends.options import RunOptions
from xmodal.alignment.core.output import json_option

from .cli import _emit

KEYS = ["generation", "items", "changed", "unchanged", "untagged", "by_tag", "counts", "hint"]


@click.command()
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--labels", "-l", default=None,
              help="Comma-separated labels ('vehicle,animal') or a file with one label per line.")
@click.option("--top", "-k", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Labels kept per item (metadata 'tag_top'); the best one is 'tag'.")
@click.option("--min-score", type=float, default=None,
              help="Keep only labels with at least this cosine score (items with none get no tag).")
@click.option("--templates", default=None,
              help="Prompt template set or one template [default: ensemble for images, sound-ensemble for audio].")
@click.option("--no-article", is_flag=True, help="Put labels in templates as they are (no 'a'/'an').")
@click.option("--modality", "modalities", multiple=True, type=click.Choice(["image", "audio", "text"]),
              help="Tag items of these modalities (repeatable) [default: image and audio].")
@click.option("--undo", is_flag=True, help="Undo the latest tagging (a new generation with the old metadata).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr [default: on a terminal].")
@json_option("One JSON line (the default when stdout is not a terminal).")
@backend_flags
def tag(index_dir: str, labels: str | None, top: int, min_score: float | None, templates: str | None,
        no_article: bool, modalities: tuple[str, ...], undo: bool, progress: bool | None, as_json: bool | None,
        backend: str | None, device: str | None, precision: str | None) -> None:
    """Tag the items of INDEX_DIR with their best LABELS (zero-shot), then
    e.g. `xmodal search INDEX_DIR "a red car" --where tag=vehicle`."""
    from .tagging import TagOptions, tag_index, untag_index

    if undo:
        if labels:
            raise click.UsageError("--undo takes no --labels")
        res = untag_index(index_dir)
    else:
        if not labels:
            raise click.UsageError("give --labels (a list or a file), or --undo")
        from xmodal.alignment.zeroshot import parse_labels

        opts = TagOptions(parse_labels(labels), top, min_score, templates, not no_article,
                          tuple(modalities) or ("image", "audio"))
        show = sys.stderr.isatty() if progress is None else progress
        res = tag_index(index_dir, opts, progress=show, run=RunOptions(backend, device, precision))
    _emit(res.to_dict(), as_json, KEYS)
