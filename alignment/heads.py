"""Projection heads from a tower's feature space into the shared space."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn


def _linear(in_dim: int, out_dim: int) -> nn.Module:
    return nn.Linear(in_dim, out_dim)


def _mlp(in_dim: int, out_dim: int) -> nn.Module:
    hidden = max(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))


def _identity(in_dim: int, out_dim: int) -> nn.Module:
    if in_dim != out_dim:
        raise ValueError(f"identity head needs in_dim == out_dim, got {in_dim} != {out_dim}")
    return nn.Identity()


#: head kind -> builder(in_dim, out_dim) of the head's network. A new kind is
#: one entry here: recipes, `align train --head` and checkpoints name it, and
#: a checkpoint's state dict loads into the network this builds.
HEADS: dict[str, Callable[[int, int], nn.Module]] = {"linear": _linear, "mlp": _mlp, "identity": _identity}
HEAD_KINDS = tuple(HEADS)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run module construction under a fixed torch seed without disturbing
    the caller's RNG state, so random inits are reproducible."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Head(nn.Module):
    """`in_dim` -> `out_dim` projection.

    kind: a key of `HEADS`: 'linear' (one matrix + bias), 'mlp'
    (Linear-GELU-Linear with a hidden width of max(in_dim, out_dim)), or
    'identity' (for towers that already output the shared space, e.g. CLIP;
    requires in_dim == out_dim).
    Output is not normalised; encoders L2-normalise after the head.
    """

    def __init__(self, in_dim: int, out_dim: int, kind: str = "linear"):
        super().__init__()
        if kind not in HEADS:
            raise ValueError(f"head kind must be one of {tuple(HEADS)}, got {kind!r}")
        self.in_dim, self.out_dim, self.kind = in_dim, out_dim, kind
        self.net: nn.Module = HEADS[kind](in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def extra_repr(self) -> str:
        return f"{self.in_dim} -> {self.out_dim}, kind={self.kind}"


def make_head(in_dim: int, out_dim: int, kind: str, seed: int) -> Head:
    """A head with a reproducible random init."""
    with seeded(seed):
        return Head(in_dim, out_dim, kind)
