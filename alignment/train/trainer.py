"""The training loop: batches of items, InfoNCE over every modality pair
present, early stopping on validation recall.

Each step samples a batch of items and, per modality, one row per item (a
random augmented audio view, a random image view) except text, which gives
up to `captions_per_item` distinct captions per item: an item's captions
(title, keywords, category path, ...) say different things about it, and
seeing them together in one step is what turns them into a multi-positive
target instead of a lottery over which one was drawn. Rows are keyed by the
item's group, so two items with the same caption group in one batch count
as positives of each other instead of false negatives.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..losses import multimodal_info_nce
from ..retrieval_metrics import Recall
from .evaluate import as_json, evaluate_model, mean_recall
from .model import Aligner, SplitData
from .recipes import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class History:
    """Per-epoch loss and validation recall; the epoch that was kept."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -1.0
    seconds: float = 0.0


class Sampler:
    """Per modality: item -> its rows, to draw one row per item per step."""

    def __init__(self, data: SplitData, rng: np.random.Generator):
        self.rng = rng
        self.by_item: dict[str, list[np.ndarray]] = {}
        n = len(data.ids)
        for m, r in data.rows.items():
            items = r.item.numpy()
            order = np.argsort(items, kind="stable")
            bounds = np.searchsorted(items[order], np.arange(n + 1))
            self.by_item[m] = [order[bounds[i] : bounds[i + 1]] for i in range(n)]
        # items that can form at least one cross-modal pair
        self.usable = np.array(
            [i for i in range(n) if sum(len(self.by_item[m][i]) > 0 for m in self.by_item) >= 2], dtype=np.int64
        )

    def pick(self, items: np.ndarray, modality: str, per_item: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Up to `per_item` distinct random rows of each item that has any."""
        rows, owners = [], []
        for i in items:
            cand = self.by_item[modality][i]
            if per_item == 1 and len(cand):
                cand = cand[[self.rng.integers(len(cand))]]
            elif len(cand) > per_item:
                cand = self.rng.choice(cand, per_item, replace=False)
            rows.extend(cand)
            owners.extend([i] * len(cand))
        return np.asarray(rows, dtype=np.int64), np.asarray(owners, dtype=np.int64)


def _optimizer(model: Aligner, cfg: TrainConfig) -> torch.optim.Optimizer:
    # frozen parts (e.g. text/image heads while audio is bound) stay out of every group
    heads = [p for p in [*model.heads.parameters(), model.log_scale] if p.requires_grad]
    groups = [{"params": heads, "lr": cfg.lr}]
    if model.prompt is not None and model.prompt.requires_grad:
        groups.append({"params": [model.prompt], "lr": cfg.prompt_lr, "weight_decay": 0.0})
    if model.audio_tower is not None:
        tower = [p for p in model.audio_tower.parameters() if p.requires_grad]
        if tower:
            groups.append({"params": tower, "lr": cfg.tower_lr})
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def _fmt(res: dict[str, Recall]) -> str:
    return "  ".join(f"{d} " + "/".join(f"{100 * v:.1f}" for v in r.recall.values()) for d, r in res.items())


def train(
    model: Aligner,
    train_data: SplitData,
    val_data: SplitData | None,
    cfg: TrainConfig,
) -> History:
    """Train `model` in place; at the end it holds the best-on-val weights.

    Stops early when the validation score (mean R@1/5/10 over
    `cfg.select_on` directions, default all) has not improved for
    `cfg.patience` epochs. Without validation data, the last epoch is kept.
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    sampler = Sampler(train_data, rng)
    if len(sampler.usable) < 2:
        raise ValueError("training needs at least two items with two modalities each")
    opt = _optimizer(model, cfg)
    groups = torch.as_tensor(np.unique(train_data.groups, return_inverse=True)[1])
    hist = History()
    best_state = copy.deepcopy(model.state_dict())
    t0 = time.time()
    steps = max(1, math.ceil(len(sampler.usable) / cfg.batch_size))
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    bad = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        perm = rng.permutation(sampler.usable)
        losses = []
        for s in range(steps):
            batch = perm[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            if len(batch) < 2:
                continue
            embs, keys = {}, {}
            for m in model.heads:
                if m not in train_data.rows:
                    continue
                rows, owners = sampler.pick(batch, m, cfg.captions_per_item if m == "text" else 1)
                if len(rows):
                    embs[m] = model.embed(m, train_data.rows[m], torch.as_tensor(rows))
                    keys[m] = groups[torch.as_tensor(owners)]
            loss, _parts = multimodal_info_nce(embs, keys, model.log_scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.clamp_()
            losses.append(loss.item())
        rec = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
               "scale": round(float(model.log_scale.detach().exp()), 2), "seconds": round(time.time() - t0, 1)}
        if val_data is not None:
            res = evaluate_model(model, val_data)
            score = mean_recall(res, cfg.select_on or None)
            rec["val"] = as_json(res)
            rec["val_score"] = round(score, 4)
            improved = score > hist.best_score + 1e-6
            log.info(f"epoch {epoch:3d}/{cfg.epochs}  loss {rec['loss']:.4f}  val {_fmt(res)}  "
                     f"score {100 * score:.2f}{' *' if improved else ''}  {rec['seconds']}s")
        else:
            improved, score = True, -rec["loss"]
            log.info(f"epoch {epoch:3d}/{cfg.epochs}  loss {rec['loss']:.4f}  {rec['seconds']}s")
        hist.epochs.append(rec)
        if improved:
            hist.best_epoch, hist.best_score, bad = epoch, score, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if val_data is not None and bad >= cfg.patience:
                log.info(f"early stop: no val improvement for {cfg.patience} epochs; keeping epoch {hist.best_epoch}")
                break
    model.load_state_dict(best_state)
    model.eval()
    hist.seconds = time.time() - t0
    return hist
