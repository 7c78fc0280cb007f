"""SQLite metadata store: one row per indexed vector, keyed by its FAISS label.

Rows carry the generation that added them (`gen_added`) and the one that
deleted them (`gen_deleted`), so a reader pinned to generation g sees
exactly the rows of that generation while a writer prepares g+1 (snapshot
reads without copying the database). WAL mode keeps readers and the single
writer from blocking each other.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from urllib.parse import quote, unquote_to_bytes
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.core.items import LiveRow, NewRow, Row
from xmodal.alignment.preprocess.text import escape_surrogates
from xmodal.alignment.core.protocols import Where
from xmodal.alignment.core.where import Cond, conditions, unknown_fields

from . import fields

SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    label       INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,
    modality    TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'item',
    parent_id   TEXT,
    uri         TEXT,
    text        TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    shard       TEXT NOT NULL,
    shard_row   INTEGER NOT NULL,
    gen_added   INTEGER NOT NULL,
    gen_deleted INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS rows_live_id ON rows(id) WHERE gen_deleted IS NULL;
CREATE INDEX IF NOT EXISTS rows_id ON rows(id);
CREATE INDEX IF NOT EXISTS rows_parent ON rows(parent_id);
CREATE INDEX IF NOT EXISTS rows_modality ON rows(modality, kind);
"""

_CHUNK = 900  # stay under SQLite's host-parameter limit on old builds


