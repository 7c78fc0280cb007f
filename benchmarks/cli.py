"""`xmodal bench ...`: thin click commands over the benchmark library.

Every run writes report.json, summary.md and PNG plots into --out, and
prints the summary (or, with --json / when piped, the report as one JSON
line)."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from .report import compare_markdown, git_state, load_report, write_report


def _command_line(ctx: click.Context) -> str:
    """The invocation, rebuilt from the parsed options (for the report)."""
    parts = ["xmodal", "bench", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value in (None, False, ()):
            continue
        flag = param.opts[0] if not param.is_flag or value else param.secondary_opts[0]
        if value is True:
            parts.append(flag)
        elif isinstance(value, (tuple, list)):
            for v in value:  # repeatable options: one flag per value
                parts += [flag, str(v)]
        else:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def _log(msg: str) -> None:
    click.echo(msg, err=True)


def _finish(ctx: click.Context, benchmark: str, out: str, params: dict[str, Any],
            results: dict[str, Any], md: str, compare: str | None, as_json: bool) -> None:
    git = (ctx.obj or {}).get("git_at_start") if isinstance(ctx.obj, dict) else None
    path = write_report(out, benchmark, _command_line(ctx), params, results, md, git)
    report = json.loads(path.read_text())
    if compare:
        md = md + "\n\n" + compare_markdown(report, load_report(compare), compare)
        (Path(out) / "summary.md").write_text(md + "\n")
    if as_json or not sys.stdout.isatty():
        click.echo(json.dumps(report))
    else:
        click.echo(md)
        click.echo(f"\nreport: {path}")


@click.group()
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmarks: retrieval recall@k, ANN trade-offs, throughput."""
    ctx.obj = {"git_at_start": git_state()}  # the code that runs, even if the tree moves meanwhile


_compare = click.option("--compare", type=click.Path(dir_okay=False), default=None,
                        help="An older report.json: print the deltas against it.")
_json = click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON line.")


@bench.command("ann")
@click.option("--vectors", required=True, help="INDEX_DIR or synthetic:NxD[:seed].")
@click.option("--recall", "recalls", type=float, multiple=True, help="Recall@10 targets (repeatable).")
@click.option("--memory", default="2G", show_default=True, help="Index memory budget, e.g. 2G.")
@click.option("--queries", "n_queries", type=int, default=1000, show_default=True,
              help="Held-out queries.")
@click.option("--single-queries", type=int, default=200, show_default=True,
              help="Queries timed one at a time per point (QPS single).")
@click.option("--families", default=None,
              help="Comma-separated grid families (Flat,HNSW,IVF-Flat,OPQ+IVF-PQ); 'none' = automatic choices only.")
@click.option("--no-autofaiss", is_flag=True, help="Do not run autofaiss even if its venv exists.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@_compare
@_json
@click.argument("extra_recalls", nargs=-1, type=float)
@click.pass_context
def ann_cmd(ctx: click.Context, vectors: str, recalls: tuple[float, ...], memory: str, n_queries: int,
            single_queries: int, families: str | None, no_autofaiss: bool, out: str, compare: str | None, as_json: bool,
            extra_recalls: tuple[float, ...]) -> None:
    """Sweep FAISS index families: recall@10 vs QPS vs memory vs build time.

    `--recall 0.9 0.95 0.99` works: values after the first are taken too."""
    from .ann_bench import run_ann

    targets = tuple(recalls) + tuple(extra_recalls) or (0.9, 0.95, 0.99)
    ctx.params["recalls"] = targets  # so the recorded command shows every target (--recall 0.9 --recall 0.95 ...)
    fams = None if families is None else [f.strip() for f in families.split(",")
                                          if f.strip() and f.strip().lower() != "none"]
    results, md = run_ann(vectors, targets, memory, n_queries, autofaiss=not no_autofaiss,
                          plot_dir=out, single_queries=single_queries, families=fams, log=_log)
    params = {"vectors": vectors, "recall": list(targets), "memory": memory, "queries": n_queries,
              "single_queries": single_queries, "families": fams}
    _finish(ctx, "ann", out, params, results, md, compare, as_json)


@bench.command("retrieval")
@click.option("--model", required=True, help="Model spec, e.g. lite or openclip:ViT-B-32/laion2b_s34b_b79k.")
@click.option("--dataset", required=True, help="flickr30k, mscoco, audiocaps, clotho, or an offline corpus.")
@click.option("--root", default=None, type=click.Path(file_okay=False), help="Dataset folder (file datasets).")
@click.option("--split", default="test", show_default=True)
@click.option("--memory", default="2G", show_default=True, help="Index memory budget.")
@click.option("--recall", "recall", type=float, default=0.95, show_default=True,
              help="Recall target the index is tuned for.")
@click.option("--factory", default=None, help="Force a FAISS factory (default: the indexer's choice).")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@_compare
@_json
@click.pass_context
def retrieval_cmd(ctx: click.Context, model: str, dataset: str, root: str | None, split: str, memory: str,
                  recall: float, factory: str | None, batch_size: int, out: str, compare: str | None,
                  as_json: bool) -> None:
    """Recall@1/5/10, mAP and MRR in every direction the data allows,
    exactly and through the FAISS index, side by side."""
    from .retrieval import run_retrieval
    from .retrieval_report import attach_reference, markdown, plot

    results = run_retrieval(model, dataset, out, root, split, memory, recall, factory, batch_size, log=_log)
    attach_reference(results)
    plot(results, out)
    params = {"model": model, "dataset": dataset, "root": root, "split": split, "memory": memory,
              "recall": recall, "factory": factory}
    _finish(ctx, "retrieval", out, params, results, markdown(results), compare, as_json)


@bench.command("throughput")
@click.option("--model", required=True, help="Model spec, e.g. lite or tiny.")
@click.option("--corpus", required=True, multiple=True, type=click.Path(exists=True),
              help="Folder, manifest or tar the indexer can read (repeatable).")
@click.option("--modality", "modalities", multiple=True, type=click.Choice(["text", "image", "audio"]),
              help="Only these modalities (default: all the corpus has).")
@click.option("--limit", type=int, default=None, help="At most this many items per modality.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True, help="Decode threads in the pipeline.")
@click.option("--rounds", type=int, default=3, show_default=True,
              help="Alternating forward/pipeline rounds; medians are reported.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@_compare
@_json
@click.pass_context
def throughput_cmd(ctx: click.Context, model: str, corpus: tuple[str, ...], modalities: tuple[str, ...],
                   limit: int | None, batch_size: int, workers: int, rounds: int, out: str,
                   compare: str | None, as_json: bool) -> None:
    """Items/s of the full indexing pipeline vs the bare encoder forward,
    per modality, with peak memory."""
    from .plots import throughput_bars
    from .throughput import markdown, run_throughput

    results = run_throughput(model, list(corpus), modalities or ("text", "image", "audio"), limit,
                             batch_size, workers, rounds, log=_log)
    throughput_bars(results["modalities"], Path(out) / "throughput.png", f"{model}: items/s")
    params = {"model": model, "corpus": list(corpus), "modalities": list(modalities), "limit": limit,
              "batch_size": batch_size, "workers": workers, "rounds": rounds}
    _finish(ctx, "throughput", out, params, results, markdown(results), compare, as_json)
