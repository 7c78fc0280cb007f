"""The `openclipart` corpus: clip-art PNGs captioned from their SVG metadata.

Packages `openclipart-png` and `openclipart-svg` hold the same 8,121 pieces
(PNG and SVG at the same relative path). Captions come from the SVG's
dc:title, dc:description, dc:subject keywords and the category folders.

Collection titles ("gramastar", "Part of the Flat Icon Collection (...)",
"Lemon SVG theme") repeat hundreds of times and say nothing about the
picture; a title (or description) used by more than `repeat_limit` files is
treated as generic: it is never used as a caption, and the item's metadata
records that it was dropped. For such collection items the file name is
usually the piece's own name ("aiga_departing_flights1", "etiquette_printer")
and becomes the primary caption instead.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..core.errors import BadInput
from .base import Built, Log
from .debian import fetch_package
from .images import RESIZE_PIXELS, downscale_copy, inspect_image
from .pairs import Pair, clean_text, group_key
from .svgmeta import SvgMeta, read_svg_meta

PACKAGES = ("openclipart-svg", "openclipart-png")
REPEAT_LIMIT = 20
JUNK_KEYWORDS = {"unsorted", "hash", "magick", "clip art", "clipart", "svg", "png", "image",
                 "media", "public domain", "publicdomain", "openclipart", "remix"}
_CLIPART_BY = re.compile(r"^clip\s*art by [^-]+-\s*", re.I)


def clean_title(title: str) -> str:
    """Readable title: underscores to spaces, no 'Clipart by X -' prefix or extension."""
    t = clean_text(title.replace("_", " "), 160)
    t = _CLIPART_BY.sub("", t)
    t = re.sub(r"\.(svg|png)$", "", t, flags=re.I)
    return t.strip(" -")


def clean_description(desc: str, title: str) -> str:
    """Description, or "" when it is an e-mail/URL or just repeats the title."""
    d = clean_text(desc.replace("&quot;", '"').replace("&amp;", "&"), 300)
    if not d or re.fullmatch(r"\S+@\S+", d) or re.match(r"https?://\S+$", d):
        return ""
    if d.lower().strip(" .") == title.lower().strip(" ."):
        return ""
    return d


def clean_keywords(keywords: list[str]) -> list[str]:
    """Lower-cased keywords without junk, digits, one-letter words or repeats."""
    out: list[str] = []
    for k in keywords:
        k = clean_text(k.replace("_", " "), 40).lower().strip(" ,.;")
        if len(k) < 2 or k.isdigit() or k in JUNK_KEYWORDS or k in out:
            continue
        out.append(k)
    return out[:8]


def category_of(rel: Path) -> list[str]:
    """Category path from the folder tree: 'signs_and_symbols/clocks/x.png' -> [...]."""
    return [p.replace("_", " ") for p in rel.parent.parts]


def name_from_stem(stem: str) -> str:
    """'aiga_departing_flights1' -> 'aiga departing flights'; "" if no real word."""
    name = re.sub(r"[\d_\-+.]+", " ", stem)
    name = re.sub(r"\s+", " ", name).strip().lower()
    return name if re.search(r"[a-z]{3,}", name) else ""


def build_captions(meta: SvgMeta, category: list[str], generic: set[str],
                   stem: str = "") -> tuple[list[str], dict]:
    """Captions (primary first) and how they were made.

    `generic` holds lower-cased titles/descriptions that repeat more than
    REPEAT_LIMIT times; those are never used as captions. When the title is
    generic or missing, the file name `stem` stands in for it."""
    title = clean_title(meta.title)
    title_generic = bool(title) and title.lower() in generic
    desc = clean_description(meta.description, title)
    desc_generic = bool(desc) and desc.lower() in generic
    kws = clean_keywords(meta.keywords)
    caps: list[tuple[str, str]] = []
    if title and not title_generic:
        caps.append(("title", title))
    elif name_from_stem(stem):
        caps.append(("file name", name_from_stem(stem)))
    if desc and not desc_generic:
        caps.append(("description", desc))
    if kws:
        caps.append(("keywords", "clip art of " + ", ".join(kws)))
    if category:
        caps.append(("category", "clip art: " + " > ".join(category)))
    info = {"caption_sources": [s for s, _ in caps],
            "title_generic": title_generic, "description_generic": desc_generic}
    return [c for _, c in caps], info


def generic_strings(metas: dict[Path, SvgMeta], limit: int = REPEAT_LIMIT) -> tuple[set[str], Counter]:
    """Titles/descriptions (cleaned, lower case) repeated more than `limit` times."""
    counts: Counter = Counter()
    for m in metas.values():
        t = clean_title(m.title)
        if t:
            counts["t:" + t.lower()] += 1
        d = clean_description(m.description, t)
        if d:
            counts["d:" + d.lower()] += 1
    generic = {k[2:] for k, n in counts.items() if n > limit}
    return generic, counts


def build(root: Path, log: Log = print) -> Built:
    """Download, unpack and caption the openclipart corpus under `root`."""
    svg_pkg = fetch_package("openclipart-svg", root, log=log)
    png_pkg = fetch_package("openclipart-png", root, log=log)
    return build_from_dirs(svg_pkg / "usr/share/openclipart/svg",
                           png_pkg / "usr/share/openclipart/png", root, log=log)


def build_from_dirs(svg_dir: Path, png_dir: Path, root: Path, log: Log = print,
                    repeat_limit: int = REPEAT_LIMIT) -> Built:
    """Caption the PNGs in `png_dir` from the SVGs at the same relative paths."""
    out = Built()
    pngs = sorted(p.relative_to(png_dir) for p in png_dir.rglob("*.png"))
    svgs = {p.relative_to(svg_dir) for p in svg_dir.rglob("*.svg")}
    metas: dict[Path, SvgMeta] = {}
    for rel in pngs:
        # with_suffix replaces only ".png": names like "ralf_ark.in-berlin.png" keep their dots
        if rel.with_suffix(".svg") not in svgs:
            out.skip(str(png_dir / rel), "no SVG at the same path, so no metadata for captions")
            continue
        try:
            metas[rel] = read_svg_meta(svg_dir / rel.with_suffix(".svg"))
        except BadInput as exc:
            out.skip(str(png_dir / rel), f"SVG metadata unusable: {exc.reason}")
    for srel in sorted(svgs - {r.with_suffix(".svg") for r in pngs}):
        out.skip(str(svg_dir / srel), "no PNG rendering of this SVG")
    generic, counts = generic_strings(metas, repeat_limit)
    out.notes["repeat_limit"] = repeat_limit
    out.notes["generic_titles"] = sorted(
        ((k[2:], n) for k, n in counts.items() if k.startswith("t:") and n > repeat_limit),
        key=lambda kv: -kv[1])
    out.notes["generic_descriptions"] = sorted(
        ((k[2:][:80], n) for k, n in counts.items() if k.startswith("d:") and n > repeat_limit),
        key=lambda kv: -kv[1])
    resized = 0
    for i, (rel, meta) in enumerate(sorted(metas.items()), 1):
        if i % 1000 == 0:
            log(f"openclipart: {i}/{len(metas)} images checked")
        pair = _make_pair(rel, meta, png_dir, svg_dir, root, generic, out)
        if pair is not None:
            resized += "resized_from" in pair.metadata
            out.pairs.append(pair)
    out.notes["resized_copies"] = resized
    out.notes["dropped_generic_titles"] = sum(p.metadata["title_generic"] for p in out.pairs)
    return out


def _make_pair(rel: Path, meta: SvgMeta, png_dir: Path, svg_dir: Path, root: Path,
               generic: set[str], out: Built) -> Pair | None:
    png = png_dir / rel
    try:
        info = inspect_image(png)
    except BadInput as exc:
        out.skip(str(png), f"{exc.reason} ({exc.hint})" if exc.hint else exc.reason)
        return None
    category = category_of(rel)
    captions, how = build_captions(meta, category, generic, rel.name[: -len(rel.suffix)])
    if not captions:
        out.skip(str(png), "no usable caption (no title, description, keywords or category)")
        return None
    md = {"title": clean_text(meta.title, 200), "description": clean_text(meta.description),
          "keywords": meta.keywords, "category": "/".join(rel.parent.parts),
          "creator": clean_text(meta.creator, 100), "svg": str(svg_dir / rel.with_suffix(".svg")),
          "width": info.width, "height": info.height, "mode": info.mode, **how}
    path = png
    if info.pixels > RESIZE_PIXELS:
        small = root / "resized" / rel
        try:
            if not small.exists():
                downscale_copy(png, small)
        except (OSError, MemoryError, ValueError) as exc:
            out.skip(str(png), f"too large to downscale ({type(exc).__name__}: {exc})")
            return None
        md["resized_from"] = str(png)
        path = small
    return Pair(id=f"openclipart/{rel.with_suffix('').as_posix()}", modality="image",
                path=str(path.resolve()), captions=captions,
                group=group_key(captions[0]) or captions[0].lower(), metadata=md)
