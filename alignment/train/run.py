"""One training run end to end: items -> features -> stages -> held-out
evaluation (per corpus, with baselines) -> checkpoint with its report."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
import torch

from ..aligned import CheckpointInfo, HeadInfo, save_checkpoint, tower_fingerprint
from ..registry import load_encoder, parse_spec
from .baselines import run_baselines
from .data import Item, by_split, items_digest
from ..retrieval_metrics import Recall
from .evaluate import evaluate_embedded
from .fit import export_tensors, fit_stages, make_aligner
from .model import Aligner, SplitData
from .prepare import FeatureOptions, build_split
from .prompts import templates_for
from .recipes import Recipe
from .trainer import log_line, embed_split


def base_stack(spec: str):
    """The towers to train on, *without* any alignment installed (the
    shipped `lite` alignment would otherwise change the audio tower)."""
    parsed = parse_spec(spec)
    if parsed.name in ("lite", "tiny") and not parsed.argument and not parsed.align:
        from ..config import load_config
        from ..stacks.lite import build_from_config

        return build_from_config(load_config(parsed.name), parsed.name)
    return load_encoder(spec)


@dataclass
class Prepared:
    stack: object
    items: dict[str, list[Item]]
    data: dict[str, SplitData]
    skipped: list[str] = field(default_factory=list)


def prepare(recipe: Recipe, items: list[Item], log: TextIO | None = sys.stderr, stack=None,
            cache_root: str | None = None) -> Prepared:
    """Features for the train/val/test splits of `items`."""
    stack = stack or base_stack(recipe.model)
    torch.set_grad_enabled(True)
    opts = FeatureOptions(templates=templates_for(recipe.templates), token_ids=recipe.n_ctx > 0,
                          n_ctx=recipe.n_ctx, audio_views=recipe.audio_views if recipe.train_audio_tower else -1,
                          audio_seed=recipe.seed, cache_root=cache_root)
    out = Prepared(stack, {}, {})
    for split in ("train", "val", "test"):
        part = by_split(items, split)
        if split == "train":
            part = cap_corpora(part, recipe.corpus_caps, recipe.seed)
        if not part:
            continue
        log_line(log, f"{split}: {len(part)} items")
        o = opts if split == "train" else FeatureOptions(**{**opts.__dict__, "audio_views": min(opts.audio_views, 0)})
        out.data[split], sk = build_split(stack, part, o, log)
        out.items[split] = part
        out.skipped += sk
    if "train" not in out.data:
        from ..core.errors import XmodalError

        raise XmodalError("no training items (every item is in val/test): check the data's 'split' fields")
    return out


def cap_corpora(items: list[Item], caps: dict[str, int], seed: int) -> list[Item]:
    """At most caps[corpus] training items of a corpus (seeded sample), so
    one large corpus cannot dominate the cost of an epoch."""
    if not caps:
        return items
    rng = np.random.default_rng(seed)
    out: list[Item] = []
    for c in dict.fromkeys(it.corpus for it in items):
        mine = [it for it in items if it.corpus == c]
        if c in caps and len(mine) > caps[c]:
            keep = sorted(rng.choice(len(mine), caps[c], replace=False))
            mine = [mine[i] for i in keep]
        out += mine
    return out


def corpus_subsets(items: list[Item], data: SplitData) -> dict[str, SplitData]:
    """The split restricted to each corpus (plus 'all')."""
    out = {"all": data}
    names = sorted({it.corpus for it in items if it.corpus})
    if len(names) > 1:
        for c in names:
            out[c] = data.subset(np.asarray([i for i, it in enumerate(items) if it.corpus == c]))
    return out


def held_out(model: Aligner, prep: Prepared, split: str, baselines: bool, log) -> dict:
    """Recall of the trained alignment (and baselines) per corpus on `split`."""
    if split not in prep.data:
        return {}
    subsets = corpus_subsets(prep.items[split], prep.data[split])
    report: dict = {c: {"trained": _dump(evaluate_embedded(embed_split(model, d)))} for c, d in subsets.items()}
    if baselines:
        for c, res in baselines_on(prep, subsets, log).items():
            report[c].update(res)
    return report


def baselines_on(prep: Prepared, subsets: dict[str, SplitData], log) -> dict:
    """Text-image baselines fitted on prep's train split (hyper-parameters
    chosen on its val split), scored on every subset that has both sides:
    {subset: {baseline: {"hp": ..., direction: recall}}}."""
    train = prep.data["train"]
    pairable = {c: d for c, d in subsets.items()
                if all(m in d.rows and len(d.rows[m]) and d.rows[m].feats is not None for m in ("text", "image"))}
    out: dict = {}
    if pairable and "image" in train.rows:
        log_line(log, "baselines: fitting on train, selecting on val")
        for name, b in run_baselines(train, prep.data.get("val"), pairable, "text", "image").items():
            for c, res in b["test"].items():
                out.setdefault(c, {})[name] = {"hp": b["hp"], **_dump(res)}
    return out


def _dump(res: dict[str, Recall]) -> dict:
    return {d: r.as_dict() for d, r in res.items()}


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


def train_run(recipe: Recipe, items: list[Item], out_dir: str, log: TextIO | None = sys.stderr,
              cache_root: str | None = None, prep: Prepared | None = None) -> dict:
    """Train, evaluate on val/test, save the checkpoint; return its report."""
    t0 = time.time()
    prep = prep or prepare(recipe, items, log, cache_root=cache_root)
    t_feat = time.time() - t0
    torch.manual_seed(recipe.seed)
    model = make_aligner(prep.stack, recipe, prep.data["train"].modalities)
    stages = fit_stages(model, prep.stack, recipe, prep.data["train"], prep.data.get("val"), log)
    t_train = time.time() - t0 - t_feat
    heads_only = stages.pop("heads_only_model", None)
    metrics = {"val": held_out(model, prep, "val", False, log),
               "test": held_out(model, prep, "test", recipe.baselines, log)}
    if heads_only is not None:
        # prompt-tuning vs heads-only, both on held-out test
        metrics["test_heads_only"] = held_out(heads_only, prep, "test", False, log)
    metrics["test_margin_text_image"] = margins(metrics["test"])
    info = checkpoint_info(prep.stack, recipe, model, items, stages, metrics,
                           {"feature_seconds": round(t_feat, 1), "train_seconds": round(t_train, 1),
                            "skipped": len(prep.skipped)})
    save_checkpoint(out_dir, export_tensors(model), info)
    log_line(log, f"saved {out_dir} (features {t_feat:.0f}s, training {t_train:.0f}s)")
    return info.to_json()


def checkpoint_info(stack, recipe: Recipe, model: Aligner, items: list[Item], stages: dict, metrics: dict,
                    timing: dict) -> CheckpointInfo:
    heads = {m: HeadInfo(h.in_dim, h.kind) for m, h in model.heads.items()}
    counts = {s: sum(1 for it in items if it.split == s) for s in ("train", "val", "test")}
    return CheckpointInfo(
        dim=model.dim, heads=heads, base=recipe.model,
        tower_fingerprints={m: tower_fingerprint(stack, m) for m in model.heads},
        prompt=None if model.prompt is None else {"n_ctx": int(model.prompt.shape[0]), "init": recipe.prompt_init},
        template=templates_for(recipe.templates)[0], templates=templates_for(recipe.templates),
        audio_tower=model.audio_tower is not None,
        recipe=recipe.as_dict(),
        data={"items_sha256": items_digest(items), "counts": counts,
              "corpora": {c: {"items_sha256": items_digest([it for it in items if it.corpus == c]),
                              **{s: sum(1 for it in items if it.corpus == c and it.split == s)
                                 for s in ("train", "val", "test")}}
                          for c in sorted({it.corpus for it in items if it.corpus})}},
        metrics=metrics, training={**stages, **timing},
    )

