"""`xmodal bench retrieval`: recall@k / mAP / MRR in every direction a
dataset allows, exactly and through a real FAISS index, side by side.

The dataset is indexed by the indexer's own build pipeline (a JSONL
manifest -> `xmodal.indexer.build.build`), so items the encoder cannot
read are skipped and reported exactly as `xmodal index build` would. Both
evaluations then use the vectors stored in that index:

- exact: brute-force scores over the stored vectors (metrics.ranks_exact);
- index: the index's FAISS structure with its tuned search parameters and
  an ID-selector restricting results to the direction's gallery (e.g. only
  image items for text->image), top-K lists -> metrics.ranks_from_topk.

The difference between the two is the ANN loss. (`xmodal search` answers
filtered searches over <= 4096 allowed items exactly from stored vectors;
this benchmark deliberately goes through the FAISS structure instead so the
loss of the structure itself is visible at any gallery size.)
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .datasets import EvalSet, load_dataset
from .metrics import DEFAULT_KS, Relevance, ranks_exact, ranks_from_topk, summarise

if TYPE_CHECKING:  # the indexer loads FAISS; imported where a run needs it
    from xmodal.indexer import IndexReader

Log = Callable[[str], None]
INDEX_K = 100  # depth of the index's result lists (MRR/mAP through the index are @K)


@dataclass
class Direction:
    """One retrieval direction over an index's labels."""

    name: str  # e.g. "text->image"
    queries: np.ndarray  # int64 labels
    gallery: np.ndarray  # int64 labels
    relevance: Relevance


def media_roots(paths: Sequence[str]) -> list[str]:
    """The one folder holding every media path of a manifest written
    outside the corpus: the indexer reads only inside its corpus roots, and
    this manifest lives in the run's output folder, not beside the media."""
    real = [os.path.realpath(p) for p in paths]
    return [os.path.dirname(real[0]) if len(real) == 1 else os.path.commonpath(real)] if real else []


def write_manifest(ds: EvalSet, path: Path, modalities: Sequence[str]) -> tuple[int, list[tuple[str, str]]]:
    """The dataset as an indexer JSONL manifest; items of modalities the
    model cannot encode are left out and returned as skipped."""
    skipped, n = [], 0
    with path.open("w", encoding="utf-8") as fh:
        for it in ds.items:
            if it.modality not in modalities:
                skipped.append((it.id, f"model has no {it.modality} encoder"))
                continue
            row = {"id": it.id, "path": str(Path(it.path).resolve()), "modality": it.modality,
                   "captions": it.captions}
            if it.group:
                row["group"] = it.group
            fh.write(json.dumps(row) + "\n")
            n += 1
    return n, skipped


def plan_directions(rows: Sequence[Any]) -> list[Direction]:
    """text<->M for each captioned media modality M; image<->audio when
    items of both share `group` metadata."""
    items: dict[str, list[Any]] = {}
    captions_of: dict[str, list[Any]] = {}
    for r in rows:
        if r.kind == "item" and r.modality in ("image", "audio"):
            items.setdefault(r.modality, []).append(r)
        elif r.kind == "caption" and r.parent_id is not None:
            captions_of.setdefault(r.parent_id, []).append(r)
    out: list[Direction] = []
    for mod in ("image", "audio"):
        its = [r for r in items.get(mod, []) if captions_of.get(r.id)]
        if not its:
            continue
        caps = [c for r in its for c in captions_of[r.id]]
        item_labels = np.array([r.label for r in its], dtype=np.int64)
        cap_labels = np.array([c.label for c in caps], dtype=np.int64)
        out.append(Direction(f"text->{mod}", cap_labels, item_labels,
                             Relevance.from_keys([c.parent_id for c in caps], [r.id for r in its])))
        out.append(Direction(f"{mod}->text", item_labels, cap_labels,
                             Relevance.from_keys([r.id for r in its], [c.parent_id for c in caps])))
    groups = {m: [r for r in items.get(m, []) if (r.metadata or {}).get("group") not in (None, "")]
              for m in ("image", "audio")}
    if groups["image"] and groups["audio"]:
        for a, b in (("image", "audio"), ("audio", "image")):
            qs, gs = groups[a], groups[b]
            rel = Relevance.from_keys([str(r.metadata["group"]) for r in qs],
                                      [str(r.metadata["group"]) for r in gs])
            if len(rel.gallery):
                out.append(Direction(f"{a}->{b}", np.array([r.label for r in qs], dtype=np.int64),
                                     np.array([r.label for r in gs], dtype=np.int64), rel))
    return out


