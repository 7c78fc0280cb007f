"""The last steps of a run: held-out recall per corpus (with the
training-free baselines beside it) and the checkpoint's record of what was
trained on what.

Reports are the JSON recorded in `alignment.json`:
{split: {corpus: {method: {direction: recall dict}}}}, `corpus` "all" plus
each corpus when there are several.
"""
from __future__ import annotations

import logging
from dataclasses import asdict

from ..aligned import CheckpointInfo, HeadInfo, tower_fingerprint
from ..retrieval_metrics import Recall
from .baselines import run_baselines
from .concept import concept_config
from .data import Item, data_record
from .evaluate import as_json, corpus_subsets, embed_split, recall_by_corpus
from .fit import Fitted
from .model import Aligner, SplitData
from .prepare import Prepared
from .recipes import Recipe

log = logging.getLogger(__name__)


def trained_recall(model: Aligner, prep: Prepared, split: str) -> dict[str, dict]:
    """{corpus: {direction: recall dict}} of `model` on `split`."""
    emb = embed_split(model, prep.data[split])
    return {c: as_json(res) for c, res in recall_by_corpus(emb, [it.corpus for it in prep.items[split]]).items()}


def held_out(model: Aligner, prep: Prepared, split: str, baselines: bool) -> dict:
    """Recall of the trained alignment (and baselines) per corpus on `split`."""
    if split not in prep.data:
        return {}
    report: dict = {c: {"trained": res} for c, res in trained_recall(model, prep, split).items()}
    if baselines:
        for c, res in baselines_on(prep, corpus_subsets(prep.items[split], prep.data[split])).items():
            report[c].update(res)
    return report


def held_out_metrics(fitted: Fitted, prep: Prepared, baselines: bool) -> dict:
    """Everything a trained checkpoint records about its held-out quality:
    val and test recall (test with baselines), heads-only on test when a
    soft prompt was tried, and the text->image margin over the baselines."""
    metrics = {"val": held_out(fitted.model, prep, "val", False),
               "test": held_out(fitted.model, prep, "test", baselines)}
    if fitted.heads_only is not None:
        # prompt-tuning vs heads-only, both on held-out test
        metrics["test_heads_only"] = held_out(fitted.heads_only, prep, "test", False)
    metrics["test_margin_text_image"] = margins(metrics["test"])
    return metrics


def baselines_on(prep: Prepared, subsets: dict[str, SplitData]) -> dict:
    """Text-image baselines fitted on prep's train split (hyper-parameters
    chosen on its val split), scored on every subset that has both sides:
    {subset: {baseline: {"hp": ..., direction: recall}}}."""
    train = prep.data["train"]
    pairable = {c: d for c, d in subsets.items()
                if all(m in d.rows and len(d.rows[m]) and d.rows[m].feats is not None for m in ("text", "image"))}
    out: dict = {}
    if pairable and "image" in train.rows:
        log.info("baselines: fitting on train, selecting on val")
        for name, b in run_baselines(train, prep.data.get("val"), pairable, "text", "image").items():
            for c, res in b["test"].items():
                out.setdefault(c, {})[name] = {"hp": b["hp"], **as_json(res)}
    return out


def margins(report: dict, direction: str = "text->image") -> dict:
    """How much the trained alignment beats the best baseline (R@k points)."""
    out = {}
    for corpus, res in report.items():
        if "trained" not in res or direction not in res["trained"]:
            continue
        base = {n: r[direction] for n, r in res.items() if n != "trained" and direction in r}
        if not base:
            continue
        out[corpus] = {}
        for k in ("R@1", "R@5", "R@10"):
            best_name = max(base, key=lambda n: base[n][k])
            out[corpus][k] = {"trained": res["trained"][direction][k], "best_baseline": best_name,
                              "baseline": base[best_name][k],
                              "margin": round(res["trained"][direction][k] - base[best_name][k], 4)}
    return out


def eval_margins(results: dict[str, dict[str, Recall]], base: dict,
                 directions: tuple[str, ...] = ("text->image", "image->text")) -> dict:
    """{direction: margins} of evaluated recall (Recall objects per corpus)
    over baselines ({corpus: {baseline: {direction: recall dict}}})."""
    report = {c: {"trained": as_json(res), **base.get(c, {})}
              for c, res in results.items()}
    return {d: margins(report, d) for d in directions}


def checkpoint_info(prep: Prepared, recipe: Recipe, model: Aligner, items: list[Item], stages: dict,
                    metrics: dict, timing: dict) -> CheckpointInfo:
    """The checkpoint's JSON: heads, towers, prompt and templates, recipe,
    the hash of every corpus trained on (with split counts), metrics and
    training summary."""
    heads = {m: HeadInfo(h.in_dim, h.kind) for m, h in model.heads.items()}
    image = model.heads["image"] if "image" in model.heads else None
    concept = ({k: v for k, v in concept_config(recipe.concept).items() if k != "gate"}
               if image is not None and hasattr(image, "bridge") else None)
    return CheckpointInfo(
        dim=model.dim, heads=heads, base=recipe.model,
        tower_fingerprints={m: tower_fingerprint(prep.stack, m) for m in model.heads},
        prompt=None if model.prompt is None else {"n_ctx": int(model.prompt.shape[0]), "init": recipe.prompt_init},
        template=prep.templates[0], templates=list(prep.templates),
        audio_tower=model.audio_tower is not None, concept=concept,
        recipe=asdict(recipe),
        data=data_record(items),
        metrics=metrics, training={**stages, **timing},
    )
