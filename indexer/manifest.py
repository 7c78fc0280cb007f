"""`IndexManifest`: the one JSON file that says what an index directory holds.

It is the only entry point a reader uses, and it is replaced atomically
(write a temp file, fsync it, rename over the old one, fsync the directory),
so a concurrent reader sees either the previous generation or the new one,
never a mix.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from xmodal.alignment.core.atomic import atomic_write_bytes
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.hashing import hash_file

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
META_NAME = "meta.sqlite"
REPORT_NAME = "build-report.json"
SHARDS_DIR = "shards"


@dataclass
class IndexManifest:
    """What an index directory holds and how to search it.

    `files` maps a file name (relative to the directory) to
    ``{"sha256": ..., "bytes": ...}``; `index_file` names the FAISS file of
    this `generation`. `search_params` are the tuned FAISS parameters
    (``nprobe`` / ``efSearch`` / ``rerank``); `stats` holds the measured
    recall@10, memory and latency plus build timings.
    """

    encoder_spec: str
    encoder_fingerprint: str
    dim: int
    factory: str
    index_file: str
    generation: int = 1
    metric: str = "ip"
    format_version: int = FORMAT_VERSION
    search_params: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    vector_dtype: str = "float16"
    created: float = field(default_factory=time.time)
    # modality -> inference backend(s) that computed the vectors (e.g. "onnx",
    # "onnx,torch" after an add with another); any backend may query them
    encoder_backend: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "manifest") -> "IndexManifest":
        """Validate and convert; unknown keys from newer writers are ignored."""
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise XmodalError(
                f"{where}: index format version {version!r} is not supported by this "
                f"xmodal (reads <= {FORMAT_VERSION}); upgrade xmodal or rebuild the index"
            )
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("encoder_spec", "encoder_fingerprint", "dim", "factory", "index_file")
                   if k not in data]
        if missing:
            raise XmodalError(f"{where}: missing {', '.join(missing)}; the index is damaged, rebuild it")
        return cls(**{k: v for k, v in data.items() if k in known})


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    return hash_file(path, "sha256", chunk)


def file_entry(path: Path) -> dict[str, Any]:
    """Checksum + size of one file, as stored in `IndexManifest.files`."""
    return {"sha256": sha256_file(path), "bytes": Path(path).stat().st_size}


def read_manifest(index_dir: str | os.PathLike) -> IndexManifest:
    """Load `manifest.json`; a missing or malformed one is a one-line error."""
    path = Path(index_dir) / MANIFEST_NAME
    if not path.is_file():
        raise XmodalError(
            f"{index_dir}: not an xmodal index (no {MANIFEST_NAME}); "
            "build one with `xmodal index build CORPUS --out DIR`"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise XmodalError(f"{path}: unreadable manifest ({exc}); rebuild the index") from None
    if not isinstance(data, dict):
        raise XmodalError(f"{path}: manifest is not a JSON object; rebuild the index")
    return IndexManifest.from_dict(data, str(path))


def read_generation(index_dir: str | os.PathLike) -> int | None:
    """The published generation, or None when no manifest is readable."""
    try:
        return int(json.loads((Path(index_dir) / MANIFEST_NAME).read_text())["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def publish_manifest(index_dir: str | os.PathLike, manifest: IndexManifest) -> None:
    """Atomically replace the manifest: the commit point of every build/update."""
    atomic_write_bytes(Path(index_dir) / MANIFEST_NAME, manifest.to_json().encode())


def index_file_name(generation: int) -> str:
    return f"index.{generation}.faiss"
