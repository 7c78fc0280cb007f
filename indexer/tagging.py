"""Tagging an index: zero-shot labels of its items written into their
metadata as a new generation (`xmodal tag`), and undoing the latest one.

The items' stored vectors are classified (`xmodal.alignment.zeroshot`),
nothing is re-encoded but the labels' prompts. Each item whose tags change
gets a new row with the new metadata under a new FAISS label, its vector
re-added from its shard, and the old row deleted at the new generation:
exactly the update path of an upsert, so readers pinned to the previous
generation still see the untagged rows, and a run killed before its
manifest rename is rolled back by the next writer (rerun it; items already
carrying the same tags are left alone, so a rerun after success changes
nothing). Captions of a tagged item carry its tags too, as they carry the
rest of its metadata.

Metadata keys written: `tag` (the best label, a string, so
`--where tag=vehicle` filters on it), `tag_top` (the best `top` labels,
best first), `tag_scores` (label -> cosine score) and `tag_generation`
(the generation that wrote them, which also marks the keys as xmodal's: an
item whose own metadata already uses one of them is refused, not
overwritten). Items with no label over `min_score` lose these keys.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from xmodal.alignment.backends.options import RunOptions
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import NewRow, Row
from xmodal.alignment.core.protocols import Embedder
from xmodal.alignment.zeroshot import Classifier, LabelScore, build_classifier

from .publish import Writer
from .reader import load_faiss
from .reports import TagResult
from .shards import VectorStore
from .update import _commit, _remove_labels, _stack_for

TAG_KEYS = ("tag", "tag_top", "tag_scores")
MARK = "tag_generation"
STATS_KEY = "tagging"  # manifest stats of a tagging generation (what undo checks)
CHUNK = 4096


@dataclass
class TagOptions:
    """What to tag with: labels, how many per item, the score floor, the
    prompt templates (None: each modality's default) and which modalities."""

    labels: list[str]
    top: int = 1
    min_score: float | None = None
    templates: str | None = None
    article: bool = True
    modalities: tuple[str, ...] = ("image", "audio")


def tagged_metadata(meta: dict[str, Any], ranked: Sequence[LabelScore], generation: int) -> dict[str, Any]:
    """`meta` with the tag keys set from `ranked` (or dropped when empty);
    `meta` itself when its tags are these already."""
    out = {k: v for k, v in meta.items() if k not in TAG_KEYS and k != MARK}
    if ranked:
        out["tag"] = ranked[0].label
        out["tag_top"] = [s.label for s in ranked]
        out["tag_scores"] = {s.label: s.score for s in ranked}
    same = {k: meta.get(k) for k in TAG_KEYS} == {k: out.get(k) for k in TAG_KEYS}
    if same:
        return meta
    if ranked:
        out[MARK] = generation
    return out


def _check_owned(row: Row) -> None:
    """Refuse to overwrite an item's own metadata field of a tag key's name."""
    if MARK not in row.metadata:
        clash = [k for k in TAG_KEYS if k in row.metadata]
        if clash:
            raise XmodalError(f"item {row.id}: its metadata already has a '{clash[0]}' field that xmodal "
                              f"tagging did not write; rename that field (tagging writes {', '.join(TAG_KEYS)})")


def _replace_rows(writer: Writer, changes: list[tuple[Row, dict[str, Any]]], generation: int):
    """Re-insert each row with its new metadata under a new label (its
    vector re-added from its shard); the old rows are deleted at
    `generation`. Returns the FAISS index to publish."""
    meta = writer.open_meta()
    m = writer.manifest
    index = load_faiss(writer.dir / m.index_file, mmap=False)
    if not changes:
        return index
    old = [r.label for r, _ in changes]
    locs = meta.locations(old)
    _remove_labels(index, meta, old, generation)
    start = meta.next_label()
    new_rows = [NewRow(r.id, r.modality, r.kind, r.parent_id, r.uri, r.text, md, label=start + j,
                       shard=locs[r.label][0], shard_row=locs[r.label][1])
                for j, (r, md) in enumerate(changes)]
    vectors = VectorStore(writer.dir, m.dim).gather([locs[r.label] for r, _ in changes])
    index.add_with_ids(np.ascontiguousarray(vectors), np.arange(start, start + len(new_rows), dtype=np.int64))
    meta.insert(new_rows, generation)
    return index


def _captions_of(writer: Writer, ids: Sequence[str]) -> dict[str, list[Row]]:
    """Live caption rows per item id."""
    meta = writer.open_meta()
    labels = [lab for labs in meta.live_labels(list(ids)).values() for lab in labs]
    out: dict[str, list[Row]] = {}
    for row in meta.rows(labels):
        if row is not None and row.kind == "caption" and row.parent_id:
            out.setdefault(row.parent_id, []).append(row)
    return out


@dataclass
class _Plan:
    """What a tagging run will write: (row, new metadata) pairs, items first."""

    items: int = 0
    changes: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)
    by_tag: dict[str, int] = field(default_factory=dict)
    untagged: int = 0
    templates: dict[str, list[str]] = field(default_factory=dict)


