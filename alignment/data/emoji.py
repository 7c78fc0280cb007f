"""The `emoji` corpus: Noto Color Emoji pictures captioned from Unicode CLDR.

Packages `fonts-noto-color-emoji` (the colour bitmap font) and
`unicode-cldr-core` (English annotations: a short name such as "red fox"
plus keywords "face | fox"). Each emoji the font draws as one glyph becomes
one image item, rendered with Pillow on white. Skin-tone variants are left
out (they would be near-copies under one name); flags, keycaps and ZWJ
sequences from the derived annotations are kept.

Why this corpus: a drawn-picture domain with clean, human-written names
that none of the `lite` recipe's training corpora cover, so retrieval on a
domain the shipped alignment never saw can be measured
(`xmodal align eval ... --baselines`).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..core.atomic import atomic_path
from ..core.errors import BadInput
from .base import Built, Log
from .debian import fetch_package
from .pairs import Pair, clean_text, group_key

FONT = "usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
ANNOTATIONS = ("usr/share/unicode/cldr/common/annotations/en.xml",
               "usr/share/unicode/cldr/common/annotationsDerived/en.xml")
FONT_SIZE = 109  # the only bitmap strike NotoColorEmoji has
SIDE = 160
_SKIN = re.compile(r"skin tone", re.IGNORECASE)


def read_annotations(paths: list[Path]) -> dict[str, dict]:
    """cp -> {"name": tts name, "keywords": [...]} from CLDR annotation files."""
    out: dict[str, dict] = {}
    for path in paths:
        for el in ET.parse(path).getroot().iter("annotation"):
            cp, text = el.get("cp"), (el.text or "").strip()
            if not cp or not text:
                continue
            entry = out.setdefault(cp, {"name": "", "keywords": []})
            if el.get("type") == "tts":
                entry["name"] = text
            else:
                entry["keywords"] = [k.strip() for k in text.split("|") if k.strip()]
    return {cp: e for cp, e in out.items() if e["name"]}


def captions_for(name: str, keywords: list[str]) -> list[str]:
    """Primary caption (the name), then a keyword caption when it adds words."""
    name = clean_text(name.replace(":", ","), 120)
    caps = [name]
    extra = [k for k in keywords if k.lower() != name.lower()]
    if extra:
        caps.append("emoji of " + ", ".join(extra[:8]))
    return caps


class Renderer:
    """Draws one emoji sequence centred on a white SIDE x SIDE canvas."""

    def __init__(self, font: ImageFont.FreeTypeFont):
        self.font = font

    @classmethod
    def from_file(cls, font_path: Path) -> Renderer:
        try:
            return cls(ImageFont.truetype(str(font_path), FONT_SIZE))
        except OSError as exc:
            raise BadInput(str(font_path), f"emoji font unusable ({exc})",
                           "re-run `xmodal data fetch emoji --force`") from None

    def render(self, cp: str) -> Image.Image:
        """The picture, or BadInput when the font has no single glyph for `cp`."""
        left, top, right, bottom = self.font.getbbox(cp)
        width, height = right - left, bottom - top
        # a sequence the font cannot ligate falls apart into several glyphs side by side
        if width <= 0 or height <= 0 or width > 1.3 * FONT_SIZE:
            raise BadInput(cp, "the font draws no single glyph for this sequence")
        canvas = Image.new("RGBA", (width, height), (255, 255, 255, 0))
        draw = ImageDraw.Draw(canvas)
        draw.text((-left, -top), cp, font=self.font, fill="black", embedded_color=True)
        if canvas.getchannel("A").getbbox() is None:
            raise BadInput(cp, "the font draws nothing for this sequence")
        out = Image.new("RGB", (SIDE, SIDE), "white")
        canvas.thumbnail((SIDE - 16, SIDE - 16))
        out.paste(canvas, ((SIDE - canvas.width) // 2, (SIDE - canvas.height) // 2), canvas)
        return out


def build(root: Path, log: Log = print) -> Built:
    """Download font and annotations, render and caption every emoji."""
    font = fetch_package("fonts-noto-color-emoji", root, log=log) / FONT
    cldr = fetch_package("unicode-cldr-core", root, log=log)
    return build_from(Renderer.from_file(font), read_annotations([cldr / a for a in ANNOTATIONS]),
                      root, log)


def build_from(renderer: Renderer, annotations: dict[str, dict], root: Path,
               log: Log = print) -> Built:
    """Image items for every annotated emoji the renderer can draw."""
    out = Built()
    skin = 0
    for i, (cp, ann) in enumerate(sorted(annotations.items()), 1):
        if i % 1000 == 0:
            log(f"emoji: {i}/{len(annotations)} annotations rendered")
        if _SKIN.search(ann["name"]):
            skin += 1
            continue
        code = "-".join(f"{ord(c):x}" for c in cp)
        try:
            path = _png(renderer, cp, root / "png" / f"{code}.png")
        except BadInput as exc:
            # most are plain symbols (brackets, arrows) that are not in the emoji font
            out.skip(f"U+{code} {ann['name']}", exc.reason)
            continue
        caps = captions_for(ann["name"], ann["keywords"])
        out.pairs.append(Pair(id=f"emoji/{code}", modality="image", path=str(path.resolve()),
                              captions=caps, group=group_key(caps[0]) or code,
                              metadata={"emoji": cp, "name": ann["name"],
                                        "keywords": ann["keywords"]}))
    out.notes["skin_tone_variants_left_out"] = skin
    return out


def _png(renderer: Renderer, cp: str, dest: Path) -> Path:
    if not dest.exists():
        image = renderer.render(cp)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            image.save(tmp, format="PNG")
    return dest
