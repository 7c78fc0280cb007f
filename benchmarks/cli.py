"""`xmodal bench ...`: thin click commands over the benchmark library.

Every run writes report.json and summary.md (plus PNG plots where the
benchmark has them) into --out, by default a new folder under
`$XMODAL_CACHE/bench-runs/` (~/.cache/xmodal without it); prints the
summary on a terminal, or the report as one JSON line with --json or when
piped; and says on stderr where the report went."""
from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import click

from xmodal.alignment.core.atomic import atomic_write_text
from xmodal.alignment.core.output import emit, json_option

from xmodal.alignment.backends.flags import device_flag
from xmodal.alignment.backends.options import BACKENDS

from .report import compare_markdown, default_out_dir, git_state, load_report, write_report


def _command_line(ctx: click.Context) -> str:
    """The invocation, rebuilt from the parsed parameters (for the report)."""
    parts = ["xmodal", "bench", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value in (None, False, ()):
            continue
        if isinstance(param, click.Argument):
            parts += [str(v) for v in value] if isinstance(value, (tuple, list)) else [str(value)]
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


def progress_log(msg: str) -> None:
    click.echo(msg, err=True)


def run_out_dir(ctx: click.Context, benchmark: str) -> Path:
    """--out, or a new run folder under the cache dir; recorded as given."""
    out = ctx.params.get("out")
    path = Path(out) if out else default_out_dir(benchmark)
    if not out:  # a run that fails before writing anything leaves no empty folder behind
        ctx.call_on_close(lambda: _drop_if_empty(path))
    ctx.params["out"] = str(path)  # the recorded command names the folder the report went to
    return path


def _drop_if_empty(path: Path) -> None:
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()


def finish_run(ctx: click.Context, benchmark: str, params: dict[str, Any], results: Any, md: str) -> None:
    """Write the report (+ --compare deltas), print it, say where it is."""
    out, compare = Path(ctx.params["out"]), ctx.params.get("compare")
    git = ctx.obj.get("git_at_start") if isinstance(ctx.obj, dict) else None
    path = write_report(out, benchmark, _command_line(ctx), params, results, md, git)
    report = json.loads(path.read_text())
    summary = out / "summary.md"
    if compare:
        deltas = compare_markdown(report, load_report(compare), compare)
        atomic_write_text(summary, f"{summary.read_text()}\n{deltas}\n")
    emit([report], ctx.params.get("as_json"), lambda _rows: summary.read_text().rstrip("\n"),
         sort_keys=False, ascii=True)
    progress_log(f"report: {path} (summary.md{', plots' if any(out.glob('*.png')) else ''} beside it)")


@click.group()
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmarks: retrieval recall@k, ANN trade-offs, throughput, query
    latency, server load. Each run writes report.json + summary.md (+ plots)."""
    ctx.obj = {"git_at_start": git_state()}  # the code that runs, even if the tree moves meanwhile


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--out, --compare and --json, the same on every benchmark."""
    fn = json_option("Print the report as one JSON line (the default when piped).")(fn)
    fn = click.option("--compare", type=click.Path(dir_okay=False), default=None,
                      help="An older report.json: print the deltas against it.")(fn)
    return click.option("--out", type=click.Path(file_okay=False), default=None,
                        help="Output folder [default: a new one under $XMODAL_CACHE/bench-runs/].")(fn)


_target = click.option("--target", type=click.Choice(["image", "audio", "text", "all"]), default="all",
                       show_default=True, help="Which modality the queries search.")
_query_file = click.option("--query-file", type=click.Path(exists=True, dir_okay=False), default=None,
                           help="Text queries, one per line [default: a built-in list of 50].")


@bench.command("ann")
@click.option("--vectors", required=True, help="INDEX_DIR or synthetic:NxD[:seed].")
@click.option("--recall", "recalls", type=float, multiple=True, help="Recall@10 targets (repeatable).")
@click.option("--memory", default="2G", show_default=True, help="Index memory budget, e.g. 2G.")
@click.option("--queries", "n_queries", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Held-out queries.")
@click.option("--single-queries", type=click.IntRange(min=1), default=200, show_default=True,
              help="Queries timed one at a time per point (QPS single).")
@click.option("--families", default=None,
              help="Comma-separated grid families (Flat,HNSW,IVF-Flat,OPQ+IVF-PQ); 'none' = automatic choices only.")
@click.option("--no-autofaiss", is_flag=True, help="Do not run autofaiss even if its venv exists.")
@output_options
@click.argument("extra_recalls", nargs=-1, type=float)
@click.pass_context
def ann_cmd(ctx: click.Context, vectors: str, recalls: tuple[float, ...], memory: str, n_queries: int,
            single_queries: int, families: str | None, no_autofaiss: bool, out: str | None,
            compare: str | None, as_json: bool, extra_recalls: tuple[float, ...]) -> None:
    """Sweep FAISS index families: recall@10 vs QPS vs memory vs build time.

    `--recall 0.9 0.95 0.99` works: values after the first are taken too."""
    from .ann_bench import run_ann

    out = run_out_dir(ctx, "ann")
    targets = tuple(recalls) + tuple(extra_recalls) or (0.9, 0.95, 0.99)
    # so the recorded command shows every target once (--recall 0.9 --recall 0.95 ...)
    ctx.params["recalls"], ctx.params["extra_recalls"] = targets, ()
    fams = None if families is None else [f.strip() for f in families.split(",")
                                          if f.strip() and f.strip().lower() != "none"]
    results, md = run_ann(vectors, targets, memory, n_queries, autofaiss=not no_autofaiss,
                          plot_dir=out, single_queries=single_queries, families=fams, log=progress_log)
    params = {"vectors": vectors, "recall": list(targets), "memory": memory, "queries": n_queries,
              "single_queries": single_queries, "families": fams}
    finish_run(ctx, "ann", params, results, md)


@bench.command("retrieval")
@click.option("--model", required=True, help="Model spec, e.g. lite or openclip:ViT-B-32/laion2b_s34b_b79k.")
@click.option("--dataset", required=True, help="flickr30k, mscoco, audiocaps, clotho, or an offline corpus.")
@click.option("--root", default=None, type=click.Path(file_okay=False), help="Dataset folder (file datasets).")
@click.option("--split", default="test", show_default=True)
@click.option("--memory", default="2G", show_default=True, help="Index memory budget.")
@click.option("--recall", "recall", type=float, default=0.95, show_default=True,
              help="Recall target the index is tuned for.")
@click.option("--factory", default=None, help="Force a FAISS factory (default: the indexer's choice).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@output_options
@click.pass_context
def retrieval_cmd(ctx: click.Context, model: str, dataset: str, root: str | None, split: str, memory: str,
                  recall: float, factory: str | None, batch_size: int, out: str | None, compare: str | None,
                  as_json: bool) -> None:
    """Recall@1/5/10, mAP and MRR in every direction the data allows,
    exactly and through the FAISS index, side by side."""
    from .retrieval import run_retrieval
    from .retrieval_report import attach_reference, markdown, plot

    out = run_out_dir(ctx, "retrieval")
    results = run_retrieval(model, dataset, out, root, split, memory, recall, factory, batch_size, log=progress_log)
    attach_reference(results)
    plot(results, out)
    params = {"model": model, "dataset": dataset, "root": root, "split": split, "memory": memory,
              "recall": recall, "factory": factory}
    finish_run(ctx, "retrieval", params, results, markdown(results))


@bench.command("ann-scale")
@click.option("--n", "n", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Database vectors.")
@click.option("--dim", type=click.IntRange(min=1), default=384, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--recall", type=float, default=0.95, show_default=True, help="Recall@10 target for the indexer.")
@click.option("--memory", default="2G", show_default=True, help="Index memory budget (the indexer's default).")
@click.option("--queries", "n_queries", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Held-out queries.")
@click.option("--single-queries", type=click.IntRange(min=1), default=200, show_default=True,
              help="Queries timed one at a time (QPS single).")
@output_options
@click.pass_context
def ann_scale_cmd(ctx: click.Context, n: int, dim: int, seed: int, recall: float, memory: str, n_queries: int,
                  single_queries: int, out: str | None, compare: str | None, as_json: bool) -> None:
    """What `xmodal index build` makes of N clustered synthetic vectors:
    the indexer's own factory choice and tuning vs exact search, recall@10
    on held-out queries, QPS, memory, build time."""
    from .ann_bench import run_ann_scale

    out_dir = run_out_dir(ctx, "ann-scale")
    results, md = run_ann_scale(n, dim, seed, recall, memory, n_queries, single_queries, out_dir, log=progress_log)
    params = {"n": n, "dim": dim, "seed": seed, "recall": recall, "memory": memory, "queries": n_queries,
              "single_queries": single_queries}
    finish_run(ctx, "ann-scale", params, results, md)


@bench.command("throughput")
@click.option("--model", required=True, help="Model spec, e.g. lite or tiny.")
@click.option("--backend", "backends", multiple=True, type=click.Choice(BACKENDS),
              help="Inference backends to compare, e.g. --backend torch onnx openvino; torch eager "
                   "always runs first as the reference [default: torch and auto].")
@device_flag
@click.option("--corpus", multiple=True, type=click.Path(exists=True),
              help="Folder, manifest or tar the indexer can read (repeatable) "
                   "[default: generated JPEG photos, 10 s WAV clips and captions].")
@click.option("--modality", "modalities", multiple=True, type=click.Choice(["text", "image", "audio"]),
              help="Only these modalities (default: all the corpus has).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many items per modality.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Items per encode call [default: each backend's preferred size per modality].")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Decode workers in the pipeline (processes for images/audio).")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Interleaved forward/pipeline rounds; medians are reported.")
@output_options
@click.argument("extra_backends", nargs=-1, type=click.Choice(BACKENDS))
@click.pass_context
def throughput_cmd(ctx: click.Context, model: str, backends: tuple[str, ...], device: str | None,
                   corpus: tuple[str, ...], modalities: tuple[str, ...], limit: int | None,
                   batch_size: int | None, workers: int, rounds: int, out: str | None,
                   compare: str | None, as_json: bool, extra_backends: tuple[str, ...]) -> None:
    """Items/s of the bare encoder forward pass and of the full indexing
    pipeline, per modality and inference backend, interleaved over rounds,
    with peak memory, cosine to torch eager and the physical bound.

    `--backend torch onnx openvino` works: values after the first are taken too."""
    from xmodal.alignment import load_encoder

    from .throughput_report import markdown, plot
    from .throughput_run import ThroughputOptions, Variant, run_throughput

    names = ["torch"] + [b for b in dict.fromkeys(backends + extra_backends or ("auto",)) if b != "torch"]
    ctx.params["backends"], ctx.params["extra_backends"] = tuple(names), ()
    out_dir = run_out_dir(ctx, "throughput")
    opts = ThroughputOptions(model, list(corpus), list(modalities) or ["text", "image", "audio"], limit,
                             batch_size, workers, rounds)
    variants = [Variant(b, lambda b=b: load_encoder(model, backend=b, device=device)) for b in names]
    result = run_throughput(opts, variants, log=progress_log)
    plot(result, out_dir)
    finish_run(ctx, "throughput", {**asdict(opts), "backends": names, "device": device}, result, markdown(result))


@bench.command("query-latency")
@click.argument("index", type=click.Path(exists=True, file_okay=False))
@click.option("-n", "--n", "n", type=click.IntRange(min=1), default=300, show_default=True, help="Timed queries.")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@_target
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True,
              help="Untimed queries after the first.")
@_query_file
@click.option("--threads", type=int, default=1, show_default=True,
              help="Torch/FAISS threads; 1 is what `xmodal serve` uses per query, 0 = leave as set.")
@output_options
@click.pass_context
def query_latency_cmd(ctx: click.Context, index: str, n: int, k: int, target: str, warmup: int,
                      query_file: str | None, threads: int, out: str | None, compare: str | None,
                      as_json: bool) -> None:
    """Per-stage latency (encode / search / metadata) of single text
    queries on INDEX: p50/p90/p99 ms."""
    from xmodal.alignment.core.threads import set_threads

    from .query_latency import DEFAULT_QUERIES, LatencyOptions, load_queries, markdown, run_query_latency

    run_out_dir(ctx, "query-latency")  # before the run: a bad --out fails fast
    if threads:
        set_threads(threads)
    opts = LatencyOptions(index, n, k, None if target == "all" else target, warmup,
                          load_queries(query_file) if query_file else list(DEFAULT_QUERIES))
    result = run_query_latency(opts)
    params = {**asdict(opts), "queries": len(opts.queries), "query_file": query_file, "threads": threads}
    finish_run(ctx, "query-latency", params, result, markdown(result, opts))


@bench.command("server-load")
@click.option("--url", default=None, help="Base URL of a running server.")
@click.option("--index", type=click.Path(exists=True, file_okay=False), default=None,
              help="Start `xmodal serve INDEX` on a free loopback port for the run.")
@click.option("-c", "--clients", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("-n", "--requests", type=click.IntRange(min=1), default=2000, show_default=True, help="Request budget.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Time budget in seconds.")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@_target
@_query_file
@click.option("--server-threads", type=int, default=None, help="Torch/FAISS threads of the server (with --index).")
@click.option("--tool", type=click.Choice(["httpx", "wrk"]), default="httpx", show_default=True,
              help="Load generator: Python threads with httpx, or wrk (time-bounded only).")
@output_options
@click.pass_context
def server_load_cmd(ctx: click.Context, url: str | None, index: str | None, clients: int, requests: int,
                    duration: float, k: int, target: str, query_file: str | None, server_threads: int | None,
                    tool: str, out: str | None, compare: str | None, as_json: bool) -> None:
    """Requests/s and latency the search server sustains under -c
    concurrent clients."""
    from .query_latency import DEFAULT_QUERIES, load_queries
    from .server_load import LoadOptions, markdown, run_server_load

    if bool(url) == bool(index):
        raise click.UsageError("give exactly one of --url or --index")
    run_out_dir(ctx, "server-load")
    opts = LoadOptions(url, index, clients, requests, duration, k, None if target == "all" else target,
                       server_threads, tool, load_queries(query_file) if query_file else list(DEFAULT_QUERIES))
    result = run_server_load(opts)
    params = {**asdict(opts), "queries": len(opts.queries), "query_file": query_file}
    finish_run(ctx, "server-load", params, result, markdown(result, opts))


# the newer benchmarks live in cli_more.py (kept under ~400 lines a file);
# importing it registers them on `bench`
from . import cli_more  # noqa: E402,F401
