"""Markdown summary and confusion-matrix PNG of a `bench zeroshot` run."""
from __future__ import annotations

from pathlib import Path

from .report import md_table
from .zeroshot import ZeroShotResult


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown(r: ZeroShotResult) -> str:
    """Headline metrics beside chance, the template variants, the worst classes."""
    m, ch = r.metrics, r.metrics["chance"]
    head = md_table(["metric (%)", "zero-shot", "chance (uniform)"], [
        ["top-1 accuracy", _pct(m["top1"]), _pct(ch["top1"])],
        ["top-5 accuracy", _pct(m["top5"]), _pct(ch["top5"])],
        ["mean per-class recall", _pct(m["mean_per_class_recall"]), _pct(ch["mean_per_class_recall"])],
        ["macro F1", _pct(m["macro_f1"]), _pct(ch["macro_f1"])],
    ])
    var = md_table(["templates", "article", "top-1", "top-5", "mean per-class recall", "macro F1"], [
        [v.templates, "a/an" if v.article else "no", _pct(v.top1), _pct(v.top5),
         _pct(v.mean_per_class_recall), _pct(v.macro_f1)] for v in r.variants])
    worst = md_table(["class", "items", "recall (%)", "mistaken for (items)"], [
        [w["label"], w["support"], _pct(w["recall"]),
         ", ".join(f"{lb} ({n})" for lb, n in w["confused_with"]) or "-"] for w in m["worst"]])
    return "\n\n".join([
        f"# Zero-shot classification: {r.dataset} ({r.split} split), model {r.model}",
        f"{r.n_items} {r.modality} items of the held-out {r.split} split, classified among all "
        f"{len(r.classes)} `{r.class_key}` classes of the corpus (depth {r.depth}); headline templates "
        f"`{r.templates}`{' with a/an' if r.article else ''}; majority-class accuracy {_pct(ch['majority'])}%."
        + (f" {len(r.skipped)} item(s) skipped." if r.skipped else ""),
        head, "## Prompt template variants (same media vectors)", var,
        "## Worst classes (lowest recall)", worst,
    ])


def confusion_png(r: ZeroShotResult, path: str | Path) -> Path:
    """The headline variant's confusion matrix as a PNG."""
    from .plots import confusion_heatmap

    return confusion_heatmap(r.metrics["confusion"], r.classes, path,
                             f"{r.dataset} {r.split} ({r.modality}): top-1 {_pct(r.metrics['top1'])}% "
                             f"(chance {_pct(r.metrics['chance']['top1'])}%)")
