"""Request and response bodies of the HTTP API (pydantic models; they are
what the OpenAPI schema shows). Limits here are the first line of defence;
the engine re-checks everything it is given."""
from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from xmodal.alignment.core.errors import BadInput

from .options import MAX_K, SearchOptions
from .query import Query

MAX_UPLOAD_BYTES = 8 << 20  # per decoded image/audio upload
MAX_BODY_BYTES = 12 << 20  # whole request (base64 adds a third)
MAX_TEXT_CHARS = 2000
MAX_EMBEDDING = 4096

Scalar = Union[StrictStr, StrictInt, StrictFloat, StrictBool, None]


class SearchRequest(BaseModel):
    """Exactly one of text, image_b64, audio_b64, embedding, id.

    Strict types: `k` must be a JSON integer and `rescore` a JSON boolean
    (no "10", true or "yes" read as something else)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="query text")
    image_b64: str | None = Field(None, max_length=MAX_BODY_BYTES, description="base64 image file")
    audio_b64: str | None = Field(None, max_length=MAX_BODY_BYTES, description="base64 audio file")
    embedding: list[float] | None = Field(None, max_length=MAX_EMBEDDING, description="query vector")
    id: str | None = Field(None, max_length=1000, description="more like this indexed item")
    k: int = Field(10, ge=1, le=MAX_K)
    target: Literal["image", "audio", "text", "all"] | None = Field(
        None, description="result modality; captions count as text")
    where: dict[str, Union[Scalar, list[Scalar], dict[str, Union[Scalar, list[Scalar]]]]] | None = Field(
        None, description='metadata filter, all conditions must hold: field -> value (equality), '
        '[values] (any of them), or an operator object: {"not": v | [v...]}, {">=": 512, "<": 1024} '
        '(numeric ranges: <, <=, >, >=), {"exists": true|false}; dotted fields reach into nested '
        'objects; an unknown field is a 400 naming the known ones',
        examples=[{"license": "cc0", "width": {">=": 512}, "tags": {"not": ["nsfw"]}}])
    dedup: float | None = Field(None, gt=0, le=1, description="collapse results this cosine-similar")
    rescore: bool = False

    def to_query(self) -> Query:
        """Decode uploads and build the engine's Query (BadInput on junk)."""
        return Query(
            text=self.text,
            image=_decode(self.image_b64, "image_b64"),
            audio=_decode(self.audio_b64, "audio_b64"),
            embedding=self.embedding,
            id=self.id,
        )

    def to_options(self) -> SearchOptions:
        """The engine's SearchOptions (BadInput on values the engine refuses)."""
        return SearchOptions(k=self.k, target=self.target, where=self.where, dedup=self.dedup,
                             rescore=self.rescore)


def _decode(value: str | None, field: str) -> bytes | None:
    if value is None:
        return None
    if "," in value[:100] and value.startswith("data:"):  # tolerate data: URLs
        value = value.split(",", 1)[1]
    if len(value) * 3 // 4 > MAX_UPLOAD_BYTES:
        raise BadInput(field, f"upload is over {MAX_UPLOAD_BYTES >> 20} MB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(field, "is not valid base64") from None
    if not data:
        raise BadInput(field, "is empty")
    return data


class HitOut(BaseModel):
    id: str
    score: float
    modality: str
    uri: str | None = None
    metadata: dict[str, Any] = {}
    media_url: str | None = Field(None, description="GET this for the file (add ?thumb=1 for images)")


class SearchResponse(BaseModel):
    hits: list[HitOut]
    query: str = Field(description="which query field was used")
    took_ms: float


class IndexInfo(BaseModel):
    name: str
    path: str
    generation: int | None = None
    encoder_spec: str | None = None
    dim: int | None = None
    metric: str | None = None
    factory: str | None = None
    counts: dict[str, Any] | None = None


class Health(BaseModel):
    status: str
    indexes: int
    encoder: str | None
    aligned: bool | None = Field(None, description="False: untrained heads, cross-modal scores are noise")
