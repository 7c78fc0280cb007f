"""`xmodal index`: build, add, remove, info, compact. Thin over the library
(`build.build`, `update.add/remove/compact`, `read_manifest`): JSON Lines when
piped or with --json (one shared option, alignment.core.output), a readable summary on a terminal, user errors one line."""
from __future__ import annotations

import sys
from typing import Any

import click

from xmodal.alignment.backends.flags import backend_flags
from xmodal.alignment.backends.options import RunOptions
from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.output import emit, json_option, record_table, rows_table, wants_json

from xmodal.alignment.core.sizes import parse_memory

from .factory import DEFAULT_MEMORY
from .readers.confine import MAX_TEXT_BYTES

ALLOW_ROOT = click.option(
    "--allow-root", "allow_roots", multiple=True, type=click.Path(exists=True, file_okay=False),
    help="Folder the corpus may also reach (symlinks, manifest paths); repeatable.")
MAX_TEXT = click.option(
    "--max-text-bytes", default=MAX_TEXT_BYTES, show_default=True, type=click.IntRange(1),
    help="Largest text file or caption indexed; bigger ones are skipped and reported.")


def _emit(obj: dict[str, Any], as_json: bool | None, keys: list[str]) -> None:
    """One JSON line when piped/--json; otherwise a (field, value) table of `keys`."""
    emit([obj], as_json, lambda rows: record_table(rows[0], keys))


def _skips(skipped: list[dict[str, str]], as_json: bool | None) -> None:
    """On a terminal, list skipped items on stderr (JSON output already has them)."""
    if wants_json(as_json):
        return
    for s in skipped[:50]:
        click.echo(f"skipped {s['item']}: {s['reason']}", err=True)
    if len(skipped) > 50:
        click.echo(f"... and {len(skipped) - 50} more (see build-report.json)", err=True)


def _interrupted(what: str, out: str) -> None:
    click.echo(f"interrupted: finished shards are kept in {out}/shards; rerun the same `{what}` "
               "command to resume", err=True)
    sys.exit(130)


@click.group()
def index() -> None:
    """Build, update and inspect FAISS indexes over image/audio/text corpora."""


@index.command("build")
@click.argument("corpus", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--model", default="lite", show_default=True, help="Encoder stack spec.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Index directory.")
@click.option("--memory", default=None, help=f"Memory budget for the index, e.g. 2G "
              f"[default: {DEFAULT_MEMORY // 1024**3}G].")
@click.option("--recall", default=0.95, show_default=True, type=float, help="Recall@10 target.")
@click.option("--factory", default=None, help="FAISS factory string (overrides the auto choice).")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--shard-size", default=1024, show_default=True, type=int,
              help="Records per embedding shard (the unit of resume).")
@click.option("--fp32", is_flag=True, help="Store shard vectors as float32 (default float16).")
@click.option("--force", is_flag=True, help="Build over an existing index of another corpus or model "
              "(or into a non-empty folder); without it such a build is refused.")
@ALLOW_ROOT
@MAX_TEXT
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Embed on Ray: 'auto' (a local cluster, or the one `ray start` runs here) "
                   "or a cluster address such as ray://head:10001.")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Encoder actors on Ray (one model load each) [default: 2].")
@click.option("--on-disk", is_flag=True, help="IVF index merged on disk and served memory-mapped "
              "(for indexes larger than RAM; --memory bounds what is resident).")
