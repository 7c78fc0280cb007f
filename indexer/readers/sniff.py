"""Modality from a file's content: magic bytes first, then PIL / soundfile
as the judges of last resort; the extension only decides for plain text."""
from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

TEXT_EXT = {".txt", ".md", ".text"}

# (offset, signature, modality)
_MAGIC = [
    (0, b"\x89PNG\r\n\x1a\n", "image"), (0, b"\xff\xd8\xff", "image"), (0, b"GIF87a", "image"),
    (0, b"GIF89a", "image"), (0, b"BM", "image"), (0, b"II*\x00", "image"), (0, b"MM\x00*", "image"),
    (8, b"WEBP", "image"), (0, b"fLaC", "audio"), (0, b"OggS", "audio"), (0, b"ID3", "audio"),
    (8, b"WAVE", "audio"), (8, b"AIFF", "audio"), (0, b"\xff\xfb", "audio"), (0, b"\xff\xf3", "audio"),
    (0, b"\xff\xf2", "audio"),
]


def sniff_head(head: bytes) -> str | None:
    """'image' / 'audio' from the first bytes, or None when unknown."""
    for off, sig, modality in _MAGIC:
        if head[off : off + len(sig)] == sig:
            return modality
    return None


def _deep(fh: BinaryIO) -> str | None:
    """Ask PIL, then libsndfile, whether they can read it (header only)."""
    from PIL import Image

    try:
        fh.seek(0)
        with Image.open(fh):
            return "image"
    except Image.DecompressionBombError:
        return "image"  # an image; the encoder rejects it with the reason
    except Exception:
        pass
    try:
        import soundfile

        fh.seek(0)
        soundfile.info(fh)
        return "audio"
    except Exception:
        return None


def sniff_bytes(data: bytes, name: str = "") -> tuple[str | None, str | None]:
    """(modality, None) or (None, reason) for in-memory content (tar members)."""
    if not data:
        return None, "empty file (0 bytes)"
    found = sniff_head(data[:64]) or _deep(io.BytesIO(data))
    if found:
        return found, None
    if Path(name).suffix.lower() in TEXT_EXT:
        try:
            data.decode("utf-8")
            return "text", None
        except UnicodeDecodeError:
            return None, "text file is not UTF-8"
    return None, "not a recognised image, audio or text file"


def sniff_file(path: str | Path) -> tuple[str | None, str | None]:
    """(modality, None) or (None, reason) for a file on disk."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return None, "empty file (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(64)
            found = sniff_head(head) or _deep(fh)
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if found:
        return found, None
    if path.suffix.lower() in TEXT_EXT:
        try:
            path.read_text(encoding="utf-8")
            return "text", None
        except UnicodeDecodeError:
            return None, "text file is not UTF-8"
        except OSError as exc:
            return None, f"unreadable: {exc.strerror or exc}"
    return None, "not a recognised image, audio or text file"
