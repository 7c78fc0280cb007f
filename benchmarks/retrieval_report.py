"""Markdown, plots and published reference numbers for retrieval runs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .plots import recall_bars
from .report import md_table

REFERENCES = Path(__file__).resolve().parent / "references.json"


def find_reference(model: str, dataset: str, split: str) -> dict[str, Any] | None:
    """Published numbers for exactly this model spec + dataset + split."""
    refs = json.loads(REFERENCES.read_text())["references"]
    key = (model.strip().lower(), dataset.strip().lower(), split)
    for ref in refs:
        if (ref["model"].lower(), ref["dataset"], ref["split"]) == key:
            return ref
    return None


def attach_reference(results: dict[str, Any]) -> None:
    ref = find_reference(results["model"], results["dataset"]["name"], results["dataset"]["split"])
    results["reference"] = ref
    for d in results["directions"]:
        d["published"] = (ref or {}).get("results", {}).get(d["direction"])


def markdown(r: dict[str, Any]) -> str:
    ds, ix = r["dataset"], r["index"]
    lines = [f"## Retrieval: {r['model']} on {ds['name']} ({ds['split']})", "",
             f"Items {ds['items']}, captions {ds['captions']}; index `{ix['factory']}` "
             f"{ix['search_params'] or ''} over {ix['vectors']} vectors; {r['skipped_count']} skipped "
             "(see report.json)."]
    if not r.get("model_aligned", True):
        lines += ["", "**Warning: this model's projection heads are untrained (not aligned); "
                  "cross-modal scores are meaningless.**"]
    for d in r["directions"]:
        k = d["index_k"]
        metrics = [key for key in d["exact"] if key.startswith("R@")] + ["MRR", "mAP"]
        pub = d.get("published") or {}
        rows = [[m, d["exact"][m], d[f"exact@{k}"][m], d["index"][m],
                 _delta(d["index"][m], d[f"exact@{k}"][m]), pub.get(m)] for m in metrics]
        valid = int(d["exact"]["n_queries"])
        unanswerable = d["n_queries"] - valid
        extra = f"; {unanswerable} queries with no relevant item left out" if unanswerable else ""
        lines += ["", f"### {d['direction']} ({valid} queries, gallery {d['n_gallery']}{extra})", "",
                  md_table(["metric", "exact", f"exact@{k}", f"index@{k}", "index - exact@K", "published"],
                           rows)]
    if r.get("reference"):
        lines += ["", f"Published numbers: {r['reference']['source']}"]
    lines += ["", "R@k, MRR and mAP in %. MRR/mAP @K count relevant items beyond the top K as misses; "
              "R@k for k <= K is exact in both columns."]
    return "\n".join(lines)


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def plot(r: dict[str, Any], out_dir: str | Path) -> Path | None:
    if not r["directions"]:
        return None
    return recall_bars(r["directions"], Path(out_dir) / "retrieval_recall.png",
                       f"{r['model']} on {r['dataset']['name']} ({r['dataset']['split']})")