@json_option("One JSON line (the default when stdout is not a terminal).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@backend_flags
def build_cmd(corpus: tuple[str, ...], model: str, out: str, memory: str | None, recall: float,
              factory: str | None, batch_size: int, shard_size: int, fp32: bool, force: bool,
              allow_roots: tuple[str, ...], max_text_bytes: int, ray_address: str | None,
              workers: int | None, on_disk: bool, as_json: bool | None, quiet: bool,
              backend: str | None, device: str | None, precision: str | None) -> None:
    """Embed CORPUS (folders, .jsonl/.csv/.parquet manifests, .tar shards, or
    .npy vector files) and build an index.

    An existing --out index is only rebuilt from the same corpus and model
    (resuming; "up_to_date" when nothing changed), else with --force.

    Only files inside the CORPUS paths (a manifest's or tar's folder) and
    --allow-root folders are read (on Ray too: the driver reads the corpus):
    symlinks or manifest paths leading elsewhere, FIFOs, devices and /proc
    are skipped with a line."""
    from .build import BuildConfig, build
    from .ray_embed import RayOptions

    if ray_address is None and workers is not None:
        raise XmodalError("--workers runs encoder actors on Ray: add --ray auto (or --ray ADDRESS)")
    # --device/--backend/--precision choose where each Ray actor's encoder runs
    # (one GPU per actor on CUDA); a Ray actor without a GPU sees none, so
    # an unset device means the CPU there.
    ray = (RayOptions(ray_address, workers or 2, device=device or "cpu", backend=backend,
                      precision=precision) if ray_address else None)
    cfg = BuildConfig(list(corpus), out, model, parse_memory(memory, DEFAULT_MEMORY), recall, factory, batch_size,
                      shard_size, "float32" if fp32 else "float16", backend=backend, device=device,
                      precision=precision, allow_roots=list(allow_roots), max_text_bytes=max_text_bytes,
                      force=force, ray=ray, on_disk=on_disk)
    try:
        report = build(cfg, progress=not quiet)
    except KeyboardInterrupt:
        _interrupted("index build", out)
    _skips(report.skipped, as_json)
    summary = {k: v for k, v in report.to_dict().items() if k != "skipped"}
    summary["out"] = out
    st = summary.get("index_stats", {})
    for key in ("recall_at_10", "latency_ms_mean", "memory_bytes", "factory_reason", "fallback",
                "file_bytes", "resident_bytes_served"):
        if key in st:
            summary.setdefault(key, st[key])
    _emit(summary, as_json, ["out", "up_to_date", "generation", "model", "records", "records_per_second", "skipped_count",
                             "skipped_by_reason", "counts", "factory", "factory_reason", "fallback",
                             "search_params", "recall_at_10", "latency_ms_mean", "memory_bytes",
                             "file_bytes", "resident_bytes_served", "total_seconds"])


@index.command("add")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--upsert", is_flag=True, help="Replace items whose id is already indexed.")
@click.option("--batch-size", default=32, show_default=True, type=int)
@ALLOW_ROOT
@MAX_TEXT
@json_option("One JSON line (the default when stdout is not a terminal).")
@backend_flags
def add_cmd(index_dir: str, paths: tuple[str, ...], upsert: bool, batch_size: int,
            allow_roots: tuple[str, ...], max_text_bytes: int, as_json: bool | None,
            backend: str | None, device: str | None, precision: str | None) -> None:
    """Add items from PATHS to INDEX_DIR (new generation, no full rebuild)."""
    from .embed import EmbedSettings
    from .update import add

    try:
        res = add(index_dir, list(paths), upsert=upsert, settings=EmbedSettings(batch_size=batch_size),
                  progress=not (as_json or not sys.stderr.isatty()),
                  run=RunOptions(backend, device, precision), allow_roots=list(allow_roots),
                  max_text_bytes=max_text_bytes)
    except KeyboardInterrupt:
        _interrupted("index add", index_dir)
    _skips(res.skipped, as_json)
    _emit(res.to_dict(), as_json, ["generation", "added", "vectors_added", "replaced", "skipped_by_reason",
                         "counts", "hint"])


@index.command("remove")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--ids", "ids", multiple=True, required=True,
              help="Item ids to delete (repeat, or comma-separate).")
@json_option("One JSON line (the default when stdout is not a terminal).")
def remove_cmd(index_dir: str, ids: tuple[str, ...], as_json: bool | None) -> None:
    """Delete items (and their captions) by id. An id that is not indexed is
    an error (exit 2): nothing is removed, no generation is published."""
    from .update import remove

    wanted = [i.strip() for group in ids for i in group.split(",") if i.strip()]
    if not wanted:
        raise XmodalError("--ids: give at least one item id")
    res = remove(index_dir, wanted)
    _emit(res.to_dict(), as_json, ["generation", "removed", "vectors_removed", "counts", "hint"])


@index.command("info")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--verify", is_flag=True, help="Check file checksums against the manifest "
              "(exit 1 when a file is missing or differs).")
