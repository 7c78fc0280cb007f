"""`EncoderStack`: the per-modality encoders one model spec names."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .core.contracts import EncodeResult, Encoder
from .core.errors import BadInput, XmodalError
from .pipeline import run_batches


@dataclass
class EncoderStack:
    """Encoders for some of text / image / audio, all into one space.

    `fingerprint` identifies the weights (towers + alignment); an index
    records it so that a query encoded by other weights is refused.
    `aligned` is False when the projection heads are untrained, i.e. the
    modalities do not share a space yet (cross-modal scores meaningless).
    """

    spec: str
    encoders: dict[str, Encoder]
    fingerprint: str
    aligned: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def modalities(self) -> list[str]:
        return list(self.encoders)

    @property
    def dim(self) -> int:
        dims = {e.dim for e in self.encoders.values()}
        if len(dims) != 1:
            raise XmodalError(f"model {self.spec}: towers disagree on dim {sorted(dims)}")
        return dims.pop()

    def encoder(self, modality: str) -> Encoder:
        try:
            return self.encoders[modality]
        except KeyError:
            raise BadInput(
                f"model {self.spec}",
                f"has no {modality} encoder",
                f"it encodes {', '.join(self.modalities)}",
            ) from None

    def embed(
        self,
        modality: str,
        items: Sequence[Any],
        batch_size: int | None = None,
        workers: int = 2,
        names: Sequence[str] | None = None,
        on_batch=None,
    ) -> EncodeResult:
        """Encode what can be encoded; report the rest in `.errors`.
        `batch_size` None: the backend's preferred size for the modality."""
        import torch  # lazily: importing xmodal.alignment must not load torch (CLI start-up)

        from .backends.batching import preferred_batch

        enc = self.encoder(modality)
        with torch.inference_mode():
            return run_batches(enc, items, batch_size or preferred_batch(enc), workers, on_batch, names)

    def _strict(self, modality: str, items: Sequence[Any], batch_size: int | None) -> np.ndarray:
        res = self.embed(modality, items, batch_size)
        if res.errors:
            first = res.errors[0]
            raise BadInput(first.item, first.reason)
        return res.vectors

    def encode_text(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Texts -> (n, dim) float32; raises BadInput on the first bad one."""
        return self._strict("text", texts, batch_size)

    def encode_images(self, items: Sequence[Any], batch_size: int | None = None) -> np.ndarray:
        """Image paths / bytes / PIL images -> (n, dim) float32."""
        return self._strict("image", items, batch_size)

    def encode_audio(self, items: Sequence[Any], batch_size: int | None = None) -> np.ndarray:
        """Audio paths / bytes / (waveform, rate) -> (n, dim) float32."""
        return self._strict("audio", items, batch_size)

    def eval(self) -> "EncoderStack":
        import torch

        for enc in self.encoders.values():
            module = getattr(enc, "module", None)
            if isinstance(module, torch.nn.Module):
                module.eval()
        return self
