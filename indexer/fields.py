"""Typed metadata fields in SQLite: what makes a selective filter cheap.

Every row's metadata is flattened (`alignment.core.where.field_values`)
into `field_values(label, key, num, str)`, indexed by (key, str, label)
and (key, num, label), and each field's type is recorded in `fields`
(number | text | bool | mixed) when rows are inserted, i.e. at build
time. A filter's positive conditions (=, in, ranges, exists) are answered
from those indexes, intersected, and only then joined with the rows table
(by its integer primary key): a filter that keeps 0.1% of a million rows
reads about a thousand index entries, not a million metadata objects.
Negative conditions (not, not in, exists false) are a complement, so they
subtract from the positives (or, alone, from every visible row).

Databases written before these tables existed (`PRAGMA user_version` 0)
are back-filled by the next writer; a read-only reader of such an index
answers filters by scanning the metadata JSON instead (same semantics),
with the fields inferred from the rows.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable, Sequence

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.core.where import RANGE_OPS, Cond, field_values

FIELDS_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS fields (key TEXT PRIMARY KEY, type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS field_values (label INTEGER NOT NULL, key TEXT NOT NULL, num REAL, str TEXT);
CREATE INDEX IF NOT EXISTS field_values_str ON field_values(key, str, label);
CREATE INDEX IF NOT EXISTS field_values_num ON field_values(key, num, label);
CREATE INDEX IF NOT EXISTS field_values_label ON field_values(label);
"""
_SQL_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _type_of(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    return "number" if isinstance(v, (int, float)) else "text"


def _cells(v: Any) -> tuple[float | None, str | None]:
    if isinstance(v, bool):
        return float(v), None
    if isinstance(v, (int, float)):
        return float(v), None
    return None, str(v)


def has_fields(db: sqlite3.Connection) -> bool:
    """True when this database carries the typed field index."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return int(version) >= FIELDS_VERSION


def ensure(db: sqlite3.Connection) -> None:
    """Writer side: create the tables, back-filling an older database once."""
    db.executescript(SCHEMA)
    if has_fields(db):
        return
    with db:
        db.execute("DELETE FROM field_values")
        cur = db.execute("SELECT label, metadata FROM rows")
        while True:
            batch = cur.fetchmany(5000)
            if not batch:
                break
            index_rows(db, [(int(lab), json.loads(meta)) for lab, meta in batch])
        db.execute(f"PRAGMA user_version={FIELDS_VERSION}")


def index_rows(db: sqlite3.Connection, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """Add rows' field values and widen the recorded field types (inside
    the caller's transaction)."""
    values, types = [], {}
    for label, meta in rows:
        for key, v in field_values(meta or {}):
            num, text = _cells(v)
            values.append((label, key, num, text))
            t = _type_of(v)
            types[key] = t if types.get(key, t) == t else "mixed"
    if not values:
        return
    db.executemany("INSERT INTO field_values (label, key, num, str) VALUES (?,?,?,?)", values)
    old = dict(db.execute("SELECT key, type FROM fields"))
    for key, t in types.items():
        if key not in old:
            db.execute("INSERT INTO fields (key, type) VALUES (?, ?)", [key, t])
        elif old[key] != t and old[key] != "mixed":
            db.execute("UPDATE fields SET type='mixed' WHERE key=?", [key])


def drop_labels(db: sqlite3.Connection, where_sql: str, params: Sequence[Any]) -> None:
    """Forget the field values of rows about to be deleted (`where_sql` on rows)."""
    db.execute(f"DELETE FROM field_values WHERE label IN (SELECT label FROM rows WHERE {where_sql})", list(params))


def field_types(db: sqlite3.Connection) -> dict[str, str]:
    """Field name -> type. Older databases: inferred from the rows."""
    if has_fields(db):
        return dict(db.execute("SELECT key, type FROM fields"))
    types: dict[str, str] = {}
    for (meta,) in db.execute("SELECT metadata FROM rows"):
        for key, v in field_values(json.loads(meta)):
            t = _type_of(v)
            types[key] = t if types.get(key, t) == t else "mixed"
    return types


def coerce_values(c: Cond, ftype: str) -> list[Any]:
    """The condition's values as the field stores them (`year=2020` on a
    text field means "2020"; `width=512` given as text on a number field)."""
    vals = list(c.value) if isinstance(c.value, tuple) else [c.value]
    out = []
    for v in vals:
        if ftype == "text" and not isinstance(v, str):
            v = str(v).lower() if isinstance(v, bool) else str(v)
        elif ftype == "number" and isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                continue  # a word never equals a number
        out.append(v)
    return out


def _positive(c: Cond, ftype: str) -> tuple[str, list[Any]]:
    """SQL selecting the labels a positive condition keeps (index-driven)."""
    if c.op == "exists":
        return "SELECT label FROM field_values WHERE key = ?", [c.key]
    if c.op in RANGE_OPS:
        if ftype not in ("number", "mixed"):
            raise BadInput(f"where.{c.key}", f"is a {ftype} field: ranges need a number field")
        return f"SELECT label FROM field_values WHERE key = ? AND num {_SQL_OPS[c.op]} ?", [c.key, float(c.value)]
    nums, texts = [], []
    for v in coerce_values(c, ftype):
        (nums if isinstance(v, (int, float)) else texts).append(float(v) if isinstance(v, (int, float)) else v)
    parts, params = [], []
    if nums:
        parts.append(f"SELECT label FROM field_values WHERE key = ? AND num IN ({','.join('?' * len(nums))})")
        params += [c.key, *nums]
    if texts:
        parts.append(f"SELECT label FROM field_values WHERE key = ? AND str IN ({','.join('?' * len(texts))})")
        params += [c.key, *texts]
    if not parts:
        return "SELECT label FROM field_values WHERE 0", []
    return " UNION ".join(parts), params


def _negated(c: Cond) -> Cond:
    return Cond(c.key, {"ne": "eq", "nin": "in", "exists": "exists"}[c.op],
                True if c.op == "exists" else c.value)


def compile_filter(conds: Sequence[Cond], types: dict[str, str]) -> tuple[str, list[Any]]:
    """-> (SQL condition on `rows.label`, params) for the typed index."""
    pos, neg = [], []
    for c in conds:
        negative = c.op in ("ne", "nin") or (c.op == "exists" and not c.value)
        (neg if negative else pos).append(_negated(c) if negative else c)
    sql, params = [], []
    if pos:
        parts = [_positive(c, types.get(c.key, "text")) for c in pos]
        sql.append(f"label IN ({' INTERSECT '.join(p for p, _ in parts)})")
        params += [x for _, ps in parts for x in ps]
    for c in neg:
        part, ps = _positive(c, types.get(c.key, "text"))
        sql.append(f"label NOT IN ({part})")
        params += ps
    return " AND ".join(sql) or "1", params
