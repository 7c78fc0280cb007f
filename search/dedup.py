"""Near-duplicate collapsing of ranked results (as clip-retrieval's
dedup): a result is dropped when its stored vector is at least
`threshold` cosine-similar to a better-ranked result that was kept."""
from __future__ import annotations

import numpy as np

from xmodal.alignment.core.errors import BadInput


def check_threshold(threshold: float | None) -> float | None:
    """None disables dedup; otherwise a cosine in (0, 1]."""
    if threshold is None:
        return None
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise BadInput("dedup", f"{threshold!r} is not a number") from None
    if not 0.0 < value <= 1.0:
        raise BadInput("dedup", f"threshold {value} is outside (0, 1]", "e.g. 0.95")
    return value


def keep_mask(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask over rows (best-ranked first) of those to keep.

    Greedy: row i survives unless it is >= threshold similar to an earlier
    surviving row. Vectors are L2-normalised, so the dot product is the
    cosine."""
    vecs = np.asarray(vectors, dtype=np.float32)
    n = vecs.shape[0]
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    sims = vecs @ vecs.T
    kept: list[int] = []
    for i in range(n):
        if not kept or float(np.max(sims[i, kept])) < threshold:
            keep[i] = True
            kept.append(i)
    return keep
