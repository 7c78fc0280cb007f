"""Cheap image sanity checks for corpus building.

Decompression bombs are found from the header alone (PIL's `Image.open` is
lazy), so a 20000x30000 PNG is never decoded. Images that are merely very
large get a downscaled copy so that training never has to decode them.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..core.atomic import atomic_path
from ..core.errors import BadInput

# PIL refuses to open images above twice its warning limit; we use the same line.
BOMB_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)
# Above this many pixels a downscaled copy is written (4096 x 4096).
RESIZE_PIXELS = 4096 * 4096
RESIZE_SIDE = 1024


@dataclass(frozen=True)
class ImageInfo:
    """Header facts about one image file."""

    width: int
    height: int
    mode: str
    format: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


def inspect_image(path: Path, bomb_pixels: int = BOMB_PIXELS) -> ImageInfo:
    """Read only the header (and verify chunk checksums) of `path`.

    Raises BadInput for unreadable files and decompression bombs."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # we apply our own limit below, from the header only
        try:
            with Image.open(path) as im:
                info = ImageInfo(im.width, im.height, im.mode, im.format or "")
                if info.pixels > bomb_pixels:
                    raise BadInput(str(path),
                                   f"decompression bomb: {im.width}x{im.height} = "
                                   f"{info.pixels:,} pixels (limit {bomb_pixels:,}) "
                                   f"from a {path.stat().st_size:,}-byte file",
                                   "skipped without decoding")
                im.verify()  # checks structure/CRCs without decoding pixels
        except BadInput:
            raise
        except Exception as exc:
            raise BadInput(str(path), f"unreadable image ({type(exc).__name__}: {exc})",
                           "skipped") from None
        finally:
            Image.MAX_IMAGE_PIXELS = old
    if info.width < 1 or info.height < 1:
        raise BadInput(str(path), "image has no pixels", "skipped")
    return info


def downscale_copy(src: Path, dest: Path, side: int = RESIZE_SIDE) -> tuple[int, int]:
    """Write a copy of `src` whose longer side is at most `side` (PNG)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # caller already checked it is below the bomb line
        try:
            with Image.open(src) as im:
                im.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
                with atomic_path(dest) as tmp:
                    im.save(tmp, format="PNG")
                return im.size
        finally:
            Image.MAX_IMAGE_PIXELS = old