def _chunks(seq: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _is_text(s: str) -> bool:
    """False for strings SQLite cannot take: lone surrogates (JSON "\\udfff",
    or file names decoded with surrogateescape) have no UTF-8 form. No
    stored id can hold one, so an id lookup with one finds nothing; a
    filter value with one is refused with one line."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# A uri whose file name has undecodable bytes (kept by surrogateescape, so
# the file can still be opened) is stored as its percent-encoded bytes.
_RAW_URI = "fsbytes:"


def _uri_in(uri: str | None) -> str | None:
    if uri is None or _is_text(uri):
        return uri
    return _RAW_URI + quote(os.fsencode(uri), safe="/:")


def _uri_out(stored: str | None) -> str | None:
    if stored is not None and stored.startswith(_RAW_URI):
        return os.fsdecode(unquote_to_bytes(stored[len(_RAW_URI):]))
    return stored


def _text_in(s: str | None) -> str | None:
    """Ids, kinds and texts: readers escape them already; a last guard."""
    return None if s is None else escape_surrogates(s)


def _visible(gen: int | None) -> tuple[str, list[Any]]:
    """SQL condition for rows live at generation `gen` (None: latest state)."""
    if gen is None:
        return "gen_deleted IS NULL", []
    return "gen_added <= ? AND (gen_deleted IS NULL OR gen_deleted > ?)", [gen, gen]


class MetaStore:
    """The metadata database of one index directory."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.Lock()
        if readonly:
            if not self.path.is_file():
                raise XmodalError(f"{self.path}: metadata database missing; rebuild the index")
            uri = f"file:{self.path}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(self.path, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            fields.ensure(self.db)  # typed field index (back-filled once for older databases)
        self.db.execute("PRAGMA busy_timeout=10000")
        self._types: dict[str, str] | None = None

    def close(self) -> None:
        self.db.close()

    # ---- writer side -------------------------------------------------
    def insert(self, rows: Sequence[NewRow], generation: int) -> None:
        """Insert rows added by `generation` (not yet visible to older readers)."""
        with self._lock, self.db:
            self.db.executemany(
                "INSERT INTO rows (label, id, modality, kind, parent_id, uri, text, metadata,"
                " shard, shard_row, gen_added) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(r.label, _text_in(r.id), r.modality, r.kind, _text_in(r.parent_id), _uri_in(r.uri),
                  _text_in(r.text),
                  json.dumps(r.metadata, sort_keys=True), r.shard, r.shard_row, generation)
                 for r in rows],
            )
            fields.index_rows(self.db, [(r.label, r.metadata) for r in rows])
        self._types = None

    def mark_deleted(self, labels: Sequence[int], generation: int) -> None:
        with self._lock, self.db:
            for part in _chunks([int(x) for x in labels]):
                q = ",".join("?" * len(part))
                self.db.execute(
                    f"UPDATE rows SET gen_deleted=? WHERE label IN ({q})"
                    " AND gen_deleted IS NULL", [generation, *part])

    def rollback_after(self, generation: int) -> None:
        """Undo rows written by an update that never published its manifest."""
        with self._lock, self.db:
            fields.drop_labels(self.db, "gen_added > ?", [generation])
            self.db.execute("DELETE FROM rows WHERE gen_added > ?", [generation])
            self.db.execute("UPDATE rows SET gen_deleted=NULL WHERE gen_deleted > ?",
                            [generation])

    def purge_deleted(self, upto_generation: int, keep: Sequence[int] = ()) -> int:
        """Drop rows deleted at or before `upto_generation` for good (no
        reader pinned to a kept generation can still see them), except rows
        visible at a generation in `keep` (named snapshots)."""
        sql, params = "DELETE FROM rows WHERE gen_deleted <= ?", [upto_generation]
        for g in keep:
            sql += " AND NOT (gen_added <= ? AND gen_deleted > ?)"
            params += [int(g), int(g)]
        with self._lock, self.db:
            fields.drop_labels(self.db, sql[len("DELETE FROM rows WHERE "):], params)
            return self.db.execute(sql, params).rowcount

    def copy_rows(self, labels: Sequence[int], first_label: int, generation: int) -> list[NewRow]:
        """Re-insert the rows at `labels` (live or not) under new labels from
        `first_label` on, added by `generation` (a snapshot restore)."""
        out: list[NewRow] = []
        with self._lock:
            for part in _chunks([int(x) for x in labels]):
                q = ",".join("?" * len(part))
                out += [NewRow(id_, mod, kind, parent, _uri_out(uri), text, json.loads(meta), label=-1,
                               shard=shard, shard_row=int(srow))
                        for id_, mod, kind, parent, uri, text, meta, shard, srow in self.db.execute(
                            "SELECT id, modality, kind, parent_id, uri, text, metadata, shard, shard_row"
                            f" FROM rows WHERE label IN ({q}) ORDER BY label", list(part))]
        for j, r in enumerate(out):
            r.label = first_label + j
        self.insert(out, generation)
        return out

    def live_rows_all(self) -> list[LiveRow]:
        """Where every live row's vector is, and its modality/kind, by label."""
        with self._lock:
            return [LiveRow(int(a), b, int(c), d, e) for a, b, c, d, e in self.db.execute(
                "SELECT label, shard, shard_row, modality, kind FROM rows"
                " WHERE gen_deleted IS NULL ORDER BY label")]

    def shards_in_use(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self.db.execute("SELECT DISTINCT shard FROM rows")}

    def next_label(self) -> int:
        (m,) = self.db.execute("SELECT MAX(label) FROM rows").fetchone()
        return 0 if m is None else int(m) + 1

    def live_labels(self, ids: Sequence[str], with_captions: bool = True) -> dict[str, list[int]]:
        """Labels of live rows with these ids (and their captions' rows)."""
        out: dict[str, list[int]] = {}
        for part in _chunks([i for i in ids if _is_text(i)]):
            q = ",".join("?" * len(part))
            sql = f"SELECT id, label FROM rows WHERE gen_deleted IS NULL AND id IN ({q})"
            params = list(part)
            if with_captions:
                sql += f" UNION ALL SELECT parent_id, label FROM rows WHERE gen_deleted IS NULL" \
                       f" AND kind='caption' AND parent_id IN ({q})"
                params += list(part)
            for key, label in self.db.execute(sql, params):
                out.setdefault(key, []).append(int(label))
        return out

    # ---- reader side -------------------------------------------------
    def rows(self, labels: Sequence[int]) -> list[Row | None]:
        """Rows in the order of `labels`; None where a label is unknown."""
        found: dict[int, Row] = {}
        ints = [int(x) for x in labels if int(x) >= 0]
        with self._lock:
            for part in _chunks(ints):
                q = ",".join("?" * len(part))
                cur = self.db.execute(
                    "SELECT label, id, modality, kind, parent_id, uri, text, metadata FROM rows"
                    f" WHERE label IN ({q})", list(part))
                for lab, id_, mod, kind, parent, uri, text, meta in cur:
                    found[lab] = Row(id_, mod, kind, parent, _uri_out(uri), text, json.loads(meta), label=lab)
        return [found.get(int(x)) for x in labels]

    def locations(self, labels: Sequence[int]) -> dict[int, tuple[str, int]]:
        """label -> (shard file, row in it), where the stored vector lives."""
        out: dict[int, tuple[str, int]] = {}
        with self._lock:
            for part in _chunks([int(x) for x in labels]):
                q = ",".join("?" * len(part))
                for lab, shard, row in self.db.execute(
                        f"SELECT label, shard, shard_row FROM rows WHERE label IN ({q})", list(part)):
                    out[int(lab)] = (shard, int(row))
        return out

    def location_map(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every row's vector location at once: (shard names, shard index by
        label (-1: no row), row in the shard by label)."""
        with self._lock:
            got = self.db.execute("SELECT label, shard, shard_row FROM rows").fetchall()
        names = sorted({r[1] for r in got})
        pos = {n: i for i, n in enumerate(names)}
        size = max((r[0] for r in got), default=-1) + 1
        shard_of = np.full(size, -1, np.int32)
        row_of = np.zeros(size, np.int64)
        if got:
            labels = np.fromiter((r[0] for r in got), np.int64, len(got))
            shard_of[labels] = np.fromiter((pos[r[1]] for r in got), np.int32, len(got))
            row_of[labels] = np.fromiter((r[2] for r in got), np.int64, len(got))
        return names, shard_of, row_of

    def labels_where(self, gen: int | None, modality: str | None = None, kind: str | None = None,
                     where: Where | None = None) -> np.ndarray:
        """Labels visible at `gen` matching the filters, sorted ascending.

        `where`: a metadata filter (`alignment.core.where`: equality, in,
        not, ranges, exists; dotted names reach into nested objects). A
        field no row has is an error naming the known ones."""
        cond, params = _visible(gen)
        sql = [f"SELECT label FROM rows WHERE {cond}"]
        if modality is not None:
            sql.append("AND modality = ?")
            params.append(modality)
        if kind is not None:
            sql.append("AND kind = ?")
            params.append(kind)
        conds = conditions(where)
        if conds:
            types = self.field_types()
            problem = unknown_fields(conds, types)
            if problem:
                raise XmodalError(problem)
            cond_sql, cond_params = (fields.compile_filter(conds, types) if fields.has_fields(self.db)
                                     else _legacy_filter(conds, types))
            sql.append(f"AND {cond_sql}")
            params += cond_params
        sql.append("ORDER BY label")
        with self._lock:
            got = self.db.execute(" ".join(sql), params).fetchall()
        return np.fromiter((r[0] for r in got), dtype=np.int64, count=len(got))

    def field_types(self) -> dict[str, str]:
        """Metadata field -> number | text | bool | mixed (typed at build time)."""
        if self._types is None or not self.readonly:
            with self._lock:
                self._types = fields.field_types(self.db)
        return self._types

    def deleted_labels(self, gen: int) -> np.ndarray:
        """Labels deleted at or before `gen` (tombstones some index types still hold)."""
        with self._lock:
            got = self.db.execute(
                "SELECT label FROM rows WHERE gen_deleted IS NOT NULL AND gen_deleted <= ?",
                [gen]).fetchall()
        return np.fromiter((r[0] for r in got), dtype=np.int64, count=len(got))

    def label_of(self, id_: str, gen: int | None) -> int | None:
        if not _is_text(id_):
            return None
        cond, params = _visible(gen)
        with self._lock:
            got = self.db.execute(f"SELECT label FROM rows WHERE id = ? AND {cond}",
                                  [id_, *params]).fetchone()
        return None if got is None else int(got[0])

    def counts(self, gen: int | None) -> dict[str, int]:
        """Live vectors per modality (items) and per kind ('caption'), plus 'total'."""
        cond, params = _visible(gen)
        out: dict[str, int] = {}
        with self._lock:
            for mod, kind, n in self.db.execute(
                    f"SELECT modality, kind, COUNT(*) FROM rows WHERE {cond} GROUP BY modality, kind",
                    params):
                key = mod if kind == "item" else kind
                out[key] = out.get(key, 0) + n
        out["total"] = sum(out.values())
        return out


def _legacy_filter(conds: Sequence[Cond], types: dict[str, str]) -> tuple[str, list[Any]]:
    """Filter SQL for a database without the typed field index (an index
    built before it; read-only here): a scan of the metadata JSON. Same
    semantics, except that list-valued fields are not matched per element."""
    sql, params = [], []
    for c in conds:
        path = "$" + "".join(f'."{part}"' for part in c.key.split("."))
        col = "json_extract(metadata, ?)"
        if c.op == "exists":
            sql.append(f"{col} IS {'NOT ' if c.value else ''}NULL")
            params.append(path)
        elif c.op in ("in", "nin", "eq", "ne"):
            vals = [_sql_value(v) for v in fields.coerce_values(c, types.get(c.key, "text"))]
            if not vals:
                sql.append("0" if c.op in ("in", "eq") else "1")
                continue
            q = ",".join("?" * len(vals))
            if c.op in ("in", "eq"):
                sql.append(f"{col} IN ({q})")
                params += [path, *vals]
            else:
                sql.append(f"({col} IS NULL OR {col} NOT IN ({q}))")
                params += [path, path, *vals]
        else:
            if types.get(c.key) not in ("number", "mixed"):
                raise BadInput(f"where.{c.key}", f"is a {types.get(c.key)} field: ranges need a number field")
            sql.append(f"{col} {_RANGE_SQL[c.op]} ?")
            params += [path, float(c.value)]
    return " AND ".join(sql), params


_RANGE_SQL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _sql_value(v: Any) -> Any:
    """JSON scalars as json_extract returns them (booleans are 0/1)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str) and not _is_text(v):
        raise XmodalError(f"filter value {v!r}: not valid Unicode (a lone surrogate)")
    if v is None or isinstance(v, (int, float, str)):
        return v
    raise XmodalError(f"filter value {v!r}: only strings, numbers, booleans or lists of them")
