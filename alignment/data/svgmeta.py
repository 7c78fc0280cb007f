"""Title, description and keywords from an SVG's RDF metadata, parsed safely.

SVG files are untrusted XML. We never expand entities and never fetch DTDs:
a DOCTYPE (with its internal subset) is cut out before parsing, so an entity
declaration cannot take effect and a reference to one is a parse error.
defusedxml is used when installed; otherwise xml.etree (expat, which never
loads external resources) after the DOCTYPE is removed. Files larger than
`max_bytes` are refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from ..core.errors import BadInput

try:  # optional hardening
    from defusedxml import ElementTree as _DefusedET
except ImportError:  # pragma: no cover - depends on the environment
    _DefusedET = None

NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "cc": "http://web.resource.org/cc/",
    "cc2": "http://creativecommons.org/ns#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
MAX_SVG_BYTES = 20 * 1024 * 1024

# <!DOCTYPE name ... [ internal subset ]> or <!DOCTYPE name ...>
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[.*?\]\s*)?>", re.S | re.I)


@dataclass
class SvgMeta:
    """What the SVG says about itself (all fields may be empty)."""

    title: str = ""
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    creator: str = ""


def strip_doctype(data: bytes) -> bytes:
    """Remove the DOCTYPE declaration; refuse anything DTD-like that remains."""
    data = _DOCTYPE.sub(b"", data, count=1)
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise ValueError("unexpected DTD or entity declaration")
    return data


def parse_svg_bytes(data: bytes, name: str = "svg") -> ET.Element:
    """Parse SVG bytes into an Element without DTDs or entity expansion."""
    if len(data) > MAX_SVG_BYTES:
        raise BadInput(name, f"SVG is {len(data)} bytes, over the {MAX_SVG_BYTES}-byte limit",
                       "skip it or raise MAX_SVG_BYTES")
    try:
        data = strip_doctype(data)
        if _DefusedET is not None:
            return _DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                         forbid_external=True)
        return ET.fromstring(data)
    except Exception as exc:  # ParseError, defusedxml's errors, ValueError
        raise BadInput(name, f"unreadable SVG XML ({type(exc).__name__}: {exc})",
                       "the file is skipped") from None


def _text(el: ET.Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def read_svg_meta(path: Path) -> SvgMeta:
    """Metadata of the SVG at `path` (BadInput if it cannot be parsed)."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_SVG_BYTES:
        raise BadInput(str(path), f"SVG is {size} bytes, over the {MAX_SVG_BYTES}-byte limit",
                       "skip it or raise MAX_SVG_BYTES")
    return meta_from_root(parse_svg_bytes(path.read_bytes(), str(path)))


def meta_from_root(root: ET.Element) -> SvgMeta:
    """Pull dc:title, dc:description, dc:subject bag and creator from a Work."""
    work = root.find(".//cc:Work", NS)
    if work is None:
        work = root.find(".//cc2:Work", NS)
    if work is None:
        # No RDF block: fall back to SVG's own <title>/<desc>, if any.
        svg = "{http://www.w3.org/2000/svg}"
        return SvgMeta(title=_text(root.find(f"{svg}title")),
                       description=_text(root.find(f"{svg}desc")))
    keywords = [_text(li) for li in work.findall("dc:subject/rdf:Bag/rdf:li", NS)]
    if not keywords:  # some files put plain text in dc:subject
        keywords = [k for k in re.split(r"[,;]", _text(work.find("dc:subject", NS))) if k]
    creator = _text(work.find("dc:creator//dc:title", NS)) or _text(work.find("dc:creator", NS))
    return SvgMeta(title=_text(work.find("dc:title", NS)),
                   description=_text(work.find("dc:description", NS)),
                   keywords=[k.strip() for k in keywords if k.strip()],
                   creator=creator)
