"""Encoders into one shared space, and the contrastive prompt alignment
that trains it. Nothing here imports FAISS."""
import os
import sys

from .core.contracts import MODALITIES, EncodeResult, Encoder, ItemError, l2_normalise
from .core.errors import BadInput, MissingWeights, UnknownModel, XmodalError
from .core.threads import register_thread_setter
from .registry import available, load_encoder, parse_spec, register
from .stack import EncoderStack


def _torch_threads(n: int) -> None:
    """Set torch's thread count, without importing torch: `xmodal --threads 1
    search IX -k 0` must answer before paying 3-10 s for torch. Before the
    import, torch (and its OpenMP runtime) take the count from the environment."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)
    else:
        os.environ["OMP_NUM_THREADS"] = str(n)


register_thread_setter("torch", _torch_threads)

__all__ = [
    "MODALITIES", "EncodeResult", "Encoder", "EncoderStack", "ItemError", "l2_normalise",
    "BadInput", "MissingWeights", "UnknownModel", "XmodalError",
    "available", "load_encoder", "parse_spec", "register",
]
