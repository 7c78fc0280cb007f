"""Training-free alignments of the same frozen features, for comparison.

Each baseline is fitted on the train split's paired tower features of two
modalities (every caption with its item's image, say) and maps both sides
into one space where cosine similarity ranks:

- `lstsq`: ridge regression from side A onto side B's space.
- `procrustes`: PCA both sides to d dims, then the orthogonal rotation
  minimising ||A R - B|| (SVD of A^T B).
- `cca`: regularised canonical correlation analysis, top d directions.
- `asif`: relative representations (ASIF): each vector becomes its
  similarities to the anchor pairs of its own modality, top-k sparsified and
  raised to a power p; two modalities are compared in that anchor space.

Each has one or two hyper-parameters, chosen on the validation split so the
comparison with the trained alignment (also selected on val) is fair.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Callable

import numpy as np

from ..core.contracts import l2_normalise
from .evaluate import Embedded, evaluate_embedded, mean_recall
from .model import SplitData

BASELINES = ("lstsq", "procrustes", "cca", "asif")


@dataclass
class Fitted:
    """Maps for side A and side B into a shared comparison space."""

    a: Callable[[np.ndarray], np.ndarray]
    b: Callable[[np.ndarray], np.ndarray]


def paired(data: SplitData, ma: str, mb: str) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (a_i, b_i) of two modalities sharing an item: every row of
    `ma` with the first clean row of `mb` of the same item."""
    ra, rb = data.rows[ma], data.rows[mb]
    first: dict[int, int] = {}
    for r, (it, ok) in enumerate(zip(rb.item.tolist(), rb.clean.tolist())):
        if ok:
            first.setdefault(it, r)
    ia, ib = [], []
    for r, (it, ok) in enumerate(zip(ra.item.tolist(), ra.clean.tolist())):
        if ok and it in first:
            ia.append(r)
            ib.append(first[it])
    return ra.feats[ia].numpy(), rb.feats[ib].numpy()


class _Pre:
    """Centre on the train mean, then L2-normalise (standard for all four)."""

    def __init__(self, x: np.ndarray):
        self.mean = x.mean(axis=0, keepdims=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return l2_normalise(x - self.mean)


def _pca(x: np.ndarray, d: int) -> np.ndarray:
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return vt[:d].T


def _inv_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v / np.sqrt(np.maximum(w, 1e-12))) @ v.T


def fit(name: str, a: np.ndarray, b: np.ndarray, memo: dict | None = None, **hp) -> Fitted:
    """Fit baseline `name` on paired rows a (n, da), b (n, db). `memo`
    reuses factorisations across a hyper-parameter grid."""
    memo = {} if memo is None else memo
    pa, pb = _Pre(a), _Pre(b)
    A, B = pa(a), pb(b)
    if name == "lstsq":
        lam = hp.get("lam", 1.0)
        w = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ B)
        return Fitted(lambda x: pa(x) @ w, pb)
    if name == "procrustes":
        d = min(hp.get("d", 64), A.shape[1], B.shape[1], len(A))
        if "pca" not in memo:
            memo["pca"] = (_pca(A, A.shape[1]), _pca(B, B.shape[1]))
        qa, qb = memo["pca"][0][:, :d], memo["pca"][1][:, :d]
        u, _, vt = np.linalg.svd((A @ qa).T @ (B @ qb))
        r = u @ vt
        return Fitted(lambda x: pa(x) @ qa @ r, lambda x: pb(x) @ qb)
    if name == "cca":
        reg, d = hp.get("reg", 1e-2), hp.get("d", 64)
        if ("cca", reg) not in memo:
            n = len(A)
            wa = _inv_sqrt(A.T @ A / n + reg * np.eye(A.shape[1]))
            wb = _inv_sqrt(B.T @ B / n + reg * np.eye(B.shape[1]))
            memo[("cca", reg)] = (wa, wb, *np.linalg.svd(wa @ (A.T @ B / n) @ wb))
        wa, wb, u, s, vt = memo[("cca", reg)]
        d = min(d, len(s))
        xa, xb = wa @ u[:, :d], wb @ vt[:d].T
        return Fitted(lambda x: pa(x) @ xa, lambda x: pb(x) @ xb)
    if name == "asif":
        k, p = hp.get("k", 64), hp.get("p", 8.0)
        return Fitted(lambda x: _relative(pa(x), A, k, p), lambda x: _relative(pb(x), B, k, p))
    raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")


def _relative(x: np.ndarray, anchors: np.ndarray, k: int, p: float, block: int = 2048) -> np.ndarray:
    """ASIF: similarity to each anchor, keep the top k, raise to p, normalise."""
    out = np.zeros((len(x), len(anchors)), np.float32)
    k = min(k, len(anchors))
    for s in range(0, len(x), block):
        sims = x[s : s + block] @ anchors.T
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(sims, idx, axis=1)
        np.put_along_axis(out[s : s + block], idx, np.maximum(vals, 0.0) ** p, axis=1)
    return l2_normalise(out)


GRIDS: dict[str, list[dict]] = {
    "lstsq": [{"lam": v} for v in (0.1, 1.0, 10.0, 100.0)],
    "procrustes": [{"d": v} for v in (16, 32, 64, 128, 256)],
    "cca": [{"d": d, "reg": r} for d, r in product((16, 32, 64, 128), (1e-3, 1e-2, 1e-1))],
    "asif": [{"k": k, "p": p} for k, p in product((16, 64, 256), (1.0, 4.0, 8.0))],
}


def embed_with(f: Fitted, data: SplitData, ma: str, mb: str) -> Embedded:
    emb = Embedded()
    for m, side in ((ma, f.a), (mb, f.b)):
        r = data.rows[m]
        keep = r.clean.numpy()
        emb.vectors[m] = l2_normalise(side(r.feats.numpy()[keep]))
        emb.keys[m] = r.item.numpy()[keep]
    return emb


def run_baselines(train: SplitData, val: SplitData | None, tests: dict[str, SplitData], ma: str = "text",
                  mb: str = "image", names: tuple[str, ...] = BASELINES) -> dict[str, dict]:
    """Fit each baseline on train, pick its hyper-parameters on val, report
    recall on every split in `tests`.
    Returns {name: {"hp": ..., "val_score": ..., "test": {key: {dir: Recall}}}}."""
    a, b = paired(train, ma, mb)
    out = {}
    for name in names:
        best, memo = None, {}
        for hp in GRIDS[name] if val is not None else GRIDS[name][:1]:
            f = fit(name, a, b, memo, **hp)
            score = mean_recall(evaluate_embedded(embed_with(f, val, ma, mb))) if val is not None else 0.0
            if best is None or score > best[0]:
                best = (score, hp, f)
        score, hp, f = best
        test_res = {k: evaluate_embedded(embed_with(f, d, ma, mb)) for k, d in tests.items()}
        out[name] = {"hp": hp, "val_score": round(score, 4), "test": test_res}
    return out
