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

FORMAT_VERSION = 2  # 2: `parts` (sharded indexes) and on-disk inverted lists
MANIFEST_NAME = "manifest.json"
META_NAME = "meta.sqlite"
REPORT_NAME = "build-report.json"
SHARDS_DIR = "shards"


def _unit(unit: str) -> Any:
    """An optional stats field measured in `unit` (recorded in its metadata)."""
    return field(default=None, metadata={"unit": unit})


@dataclass
class IndexStats:
    """What was chosen, measured and recorded for one generation (the
    manifest's `stats`). Every field may be absent (None): older indexes,
    a given --factory, a corpus too small to hold queries out. Keys this
    version does not know (newer writers) stay in `extra` and are written
    back unchanged."""

    # the factory choice, and the memory budget compaction re-chooses within
    family: str | None = None
    factory_reason: str | None = None
    estimated_bytes: int | None = _unit("bytes")
    fallback: str | None = None
    memory_budget: int | None = _unit("bytes")
    # measured at the tuned parameters (tune.TuneResult.stats())
    recall_at_10: float | None = None
    recall_target: float | None = None
    recall_target_met: bool | None = None
    recall_at_10_by_direction: dict[str, float] | None = None
    qps: float | None = _unit("queries/s")
    latency_ms_mean: float | None = _unit("ms")
    exact_scan_qps: float | None = _unit("queries/s")
    scanned_fraction: float | None = None
    # the tuning queries (per cross-modal direction), every setting tried, times
    tune_queries: int | None = None
    tune_direction_queries: dict[str, int] | None = None
    tune_held_out: bool | None = None
    tune_trials: list[dict[str, Any]] | None = None
    index_seconds: float | None = _unit("s")
    tune_seconds: float | None = _unit("s")
    # the index file
    memory_bytes: int | None = _unit("bytes")
    memory_note: str | None = None
    # an on-disk index (`--on-disk`): its inverted-list file, the stages of
    # its build, and what a fresh reader measured resident after searching
    on_disk: bool | None = None
    ivfdata: str | None = None
    parts_added: int | None = None
    train_seconds: float | None = _unit("s")
    add_seconds: float | None = _unit("s")
    merge_seconds: float | None = _unit("s")
    file_bytes: int | None = _unit("bytes")
    resident_bytes_opened: int | None = _unit("bytes")
    resident_bytes_served: int | None = _unit("bytes")
    resident_queries: int | None = None
    resident_note: str | None = None
    # where media uris point; when an update / a compaction made the generation
    corpus_roots: list[str] | None = None
    # where item ids are relative to (see indexer.ids); None: an older index
    id_roots: list[str] | None = None
    # the corpus paths (resolved) the last full build read: a rebuild over
    # other ones needs --force
    build_corpus: list[str] | None = None
    updated: float | None = _unit("unix time")
    compacted: float | None = _unit("unix time")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "IndexStats":
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names and v is not None}
        return cls(**known, extra={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        out = dict(self.extra)
        out.update({f.name: getattr(self, f.name) for f in fields(self)
                    if f.name != "extra" and getattr(self, f.name) is not None})
        return out

    def merged(self, updates: dict[str, Any]) -> "IndexStats":
        """These stats with `updates` (JSON keys) laid over them."""
        return IndexStats.from_json({**self.to_json(), **updates})


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
    stats: IndexStats = field(default_factory=IndexStats)
    vector_dtype: str = "float16"
    created: float = field(default_factory=time.time)
    # modality -> inference backend(s) that computed the vectors (e.g. "onnx",
    # "onnx,torch" after an add with another); any backend may query them
    encoder_backend: dict[str, str] = field(default_factory=dict)
    # Further FAISS files of this generation, searched beside `index_file`
    # and merged (a sharded index); empty for a single-file index.
    parts: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        data["stats"] = self.stats.to_json()
        return json.dumps(data, indent=2, sort_keys=True)

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
        given = {k: v for k, v in data.items() if k in known}
        stats = given.get("stats")
        given["stats"] = IndexStats.from_json(stats if isinstance(stats, dict) else {})
        return cls(**given)


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


def damaged_line(index_dir: str | os.PathLike, name: str, problem: str, more: int = 0) -> str:
    """The one line every damage report uses: what is wrong, and what to do."""
    also = f" (and {more} more file(s))" if more else ""
    return (f"index {index_dir} is damaged: {name} {problem}{also}; restore a snapshot "
            f"(`xmodal index snapshots {index_dir}`, `xmodal index restore {index_dir} NAME`) or rebuild it "
            f"(`xmodal index build CORPUS --out {index_dir} --force`)")


def index_file_name(generation: int) -> str:
    return f"index.{generation}.faiss"
