"""Near-duplicate images merge their caption groups; distinct ones do not."""
import numpy as np
from PIL import Image

from xmodal.alignment.data import Pair
from xmodal.alignment.data.dedup import image_dhash, merge_duplicate_groups, near
from xmodal.alignment.data.splits import assign, check_disjoint


def _img(path, seed, colour=None, size=(64, 48), alpha=False):
    rng = np.random.default_rng(seed)
    a = (rng.random((6, 8)) * 255).astype(np.uint8)        # coarse random structure
    im = Image.fromarray(a).resize(size, Image.Resampling.NEAREST)
    if colour is not None:                                # same shape, another hue
        im = Image.merge("RGB", [im.point(lambda v, c=c: v * c // 255) for c in colour])
    if alpha:
        im = im.convert("RGBA")
    im.save(path)
    return str(path)


def test_identical_shapes_match_and_uniform_images_do_not(tmp_path):
    a = image_dhash(_img(tmp_path / "a.png", 1))
    big = image_dhash(_img(tmp_path / "b.png", 1, size=(128, 96)))  # same picture, larger
    rgba = image_dhash(_img(tmp_path / "d.png", 1, alpha=True))
    other = image_dhash(_img(tmp_path / "c.png", 2))
    assert a is not None and a == rgba                      # alpha composited on white
    assert near(a, big) and not near(a, other)              # resized copy is near, others far
    Image.new("RGB", (40, 40), (9, 9, 9)).save(tmp_path / "flat.png")
    assert image_dhash(tmp_path / "flat.png") is None
    assert image_dhash(tmp_path / "missing.png") is None


def test_duplicates_with_different_captions_share_a_split(tmp_path):
    pairs = [
        Pair("ok", "image", _img(tmp_path / "ok.png", 7), ["button ok"], "button ok"),
        Pair("apply", "image", _img(tmp_path / "apply.png", 7, size=(128, 96)), ["apply"], "apply"),
        Pair("apply-snd", "audio", "/x.wav", ["apply"], "apply"),
        Pair("cat", "image", _img(tmp_path / "cat.png", 8), ["a cat"], "a cat"),
    ]
    pairs += [Pair(f"u{i}", "image", _img(tmp_path / f"u{i}.png", 100 + i), [f"thing {i}"],
                   f"thing {i}") for i in range(60)]
    notes = merge_duplicate_groups(pairs, log=lambda m: None)
    g = {p.id: p.group for p in pairs}
    assert g["ok"] == g["apply"] == g["apply-snd"] == "apply"   # smallest name wins
    assert pairs[0].metadata["caption_group"] == "button ok"
    assert g["cat"] == "a cat" and notes["items_regrouped"] == 1
    assert len({g[f"u{i}"] for i in range(60)}) == 60
    check_disjoint(assign(pairs))
