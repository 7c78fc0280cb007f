"""Reading JSON Lines files: the one reader for corpora, training data and
index manifests. It owns line numbering, blank lines, bad JSON and (when
asked) non-object lines; each caller only picks what happens to a bad line:

  on_bad="raise"   the first bad line raises `BadInput` naming it
  on_bad="skip"    bad lines are dropped silently
  on_bad="report"  bad lines are yielded too, with `problem` set, so the
                   caller reports them in order with the good ones
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from .errors import BadInput

OnBad = Literal["raise", "skip", "report"]


@dataclass(frozen=True)
class JsonLine:
    """One non-blank line: `where` is "label:lineno"; `problem` is None and
    `value` the decoded JSON for a good line, else `value` is None."""

    where: str
    value: Any
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def skip_line(self) -> str:
        """How a skipped bad line is shown to the user."""
        return f"skipped {self.where}: {self.problem}"


def read_json_lines(path: str | Path, label: str | None = None, *, on_bad: OnBad = "raise",
                    hint: str = "", objects: bool = False,
                    errors: str = "strict") -> Iterator[JsonLine]:
    """Yield one `JsonLine` per non-blank line of `path`.

    `label` names the file in `where` (default: the path); `hint` is what a
    raised `BadInput` tells the user to do; `objects=True` makes a line that
    is valid JSON but not an object a bad line too; `errors` is the text
    decoding policy ("replace" reads undecodable bytes as U+FFFD)."""
    if on_bad not in ("raise", "skip", "report"):
        raise ValueError(f"on_bad must be 'raise', 'skip' or 'report', not {on_bad!r}")
    label = str(path) if label is None else label
    with open(path, encoding="utf-8", errors=errors) as fh:
        for n, text in enumerate(fh, 1):
            if not text.strip():
                continue
            line = _decode(f"{label}:{n}", text, objects)
            if line.ok or on_bad == "report":
                yield line
            elif on_bad == "raise":
                raise BadInput(line.where, line.problem or "", hint)


def _decode(where: str, text: str, objects: bool) -> JsonLine:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return JsonLine(where, None, f"invalid JSON ({exc.msg})")
    if objects and not isinstance(value, dict):
        return JsonLine(where, None, "line is not a JSON object")
    return JsonLine(where, value)
