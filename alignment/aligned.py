"""Trained alignments: the checkpoint format (`alignment.safetensors` +
`alignment.json`) and `apply_alignment`, which installs one on a stack.

Tensors (safetensors, never pickle):
    head.<modality>.<param>   projection head weights
    prompt.text               soft prompt (n_ctx, hidden), when trained
    tower.audio.<param>       audio tower weights + BN buffers, when trained
                              (only the trained tail for an ImageNet audio tower)
    concept.class_embeddings  text-tower features of the ImageNet class names
    concept.gate              the concept path's gate in the image head
    head.concept.<param>      the concept projection, when it is not the text head
    log_scale                 learnt log temperature
JSON (`CheckpointInfo`): format/version, shared dim, base spec, the tower
fingerprints it was trained on, head shapes/kinds, prompt and templates, the
weights' sha256, and free-form recipe / data hashes / held-out metrics.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .core.atomic import atomic_path, atomic_write_text
from .core.errors import BadInput
from .core.hashing import hash_file

FORMAT = "xmodal-alignment"
VERSION = 1
WEIGHTS = "alignment.safetensors"
CONFIG = "alignment.json"


@dataclass
class HeadInfo:
    in_dim: int
    kind: str


@dataclass
class CheckpointInfo:
    """The JSON side of a checkpoint, as a dataclass (one boundary)."""

    dim: int
    heads: dict[str, HeadInfo]
    base: str = ""
    tower_fingerprints: dict[str, str] = field(default_factory=dict)
    prompt: dict[str, Any] | None = None
    template: str = "{}"
    templates: list[str] = field(default_factory=list)
    audio_tower: bool = False
    concept: dict[str, Any] | None = None   # the ConSE bridge: top, tau, names, template, projection
    weights_sha256: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> "CheckpointInfo":
        if data.get("format") != FORMAT:
            raise BadInput(where, f"not an xmodal alignment config (format {data.get('format')!r})")
        if int(data.get("version", 0)) > VERSION:
            raise BadInput(where, f"format version {data.get('version')} is newer than this xmodal ({VERSION})",
                           "upgrade xmodal")
        try:
            heads = {m: HeadInfo(int(h["in_dim"]), str(h["kind"])) for m, h in data["heads"].items()}
            known = {f for f in cls.__dataclass_fields__}
            rest = {k: v for k, v in data.items() if k in known and k != "heads"}
            return cls(heads=heads, **rest)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(where, f"malformed alignment config ({type(exc).__name__}: {exc})") from None


def save_checkpoint(out_dir: str | Path, tensors: dict[str, torch.Tensor], info: CheckpointInfo) -> Path:
    """Write weights, then the JSON (with the weights' hash) atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(clean, str(tmp), metadata={"format": FORMAT})
    os.chmod(out / WEIGHTS, 0o644)  # the writer may create it private
    info.weights_sha256 = hash_file(out / WEIGHTS)
    atomic_write_text(out / CONFIG, json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n")
    return out


def read_info(ckpt_dir: str | Path) -> CheckpointInfo:
    """The JSON side of a checkpoint dir only (no weights read or hashed)."""
    d = Path(ckpt_dir).expanduser()
    cfg, wts = d / CONFIG, d / WEIGHTS
    if not d.is_dir():
        raise BadInput(str(d), "alignment checkpoint dir not found", "train one with 'xmodal align train'")
    for p in (cfg, wts):
        if not p.is_file():
            raise BadInput(str(d), f"missing {p.name}", "an alignment dir holds alignment.json + alignment.safetensors")
    try:
        data = json.loads(cfg.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(str(cfg), f"invalid JSON ({exc})") from None
    return CheckpointInfo.from_json(data, str(cfg))


def load_checkpoint(ckpt_dir: str | Path) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """Read and verify a checkpoint dir; one-line BadInput on any problem."""
    info = read_info(ckpt_dir)
    wts = Path(ckpt_dir).expanduser() / WEIGHTS
    if info.weights_sha256 and hash_file(wts) != info.weights_sha256:
        raise BadInput(str(wts), "checksum does not match alignment.json", "the checkpoint is corrupt or was edited")
    try:
        tensors = load_file(str(wts))
    except Exception as exc:  # safetensors raises its own error types
        raise BadInput(str(wts), f"unreadable safetensors file ({exc})") from None
    return tensors, info


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The sub-state-dict under `prefix.` with the prefix stripped."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


# ---------------------------------------------------------------- applying


def tower_fingerprint(stack, modality: str) -> str:
    """What identifies a frozen tower: its pretrained weight files' hashes
    when it has some, else the hash of its in-memory tensors (random towers).
    Includes the stack config so a different preprocessing is a different
    tower. Keys the feature cache and guards `apply_alignment`."""
    from .core.fingerprint import combine, file_sha256, tensors_sha256

    enc = stack.encoder(modality)
    cfg = stack.info.get("config", {})
    parts = [f"config|{json.dumps(cfg.get(modality, cfg), sort_keys=True)}"]
    files = [p for p in stack.info.get("weight_files", {}).get(modality, [])
             if str(p).endswith((".safetensors", ".pth", ".pt"))]
    if files:
        parts += [f"file|{Path(p).name}|{file_sha256(p)}" for p in files]
    else:
        parts.append(f"tower|{tensors_sha256(enc.tower)}")
    return combine(parts)[:16]


def apply_alignment(stack, ckpt_dir: str | Path):
    """Install a trained alignment on a stack (in place) and return it.

    Replaces the projection heads, sets the text template and soft prompt,
    loads trained audio tower weights, marks the stack aligned and updates
    its fingerprint. Refuses (one line) a checkpoint trained on other
    towers or with heads that do not fit.
    """
    from .core.fingerprint import combine
    from .heads import Head

    tensors, info = load_checkpoint(ckpt_dir)
    where = str(ckpt_dir)
    for m, h in info.heads.items():
        if m not in stack.encoders:
            raise BadInput(where, f"has a {m} head but model {stack.spec} has no {m} encoder")
        enc = stack.encoders[m]
        out_dim = int(getattr(enc.tower, "out_dim", h.in_dim))
        if out_dim != h.in_dim:
            raise BadInput(where, f"{m} head expects {h.in_dim}-d tower features, model {stack.spec} gives {out_dim}",
                           "use the model spec the alignment was trained on: " + (info.base or "?"))
        want = info.tower_fingerprints.get(m)
        trained_tower = m == "audio" and info.audio_tower
        if want and not trained_tower and tower_fingerprint(stack, m) != want:
            raise BadInput(where, f"was trained on a different {m} tower than model {stack.spec} has",
                           "use the model spec the alignment was trained on: " + (info.base or "?"))
    for m, h in info.heads.items():
        enc = stack.encoders[m]
        head = Head(h.in_dim, info.dim, h.kind)
        try:
            head.load_state_dict(prefixed(tensors, f"head.{m}"), strict=True)
            if m == "audio" and info.audio_tower:
                load_audio_tower(enc.tower, prefixed(tensors, "tower.audio"))
        except (RuntimeError, KeyError) as exc:
            raise BadInput(where, f"{m} weights do not fit ({str(exc).splitlines()[0]})") from None
        enc.head = head.eval()
        enc.tower.eval()
        if m == "text":
            enc.template = info.template or "{}"
            prompt = tensors.get("prompt.text")
            enc.prompt = prompt.float() if prompt is not None else None
    if info.concept:
        install_concept(stack, tensors, info, where)
    stack.aligned = True
    stack.info.setdefault("checkpoint_hashes", {})["alignment"] = info.weights_sha256
    stack.info["alignment"] = {"dir": str(Path(ckpt_dir).resolve()), "metrics": info.metrics}
    stack.fingerprint = combine([stack.fingerprint, f"alignment|{info.weights_sha256}"])
    return stack


def load_audio_tower(tower, state: dict[str, torch.Tensor]) -> None:
    """Trained audio tower weights: the whole tower, or only the trained
    tail of an ImageNet-initialised one (its trunk is the ImageNet file)."""
    if hasattr(tower, "load_tail"):
        tower.load_tail(state)
    else:
        tower.load_state_dict(state, strict=True)


def install_concept(stack, tensors: dict[str, torch.Tensor], info: CheckpointInfo, where: str) -> None:
    """Wrap the installed image head in the gated ConSE concept head."""
    from .concept import ConceptBridge, GatedConceptHead, image_classifier
    from .heads import Head

    cfg = info.concept or {}
    img, txt = stack.encoders.get("image"), stack.encoders.get("text")
    names = tensors.get("concept.class_embeddings")
    if img is None or txt is None or names is None or "concept.gate" not in tensors:
        raise BadInput(where, "has a concept bridge but lacks its class embeddings, gate or text/image encoders")
    try:
        bridge = ConceptBridge(image_classifier(img.tower), names.float(), int(cfg.get("top", 10)),
                               float(cfg.get("tau", 1.0)))
        if cfg.get("projection", "text") == "text":
            proj = txt.head  # the concept vector lives in the text tower's space
        else:
            proj = Head(bridge.out_dim, info.dim, str(cfg.get("proj_kind", "linear")))
            proj.load_state_dict(prefixed(tensors, "head.concept"), strict=True)
        head = GatedConceptHead(img.head, bridge, proj, float(tensors["concept.gate"].reshape(())))
    except (ValueError, RuntimeError) as exc:
        raise BadInput(where, f"concept bridge does not fit ({str(exc).splitlines()[0]})") from None
    img.head = head.eval()
