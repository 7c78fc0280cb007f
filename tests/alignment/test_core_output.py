"""The one CLI output rule: JSON Lines when piped (or --json), the table on a
terminal (or --table / --no-json), one shared option for every command."""
import json
import sys

import click
import pytest
from click.testing import CliRunner

from xmodal.alignment.core.output import emit, fail, json_option, wants_json

ROWS = [{"b": 1, "a": "é"}, {"b": 2, "a": "x"}]


@click.command()
@json_option()
def show(as_json):
    emit(ROWS, as_json, lambda rows: "".join(f"{r['a']}|{r['b']}\n" for r in rows))


@pytest.mark.parametrize("args, out", [
    ([], '{"a": "é", "b": 1}\n{"a": "x", "b": 2}\n'),  # CliRunner's stdout is not a terminal
    (["--json"], '{"a": "é", "b": 1}\n{"a": "x", "b": 2}\n'),
    (["--table"], "é|1\nx|2\n"),
    (["--no-json"], "é|1\nx|2\n"),
])
def test_the_shared_option(args, out):
    res = CliRunner().invoke(show, args)
    assert res.exit_code == 0 and res.stdout == out


def test_a_terminal_gets_the_table_unless_json_is_asked(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert wants_json(None) is False and wants_json(True) is True
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert wants_json(None) is True and wants_json(False) is False


def test_json_options_keep_each_commands_bytes(capsys):
    emit(ROWS[:1], True, str, sort_keys=False, ascii=True)
    emit([{"p": object.__new__(type("P", (), {"__str__": lambda s: "/a"}))}], True, str)
    emit([], False, lambda rows: "")  # an empty table prints nothing, not a blank line
    assert capsys.readouterr().out == '{"b": 1, "a": "\\u00e9"}\n{"p": "/a"}\n'
    assert json.loads('{"b": 1, "a": "\\u00e9"}') == ROWS[0]


def test_fail_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        fail("index.json: not an index (build one)")
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: index.json: not an index (build one)\n"
