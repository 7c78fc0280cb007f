"""Encoders into one shared space, and the contrastive prompt alignment
that trains it. Nothing here imports FAISS."""
from .contracts import MODALITIES, EncodeResult, Encoder, ItemError, l2_normalise
from .errors import BadInput, MissingWeights, UnknownModel, XmodalError
from .registry import available, load_encoder, parse_spec, register
from .stack import EncoderStack

__all__ = [
    "MODALITIES", "EncodeResult", "Encoder", "EncoderStack", "ItemError", "l2_normalise",
    "BadInput", "MissingWeights", "UnknownModel", "XmodalError",
    "available", "load_encoder", "parse_spec", "register",
]
