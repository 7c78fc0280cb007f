"""In-memory stand-ins for the indexer's read API and an encoder, used to
test the engine's own logic (filters, dedup, merging, reopen) against
brute force without building FAISS indexes."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

from xmodal.alignment.core.contracts import EncodeResult, ItemError, l2_normalise
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import Row


@dataclass
class FakeManifest:
    encoder_spec: str = "fake"
    encoder_fingerprint: str = "fp-1"
    dim: int = 8
    metric: str = "ip"
    factory: str = "Flat"
    generation: int = 1
    counts: dict = field(default_factory=dict)


class FakeIndex:
    """Exact inner-product search over `vectors`; `short` caps how many
    results a *filtered* search returns, imitating HNSW under a selective
    filter."""

    def __init__(self, rows: list[Row], vectors: np.ndarray, manifest: FakeManifest | None = None,
                 short: int | None = None):
        self.rows_ = {r.label: r for r in rows}
        self.vecs = {r.label: l2_normalise(v[None])[0] for r, v in zip(rows, vectors)}
        self.manifest = manifest or FakeManifest(dim=vectors.shape[1])
        self.short = short
        self.stale = False
        self.search_calls = 0

    def search(self, q, k, labels=None):
        self.search_calls += 1
        pool = list(self.rows_) if labels is None else [int(l) for l in labels if int(l) in self.rows_]
        scores = np.array([float(self.vecs[l] @ q[0]) for l in pool], np.float32)
        order = np.argsort(-scores, kind="stable")[:k]
        if labels is not None and self.short is not None:
            order = order[: self.short]
        out_s = np.full((1, k), -np.inf, np.float32)
        out_l = np.full((1, k), -1, np.int64)
        out_s[0, : len(order)] = scores[order]
        out_l[0, : len(order)] = np.array(pool, np.int64)[order]
        return out_s, out_l

    def rows(self, labels):
        return [self.rows_.get(int(l)) for l in labels if int(l) in self.rows_]

    def labels_where(self, modality=None, kind=None, where=None):
        for key in where or {}:
            if not re.match(r"^[A-Za-z0-9_\-. ]+$", key):
                raise XmodalError(f"filter field {key!r}: use letters, digits, '_', '-', '.' only")
        out = []
        for r in self.rows_.values():
            if modality and r.modality != modality:
                continue
            if kind and r.kind != kind:
                continue
            if where and not all(_match(r.metadata.get(k), v) for k, v in where.items()):
                continue
            out.append(r.label)
        return np.array(sorted(out), np.int64)

    def label_of(self, id):
        return next((r.label for r in self.rows_.values() if r.id == id), None)

    def vectors(self, labels):
        return np.stack([self.vecs[int(l)] for l in labels]).astype(np.float32)

    def is_stale(self):
        return self.stale

    def check_encoder(self, stack):
        if stack.fingerprint != self.manifest.encoder_fingerprint:
            raise XmodalError(f"index built by {self.manifest.encoder_spec}, not {stack.spec}")


def _match(have, want):
    """Indexer semantics: equality, or membership for a list of values;
    field names the indexer would refuse raise its XmodalError."""
    return have in want if isinstance(want, (list, tuple)) else have == want


class FakeEncoder:
    """Text -> a deterministic unit vector from a hash of the text; a text
    of the form 'vec:0,1,0,...' encodes to exactly that vector."""

    def __init__(self, dim: int = 8, fingerprint: str = "fp-1"):
        self.dim = dim
        self.fingerprint = fingerprint
        self.spec = "fake"
        self.calls = 0

    def vector(self, text: str) -> np.ndarray:
        if text.startswith("vec:"):
            v = np.array([float(x) for x in text[4:].split(",")], np.float32)
        else:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return l2_normalise(v[None])[0]

    def embed(self, modality, items, batch_size=32, workers=1, names=None):
        self.calls += 1
        vecs, ok, errors = [], [], []
        for i, item in enumerate(items):
            if modality != "text" or not isinstance(item, str):
                errors.append(ItemError(i, str(names[i] if names else i), f"fake encoder has no {modality}"))
                continue
            vecs.append(self.vector(item))
            ok.append(i)
        arr = np.stack(vecs) if vecs else np.zeros((0, self.dim), np.float32)
        return EncodeResult(arr, ok, errors)


def random_corpus(n: int = 40, dim: int = 8, seed: int = 0, prefix: str = "", captions: int = 5):
    """Rows: a mix of images, audio and texts with metadata, plus a few
    caption rows (kind='caption', modality='text', parent = an image)."""
    rng = np.random.default_rng(seed)
    mods = ["image", "audio", "text"]
    rows = []
    for i in range(n):
        m = mods[i % 3]
        rows.append(Row(label=i, id=f"{prefix}{m}{i}", modality=m,
                            uri=f"{m}{i}.bin" if m != "text" else None,
                            text=f"text {i}" if m == "text" else None,
                            metadata={"license": "cc0" if i % 2 else "by", "n": i}))
    for j in range(captions):
        parent = rows[3 * j]
        rows.append(Row(label=n + j, id=f"{parent.id}#c0", modality="text", kind="caption",
                            parent_id=parent.id, text=f"caption of {parent.id}",
                            metadata=dict(parent.metadata)))
    vectors = rng.standard_normal((len(rows), dim)).astype(np.float32)
    return rows, vectors
