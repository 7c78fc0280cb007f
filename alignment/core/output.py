"""CLI output shared by every subcommand: the one user-error line, the one
`--json` option and the one rule for "JSON Lines when piped, a table on a
terminal"."""
from __future__ import annotations

import sys

import click


def fail(message: str, code: int = 2) -> None:
    """Print one error line to stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
