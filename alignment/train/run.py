"""Orchestration: the one module that sequences the steps of every run.

A training run flows one way:

    items --prepare--> split tensors --fit--> trained Aligner
          --report--> held-out recall (+ baselines) --> checkpoint

Each step (`prepare`, `fit`, `report`, `transfer`, `stack_eval`) takes
plain inputs and returns typed results; none imports or calls back into
this module, so a new step (or a new head/tower type inside one) is added
here, in order, and nowhere else. Progress lines go to the
`xmodal.alignment.train` loggers (the CLI shows them on stderr).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from ..aligned import load_checkpoint, read_info, save_checkpoint
from ..core.errors import XmodalError
from ..registry import load_encoder
from ..retrieval_metrics import Recall
from .data import Item, from_corpora
from .fit import export_tensors, fit_new, fit_stages, load_into, make_aligner
from .prepare import base_stack, prepare
from .recipes import Recipe
from .evaluate import corpus_subsets
from .report import baselines_on, checkpoint_info, eval_margins, held_out_metrics, trained_recall
from .stack_eval import evaluate_stack
from .transfer import split_shots, transfer_recipe

log = logging.getLogger(__name__)


def train_run(recipe: Recipe, items: list[Item], out_dir: str, cache_root: str | None = None) -> dict:
    """Train, evaluate on val/test, save the checkpoint; return its JSON."""
    t0 = time.time()
    prep = prepare(recipe, items, cache_root=cache_root)
    t_feat = time.time() - t0
    fitted = fit_new(prep.stack, recipe, prep.data["train"], prep.data.get("val"))
    t_train = time.time() - t0 - t_feat
    metrics = held_out_metrics(fitted, prep, recipe.baselines)
    info = checkpoint_info(prep, recipe, fitted.model, items, fitted.summary, metrics,
                           {"feature_seconds": round(t_feat, 1), "train_seconds": round(t_train, 1),
                            "skipped": len(prep.skipped)})
    save_checkpoint(out_dir, export_tensors(fitted.model), info)
    log.info(f"saved {out_dir} (features {t_feat:.0f}s, training {t_train:.0f}s)")
    return info.to_json()


def transfer_run(src_dir: str, items: list[Item], shots: int, out_dir: str, epochs: int = 30, seed: int = 0,
                 cache_root: str | None = None) -> dict:
    """Zero-shot / few-shot / from-scratch on the target's test split; saves
    the few-shot alignment and returns the comparison."""
    tensors, info = load_checkpoint(src_dir)
    recipe = transfer_recipe(info, shots, epochs, seed)
    few, test_items = split_shots(items, shots, seed)
    stack = base_stack(info.base or recipe.model)
    prep = prepare(recipe, few + test_items, stack=stack, cache_root=cache_root)
    modalities = [m for m in info.heads if m in stack.encoders]
    results: dict[str, dict] = {}
    zero = make_aligner(stack, recipe, modalities, info.dim)
    load_into(zero, tensors, stack, recipe)
    results["zero_shot"] = trained_recall(zero, prep, "test")
    log.info(f"few-shot: {len(few)} target pairs, initialised from {src_dir}")
    fewm = make_aligner(stack, recipe, modalities, info.dim)
    load_into(fewm, tensors, stack, recipe)
    fit_stages(fewm, stack, recipe, prep.data["train"], None)
    results["few_shot"] = trained_recall(fewm, prep, "test")
    log.info(f"from scratch: {len(few)} target pairs, random init")
    scratch_recipe = replace(recipe, n_ctx=0)
    scratch = make_aligner(stack, scratch_recipe, modalities, info.dim)
    fit_stages(scratch, stack, scratch_recipe, prep.data["train"], None)
    results["from_scratch"] = trained_recall(scratch, prep, "test")
    report = {"source": str(src_dir), "shots": len(few), "epochs": epochs, "results": results}
    out_info = checkpoint_info(prep, recipe, fewm, few + test_items, {"transfer": report}, {"test": results["few_shot"]}, {})
    out_info.recipe["transfer_from"] = {"dir": str(src_dir), "weights_sha256": info.weights_sha256}
    save_checkpoint(out_dir, export_tensors(fewm), out_info)
    return report


@dataclass
class EvalReport:
    """`align eval`: recall per corpus and direction, what was skipped, and
    (with baselines) the baselines and the trained-minus-best margins."""

    results: dict[str, dict[str, Recall]]
    skipped: list[str]
    baselines: dict = field(default_factory=dict)  # {corpus: {baseline: {"hp", direction: recall dict}}}
    margins: dict = field(default_factory=dict)    # {direction: {corpus: {"R@k": margin dict}}}


def eval_run(ckpt_dir: str, items: list[Item], model: str | None = None, baselines: bool = False,
             cache: str | None = None) -> EvalReport:
    """Apply the checkpoint to its base stack (or `model`) exactly as
    `--model <base>+align:<dir>` would and evaluate it on `items`; with
    `baselines`, score the training-free baselines beside it."""
    info = read_info(ckpt_dir)
    stack = load_encoder(f"{model or info.base or 'lite'}+align:{ckpt_dir}")
    results, skipped = evaluate_stack(stack, items)
    for line in skipped:
        log.info(line)
    if skipped:
        log.info(f"{len(skipped)} items skipped")
    report = EvalReport(results, skipped)
    if baselines:
        report.baselines = baseline_report(ckpt_dir, items, cache)
        report.margins = eval_margins(results, report.baselines)
    return report


def baseline_report(ckpt_dir: str, items: list[Item], cache: str | None = None) -> dict[str, dict]:
    """Baselines fitted on the frozen features of the checkpoint's own
    training corpora (train split, hyper-parameters chosen on val, exactly
    as `align train` does), scored on `items` per corpus: {corpus:
    {baseline: {"hp": ..., direction: recall dict}}}. On a corpus the
    alignment never saw, that is the held-out-domain comparison."""
    info = read_info(ckpt_dir)
    recipe = Recipe.from_dict(info.recipe) if info.recipe else None
    if recipe is None or not recipe.corpora:
        raise XmodalError(f"{ckpt_dir}: its recipe names no training corpora, so there is nothing "
                          "to fit the baselines on (run without --baselines)")
    fit_items = [it for it in from_corpora(recipe.corpora, cache)
                 if it.image and it.captions and it.split in ("train", "val")]
    if not fit_items:
        raise XmodalError(f"{ckpt_dir}: the recipe's corpora ({', '.join(recipe.corpora)}) have no "
                          "captioned images to fit text-image baselines on")
    # frozen tower features only: no prompt, no audio views
    frozen = replace(recipe, n_ctx=0, train_audio_tower=False)
    targets = [replace(it, split="test") for it in items if it.image and it.captions]
    if not targets:
        raise XmodalError("baselines compare text and images: the evaluation data has no captioned images")
    seen = {it.id for it in fit_items} & {it.id for it in targets}
    if seen:
        # the baselines keep their train pairs as anchors: those items are not held out
        log.info(f"note: {len(seen)} evaluation items are in the checkpoint's train/val splits "
                 f"(e.g. {min(seen)}); their scores are not held-out")
    prep = prepare(frozen, fit_items + targets)
    return baselines_on(prep, corpus_subsets(prep.items["test"], prep.data["test"]))
