"""Whether `index build --out DIR` may write into DIR.

An existing index is only built over again when it was built from the same
corpus with the same model (then the build resumes: finished shards are
reused, and when nothing changed the index is reported up to date without
a new generation), or with `--force`. A folder that is neither empty, nor
an index, nor an interrupted build of one is refused too.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.protocols import Embedder

from .manifest import MANIFEST_NAME, META_NAME, REPORT_NAME, SHARDS_DIR, IndexManifest, read_manifest
from .publish import Writer
from .reports import EmbedStats

if TYPE_CHECKING:
    from .build import BuildConfig


_OURS = {SHARDS_DIR, META_NAME, META_NAME + "-wal", META_NAME + "-shm", META_NAME + "-journal", REPORT_NAME}


def _ours(name: str) -> bool:
    """A file an (interrupted) build writes before its first manifest."""
    return name in _OURS or (name.startswith("index.") and name.endswith(".faiss"))


def _resolved(paths: Sequence[str]) -> list[str]:
    return [str(Path(p).resolve()) for p in paths]


def built_from(index_dir: Path, m: IndexManifest) -> list[str] | None:
    """The corpus paths an index was last fully built from (resolved), or
    None when it does not say (an older index without a build report)."""
    if m.stats.build_corpus is not None:
        return list(m.stats.build_corpus)
    try:  # older indexes: the build report's corpus (as given then)
        report = json.loads((index_dir / REPORT_NAME).read_text())
        corpus = report.get("corpus") if isinstance(report, dict) else None
    except (OSError, ValueError):
        return None
    return _resolved(corpus) if isinstance(corpus, list) and all(isinstance(c, str) for c in corpus) else None


def check_out(cfg: "BuildConfig", stack: Embedder) -> IndexManifest | None:
    """Refuse to build over something else; -> the existing manifest when
    this build continues the same index (None: a fresh build or --force)."""
    out = Path(cfg.out)
    if not out.exists():
        return None
    if not out.is_dir():
        raise XmodalError(f"--out {out}: exists and is not a folder; pick another --out")
    if not (out / MANIFEST_NAME).is_file():
        entries = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        if not entries or cfg.force or all(_ours(e) for e in entries):
            return None  # empty, forced, or an interrupted first build: resume it
        raise XmodalError(f"--out {out}: folder is not empty and is not an xmodal index "
                          f"(it holds {', '.join(sorted(entries)[:3])}...); pick another --out, "
                          "or add --force to build into it anyway")
    if cfg.force:
        return None
    m = read_manifest(out)
    before = built_from(out, m)
    now = _resolved([str(c) for c in cfg.corpus])
    problems = []
    if m.encoder_fingerprint != stack.fingerprint:
        problems.append(f"model '{m.encoder_spec}' (fingerprint {m.encoder_fingerprint[:12]}), "
                        f"not '{stack.spec}' ({stack.fingerprint[:12]})")
    if before is None:
        problems.append("a corpus it does not record")
    elif sorted(before) != sorted(now):
        problems.append(f"corpus {', '.join(before)}, not {', '.join(now)}")
    if problems:
        raise XmodalError(f"--out {out} already holds an index (generation {m.generation}, "
                          f"{m.counts.get('total', 0)} vectors) built with {' and '.join(problems)}: "
                          f"refusing to replace it; pick another --out, or add --force to replace it "
                          f"(snapshot it first with `xmodal index snapshot {out} NAME` to keep a way back)")
    return m


def is_up_to_date(writer: Writer, existing: IndexManifest, cfg: "BuildConfig", names: Sequence[str],
                  embed: EmbedStats) -> bool:
    """True when rebuilding would publish the same index: every shard was
    reused, the live rows are exactly those shards' (no add/remove/restore
    since the build) and the index options did not change."""
    m = writer.manifest
    if m is None or m.generation != existing.generation or embed.shards_reused != embed.shards:
        return False
    s = m.stats
    if s.updated is not None or s.compacted is not None:
        return False  # an add/remove/restore/compaction since: the rows differ from a build
    if cfg.factory is not None and cfg.factory != m.factory:
        return False
    if s.recall_target is not None and abs(s.recall_target - cfg.recall) > 1e-9:
        return False
    if s.memory_budget is not None and s.memory_budget != cfg.memory:
        return False
    live = {r.shard for r in writer.open_meta().live_rows_all()}
    return live == set(names)
