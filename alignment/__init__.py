"""Encoders into one shared space, and the contrastive prompt alignment
that trains it. Nothing here imports FAISS."""
from .core.contracts import MODALITIES, EncodeResult, Encoder, ItemError, l2_normalise
from .core.errors import BadInput, MissingWeights, UnknownModel, XmodalError
from .core.threads import register_thread_setter
from .registry import available, load_encoder, parse_spec, register
from .stack import EncoderStack


def _torch_threads(n: int) -> None:
    import torch  # lazily: `xmodal --help` must not pay for torch

    torch.set_num_threads(n)


register_thread_setter("torch", _torch_threads)

__all__ = [
    "MODALITIES", "EncodeResult", "Encoder", "EncoderStack", "ItemError", "l2_normalise",
    "BadInput", "MissingWeights", "UnknownModel", "XmodalError",
    "available", "load_encoder", "parse_spec", "register",
]
