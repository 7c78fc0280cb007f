"""`hfclip:<hub id | local dir>`: transformers CLIPModel or SiglipModel as
a text+image stack. Local dirs (save_pretrained output) work offline."""
from __future__ import annotations

import torch

from ..core.errors import UnknownModel, XmodalError
from ..core.fingerprint import combine
from ..heads import Head
from ..stack import EncoderStack
from ..towers.clip import HFImage, HFText
from ..towers.text import quiet_transformers
from .encoders import ImageEncoder, TextEncoder
from .hub import hub_session, local_or_hub, missing, weights_digest

USAGE = "hfclip:<hub id or local dir>, e.g. hfclip:openai/clip-vit-base-patch32"
IMAGE_TYPES = ("clip", "siglip", "siglip2")


class HFImageTransform:
    """Decoded RGB image -> (3, H, W) pixel_values via the model's processor."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, im) -> torch.Tensor:
        return self.processor(images=im, return_tensors="pt")["pixel_values"][0]


def _image_size(processor) -> int:
    size = getattr(processor, "crop_size", None) or getattr(processor, "size", None)
    if isinstance(size, (int, float)):
        return int(size)
    # dicts in transformers 4, SizeDict objects in 5: {height, width} or {shortest_edge}
    get = size.get if hasattr(size, "get") else (lambda k: getattr(size, k, None))
    values = [get(k) for k in ("shortest_edge", "height", "width")] if size is not None else []
    values = [int(v) for v in values if v]
    return max(values) if values else 224


def load_hf(family: str, argument: str | None, usage: str, loader):
    """Run `loader(target, local_files_only)` under the hub guard; returns
    (target, local, result) or raises one MissingWeights line."""
    target, local = local_or_hub(family, argument, usage)
    with hub_session() as online, quiet_transformers():
        try:
            return target, local, loader(target, local or not online)
        except XmodalError:
            raise
        except Exception as exc:
            raise missing(family, target, exc, "<local dir saved by save_pretrained>", online) from None


def build_hfclip(argument: str | None) -> EncoderStack:
    """Load a CLIP / SigLIP model from the hub or a local directory."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    def load(target: str, local_only: bool):
        model = AutoModel.from_pretrained(target, local_files_only=local_only)
        if model.config.model_type not in IMAGE_TYPES:
            raise UnknownModel(f"hfclip: {target} is a '{model.config.model_type}' model, "
                               f"not one of {IMAGE_TYPES}; for CLAP use clap:{target}")
        tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=local_only)
        processor = AutoImageProcessor.from_pretrained(target, local_files_only=local_only)
        return model.eval(), tokenizer, processor

    target, local, (model, tokenizer, processor) = load_hf("hfclip", argument, USAGE, load)
    siglip = model.config.model_type.startswith("siglip")
    max_tokens = int(getattr(model.config.text_config, "max_position_embeddings", 77))
    text_tower = HFText(model, tokenizer, max_tokens, pad_to_max=siglip)
    dim = probe_text_dim(text_tower)
    size = _image_size(processor)
    image_tower = HFImage(model)
    text_tower.out_dim = image_tower.out_dim = dim  # what an alignment head would take
    encoders = {
        "text": TextEncoder(text_tower, Head(dim, dim, "identity")),
        "image": ImageEncoder(image_tower, Head(dim, dim, "identity"), HFImageTransform(processor), size),
    }
    return EncoderStack(
        spec=f"hfclip:{argument}", encoders=encoders,
        fingerprint=combine([f"hfclip|{weights_digest(target, local, model)}"]), aligned=True,
        info={"target": target, "model_type": model.config.model_type},
    )


def probe_text_dim(tower: HFText) -> int:
    """Shared-space width, read off one forward pass (configs name it
    differently across CLIP / SigLIP / CLAP)."""
    tok = tower.tokenize(["x"])
    with torch.inference_mode():
        return int(tower.features(tok["input_ids"], tok["attention_mask"]).shape[-1])
