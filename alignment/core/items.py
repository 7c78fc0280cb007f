"""The item-type chain from corpus to hit, and every conversion along it.

One captioned media item travels as:

    corpus reader -> Record     one corpus item and its captions
    embed         -> ShardRow   one per vector: the item, then each caption  (item_rows)
    build/update  -> NewRow     + its label and where its vector is stored    (new_row)
    index reader  -> Row        what an index holds for a label
    engine        -> Hit        + similarity score and index name            (hit_from_row)
    HTTP API      -> HitOut     the JSON schema of a Hit, + media_url (search/schemas.py)

An item row (kind 'item') carries the item's own vector; each caption of an
image or sound becomes a caption row (kind 'caption', modality 'text',
`parent_id` = the item's id, id `<item id>#caption<j>`). The conversions
below are the only places those fields are copied from one type to the
next; on-disk forms (shard descriptors, SQLite columns, Hit JSON) are
read and written by the types' own methods.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, NamedTuple, Sequence

ITEM, CAPTION = "item", "caption"


@dataclass
class Record:
    """One corpus item, as every corpus reader yields it.

    `id` is stable across runs (from the manifest, else the relative path).
    Exactly one of `uri` (a file path, or `tarpath::member` inside a tar
    shard) and `text` is set for the item itself; `captions` are texts that
    describe an image/audio item (embedded as extra text vectors).
    """

    id: str
    modality: str  # "text" | "image" | "audio"
    uri: str | None = None
    text: str | None = None
    captions: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ShardRow:
    """What one stored vector is: an item, or a caption of one (`parent_id`)."""

    id: str
    modality: str
    kind: str = ITEM
    parent_id: str | None = None
    uri: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The shard descriptor's form of this row (its ShardRow fields only)."""
        return {f.name: getattr(self, f.name) for f in fields(ShardRow)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ShardRow":
        return cls(**data)


@dataclass
class Row(ShardRow):
    """One indexed vector, by its FAISS label: an item, or a caption of an item."""

    label: int = field(kw_only=True)


@dataclass
class NewRow(Row):
    """A row to insert, with where its vector lives (shard file + row)."""

    shard: str = field(kw_only=True)
    shard_row: int = field(kw_only=True)


class LiveRow(NamedTuple):
    """Where a live row's vector is, and what it answers to (compaction
    reads these for every row, so they leave the metadata JSON out)."""

    label: int
    shard: str
    shard_row: int
    modality: str
    kind: str


@dataclass
class Hit:
    """A retrieved item: its id, similarity score (inner product of
    normalised vectors), modality, where its media lives, and metadata
    (caption, user fields, which index it came from)."""

    id: str
    score: float
    modality: str
    uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def caption_id(item_id: str, j: int) -> str:
    """Stable id of the j-th caption of an item."""
    return f"{item_id}#caption{j}"


def item_rows(record: Record, captions: Sequence[int]) -> list[ShardRow]:
    """The vector rows of an embedded record: its item row, then one row per
    caption position in `captions` (those that got a vector).

    The item row's `text` is a text item's text, or an image/sound's first
    non-empty caption (what a result shows)."""
    first_caption = next((c for c in record.captions if (c or "").strip()), None)
    rows = [ShardRow(record.id, record.modality, ITEM, None, record.uri,
                     record.text if record.modality == "text" else first_caption,
                     dict(record.metadata))]
    rows += [ShardRow(caption_id(record.id, j), "text", CAPTION, record.id, record.uri,
                      record.captions[j], dict(record.metadata)) for j in captions]
    return rows


def new_row(row: ShardRow, label: int, shard: str, shard_row: int) -> NewRow:
    """A shard row placed in an index: its label and its vector's location."""
    return NewRow(**row.to_json(), label=label, shard=shard, shard_row=shard_row)


def hit_from_row(row: Row, score: float, index_name: str) -> Hit:
    """An index row -> Hit. User metadata fields come first; the reserved
    keys `index`, `kind`, `text` (item text or caption) and `parent_id`
    (for captions) are set here. A caption hit is a text hit."""
    meta = dict(row.metadata or {})
    meta["index"] = index_name
    meta["kind"] = row.kind
    if row.text is not None:
        meta["text"] = row.text
    if row.parent_id:
        meta["parent_id"] = row.parent_id
    modality = "text" if row.kind == CAPTION else row.modality
    return Hit(id=row.id, score=round(float(score), 6), modality=modality, uri=row.uri, metadata=meta)