def index_topk(ix: IndexReader, queries: np.ndarray, gallery: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Top-k gallery positions per query through the FAISS structure with
    the manifest's search parameters, restricted to `gallery` labels.

    Each returned list is re-sorted by (score desc, gallery position asc):
    the same tie rule as the exact path, so duplicate vectors (e.g. the same
    category caption on many images) do not show up as "ANN loss" merely
    because FAISS orders exact ties differently. Only ties inside the
    returned k are re-sorted: when a tie straddles the k-th place, FAISS
    chose which of the tied items made the list, and that can still differ
    from the exact path."""
    import faiss

    from xmodal.indexer.searching import search as faiss_search

    pos = {int(lab): i for i, lab in enumerate(gallery)}
    sel = faiss.IDSelectorBatch(np.ascontiguousarray(gallery, dtype=np.int64))
    out = np.full((len(queries), k), -1, dtype=np.int64)
    for s in range(0, len(queries), chunk):
        scores, labels = faiss_search(ix.index, queries[s : s + chunk], k, ix.manifest.search_params,
                                      sel, ix.vectors)
        for r, (srow, lrow) in enumerate(zip(scores, labels)):
            found = [(float(sc), pos[int(lab)]) for sc, lab in zip(srow, lrow) if int(lab) in pos]
            found.sort(key=lambda t: (-t[0], t[1]))
            out[s + r, : len(found)] = [p for _, p in found]
    return out


def evaluate(ix: IndexReader, d: Direction, ks: Sequence[int] = DEFAULT_KS) -> dict[str, Any]:
    """Exact, exact truncated at K, and index metrics for one direction."""
    q = ix.vectors(d.queries)
    g = ix.vectors(d.gallery)
    t0 = time.perf_counter()
    exact_ranks = ranks_exact(q, g, d.relevance)
    t_exact = time.perf_counter() - t0
    k = min(INDEX_K, len(d.gallery))
    t0 = time.perf_counter()
    topk = index_topk(ix, q, d.gallery, k)
    t_index = time.perf_counter() - t0
    truncated = [np.where(r < k, r, np.inf) for r in exact_ranks]
    return {"direction": d.name, "n_queries": len(d.queries), "n_gallery": len(d.gallery), "index_k": k,
            "exact": summarise(exact_ranks, ks), f"exact@{k}": summarise(truncated, ks),
            "index": summarise(ranks_from_topk(topk, d.relevance), ks),
            "seconds_exact": t_exact, "seconds_index": t_index}


def run_retrieval(model: str, dataset: str, out: str | Path, root: str | None = None, split: str = "test",
                  memory: str = "2G", recall: float = 0.95, factory: str | None = None,
                  batch_size: int = 32, ks: Sequence[int] = DEFAULT_KS,
                  log: Log = lambda s: None) -> dict[str, Any]:
    """Load, index, evaluate; returns the results dict (see retrieval_report)."""
    from xmodal.alignment import load_encoder
    from xmodal.indexer import open_index
    from xmodal.indexer.build import BuildConfig, build
    from xmodal.alignment.core.sizes import parse_memory

    ds = load_dataset(dataset, root, split)
    log(f"dataset {ds.name}/{ds.split}: {ds.summary()['items']} items, {ds.n_captions} captions, "
        f"{len(ds.skipped)} skipped while loading")
    stack = load_encoder(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "eval-manifest.jsonl"
    n_written, not_encodable = write_manifest(ds, manifest, stack.modalities)
    index_dir = out / "index.xmodal"
    t0 = time.perf_counter()
    report = build(BuildConfig(corpus=[str(manifest)], out=str(index_dir), model=model,
                               memory=parse_memory(memory), recall=recall, factory=factory,
                               batch_size=batch_size,
                               allow_roots=media_roots([it.path for it in ds.items if it.path])),
                  stack=stack, progress=False, log=log)
    build_s = time.perf_counter() - t0
    ix = open_index(index_dir)
    rows = ix.rows(ix.labels_where())
    directions = plan_directions(rows)
    log(f"index {ix.manifest.factory} {ix.manifest.search_params}: {len(rows)} vectors, "
        f"directions: {', '.join(d.name for d in directions) or 'none'}")
    results = [evaluate(ix, d, ks) for d in directions]
    skipped = [{"item": i, "reason": r, "stage": "load"} for i, r in ds.skipped]
    skipped += [{"item": i, "reason": r, "stage": "model"} for i, r in not_encodable]
    skipped += [{"item": s.get("item") or s.get("id", "?"), "reason": s.get("reason", ""),
                 "stage": s.get("stage", "index")} for s in report.skipped]
    return {
        "model": model, "model_aligned": bool(getattr(stack, "aligned", True)),
        "encoder_fingerprint": stack.fingerprint, "dataset": ds.summary(),
        "index": {"path": str(index_dir), "factory": ix.manifest.factory,
                  "search_params": ix.manifest.search_params, "vectors": len(rows),
                  "build_seconds": build_s, "embed_records_per_second": report.embed.records_per_second},
        "directions": results, "skipped": skipped, "skipped_count": len(skipped),
    }
