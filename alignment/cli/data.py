"""`xmodal data`: fetch and list the training corpora."""
from __future__ import annotations

import click

from ..data import CORPORA, corpus_dir, describe, fetch as fetch_corpus, is_fetched, summary
from ..core.errors import XmodalError
from ..core.output import emit, json_option


def _cell(v: object) -> str:
    return " ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else str(v)


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(_cell(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(_cell(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines) + "\n"


def _emit(rows: list[dict], as_json: bool | None, columns: list[str]) -> None:
    emit(rows, as_json, lambda rs: _table(rs, columns))


def _row(name: str, cache: str | None) -> dict:
    s = summary(name, cache) or {}
    return {"name": name, "fetched": is_fetched(name, cache),
            "items": s.get("items", ""), "by_modality": s.get("by_modality", ""),
            "skipped": s.get("skipped", ""), "splits": s.get("splits", ""),
            "path": str(corpus_dir(name, cache)), "description": describe(name)}


@click.group()
def data() -> None:
    """Training corpora from Debian packages (cached, never in the repo)."""


@data.command("list")
@click.option("--cache", type=click.Path(file_okay=False), default=None,
              help="Cache root (default: $XMODAL_CACHE or ~/.cache/xmodal).")
@json_option()
def list_cmd(cache: str | None, as_json: bool) -> None:
    """Show the known corpora and which are fetched."""
    rows = [_row(n, cache) for n in CORPORA]
    _emit(rows, as_json, ["name", "fetched", "items", "skipped", "description"])


@data.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--cache", type=click.Path(file_okay=False), default=None,
              help="Cache root (default: $XMODAL_CACHE or ~/.cache/xmodal); "
                   "corpora go to CACHE/data/NAME.")
@click.option("--force", is_flag=True, help="Rebuild captions and splits (downloads are kept).")
@json_option()
def fetch_cmd(names: tuple[str, ...], cache: str | None, force: bool, as_json: bool) -> None:
    """Download and build corpora NAMES (or `all`); resumable and idempotent."""
    wanted = list(CORPORA) if names == ("all",) else list(names)
    for n in wanted:
        describe(n)  # unknown names fail before any download
    rows, failed = [], []
    for n in wanted:
        try:
            fetch_corpus(n, cache, force=force)
        except XmodalError as exc:  # one corpus failing must not stop the others
            click.echo(f"error: {exc}", err=True)
            failed.append(n)
            continue
        rows.append(_row(n, cache))
    if rows:
        _emit(rows, as_json, ["name", "items", "by_modality", "skipped", "splits", "path"])
    if failed:
        raise XmodalError(f"could not fetch {', '.join(failed)} (see the errors above)")
