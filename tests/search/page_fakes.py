"""A small app over the fake index for the page's tests: one transparent
PNG (red disc, hidden green where alpha is 0) and one text."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from xmodal.alignment.core.items import Row
from xmodal.search import Engine
from xmodal.search.app import create_app
from xmodal.search.guard import ServeOptions

from search_fakes import FakeEncoder, FakeIndex


def transparent_png(size=(64, 48)) -> bytes:
    """A red disc on a fully transparent background whose hidden RGB is
    junk (green): a naive convert("RGB") shows the green."""
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[..., 1] = 255  # hidden colour of the transparent pixels
    yy, xx = np.mgrid[:size[1], :size[0]]
    disc = (yy - size[1] / 2) ** 2 + (xx - size[0] / 2) ** 2 < (min(size) / 3) ** 2
    rgba[disc] = (220, 20, 20, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def page_app(tmp_path, **options):
    """create_app over the fake index; `options` go to ServeOptions."""
    root = tmp_path / "corpus"
    root.mkdir(parents=True)
    (root / "t.png").write_bytes(transparent_png())
    rows = [Row(label=0, id="t.png", modality="image", uri=str(root / "t.png"), metadata={}),
            Row(label=1, id="x", modality="text", text="hello")]
    ix = FakeIndex(rows, np.eye(2, 8, dtype=np.float32))
    engine = Engine.open([str(tmp_path / "main.xmodal")], encoder=FakeEncoder(), opener=lambda p: ix)
    return create_app(engine, media_roots=[str(root)], options=ServeOptions(**options) if options else None)
