"""The physical bound in `bench throughput`: how many items/s the machine
could encode if the encoder's arithmetic ran at the measured peak.

FLOPs per item are counted by torch's FlopCounterMode over the encoder's
frozen graph (tower + head) on real prepared items (for text the batch's
real token lengths, padding included); the peak is the best of a few
large fp32 matrix products on the same threads. bound = peak / FLOPs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class Bound:
    """FLOPs per item, the measured peak and the resulting items/s ceiling."""

    flops_per_item: float | None
    peak_gflops: float | None
    bound_items_per_s: float | None


def flops_per_item(encoder: Any, prepared: Sequence[Any]) -> float | None:
    """Forward FLOPs per item (multiply-add = 2) of `encoder.frozen()`."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    if not prepared or not hasattr(encoder, "frozen"):
        return None
    frozen = encoder.frozen().eval()
    device = next(frozen.parameters()).device
    inputs = [t.to(device) for t in encoder.graph_inputs(list(prepared)).values()]
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        frozen(*inputs)
    total = counter.get_total_flops()
    return total / len(prepared) if total else None


def peak_gflops(n: int = 1024, reps: int = 5) -> float:
    """Best fp32 GFLOP/s of an n x n matrix product on torch's threads."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def bound(encoder: Any, prepared: Sequence[Any], peak: float | None) -> Bound:
    flops = flops_per_item(encoder, prepared)
    items = peak * 1e9 / flops if flops and peak else None
    return Bound(flops, peak, items)
