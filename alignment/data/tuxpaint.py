"""The `tuxpaint` corpus: Tux Paint stamps with descriptions and sounds.

Package `tuxpaint-stamps-default`: each stamp NAME has NAME.txt (English
description on the first line, translations after), a picture NAME.png
and/or NAME.svg, and for about 135 stamps a sound effect NAME.ogg/.wav.
Items: one image per stamp, one audio item per sound effect, both carrying
the description; stamps with both are triples (image, sound, caption)
linked by the shared `group` and `metadata.stamp`, and listed in
``triples.jsonl``. SVG-only stamps are rasterised with `rsvg-convert`
(unpacked from Debian's `librsvg2-bin`, not installed); if it cannot run
they are skipped with that reason.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from ..core.atomic import atomic_path
from ..core.errors import BadInput, XmodalError
from .base import Built, Log
from .debian import fetch_package
from .images import inspect_image
from .pairs import Pair, clean_text, group_key
from .sounds import check_audio

STAMPS = "usr/share/tuxpaint/stamps"
RASTER_SIDE = 256
_LOCALE_LINE = re.compile(r"^[A-Za-z]{2,3}(_[A-Za-z]{2})?(@\w+)?\.utf-?8=", re.I)


def english_description(text: str) -> str:
    """The untranslated (English) description: first line that is not `xx.utf8=...`."""
    for line in text.splitlines():
        line = line.strip()
        if line and not _LOCALE_LINE.match(line):
            return clean_text(line, 200)
    return ""


def sound_effect(stem: Path) -> Path | None:
    """NAME.ogg or NAME.wav (the unlocalised sound effect), if present."""
    for ext in (".ogg", ".wav"):
        p = stem.with_name(stem.name + ext)
        if p.exists():
            return p
    return None


class Rasteriser:
    """SVG -> PNG with rsvg-convert; `why_not` says why it is unavailable."""

    def __init__(self, exe: str | None, why_not: str = ""):
        self.exe, self.why_not = exe, why_not

    @classmethod
    def from_package(cls, root: Path, log: Log = print) -> "Rasteriser":
        exe = shutil.which("rsvg-convert")
        if exe:
            return cls(exe)
        try:
            pkg = fetch_package("librsvg2-bin", root, log=log)
        except XmodalError as exc:
            return cls(None, f"no SVG rasteriser ({exc})")
        exe = str(pkg / "usr/bin/rsvg-convert")
        probe = subprocess.run([exe, "--version"], capture_output=True, text=True)
        if probe.returncode != 0:
            return cls(None, "rsvg-convert from librsvg2-bin does not run here "
                             "(apt-get install librsvg2-bin)")
        return cls(exe)

    def png(self, svg: Path, dest: Path, side: int = RASTER_SIDE) -> Path:
        if self.exe is None:
            raise BadInput(str(svg), f"SVG-only stamp: {self.why_not}")
        if dest.exists():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            proc = subprocess.run([self.exe, "-a", "-w", str(side), "-h", str(side), "-f", "png",
                                   "-o", str(tmp), str(svg)], capture_output=True, text=True,
                                  timeout=60)
            if proc.returncode != 0:
                raise BadInput(str(svg), f"rsvg-convert failed: {proc.stderr.strip()[-200:]}")
        return dest


def build(root: Path, log: Log = print) -> Built:
    """Download and unpack the stamps, then caption images and sounds."""
    pkg = fetch_package("tuxpaint-stamps-default", root, log=log)
    out = build_from_dir(pkg / STAMPS, root, Rasteriser.from_package(root, log), log)
    triples = triples_of(out.pairs)
    with atomic_path(root / "triples.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(t, sort_keys=True) + "\n" for t in triples))
    out.notes["triples"] = len(triples)
    return out


def build_from_dir(stamps: Path, root: Path, raster: Rasteriser, log: Log = print) -> Built:
    """Items for every NAME.txt under `stamps`."""
    out = Built()
    described = set()
    for txt in sorted(stamps.rglob("*.txt")):
        rel = txt.relative_to(stamps).with_suffix("")
        stem = txt.with_suffix("")
        described.add(stem)
        caption = english_description(txt.read_text(encoding="utf-8", errors="replace"))
        if not caption:
            out.skip(str(txt), "no English description in the .txt file")
            continue
        stamp = f"tuxpaint/{rel.as_posix()}"
        category = "/".join(rel.parent.parts)
        group = group_key(caption) or caption.lower()
        captions = [caption, f"a picture of {caption[0].lower() + caption[1:]}".rstrip(".")]
        base_md = {"stamp": stamp, "category": category, "description": caption}
        image = _image_item(stem, root / "raster" / rel.parent, raster, out)
        if image is not None:
            out.pairs.append(Pair(id=f"{stamp}#image", modality="image", path=str(image[0]),
                                  captions=captions, group=group,
                                  metadata={**base_md, **image[1]}))
        snd = sound_effect(stem)
        if snd is not None:
            try:
                info = check_audio(snd)
            except BadInput as exc:
                out.skip(str(snd), exc.reason)
                continue
            out.pairs.append(Pair(
                id=f"{stamp}#sound", modality="audio", path=str(snd.resolve()),
                captions=[caption, f"the sound of {caption[0].lower() + caption[1:]}".rstrip(".")],
                group=group, metadata={**base_md, "kind": "sound effect",
                                       "has_image": image is not None, **info}))
    for img in sorted(list(stamps.rglob("*.png")) + list(stamps.rglob("*.svg"))):
        if img.with_suffix("") not in described:
            out.skip(str(img), "no description .txt for this picture (e.g. a mirror variant)")
    return out


def _image_item(stem: Path, raster_dir: Path, raster: Rasteriser,
                out: Built) -> tuple[Path, dict] | None:
    """The stamp's picture (PNG, else rasterised SVG) and its header facts."""
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    md: dict = {}
    src = png if png.exists() else svg
    try:
        if png.exists():
            path = png
        elif svg.exists():
            path = raster.png(svg, raster_dir / f"{stem.name}.png")
            md["rasterised_from"] = str(svg)
        else:
            out.skip(str(stem) + ".txt", "stamp has a description but no picture")
            return None
        info = inspect_image(path)
    except BadInput as exc:
        out.skip(str(src), exc.reason)
        return None
    md.update(width=info.width, height=info.height, mode=info.mode)
    return path.resolve(), md


def triples_of(pairs: list[Pair]) -> list[dict]:
    """Stamps that have both an image item and a sound item."""
    by_stamp: dict[str, dict] = {}
    for p in pairs:
        by_stamp.setdefault(p.metadata.get("stamp", p.id), {})[p.modality] = p
    return [{"stamp": s, "group": d["image"].group, "caption": d["image"].captions[0],
             "image_id": d["image"].id, "audio_id": d["audio"].id}
            for s, d in sorted(by_stamp.items()) if "image" in d and "audio" in d]
