"""Robust image decoding: anything PIL opens -> an RGB PIL image.

Handles EXIF orientation, palette / alpha / LA / CMYK / 16-bit / float
images (transparent parts composited onto white), and turns decompression
bombs, truncated, empty or unreadable files into `BadInput` naming the item.

Memory is bounded twice: the pixel count is checked before anything is
decoded, and for a model input the long side is centre-cropped to
`MAX_ASPECT` times the short one, so the transform's resize (short side up
or down to the model size) never allocates more than MAX_ASPECT * size^2
pixels: a 1,000,000 x 1 PNG would otherwise be scaled to 256,000,000 x 256.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..core.errors import BadInput
from .source import describe, open_source

# We check the pixel count ourselves (below) and raise BadInput, so PIL's
# own warning for large-but-allowed images would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Never silently pad truncated files with grey: report them instead.
ImageFile.LOAD_TRUNCATED_IMAGES = False

WHITE = (255, 255, 255)
# Long side / short side kept for a model input. The model transforms
# centre-crop a square (or squash to one), so 4:1 keeps every pixel a
# centre-crop transform reads and all of any realistic panorama.
MAX_ASPECT = 4


def max_pixels() -> int:
    """Largest accepted width*height (PIL's MAX_IMAGE_PIXELS, default ~89 MP)."""
    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


def _open(item: Any, name: str) -> Image.Image:
    if isinstance(item, Image.Image):
        return item
    if isinstance(item, np.ndarray):
        return _from_array(item, name)
    source = open_source(item, name, "image",
                         "pass a path, bytes, a PIL image or an HxWxC uint8 array")
    try:
        return Image.open(source)
    except Image.DecompressionBombError as exc:
        raise BadInput(name, f"image too large ({exc})", "decompression bomb guard") from None
    except UnidentifiedImageError:
        raise BadInput(name, "not a readable image") from None
    except OSError as exc:
        raise BadInput(name, f"cannot open image: {exc}") from None


def _from_array(arr: np.ndarray, name: str) -> Image.Image:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise BadInput(name, f"array of shape {arr.shape} is not an HxW or HxWxC image")
    if arr.dtype != np.uint8:
        arr = _to_uint8(arr.astype(np.float32))
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(arr))


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Scale high-bit-depth or float pixels into 0..255."""
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    hi = float(a.max()) if a.size else 0.0
    if hi <= 1.0:
        a = a * 255.0  # float images in [0, 1]
    elif hi > 255.0:
        a = a / 257.0  # 16-bit: 65535 -> 255
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _composite(im: Image.Image) -> Image.Image:
    """RGBA -> RGB over white, so transparent areas do not turn black."""
    bg = Image.new("RGB", im.size, WHITE)
    bg.paste(im, mask=im.getchannel("A"))
    return bg


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB, alpha composited onto white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        return _composite(im) if im.mode == "RGBA" else im
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _composite(im.convert("RGBA"))
    if mode in ("I", "F") or mode.startswith("I;16"):
        return Image.fromarray(_to_uint8(np.asarray(im, dtype=np.float32))).convert("RGB")
    if mode == "L" and "transparency" in im.info:
        return _composite(im.convert("RGBA"))
    # CMYK, YCbCr, LAB, HSV, 1, L: PIL's converters are correct for these
    return im.convert("RGB")


def cap_aspect(im: Image.Image, max_aspect: float = MAX_ASPECT) -> Image.Image:
    """Centre-crop the long side to at most `max_aspect` x the short side
    (the image itself when it is already within the cap)."""
    w, h = im.size
    if w > max_aspect * h:
        keep = max(1, int(max_aspect * h))
        x0 = (w - keep) // 2
        return im.crop((x0, 0, x0 + keep, h))
    if h > max_aspect * w:
        keep = max(1, int(max_aspect * w))
        y0 = (h - keep) // 2
        return im.crop((0, y0, w, y0 + keep))
    return im


def decode_image(item: Any, name: str | None = None, draft_size: int | None = None) -> Image.Image:
    """Path / bytes / file object / PIL image / array -> upright RGB image.

    `draft_size` marks a model input: the short side the model's transform
    resizes to. JPEGs then decode at a reduced scale that is still at least
    that many pixels on the short side (much faster for big photos), and the
    long side is centre-cropped to MAX_ASPECT x the short (see `cap_aspect`).
    Raises BadInput (naming the item) for anything that cannot be used.
    """
    name = name or describe(item)
    im = _open(item, name)
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise BadInput(name, f"image has no pixels ({w}x{h})")
        if w * h > max_pixels():
            raise BadInput(name, f"image too large ({w}x{h} pixels > {max_pixels()})",
                           "decompression bomb guard; resize it first")
        # only for images we opened: never mutate a caller's PIL object
        if draft_size and im is not item and im.format == "JPEG" and im.mode in ("RGB", "L"):
            scale = min(w, h) / draft_size
            if scale >= 2:
                im.draft(im.mode, (int(w / scale) + 1, int(h / scale) + 1))
        im.load()
        if draft_size:
            im = cap_aspect(im)  # before transpose/convert: they copy the image
        im = ImageOps.exif_transpose(im) or im
        return to_rgb(im)
    except BadInput:
        raise
    except Image.DecompressionBombError as exc:
        raise BadInput(name, f"image too large ({exc})", "decompression bomb guard") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # PIL reports truncated/corrupt data as OSError (sometimes SyntaxError)
        raise BadInput(name, f"corrupt or truncated image: {exc}") from None


def make_transform(
    image_size: int, crop_pct: float, interpolation: str, mean, std
) -> Callable[[Image.Image], Any]:
    """timm's eval transform: resize short side to size/crop_pct, centre
    crop `image_size`, to tensor, normalise."""
    from timm.data import create_transform

    return create_transform(
        input_size=(3, image_size, image_size),
        is_training=False,
        interpolation=interpolation,
        mean=tuple(mean),
        std=tuple(std),
        crop_pct=crop_pct,
        crop_mode="center",
    )
