"""`xmodal bench` subcommands for zero-shot classification, filtered search
and scale (Ray embedding, on-disk indexes). They register on the one `bench`
group of `cli.py` and share its output handling (`--out`, report.json,
summary.md, the footer)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from xmodal.alignment.backends.flags import backend_flags

from .cli import bench, finish_run, output_options, progress_log, run_out_dir


@bench.command("zeroshot")
@click.option("--model", required=True, help="Model spec, e.g. lite.")
@click.option("--dataset", required=True, type=click.Choice(["tuxpaint", "openclipart", "instruments"]),
              help="Offline corpus whose categories are the classes (xmodal data fetch NAME).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"]),
              help="Items scored (test and val are held out from alignment training).")
@click.option("--depth", type=click.IntRange(min=0), default=1, show_default=True,
              help="Category path parts that make a class ('animals/birds' at depth 1: animals; 0: all).")
@click.option("--templates", default=None,
              help="Headline prompt templates [default: ensemble for images, sound-ensemble for audio].")
@click.option("--modality", "modalities", multiple=True, type=click.Choice(["image", "audio"]),
              help="Only these modalities [default: every one the corpus has].")
@backend_flags
@output_options
@click.pass_context
def zeroshot_cmd(ctx: click.Context, model: str, dataset: str, split: str, depth: int, templates: str | None,
                 modalities: tuple[str, ...], backend: str | None, device: str | None, precision: str | None,
                 out: str | None, compare: str | None, as_json: bool) -> None:
    """Zero-shot classification of a corpus split by its categories: top-1/
    top-5 accuracy, mean per-class recall, macro F1, the worst classes'
    confusions, chance levels, prompt-template variants; a confusion-matrix
    PNG per modality."""
    from xmodal.alignment import load_encoder

    from .zeroshot import run_zeroshot
    from .zeroshot_report import confusion_png, markdown

    out_dir = run_out_dir(ctx, "zeroshot")
    stack = load_encoder(model, backend, device, precision)
    results = run_zeroshot(stack, model, dataset, split, depth, templates, modalities, log=progress_log)
    for r in results:
        confusion_png(r, out_dir / f"confusion-{r.modality}.png")
    params = {"model": model, "dataset": dataset, "split": split, "depth": depth, "templates": templates,
              "modalities": list(modalities), "backend": backend, "device": device}
    finish_run(ctx, "zeroshot", params, {"runs": [asdict(r) for r in results]},
            "\n\n".join(markdown(r) for r in results))


@bench.command("filters")
@click.option("--n", "n", type=click.IntRange(min=1000), default=1_000_000, show_default=True, help="Database vectors.")
@click.option("--dim", type=click.IntRange(min=2), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--queries", "n_queries", type=click.IntRange(min=10), default=200, show_default=True,
              help="Queries, each timed one at a time per selectivity (interleaved rounds).")
@click.option("--memory", default="2G", show_default=True, help="Index memory budget (the indexer's default).")
@click.option("--recall", type=float, default=0.95, show_default=True, help="Recall@10 target for the indexer.")
@click.option("--factory", default=None, help="FAISS factory string [default: the indexer's choice].")
@output_options
@click.pass_context
def filters_cmd(ctx: click.Context, n: int, dim: int, seed: int, n_queries: int, memory: str, recall: float,
                factory: str | None, out: str | None, compare: str | None, as_json: bool) -> None:
    """Filtered search by selectivity (0.1%, 1%, 10%, 100%) on an index built
    by the indexer over N synthetic vectors with realistic metadata: p50/p90
    latency beside unfiltered search, recall@10 vs an exact filtered scan.
    The index is kept under --out/index and reused by a rerun."""
    from xmodal.alignment.core.sizes import parse_memory

    from .filters_bench import markdown, run_filters

    out_dir = run_out_dir(ctx, "filters")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = run_filters(n, dim, seed, n_queries, parse_memory(memory), recall, factory, out_dir, log=progress_log)
    params = {"n": n, "dim": dim, "seed": seed, "queries": n_queries, "memory": memory, "recall": recall,
              "factory": factory}
    finish_run(ctx, "filters", params, results, markdown(results))


@bench.command("scale")
@click.option("--model", default="lite", show_default=True, help="Encoder stack spec.")
@click.option("--corpus", "corpus", multiple=True, required=True, type=click.Path(exists=True),
              help="Corpus path (folder, manifest, tar); repeatable.")
@click.option("--workers", "workers", multiple=True, type=click.IntRange(min=1), default=(1, 2),
              show_default=True, help="Ray worker counts to run (repeatable; values after the first are taken too).")
@click.option("--rounds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Interleaved rounds; medians are reported.")
@click.option("--shard-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@output_options
@click.argument("extra_workers", nargs=-1, type=click.IntRange(min=1))
@click.pass_context
def scale_cmd(ctx: click.Context, model: str, corpus: tuple[str, ...], workers: tuple[int, ...],
              rounds: int, shard_size: int, batch_size: int, out: str | None, compare: str | None,
              as_json: bool, extra_workers: tuple[int, ...]) -> None:
    """Embedding records/s: in-process vs Ray with N workers, in one run.

    `--workers 1 2` works: values after the first are taken too."""
    from xmodal.indexer.ray_embed import require_ray

    from .scale import run_scale

    require_ray()
    out = run_out_dir(ctx, "scale")
    counts = tuple(dict.fromkeys(tuple(workers) + tuple(extra_workers)))
    ctx.params["workers"], ctx.params["extra_workers"] = counts, ()
    results, md = run_scale(list(corpus), model, counts, rounds, shard_size, batch_size, log=progress_log)
    params = {"model": model, "corpus": list(corpus), "workers": list(counts), "rounds": rounds,
              "shard_size": shard_size, "batch_size": batch_size}
    finish_run(ctx, "scale", params, results, md)


@bench.command("ondisk")
@click.option("--n", "n", type=click.IntRange(min=1000), default=10_000_000, show_default=True)
@click.option("--dim", type=click.IntRange(min=2), default=256, show_default=True)
@click.option("--memory", default="4G", show_default=True, help="The build's memory budget.")
@click.option("--work", required=True, type=click.Path(file_okay=False),
              help="Folder for the generated vectors and the index (reused on a rerun).")
@click.option("--queries", "n_queries", type=click.IntRange(min=10), default=300, show_default=True)
@click.option("--recall", type=float, default=0.95, show_default=True)
@click.option("--serve-memory", default=None, help="Resident budget of the reader [default: --memory].")
@output_options
@click.pass_context
def ondisk_cmd(ctx: click.Context, n: int, dim: int, memory: str, work: str, n_queries: int,
               recall: float, serve_memory: str | None, out: str | None, compare: str | None,
               as_json: bool) -> None:
    """A synthetic N x DIM index built on disk and served memory-mapped:
    peak RSS, resident vs file size, recall@10 vs exact, QPS."""
    from .ondisk_scale import markdown, run_ondisk

    out = run_out_dir(ctx, "ondisk")
    res = run_ondisk(n, dim, memory, Path(work), n_queries, recall=recall, serve_memory=serve_memory, log=progress_log)
    params = {"n": n, "dim": dim, "memory": memory, "work": work, "queries": n_queries, "recall": recall,
              "serve_memory": serve_memory}
    finish_run(ctx, "ondisk", params, res, markdown(res))
