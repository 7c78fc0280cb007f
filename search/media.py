"""Serving indexed media safely: only files inside the media roots an
index reports (`SearchIndex.media_roots()`) or roots given explicitly,
never anything a stored uri could point at by `..`, an absolute path
elsewhere, or a symlink that escapes. Tar members (`shard.tar::member`) are read from the tar itself.
Image thumbnails are decoded like model inputs (on white) and made with PIL."""
from __future__ import annotations

import io
import mimetypes
import os
import tarfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from xmodal.alignment.core.errors import BadInput
from xmodal.alignment.preprocess.image import decode_image
from xmodal.indexer import MEMBER_SEP

THUMB_SIZE = 256
MAX_MEMBER_BYTES = 256 << 20
MAX_THUMB_PIXELS = 64_000_000


class MediaNotFound(BadInput):
    """The item has no media, or its file is gone (HTTP 404)."""


class MediaForbidden(BadInput):
    """The stored uri points outside every corpus root (HTTP 403)."""


@dataclass(frozen=True)
class MediaFile:
    """A resolved medium: a plain file (`path`) or a tar member (`data`)."""

    name: str
    media_type: str
    path: str | None = None
    data: bytes | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as fh:  # type: ignore[arg-type]
            return fh.read()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class MediaStore:
    """Resolves stored uris against a fixed set of corpus roots."""

    def __init__(self, roots: list[str]):
        self.roots = [os.path.realpath(r) for r in roots if r]
        self._tar_lock = threading.Lock()
        self._thumbs: OrderedDict[tuple, bytes] = OrderedDict()

    def resolve_path(self, rel: str, what: str) -> str:
        """A stored path -> real path inside a root, or MediaForbidden."""
        if not rel or "\x00" in rel:
            raise MediaForbidden(what, "has an empty or invalid path")
        if ".." in Path(rel).parts:
            raise MediaForbidden(what, "path contains '..'; refusing to serve it")
        if not self.roots:
            raise MediaForbidden(what, "no corpus root is known for this index",
                                 "start the server with --media-root DIR")
        # A relative uri is relative to the build's working directory (the
        # folder reader stores paths as given) or to a root; both must land
        # inside a root.
        candidates = [rel] if os.path.isabs(rel) else [os.path.abspath(rel)] + [
            os.path.join(r, rel) for r in self.roots]
        for cand in candidates:
            real = os.path.realpath(cand)
            if any(_inside(real, root) for root in self.roots):
                if os.path.isfile(real):
                    return real
                continue
            if os.path.lexists(cand):  # exists but resolves elsewhere (symlink)
                raise MediaForbidden(what, "resolves outside the corpus roots; refusing to serve it")
        if os.path.isabs(rel) and not any(_inside(os.path.realpath(rel), r) for r in self.roots):
            raise MediaForbidden(what, "is outside the corpus roots; refusing to serve it",
                                 "if the corpus really lives there, serve with --media-root DIR")
        raise MediaNotFound(what, "media file not found", "was the corpus moved?")

    def open(self, uri: str | None, item_id: str) -> MediaFile:
        """The medium of one item; raises MediaNotFound / MediaForbidden."""
        what = f"media of {item_id!r}"
        if not uri:
            raise MediaNotFound(what, "this item has no media file (it is a text)")
        tar_part, sep, member = uri.partition(MEMBER_SEP)
        if not sep:
            path = self.resolve_path(uri, what)
            return MediaFile(os.path.basename(path), _type_of(path), path=path)
        tar_path = self.resolve_path(tar_part, what)
        if not member or member.startswith("/") or ".." in Path(member).parts:
            raise MediaForbidden(what, f"tar member {member!r} is not a plain relative name")
        return MediaFile(os.path.basename(member), _type_of(member), data=self._member(tar_path, member, what))

    def _member(self, tar_path: str, member: str, what: str) -> bytes:
        # TarFile objects are not thread-safe; tars are read rarely enough
        # (one member per request) that a lock is simpler than a pool.
        with self._tar_lock:
            try:
                with tarfile.open(tar_path) as tar:
                    info = tar.getmember(member)
                    if not info.isreg():
                        raise MediaForbidden(what, "tar member is not a regular file")
                    if info.size > MAX_MEMBER_BYTES:
                        raise MediaForbidden(what, f"tar member is {info.size} bytes, over the limit")
                    fh = tar.extractfile(info)
                    return fh.read() if fh else b""
            except KeyError:
                raise MediaNotFound(what, f"{member} is not in {os.path.basename(tar_path)}") from None
            except (tarfile.TarError, OSError) as exc:
                raise MediaNotFound(what, f"cannot read tar: {exc}") from None

    def thumbnail(self, media: MediaFile, what: str) -> bytes:
        """A JPEG of at most THUMB_SIZE px a side (cached by file + mtime)."""
        key = (media.path, os.path.getmtime(media.path)) if media.path else (media.name, hash(media.data))
        if key in self._thumbs:
            self._thumbs.move_to_end(key)
            return self._thumbs[key]
        out = make_thumbnail(media.read(), what)
        self._thumbs[key] = out
        if len(self._thumbs) > 512:
            self._thumbs.popitem(last=False)
        return out


def make_thumbnail(data: bytes, what: str) -> bytes:
    """Image bytes -> small JPEG bytes; BadInput for non-images / bombs.

    Decoded by the encoders' own `decode_image` (EXIF orientation, every
    PIL mode, transparency composited onto white, the pixel-count guard),
    so a thumbnail shows what the model saw, not the colour a transparent
    pixel happens to store."""
    from PIL import Image

    if len(data) and _pixels(data) > MAX_THUMB_PIXELS:
        raise BadInput(what, f"image has {_pixels(data)} pixels, too large to thumbnail")
    img = decode_image(data, what, draft_size=THUMB_SIZE)
    try:
        img.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        return buf.getvalue()
    except (OSError, ValueError) as exc:
        raise BadInput(what, f"not a readable image ({type(exc).__name__})") from None


def _pixels(data: bytes) -> int:
    """Width x height from the header alone (0 when PIL cannot tell)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.width * img.height
    except Exception:  # noqa: BLE001 - decode_image reports unreadable files itself
        return 0


def _type_of(name: str) -> str:
    guess, _ = mimetypes.guess_type(name)
    return guess or "application/octet-stream"