@json_option("One JSON line (the default when stdout is not a terminal).")
def info_cmd(index_dir: str, verify: bool, as_json: bool | None) -> None:
    """Show the manifest: encoder, factory, tuned params, counts, measured recall."""
    from .inspect import info

    got = info(index_dir, verify)
    _emit(got, as_json,
          ["path", "generation", "encoder_spec", "dim", "metric", "factory", "search_params",
           "counts", "recall_at_10", "recall_target", "latency_ms_mean", "memory_bytes",
           "snapshots", "checksums", "hint"])
    if verify and got.get("checksums") != "ok":
        click.echo(f"error: {index_dir} is damaged ({len(got['checksums'])} file(s) missing or differing); "
                   f"restore a snapshot (`xmodal index restore {index_dir} NAME`) or rebuild it", err=True)
        sys.exit(1)


@index.command("compact")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--rechoose", is_flag=True, help="Re-pick the factory for the current size (rebuild).")
@click.option("--memory", default=None, help="Memory budget for --rechoose, e.g. 2G.")
@click.option("--recall", default=None, type=float, help="Recall@10 target to re-tune for.")
@json_option("One JSON line (the default when stdout is not a terminal).")
def compact_cmd(index_dir: str, rechoose: bool, memory: str | None, recall: float | None,
                as_json: bool | None) -> None:
    """Rebuild the index without deleted rows (and re-tune)."""
    from .update import compact

    res = compact(index_dir, rechoose, parse_memory(memory) if memory else None, recall,
                  log=lambda s: click.echo(s, err=True))
    _emit(res.to_dict(), as_json, ["generation", "factory", "search_params", "deleted_before", "counts"])


@index.command("snapshot")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@json_option("One JSON line (the default when stdout is not a terminal).")
def snapshot_cmd(index_dir: str, name: str, as_json: bool | None) -> None:
    """Name the current generation NAME, so `index restore` can bring it back
    (no copy: its rows and shards are kept while the name exists)."""
    from .snapshots import snapshot

    _emit(snapshot(index_dir, name).to_dict(), as_json, ["name", "generation", "counts"])


@index.command("snapshots")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@json_option("JSON Lines (the default when stdout is not a terminal).")
def snapshots_cmd(index_dir: str, as_json: bool | None) -> None:
    """List the named snapshots (one line each)."""
    from .snapshot_list import read_snapshots

    snaps = [s.to_dict() for s in sorted(read_snapshots(index_dir).values(), key=lambda s: s.generation)]
    for s in snaps:
        s["vectors"] = s["counts"].get("total", 0)
    emit(snaps, as_json, lambda rows: rows_table(rows, [("name", "name"), ("generation", "generation"),
                                                        ("vectors", "vectors"), ("created", "created")],
                                                 right=("generation", "vectors")) if rows else "no snapshots\n")


@index.command("restore")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@json_option("One JSON line (the default when stdout is not a terminal).")
def restore_cmd(index_dir: str, name: str, as_json: bool | None) -> None:
    """Publish a new generation holding exactly snapshot NAME's items (undoable:
    snapshot the current one first). Also repairs a damaged index file."""
    from .snapshots import restore

    _emit(restore(index_dir, name), as_json, ["generation", "restored", "snapshot_generation",
                                              "rows_dropped", "rows_restored", "counts"])


@index.command("forget")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@json_option("One JSON line (the default when stdout is not a terminal).")
def forget_cmd(index_dir: str, name: str, as_json: bool | None) -> None:
    """Drop snapshot NAME (its rows become collectable by `index gc`)."""
    from .snapshots import drop_snapshot

    _emit(drop_snapshot(index_dir, name).to_dict(), as_json, ["name", "generation"])


@index.command("gc")
@click.argument("index_dir", type=click.Path(exists=True, file_okay=False))
@json_option("One JSON line (the default when stdout is not a terminal).")
def gc_cmd(index_dir: str, as_json: bool | None) -> None:
    """Purge deleted rows, unused shards and old index files that no open
    reader, kept generation or named snapshot needs."""
    from .snapshots import gc

    _emit(gc(index_dir), as_json, ["generation", "rows_purged", "shards_in_use", "snapshots"])
