"""Matplotlib PNG plots for benchmark reports (headless Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def recall_bars(directions: Sequence[dict[str, Any]], path: str | Path, title: str,
                ks: Sequence[int] = (1, 5, 10)) -> Path:
    """Grouped bars: recall@k per direction, exact vs through the index.

    `directions` entries: {"direction": "text->image", "exact": {...},
    "index": {...} | None} with "R@k" values in %."""
    n = len(directions)
    fig, axes = plt.subplots(1, max(n, 1), figsize=(3.2 * max(n, 1), 3.4), squeeze=False)
    for ax, d in zip(axes[0], directions):
        labels = [f"R@{k}" for k in ks]
        xs = range(len(ks))
        exact = [d["exact"].get(f"R@{k}") or 0 for k in ks]
        ax.bar([x - 0.2 for x in xs], exact, width=0.4, label="exact")
        if d.get("index"):
            ann = [d["index"].get(f"R@{k}") or 0 for k in ks]
            ax.bar([x + 0.2 for x in xs], ann, width=0.4, label="index")
        ax.set_xticks(list(xs), labels)
        ax.set_ylim(0, 100)
        ax.set_title(d["direction"], fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("recall (%)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def recall_vs_qps(points: Sequence[dict[str, Any]], path: str | Path, title: str,
                  qps_key: str = "qps_batch", marks: Sequence[dict[str, Any]] = ()) -> Path:
    """Recall@10 vs QPS per index family (log QPS), Pareto front marked;
    `marks` (automatic choices: {"name", "recall@10", qps_key}) as stars.

    `points` entries: {"family", "name", "recall@10", qps_key}, each
    family's points in parameter order (the line follows the sweep)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    families: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        families.setdefault(p["family"], []).append(p)
    for fam, pts in families.items():
        ax.plot([p["recall@10"] for p in pts], [p[qps_key] for p in pts], marker="o", ms=4, label=fam)
    front = pareto_front(points, qps_key)
    if front:
        ax.plot([p["recall@10"] for p in front], [p[qps_key] for p in front], "k--", lw=1,
                alpha=0.6, label="Pareto front")
    for m in marks:
        ax.plot([m["recall@10"]], [m[qps_key]], marker="*", ms=13, ls="none", label=m["name"])
    ax.set_yscale("log")
    ax.set_xlabel("recall@10 vs exact")
    ax.set_ylabel(f"queries / s ({qps_key.replace('qps_', '')})")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def pareto_front(points: Sequence[dict[str, Any]], qps_key: str = "qps_batch") -> list[dict[str, Any]]:
    """Points no other point beats on both recall and QPS, by recall."""
    front = []
    for p in points:
        dominated = any(
            q is not p and q["recall@10"] >= p["recall@10"] and q[qps_key] >= p[qps_key]
            and (q["recall@10"] > p["recall@10"] or q[qps_key] > p[qps_key])
            for q in points
        )
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda p: p["recall@10"])


def throughput_bars(modalities: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """items/s per modality: full pipeline vs bare encoder forward, one
    pair of bars per encoder variant.

    `modalities` entries: {"modality", "variants": [{"name",
    "pipeline_items_per_s", "forward_items_per_s"}, ...]}."""
    names = [v["name"] for v in modalities[0]["variants"]] if modalities else []
    fig, ax = plt.subplots(figsize=(4 + 1.5 * max(1, len(names)), 3.5))
    bars = [(n, stage) for n in names for stage in ("pipeline", "forward")]
    width = 0.8 / max(1, len(bars))
    for j, (name, stage) in enumerate(bars):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(modalities))]
        ys = [next((v[f"{stage}_items_per_s"] or 0 for v in m["variants"] if v["name"] == name), 0)
              for m in modalities]
        what = "pipeline (decode+encode+add)" if stage == "pipeline" else "bare forward"
        ax.bar(xs, ys, width=width, label=what if len(names) == 1 else f"{name}: {what}")
    ax.set_xticks(list(range(len(modalities))), [m["modality"] for m in modalities])
    ax.set_ylabel("items / s")
    ax.set_title(title, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def confusion_heatmap(matrix: Sequence[Sequence[float]], names: Sequence[str], path: str | Path,
                      title: str) -> Path:
    """A row-normalised confusion matrix: true class down, predicted across."""
    import numpy as np

    conf = np.asarray(matrix, dtype=np.float64)
    rows = conf.sum(axis=1, keepdims=True)
    norm = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    n = len(names)
    size = min(4 + 0.28 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    short = [c if len(c) <= 28 else c[:25] + "..." for c in names]
    ax.set_xticks(range(n), short, rotation=90, fontsize=7)
    ax.set_yticks(range(n), short, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
