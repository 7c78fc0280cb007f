"""Metadata filters: the one definition of what a `where` means.

A `where` maps a metadata field (dotted names reach into nested objects)
to a condition. Its JSON form, the same in Python, the HTTP API and (as
`KEY OP VALUE` strings) the CLI:

    {"license": "cc0"}                       equality
    {"license": ["cc0", "cc-by"]}            in (any of them)
    {"license": {"not": "gpl"}}              not equal (rows without the field match)
    {"license": {"not": ["gpl", "nc"]}}      not in
    {"width": {">=": 512}, "seconds": {"<": 3}}   numeric ranges (<, <=, >, >=), combinable
    {"caption": {"exists": true}}            the field is present (false: absent)

Operator names: `=`/`eq`, `!=`/`not`/`ne`, `in`, `not in`/`nin`, `<`/`lt`,
`<=`/`le`, `>`/`gt`, `>=`/`ge`, `exists`. Conditions on several fields
must all hold. A list-valued field (e.g. tags) matches when any of its
values does. `conditions()` validates and normalises; `matches()` is the
reference semantics (a test fake and the brute-force checks use it); the
metadata store compiles the same conditions to SQL over typed field
indexes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from .errors import BadInput

SCALARS = (str, int, float, bool)
MAX_FIELDS = 32
MAX_VALUES = 1000
FIELD_NAME = re.compile(r"^[A-Za-z0-9_\-. ]+$")
RANGE_OPS = ("lt", "le", "gt", "ge")
ALIASES = {"=": "eq", "==": "eq", "eq": "eq", "!=": "ne", "not": "ne", "ne": "ne", "in": "in",
           "not in": "nin", "nin": "nin", "<": "lt", "lt": "lt", "<=": "le", "le": "le", ">": "gt",
           "gt": "gt", ">=": "ge", "ge": "ge", "exists": "exists"}


@dataclass(frozen=True)
class Cond:
    """One condition: `op` in eq|ne|in|nin|lt|le|gt|ge|exists; `value` a
    scalar, a tuple of scalars (in/nin) or a bool (exists)."""

    key: str
    op: str
    value: Any


def _scalar(where: str, v: Any) -> Any:
    if v is None or not isinstance(v, SCALARS):
        raise BadInput(where, "must be a string, number or boolean (or a list of them)")
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput(where, f"value {v!r} is not valid Unicode (a lone surrogate)") from None
    return v


def _cond(key: str, op: str, value: Any) -> Cond:
    where = f"where.{key}"
    name = ALIASES.get(op.strip().lower() if isinstance(op, str) else op)
    if name is None:
        raise BadInput(where, f"unknown operator {op!r}",
                       f"use one of {', '.join(sorted(set(ALIASES) - set(ALIASES.values())))} "
                       "or eq, ne, in, nin, lt, le, gt, ge, exists")
    if name == "exists":
        if not isinstance(value, bool):
            raise BadInput(where, "exists takes true or false")
        return Cond(key, name, value)
    if isinstance(value, (list, tuple, set, frozenset)):
        if name not in ("eq", "ne", "in", "nin"):
            raise BadInput(where, f"{op} takes one number, not a list")
        if len(value) > MAX_VALUES:
            raise BadInput(where, f"has {len(value)} values, at most {MAX_VALUES} allowed")
        vals = tuple(_scalar(where, v) for v in value)
        return Cond(key, "nin" if name in ("ne", "nin") else "in", vals)
    if name in ("in", "nin"):
        raise BadInput(where, f"{op} takes a list of values")
    value = _scalar(where, value)
    if name in RANGE_OPS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise BadInput(where, f"{op} {value!r}: a range needs a number")
    return Cond(key, name, value)


def conditions(where: Mapping[str, Any] | None) -> list[Cond]:
    """Validate a `where` (JSON form above) -> its conditions; [] for none."""
    if not where:
        return []
    if not isinstance(where, Mapping):
        raise BadInput("where", "must be an object of field: condition pairs")
    if len(where) > MAX_FIELDS:
        raise BadInput("where", f"has {len(where)} fields, at most {MAX_FIELDS} allowed")
    out: list[Cond] = []
    for key, spec in where.items():
        if not isinstance(key, str) or not key or len(key) > 200 or not FIELD_NAME.match(key):
            raise BadInput("where", f"filter field {key!r}: use letters, digits, '_', '-', '.' only")
        if isinstance(spec, Mapping):
            if not spec:
                raise BadInput(f"where.{key}", "is an empty condition object")
            out += [_cond(key, op, v) for op, v in spec.items()]
        elif isinstance(spec, (list, tuple, set, frozenset)):
            out.append(_cond(key, "in", spec))
        else:
            out.append(_cond(key, "eq", spec))
    return out


def field_values(metadata: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted field name, scalar value) pairs of a metadata object: nested
    objects flatten to dotted names, a list gives one pair per scalar."""
    for k, v in metadata.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from field_values(v, name + ".")
        elif isinstance(v, (list, tuple)):
            yield from ((name, x) for x in v if isinstance(x, SCALARS))
        elif isinstance(v, SCALARS):
            yield name, v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return str(a) == str(b)  # a text field compared with a number given as text, or back


def _holds(values: list[Any], c: Cond) -> bool:
    if c.op == "exists":
        return bool(values) == c.value
    if c.op in ("eq", "in"):
        wanted = c.value if c.op == "in" else (c.value,)
        return any(_same(v, w) for v in values for w in wanted)
    if c.op in ("ne", "nin"):
        wanted = c.value if c.op == "nin" else (c.value,)
        return not any(_same(v, w) for v in values for w in wanted)
    nums = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    x = float(c.value)
    test = {"lt": lambda v: v < x, "le": lambda v: v <= x, "gt": lambda v: v > x, "ge": lambda v: v >= x}[c.op]
    return any(test(v) for v in nums)


def matches(metadata: Mapping[str, Any], conds: Iterable[Cond]) -> bool:
    """The reference semantics: does a row with this metadata pass?"""
    by_key: dict[str, list[Any]] = {}
    for k, v in field_values(metadata or {}):
        by_key.setdefault(k, []).append(v)
    return all(_holds(by_key.get(c.key, []), c) for c in conds)


def unknown_fields(conds: Iterable[Cond], known: Iterable[str]) -> str | None:
    """The one-line error for conditions on fields no row has, or None."""
    known = set(known)
    bad = sorted({c.key for c in conds if c.key not in known})
    if not bad:
        return None
    listed = ", ".join(sorted(known)[:40]) + (" ..." if len(known) > 40 else "") if known else "none"
    return f"unknown filter field(s) {', '.join(bad)}: this index's metadata fields are {listed}"
