"""Spec strings -> stacks through the one registry."""
import pytest

from xmodal.alignment import UnknownModel, available, load_encoder, parse_spec, register
from xmodal.alignment import registry


def test_builtins_come_from_entry_points():
    assert {"lite", "tiny", "openclip", "hfclip", "clap"} <= set(available())


def test_parse_spec():
    s = parse_spec(" OpenCLIP:ViT-B-32/some/dir/w.safetensors+align:ckpt/dir ")
    assert (s.name, s.argument, s.align) == ("openclip", "ViT-B-32/some/dir/w.safetensors", "ckpt/dir")
    assert parse_spec("tiny") == registry.ModelSpec("tiny", None, None)
    with pytest.raises(UnknownModel):
        parse_spec("   ")
    with pytest.raises(UnknownModel, match="no checkpoint dir"):
        parse_spec("lite+align:")


def test_unknown_model_is_one_line_listing_offline_options():
    with pytest.raises(UnknownModel) as err:
        load_encoder("clipzilla:big")
    msg = str(err.value)
    assert "\n" not in msg and "clipzilla" in msg
    for name in ("lite", "tiny", "openclip", "hfclip", "clap"):
        assert name in msg
    assert "offline" in msg


def test_plugins_register_like_builtins(monkeypatch):
    monkeypatch.setattr(registry, "_builders", dict(registry._builders))
    monkeypatch.setattr(registry, "_offline", dict(registry._offline))
    seen = []

    def build(argument):
        seen.append(argument)
        return load_encoder("tiny")

    register("myplugin", build, offline="offline (test)")
    stack = load_encoder("myplugin:arg")
    assert seen == ["arg"] and stack.spec == "myplugin:arg" and stack.dim == 32
