"""`openclip:<arch>/<pretrained tag | local .pt/.safetensors path>`.

Any open_clip architecture. A tag downloads through open_clip/HF hub (the
normal path with a network); a local checkpoint file works offline. `.pt`
files are read by open_clip with torch.load(weights_only=True), so they
cannot execute code; prefer `.safetensors`.
"""
from __future__ import annotations

from pathlib import Path

from ..core.errors import MissingWeights, UnknownModel
from ..core.fingerprint import combine, file_sha256
from ..heads import Head
from ..stack import EncoderStack
from ..towers.clip import OpenClipImage, OpenClipText
from .encoders import ImageEncoder, TextEncoder
from .hub import hub_session, missing

LOCAL_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
USAGE = "openclip:<arch>/<pretrained tag or local .pt/.safetensors file>, e.g. openclip:ViT-B-32/laion2b_s34b_b79k"


def split_argument(argument: str | None) -> tuple[str, str | None]:
    """'ViT-B-32/laion2b_s34b_b79k' -> ('ViT-B-32', 'laion2b_s34b_b79k');
    the checkpoint part may itself be a path with slashes."""
    if not argument:
        raise UnknownModel(f"openclip needs an architecture: {USAGE}")
    arch, _, pretrained = argument.partition("/")
    return arch.strip(), (pretrained.strip() or None)


def _looks_local(pretrained: str) -> bool:
    return pretrained.endswith(LOCAL_SUFFIXES) or pretrained.startswith((".", "/", "~"))


def build_openclip(argument: str | None) -> EncoderStack:
    """Load an open_clip model as a text+image stack (identity heads)."""
    import open_clip

    arch, pretrained = split_argument(argument)
    if pretrained is None:
        raise UnknownModel(f"openclip:{arch} names no weights: {USAGE}")
    if arch not in open_clip.list_models():
        raise UnknownModel(f"openclip: unknown architecture '{arch}' (see open_clip.list_models()); {USAGE}")
    local = _looks_local(pretrained)
    if local:
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise MissingWeights(f"openclip: checkpoint file {path} not found")
        pretrained = str(path)
    with hub_session() as online:
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=pretrained, device="cpu", weights_only=True)
            tokenizer = open_clip.get_tokenizer(arch)
        except Exception as exc:  # download / checkpoint errors from open_clip or the hub
            raise missing("openclip", argument or "", exc, f"{arch}/<local .safetensors file>", online) from None
    model.eval()
    dim = _probe_dim(model, tokenizer)  # projection layouts differ between CLIP variants
    context = int(getattr(model, "context_length", 77))
    size = getattr(model.visual, "image_size", 224)
    size = int(size if isinstance(size, int) else max(size))
    text_tower, image_tower = OpenClipText(model, tokenizer, context), OpenClipImage(model)
    text_tower.out_dim = image_tower.out_dim = dim  # what an alignment head would take
    text = TextEncoder(text_tower, Head(dim, dim, "identity"))
    image = ImageEncoder(image_tower, Head(dim, dim, "identity"), preprocess, size)
    digest = file_sha256(pretrained) if local else f"tag:{pretrained}"
    return EncoderStack(
        spec=f"openclip:{argument}", encoders={"text": text, "image": image},
        fingerprint=combine([f"openclip|{arch}|{digest}"]), aligned=True,
        info={"arch": arch, "pretrained": pretrained, "weight_files": {"text": [pretrained] if local else [],
                                                                      "image": [pretrained] if local else []}},
    )


def _probe_dim(model, tokenizer) -> int:
    import torch

    with torch.inference_mode():
        return int(model.encode_text(tokenizer(["x"])).shape[-1])

