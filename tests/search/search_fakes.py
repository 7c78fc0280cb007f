"""In-memory stand-ins for the indexer's reader (`SearchIndex`) and an
encoder stack (`Embedder`), used to test the engine's own logic (filters,
dedup, merging, reopen) against brute force without building FAISS
indexes. `test_contracts.py` holds them to the same behaviour as the real
classes."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from xmodal.alignment.core.contracts import EncodeResult, ItemError, l2_normalise
from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.core.items import Row
from xmodal.alignment.core.protocols import Embedder, Where
from xmodal.alignment.core.where import conditions, field_values, matches, unknown_fields



@dataclass
class FakeManifest:
    encoder_spec: str = "fake"
    encoder_fingerprint: str = "fp-1"
    dim: int = 8
    metric: str = "ip"
    factory: str = "Flat"
    generation: int = 1
    counts: dict = field(default_factory=dict)
    search_params: dict = field(default_factory=dict)


class FakeIndex:
    """Exact inner-product search over `vectors` (rows: `Row`s)."""

    def __init__(self, rows: list[Row], vectors: np.ndarray, manifest: FakeManifest | None = None,
                 media_roots: Sequence[str] = ()):
        self.rows_ = {r.label: r for r in rows}
        self.vecs = {r.label: l2_normalise(v[None])[0] for r, v in zip(rows, vectors)}
        self.manifest = manifest or FakeManifest(dim=vectors.shape[1])
        self.generation = self.manifest.generation
        self.roots = list(media_roots)
        self.stale = False
        self.search_calls = 0


    def search(self, q, k, labels=None, rescore=False):
        self.search_calls += 1
        q = np.asarray(q, np.float32)
        q = q[None, :] if q.ndim == 1 else q
        if q.ndim != 2 or q.shape[1] != self.manifest.dim:
            raise XmodalError(f"query vectors have shape {q.shape}; this index needs (n, {self.manifest.dim})")
        pool = list(self.rows_) if labels is None else [int(l) for l in labels if int(l) in self.rows_]
        out_s = np.full((len(q), k), -np.inf, np.float32)
        out_l = np.full((len(q), k), -1, np.int64)
        for i, row in enumerate(q):
            scores = np.array([float(self.vecs[l] @ row) for l in pool], np.float32)
            order = sorted(range(len(pool)), key=lambda j: (-scores[j], pool[j]))[:k]
            out_s[i, : len(order)] = scores[order]
            out_l[i, : len(order)] = np.array(pool, np.int64)[order]
        return out_s, out_l

    def rows(self, labels):
        missing = [int(l) for l in labels if int(l) not in self.rows_]
        if missing:
            raise XmodalError(f"fake index: unknown label(s) {missing[:5]}")
        return [self.rows_[int(l)] for l in labels]

    def labels_where(self, modality=None, kind=None, where: Where | None = None):
        conds = conditions(where)  # the shared semantics (alignment.core.where)
        known = {k for r in self.rows_.values() for k, _ in field_values(r.metadata or {})}
        problem = unknown_fields(conds, known) if conds else None
        if problem:
            raise XmodalError(problem)
        out = []
        for r in self.rows_.values():
            if modality and r.modality != modality:
                continue
            if kind and r.kind != kind:
                continue
            if conds and not matches(r.metadata, conds):
                continue
            out.append(r.label)
        return np.array(sorted(out), np.int64)

    def label_of(self, id):
        return next((r.label for r in self.rows_.values() if r.id == id), None)

    def vectors(self, labels):
        missing = [int(l) for l in labels if int(l) not in self.vecs]
        if missing:
            raise XmodalError(f"fake index: no stored vector for label(s) {missing[:5]}")
        if not len(labels):
            return np.zeros((0, self.manifest.dim), np.float32)
        return np.stack([self.vecs[int(l)] for l in labels]).astype(np.float32)

    def media_roots(self) -> list[str]:
        return list(self.roots)

    def is_stale(self):
        return self.stale

    def check_encoder(self, stack: Embedder) -> None:
        m = self.manifest
        if stack.fingerprint != m.encoder_fingerprint or stack.spec != m.encoder_spec:
            raise XmodalError(f"index built by {m.encoder_spec} (fingerprint {m.encoder_fingerprint}), "
                              f"not {stack.spec} (fingerprint {stack.fingerprint})")
        if stack.dim != m.dim:
            raise XmodalError(f"index has dim {m.dim} but encoder '{stack.spec}' gives {stack.dim}")

    def close(self) -> None:
        pass


class FakeEncoder:
    """Text -> a deterministic unit vector from a hash of the text; a text
    of the form 'vec:0,1,0,...' encodes to exactly that vector."""

    def __init__(self, dim: int = 8, fingerprint: str = "fp-1", spec: str = "fake"):
        self.dim = dim
        self.fingerprint = fingerprint
        self.spec = spec
        self.aligned = True
        self.modalities = ["text"]
        self.calls = 0

    def vector(self, text: str) -> np.ndarray:
        if text.startswith("vec:"):
            v = np.array([float(x) for x in text[4:].split(",")], np.float32)
        else:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return l2_normalise(v[None])[0]

    def embed(self, modality, items, batch_size=32, workers=1, names=None, on_batch=None):
        if modality not in self.modalities:
            raise BadInput(f"model {self.spec}", f"has no {modality} encoder",
                           f"it encodes {', '.join(self.modalities)}")
        self.calls += 1
        vecs, ok, errors = [], [], []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                errors.append(ItemError(i, str(names[i] if names else i), "not a text"))
                continue
            vecs.append(self.vector(item))
            ok.append(i)
        arr = np.stack(vecs) if vecs else np.zeros((0, self.dim), np.float32)
        if on_batch:
            on_batch(len(items))
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
