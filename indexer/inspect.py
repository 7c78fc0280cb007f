"""`info`: what an index directory holds, optionally verifying checksums."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xmodal.alignment.core.errors import XmodalError

from .snapshot_list import read_snapshots
from .manifest import META_NAME, SHARDS_DIR, IndexManifest, damaged_line, read_manifest, sha256_file

COMPACT_HINT = 0.2


def verify_files(index_dir: str | Path, files: dict[str, dict[str, Any]], checksums: bool = True) -> dict[str, str]:
    """name -> 'ok' | 'missing' | 'size differs' | 'checksum differs'
    (`checksums=False`: existence and size only, a stat per file)."""
    out = {}
    for name, entry in files.items():
        p = Path(index_dir) / name
        if not p.is_file():
            out[name] = "missing"
        elif p.stat().st_size != entry.get("bytes"):
            out[name] = "size differs"
        elif checksums and sha256_file(p) != entry.get("sha256"):
            out[name] = "checksum differs"
        else:
            out[name] = "ok"
    return out


def _damage(index_dir: str | Path, files: dict[str, dict[str, Any]], checksums: bool) -> dict[str, str]:
    """The files that are not 'ok', less the shards that are missing because
    they were collected: a manifest lists the shards in use when it was
    published, and the purge after the publish may leave a shard with no row
    (all its rows deleted, no pinned reader left), which is then dropped."""
    bad = {k: v for k, v in verify_files(index_dir, files, checksums).items() if v != "ok"}
    gone = [k for k, v in bad.items() if v == "missing" and k.startswith(f"{SHARDS_DIR}/")]
    if gone and (Path(index_dir) / META_NAME).is_file():
        from .metadata import MetaStore

        store = MetaStore(Path(index_dir) / META_NAME, readonly=True)
        try:
            used = store.shards_in_use()
        finally:
            store.close()
        for k in gone:
            if Path(k).stem not in used:
                del bad[k]
    return bad


def require_intact(index_dir: str | Path, manifest: IndexManifest, what: str = "") -> None:
    """Raise the one damage line when a file the manifest lists is missing
    or has another size (cheap: no checksums; `info --verify` has those)."""
    bad = _damage(index_dir, manifest.files, checksums=False)
    if bad:
        name, problem = next(iter(sorted(bad.items())))
        line = damaged_line(index_dir, name, problem, len(bad) - 1)
        raise XmodalError(f"{what}: {line}" if what else line)


def info(index_dir: str | Path, verify: bool = False) -> dict[str, Any]:
    """A flat summary of the manifest (plus checksum results with `verify`)."""
    m = read_manifest(index_dir)
    s = m.stats
    out: dict[str, Any] = {
        "path": str(index_dir), "generation": m.generation, "format_version": m.format_version,
        "encoder_spec": m.encoder_spec, "encoder_fingerprint": m.encoder_fingerprint, "dim": m.dim,
        "metric": m.metric, "factory": m.factory, "search_params": m.search_params, "counts": m.counts,
        "recall_at_10": s.recall_at_10, "recall_target": s.recall_target,
        "latency_ms_mean": s.latency_ms_mean, "memory_bytes": s.memory_bytes,
        "index_file": m.index_file, "files": len(m.files),
        "snapshots": sorted(read_snapshots(index_dir)),
    }
    if verify:
        bad = _damage(index_dir, m.files, checksums=True)
        out["checksums"] = "ok" if not bad else bad
        out["intact"] = not bad
    total = max(m.counts.get("total", 0), 1)
    if m.counts.get("deleted", 0) > COMPACT_HINT * total:
        out["hint"] = f"many deleted rows: run `xmodal index compact {index_dir}`"
    return out
