"""Emoji corpus: CLDR annotation parsing, captions, skin tones, skips."""
import pytest
from PIL import Image, ImageFont

from xmodal.alignment.data import emoji
from xmodal.alignment.data.emoji import Renderer, build_from, captions_for, read_annotations
from xmodal.alignment.core.errors import BadInput

CLDR = """<?xml version="1.0" encoding="UTF-8" ?>
<ldml><annotations>
<annotation cp="🦊">face | fox</annotation>
<annotation cp="🦊" type="tts">fox</annotation>
<annotation cp="🍅">fruit | tomato | vegetable</annotation>
<annotation cp="🍅" type="tts">tomato</annotation>
<annotation cp="👋🏽">hand | medium skin tone | wave</annotation>
<annotation cp="👋🏽" type="tts">waving hand: medium skin tone</annotation>
<annotation cp="「">bracket | corner bracket</annotation>
<annotation cp="「" type="tts">left corner bracket</annotation>
<annotation cp="🫥">invisible | hidden</annotation>
</annotations></ldml>
"""


class FakeRenderer:
    """Draws known emoji as flat colours; a bracket is not in the font."""

    def render(self, cp):
        if cp == "「":
            raise BadInput(cp, "the font draws no single glyph for this sequence")
        return Image.new("RGB", (emoji.SIDE, emoji.SIDE), (200, 80, 0))


def test_annotations_need_a_name(tmp_path):
    (tmp_path / "en.xml").write_text(CLDR, encoding="utf-8")
    ann = read_annotations([tmp_path / "en.xml"])
    assert ann["🦊"] == {"name": "fox", "keywords": ["face", "fox"]}
    assert "🫥" not in ann  # keywords but no tts name: nothing to caption it by


def test_captions_drop_the_name_from_keywords():
    assert captions_for("fox", ["face", "fox"]) == ["fox", "emoji of face"]
    assert captions_for("flag: Eritrea", ["flag"]) == ["flag, Eritrea", "emoji of flag"]
    assert captions_for("koala", ["koala"]) == ["koala"]


def test_build_skips_skin_tones_and_undrawable(tmp_path):
    (tmp_path / "en.xml").write_text(CLDR, encoding="utf-8")
    out = build_from(FakeRenderer(), read_annotations([tmp_path / "en.xml"]), tmp_path,
                     log=lambda m: None)
    assert sorted(p.id for p in out.pairs) == ["emoji/1f345", "emoji/1f98a"]
    fox = next(p for p in out.pairs if p.id == "emoji/1f98a")
    assert fox.captions[0] == "fox" and fox.group == "fox" and fox.modality == "image"
    assert Image.open(fox.path).size == (emoji.SIDE, emoji.SIDE)
    assert out.notes["skin_tone_variants_left_out"] == 1
    assert [s["item"] for s in out.skipped] == ["U+300c left corner bracket"]


def test_renderer_refuses_sequences_that_fall_apart(tmp_path, monkeypatch):
    # any outline font shows the rule: one glyph is drawn, a run of glyphs is refused
    monkeypatch.setattr(emoji, "FONT_SIZE", 40)
    r = Renderer(ImageFont.load_default(size=40))
    img = r.render("A")
    assert img.size == (emoji.SIDE, emoji.SIDE)
    assert img.convert("L").getextrema()[0] < 128  # something dark was drawn on white
    with pytest.raises(BadInput) as exc:
        r.render("ABCDEF")
    assert "no single glyph" in exc.value.reason


def test_unreadable_font_is_one_clear_error(tmp_path):
    bad = tmp_path / "NotoColorEmoji.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(BadInput) as exc:
        Renderer.from_file(bad)
    assert "emoji font unusable" in exc.value.reason and "--force" in exc.value.hint
