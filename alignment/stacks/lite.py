"""The built-in stacks `lite` (offline pretrained towers) and `tiny`
(random tiny towers of the same families, for tests), built from
`alignment/configs/{lite,tiny}.json`."""
from __future__ import annotations

import math
import sys
from pathlib import Path

from ..config import StackConfig, load_config
from ..core.fingerprint import combine, file_sha256, tensors_sha256
from ..heads import make_head
from ..preprocess.image import make_transform
from ..stack import EncoderStack
from ..towers.audio import build_audio_tower
from ..towers.image import build_image_tower
from ..towers.text import build_text_tower
from .encoders import AudioEncoder, ImageEncoder, TextEncoder

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints" / "lite"
_warned_unaligned = False


def build_from_config(cfg: StackConfig, spec: str) -> EncoderStack:
    """Towers + fixed-seed heads for every modality of a config."""
    seed = cfg.seed
    text_tower, text_files = build_text_tower(cfg.text, seed + 1)
    image_tower, image_files = build_image_tower(cfg.image, seed + 2)
    audio_tower, audio_files = build_audio_tower(cfg.audio, seed + 3)
    ic = cfg.image
    encoders = {
        "text": TextEncoder(text_tower, make_head(text_tower.out_dim, cfg.dim, cfg.text.head, seed + 11)),
        "image": ImageEncoder(
            image_tower,
            make_head(image_tower.out_dim, cfg.dim, ic.head, seed + 12),
            make_transform(ic.image_size, ic.crop_pct, ic.interpolation, ic.mean, ic.std),
            math.ceil(ic.image_size / ic.crop_pct),  # the resize target, before the centre crop
        ),
        "audio": AudioEncoder(audio_tower, make_head(audio_tower.out_dim, cfg.dim, cfg.audio.head, seed + 13),
                              cfg.audio),
    }
    stack = EncoderStack(spec=spec, encoders=encoders, fingerprint="", aligned=False,
                         info={"config": cfg.raw, "weight_files": {
                             "text": [str(p) for p in text_files],
                             "image": [str(p) for p in image_files],
                             "audio": [str(p) for p in audio_files],
                         }})
    stack.fingerprint = compute_fingerprint(stack)
    return stack.eval()


def compute_fingerprint(stack: EncoderStack) -> str:
    """sha256 over the config, the weight files (cached hashes) and every
    in-memory part that is not file-backed: heads, prompt, random towers.
    Call again after installing trained weights (alignment does)."""
    import json

    parts = [f"config|{json.dumps(stack.info.get('config', {}), sort_keys=True)}"]
    files = stack.info.get("weight_files", {})
    for modality, enc in stack.encoders.items():
        paths = files.get(modality) or []
        for p in paths:
            parts.append(f"{modality}|file|{Path(p).name}|{file_sha256(p)}")
        # A tower is only fully described by its files when it loaded
        # pretrained weights (.safetensors/.pth), not just a vocabulary.
        if not any(str(p).endswith((".safetensors", ".pth", ".pt")) for p in paths):
            parts.append(f"{modality}|tower|{tensors_sha256(enc.tower)}")
        parts.append(f"{modality}|head|{tensors_sha256(enc.head)}")
        if getattr(enc, "prompt", None) is not None:
            parts.append(f"{modality}|prompt|{tensors_sha256(enc.prompt)}")
        if getattr(enc, "template", "{}") != "{}":
            parts.append(f"{modality}|template|{enc.template}")
    for name, digest in sorted(stack.info.get("checkpoint_hashes", {}).items()):
        parts.append(f"checkpoint|{name}|{digest}")
    return combine(parts)


def build_tiny(argument: str | None = None) -> EncoderStack:
    """Random tiny towers (BERT, conv net, log-mel CNN), dim 32, seeded:
    two builds give identical vectors. For tests only; never aligned."""
    return build_from_config(load_config("tiny"), "tiny")


def build_lite(argument: str | None = None) -> EncoderStack:
    """The offline towers of `configs/lite.json`, dim 256, with the shipped
    alignment checkpoint when there is one. `argument` picks other tower
    options (`lite:text=mpnet,image=lite2`, see `config.with_towers`); the
    shipped alignment is installed only on the towers it was trained on,
    other options give the bare towers (add `+align:<dir>`)."""
    cfg = load_config("lite", argument)
    # options that only name the default towers are plain `lite` (same towers, same alignment)
    default = not argument or cfg.raw == load_config("lite").raw
    stack = build_from_config(cfg, "lite" if default else f"lite:{argument}")
    if not default:
        return stack
    if (CHECKPOINT_DIR / "alignment.json").is_file():
        from ..aligned import apply_alignment

        return apply_alignment(stack, str(CHECKPOINT_DIR))
    _warn_unaligned()
    return stack


def _warn_unaligned() -> None:
    global _warned_unaligned
    if not _warned_unaligned:
        _warned_unaligned = True
        print("warning: model 'lite' is unaligned (no alignment checkpoint shipped yet): "
              "cross-modal scores are meaningless until it is trained", file=sys.stderr)
