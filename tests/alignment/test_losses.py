"""The contrastive losses against a brute-force, loop-by-loop reference."""
import math

import pytest
import torch

from xmodal.alignment.losses import (
    LOGIT_SCALE_INIT,
    LOGIT_SCALE_MAX,
    info_nce,
    multimodal_info_nce,
    scale_from_log,
)


def _norm(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _one_direction(a, b, ka, kb, scale):
    """Mean over rows with a positive of -sum_j t_j log softmax_j, t uniform over positives."""
    losses = []
    for i, row in enumerate(a):
        pos = [j for j in range(len(b)) if kb[j] == ka[i]]
        if not pos:
            continue
        logits = [scale * sum(x * y for x, y in zip(row, col)) for col in b]
        mx = max(logits)
        lse = mx + math.log(sum(math.exp(z - mx) for z in logits))
        losses.append(sum(-(logits[j] - lse) / len(pos) for j in pos))
    return sum(losses) / len(losses)


def brute_info_nce(a, b, log_scale, ka=None, kb=None):
    a = [_norm(r) for r in a.tolist()]
    b = [_norm(r) for r in b.tolist()]
    ka = list(range(len(a))) if ka is None else ka.tolist()
    kb = list(range(len(b))) if kb is None else kb.tolist()
    scale = math.exp(min(log_scale, math.log(100)))
    return 0.5 * (_one_direction(a, b, ka, kb, scale) + _one_direction(b, a, kb, ka, scale))


def test_info_nce_matches_brute_force_one_to_one():
    a, b = torch.randn(7, 5), torch.randn(7, 5)
    got = info_nce(a, b, LOGIT_SCALE_INIT).item()
    assert got == pytest.approx(brute_info_nce(a, b, LOGIT_SCALE_INIT), rel=1e-5)


def test_info_nce_matches_brute_force_with_repeated_keys():
    # two captions of item 0, one of item 2 that has no image in the batch
    a, b = torch.randn(6, 4), torch.randn(4, 4)
    ka = torch.tensor([0, 0, 1, 2, 3, 5])
    kb = torch.tensor([0, 1, 3, 4])
    got = info_nce(a, b, 1.3, ka, kb).item()
    assert got == pytest.approx(brute_info_nce(a, b, 1.3, ka, kb), rel=1e-5)


def test_logit_scale_is_clamped_at_100():
    assert scale_from_log(10.0).item() == pytest.approx(100.0)
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    assert info_nce(a, b, 10.0).item() == pytest.approx(info_nce(a, b, LOGIT_SCALE_MAX).item())


def test_perfect_alignment_has_low_loss_and_shuffled_high():
    x = torch.eye(8) * 5
    good = info_nce(x, x, LOGIT_SCALE_MAX).item()
    bad = info_nce(x, x[torch.randperm(8, generator=torch.Generator().manual_seed(1))], LOGIT_SCALE_MAX).item()
    assert good < 1e-3 < math.log(8) / 2 < bad


def test_multimodal_sums_only_pairs_present():
    t, i, a = torch.randn(4, 6), torch.randn(3, 6), torch.randn(2, 6)
    keys = {"text": torch.tensor([0, 1, 2, 3]), "image": torch.tensor([0, 1, 2]), "audio": torch.tensor([7, 8])}
    total, parts = multimodal_info_nce({"text": t, "image": i, "audio": a}, keys, 2.0)
    # audio shares no key with anything: only text-image counts
    assert list(parts) == ["text-image"]
    ref = brute_info_nce(t, i, 2.0, keys["text"], keys["image"])
    assert total.item() == pytest.approx(ref, rel=1e-5)
    keys["audio"] = torch.tensor([3, 2])
    total, parts = multimodal_info_nce({"text": t, "image": i, "audio": a}, keys, 2.0)
    assert list(parts) == ["text-image", "text-audio", "image-audio"]
    refs = [
        brute_info_nce(t, i, 2.0, keys["text"], keys["image"]),
        brute_info_nce(t, a, 2.0, keys["text"], keys["audio"]),
        brute_info_nce(i, a, 2.0, keys["image"], keys["audio"]),
    ]
    assert total.item() == pytest.approx(sum(refs) / 3, rel=1e-5)


def test_gradients_flow_to_embeddings_and_scale():
    a = torch.randn(5, 4, requires_grad=True)
    s = torch.tensor(LOGIT_SCALE_INIT, requires_grad=True)
    info_nce(a, torch.randn(5, 4), s).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0 and s.grad is not None
