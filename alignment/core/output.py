"""CLI output shared by every subcommand: the one user-error line, the one
`--json` option, the one rule for "JSON Lines when piped, a table on a
terminal" (`emit`) and the one table printer (`rows_table` for lists,
`record_table` for one object; rich, imported only when a table is shown)."""
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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, (dict, list, tuple)):
        return json_line(value)
    return " ".join(str(value).split())  # newlines/tabs would break a row


def _render(table: Any, width: int | None) -> str:
    """A rich table as plain text at the terminal's width (or `width`)."""
    import io
    import shutil

    from rich.console import Console  # lazily: only a table on a terminal needs it

    buf = io.StringIO()
    console = Console(file=buf, width=width or shutil.get_terminal_size((120, 24)).columns,
                      color_system=None, highlight=False, emoji=False, markup=False)
    console.print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def rows_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
               right: Sequence[str] = (), width: int | None = None) -> str:
    """The one table printer: `columns` are (key, header) pairs; a header
    row, widths fitted to the terminal, long cells wrapped (never cut, so a
    file name stays whole and copyable); `right` keys are right-aligned."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for key, header in columns:
        table.add_column(header, justify="right" if key in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key, _ in columns))
    return _render(table, width)


def record_table(obj: dict[str, Any], keys: Sequence[str] | None = None, width: int | None = None) -> str:
    """One object as a two-column (field, value) table: the `keys` it has,
    in that order (all of them when None)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("field", style=None, no_wrap=True)
    table.add_column("value", overflow="fold")
    for key in (keys if keys is not None else list(obj)):
        if key in obj and obj[key] is not None:
            table.add_row(key, _cell(obj[key]))
    return _render(table, width)
