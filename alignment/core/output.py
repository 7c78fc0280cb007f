"""CLI output shared by every subcommand: the one user-error line, the one
`--json` option and the one rule for "JSON Lines when piped, a table on a
terminal" (`emit`)."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable, Sequence, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = "JSON Lines (the default when stdout is not a terminal)."


def fail(message: str, code: int = 2) -> None:
    """Print one error line to stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def json_option(help: str = JSON_HELP) -> Callable[[F], F]:
    """The `--json/--no-json` option (`--table` = `--no-json`) every command
    shares; the command receives `as_json`: True, False or None (unset:
    decided by `wants_json`)."""
    return click.option("--json/--no-json", " /--table", "as_json", default=None, help=help)


def wants_json(as_json: bool | None) -> bool:
    """JSON when asked, a table when asked, else JSON exactly when stdout is
    not a terminal (piped or redirected)."""
    return as_json if as_json is not None else not sys.stdout.isatty()


def json_line(obj: Any, sort_keys: bool = True, ascii: bool = False) -> str:
    """One JSON Lines record (non-JSON values, e.g. paths, as strings)."""
    return json.dumps(obj, sort_keys=sort_keys, ensure_ascii=ascii, default=str)


def emit(rows: Sequence[Any], as_json: bool | None, table: Callable[[Sequence[Any]], str],
         *, sort_keys: bool = True, ascii: bool = False) -> None:
    """Print `rows` to stdout: one JSON line each (`wants_json`), else the
    text `table(rows)` renders (nothing when it is empty). `sort_keys` / `ascii` keep each command's
    JSON byte-identical to what it printed before there was one `emit`."""
    if wants_json(as_json):
        for row in rows:
            click.echo(json_line(row, sort_keys, ascii))
        return
    text = table(rows)
    if text:
        click.echo(text, nl=not text.endswith("\n"))