def _plan(writer: Writer, stack: Embedder, opts: TagOptions, progress: bool) -> _Plan:
    """Classify the live items' stored vectors chunk by chunk (progress in items)."""
    meta = writer.open_meta()
    live = [r for r in meta.live_rows_all() if r.kind == "item" and r.modality in opts.modalities]
    store = VectorStore(writer.dir, writer.manifest.dim)
    classifiers: dict[str, Classifier] = {}
    plan = _Plan(items=len(live))
    bar = tqdm(total=len(live), unit="item", desc="tagging", disable=not progress, dynamic_ncols=True)
    for start in range(0, len(live), CHUNK):
        part = live[start:start + CHUNK]
        rows = meta.rows([r.label for r in part])
        vecs = store.gather([(r.shard, r.shard_row) for r in part])
        for mod in sorted({r.modality for r in part}):
            if mod not in classifiers:
                classifiers[mod] = build_classifier(stack, opts.labels, mod, opts.templates, opts.article)
            sel = [i for i, r in enumerate(part) if r.modality == mod]
            for i, ranked in zip(sel, classifiers[mod].top(vecs[sel], opts.top, opts.min_score)):
                _check_owned(rows[i])
                if ranked:
                    plan.by_tag[ranked[0].label] = plan.by_tag.get(ranked[0].label, 0) + 1
                else:
                    plan.untagged += 1
                new = tagged_metadata(rows[i].metadata, ranked, writer.generation + 1)
                if new != rows[i].metadata:
                    plan.changes.append((rows[i], new))
        bar.update(len(part))
    bar.close()
    plan.templates = {m: c.templates for m, c in classifiers.items()}
    return plan


def _with_captions(writer: Writer, changes: list[tuple[Row, dict[str, Any]]]) -> list[tuple[Row, dict[str, Any]]]:
    """The item changes plus their captions' rows, given the items' tag keys."""
    caps = _captions_of(writer, [r.id for r, _ in changes])
    out = list(changes)
    for row, new in changes:
        for cap in caps.get(row.id, []):
            keep = {k: v for k, v in cap.metadata.items() if k not in TAG_KEYS and k != MARK}
            out.append((cap, {**keep, **{k: new[k] for k in (*TAG_KEYS, MARK) if k in new}}))
    return out


def tag_index(index_dir: str | Path, opts: TagOptions, stack: Embedder | None = None,
              progress: bool = False, run: RunOptions | None = None) -> TagResult:
    """Classify every live item of `opts.modalities` among `opts.labels` and
    publish the tags as a new generation (none when nothing changes)."""
    if opts.top < 1:
        raise XmodalError(f"--top {opts.top}: give 1 or more")
    with Writer(index_dir) as writer:
        writer.open_meta()
        plan = _plan(writer, _stack_for(writer, stack, run), opts, progress)
        changed = len(plan.changes)
        result = TagResult(writer.generation, dict(writer.manifest.counts), None, items=plan.items,
                           changed=changed, unchanged=plan.items - changed, untagged=plan.untagged,
                           by_tag=dict(sorted(plan.by_tag.items(), key=lambda kv: (-kv[1], kv[0]))))
        if not plan.changes:
            return result  # nothing to publish: the index already carries these tags
        generation = writer.generation + 1
        info = {"generation": generation, "previous_generation": writer.generation, "labels": list(opts.labels),
                "top": opts.top, "min_score": opts.min_score, "templates": plan.templates, "tagged": time.time()}
        changes = _with_captions(writer, plan.changes)
        index = _replace_rows(writer, changes, generation)
        done = _commit(writer, index, generation, {STATS_KEY: info}, deleted=len(changes))
        result.generation, result.counts, result.hint = done.generation, done.counts, done.hint
        return result


def untag_index(index_dir: str | Path) -> TagResult:
    """Undo the latest generation when it is a tagging run: the rows it
    replaced come back (their metadata as before) as a new generation."""
    with Writer(index_dir) as writer:
        meta = writer.open_meta()
        m = writer.manifest
        info = m.stats.extra.get(STATS_KEY)
        if not isinstance(info, dict) or info.get("generation") != m.generation:
            made = f" (the last tagging made generation {info['generation']})" if isinstance(info, dict) else ""
            raise XmodalError(f"{writer.dir}: generation {m.generation} is not a tagging run{made}; "
                              "only the latest generation can be undone this way")
        prev = int(info["previous_generation"])
        gone = np.setdiff1d(meta.labels_where(prev), meta.labels_where(m.generation))
        before = {r.id: r for r in meta.rows(gone.tolist()) if r is not None}
        now = meta.live_labels(list(before), with_captions=False)
        current = {r.id: r for r in meta.rows([labs[0] for labs in now.values()]) if r is not None}
        changes = [(current[i], before[i].metadata) for i in before if i in current]
        if len(changes) != len(before):
            raise XmodalError(f"{writer.dir}: rows of generation {prev} are gone; cannot undo the tagging")
        generation = m.generation + 1
        index = _replace_rows(writer, changes, generation)
        done = _commit(writer, index, generation, {STATS_KEY: None, "untagged": {
            "undid_generation": m.generation, "restored_from": prev, "at": time.time()}}, deleted=len(changes))
        items = sum(r.kind == "item" for r, _ in changes)
        return TagResult(done.generation, done.counts, done.hint, items=items, changed=items,
                         unchanged=0, untagged=0, by_tag={})
