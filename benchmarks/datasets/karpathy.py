"""Flickr30k and MSCOCO in Karpathy's split format (`dataset_flickr30k.json`,
`dataset_coco.json`): images[].filename, .filepath, .split, .sentences[].raw.

Image files are looked up under --root as `<filepath>/<filename>` (COCO:
`val2014/COCO_val2014_....jpg`) or by file name anywhere below the root
(Flickr30k: `flickr30k-images/123.jpg`)."""
from __future__ import annotations

import json
from pathlib import Path

from xmodal.alignment.core.errors import BadInput

from .base import IMAGE_EXTS, EvalItem, EvalSet, clean_captions, find_first, index_files, require_dir

ANNOTATION = {"flickr30k": "dataset_flickr30k.json", "mscoco": "dataset_coco.json"}
# COCO's "restval" images are training images in Karpathy's split.
SPLIT_ALIASES = {"train": {"train", "restval"}, "val": {"val"}, "test": {"test"}}


def load_karpathy(name: str, root: str | None, split: str = "test") -> EvalSet:
    """Load one split of Flickr30k (`name='flickr30k'`) or MSCOCO (`'mscoco'`)."""
    base = require_dir(root, name)
    fname = ANNOTATION[name]
    ann = find_first(base, [fname, f"annotations/{fname}", f"karpathy/{fname}"], name)
    try:
        data = json.loads(ann.read_text(encoding="utf-8"))
        images = data["images"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadInput(str(ann), f"not a Karpathy split file ({exc})",
                       "expected a JSON object with an 'images' list") from None
    wanted = SPLIT_ALIASES.get(split, {split})
    by_name = index_files(base, IMAGE_EXTS)
    items: list[EvalItem] = []
    skipped: list[tuple[str, str]] = []
    for n, img in enumerate(images):
        if not isinstance(img, dict) or img.get("split") not in wanted:
            continue
        filename = str(img.get("filename") or "")
        if not filename:
            skipped.append((f"{ann.name} images[{n}]", "no filename"))
            continue
        path = _resolve(base, str(img.get("filepath") or ""), filename, by_name)
        if path is None:
            skipped.append((filename, f"image file not found under {base}"))
            continue
        sentences = img.get("sentences") or []
        caps = clean_captions(filename, [s.get("raw") if isinstance(s, dict) else s for s in sentences],
                              skipped)
        if not caps:
            skipped.append((filename, "no usable captions"))
            continue
        item_id = str(img.get("cocoid") or img.get("imgid") or filename) if name == "mscoco" else filename
        items.append(EvalItem(item_id, "image", str(path), caps,
                              metadata={"filename": filename}))
    if not items:
        raise BadInput(str(ann), f"no usable '{split}' images",
                       f"check the split name and that images are under {base}")
    return EvalSet(name, split, items, skipped, source=str(ann))


def _resolve(base: Path, filepath: str, filename: str, by_name: dict[str, Path]) -> Path | None:
    for cand in (base / filepath / filename, base / "images" / filepath / filename):
        if cand.is_file():
            return cand
    return by_name.get(filename)
