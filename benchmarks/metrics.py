"""Retrieval metrics with CLIP_benchmark's definitions (recall@k, MRR, mAP).

The implementation is `xmodal.alignment.retrieval_metrics`, the one that
alignment's evaluator also uses; the benchmark runners import it from here.
"""
from __future__ import annotations

from xmodal.alignment.retrieval_metrics import (
    DEFAULT_KS,
    Relevance,
    ranks_exact,
    ranks_from_topk,
    retrieval_metrics,
    summarise,
)

__all__ = ["DEFAULT_KS", "Relevance", "ranks_exact", "ranks_from_topk", "retrieval_metrics", "summarise"]
