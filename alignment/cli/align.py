"""`xmodal align`: train, evaluate and transfer contrastive alignments.

Thin over `xmodal.alignment.train`; progress and per-epoch validation
recall go to stderr, results to stdout (JSON Lines when piped or --json,
a table on a terminal).
"""
from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

import click

from ..core.errors import XmodalError
from ..core.output import emit, json_option
from ..retrieval_metrics import KS


class HeadChoice(click.Choice):
    """The trainable head kinds of `xmodal.alignment.heads.HEADS` ('identity'
    passes tower features through), read when an option is parsed or its help
    shown: importing `heads` loads torch, and `xmodal --help` must not."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> list[str]:  # type: ignore[override]
        from ..heads import HEADS

        return [k for k in HEADS if k != "identity"]

    @choices.setter
    def choices(self, _value: object) -> None:
        pass  # always read from HEADS

PROGRESS_LOGGER = "xmodal.alignment.train"


@contextlib.contextmanager
def _progress() -> Iterator[None]:
    """Training progress (the `xmodal.alignment.train` loggers) as plain
    lines on stderr while one command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(PROGRESS_LOGGER)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _rows(results: dict, method: str) -> list[dict]:
    """{corpus: {direction: {R@k...}}} -> flat rows."""
    out = []
    for corpus, dirs in results.items():
        for d, r in dirs.items():
            r = r.as_dict() if hasattr(r, "as_dict") else r
            out.append({"method": method, "corpus": corpus, **{k: v for k, v in r.items()}})
    return out


def _table(rows: list[dict]) -> str:
    head = f"{'method':<14} {'corpus':<13} {'direction':<15} " + " ".join(f"R@{k:<5}" for k in KS) + " queries"
    lines = [head, "-" * len(head)]
    for r in rows:
        vals = " ".join(f"{100 * r.get(f'R@{k}', 0):6.2f}" for k in KS)
        lines.append(f"{r['method']:<14} {r['corpus']:<13} {r['direction']:<15} {vals} {r.get('n_queries', '')}")
    return "\n".join(lines) + "\n"


def _emit(rows: list[dict], as_json: bool | None) -> None:
    emit(rows, as_json, _table, ascii=True)


@click.group()
def align() -> None:
    """Train / evaluate / transfer the contrastive prompt alignment."""


@align.command("train")
@click.option("--recipe", "recipe_name", default=None,
              help="Built-in recipe (lite, lite-next, openclipart, tiny) or a recipe JSON file.")
@click.option("--model", default=None, help="Base model spec (default: the recipe's, else lite).")
@click.option("--data", multiple=True, type=click.Path(dir_okay=False), help="Pairs JSON Lines (repeatable).")
@click.option("--corpus", multiple=True, help="Fetched corpus name (repeatable; default: the recipe's).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Checkpoint dir (default: <cache>/alignments/<recipe name>, the cache being "
                   "$XMODAL_CACHE or ~/.cache/xmodal).")
@click.option("--install", is_flag=True,
              help="Replace the shipped alignment (alignment/checkpoints/lite; --recipe lite only).")
@click.option("--epochs", type=int, default=None)
@click.option("--head", type=HeadChoice(), default=None)
@click.option("--n-ctx", type=int, default=None, help="Soft prompt tokens (0: heads only).")
@click.option("--prompt-init", default=None, help="Text whose embeddings initialise the soft prompt.")
@click.option("--templates", default=None, help="Hard template ('a picture of {}') or set (none, picture, ensemble).")
@click.option("--no-audio-tower", is_flag=True, help="Keep the audio tower frozen (train its head only).")
@click.option("--no-baselines", is_flag=True)
@click.option("--seed", type=int, default=None)
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="Data cache root.")
@json_option()
def train_cmd(recipe_name, model, data, corpus, out_dir, install, epochs, head, n_ctx, prompt_init, templates,
              no_audio_tower, no_baselines, seed, cache, as_json) -> None:
    """Train an alignment; report held-out recall (and baselines)."""
    from ..train.data import load_items
    from ..train.recipes import checkpoint_dir, load_recipe, override
    from ..train.run import train_run

    recipe = override(load_recipe(recipe_name), epochs=epochs, model=model, head=head, n_ctx=n_ctx,
                      prompt_init=prompt_init, templates=templates, seed=seed,
                      train_audio_tower=False if no_audio_tower else None,
                      baselines=False if no_baselines else None,
                      corpora=list(corpus) if data or corpus else None)
    out_dir = str(checkpoint_dir(recipe.name, out_dir, install))
    with _progress():
        items = load_items(data, recipe.corpora, cache, recipe.seed)
        report = train_run(recipe, items, out_dir)
    rows = []
    for method in ("trained", "lstsq", "procrustes", "cca", "asif"):
        rows += _rows({c: r[method] for c, r in report["metrics"]["test"].items() if method in r}, method)
    rows = [{k: v for k, v in r.items() if k != "hp"} for r in rows if "direction" in r]
    _emit(rows, as_json)


@align.command("eval")
@click.argument("ckpt_dir", type=click.Path(file_okay=False))
@click.option("--data", required=True, multiple=True, type=click.Path(dir_okay=False), help="Test pairs JSON Lines.")
@click.option("--model", default=None, help="Base model spec (default: the one the alignment was trained on).")
@click.option("--baselines", is_flag=True,
              help="Also score the training-free baselines, fitted on the checkpoint's training corpora.")
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="Data cache root (for --baselines).")
@json_option()
def eval_cmd(ckpt_dir, data, model, baselines, cache, as_json) -> None:
    """Recall@1/5/10 in every direction through the real encoder stack."""
    from ..train.data import read_files
    from ..train.run import eval_run

    with _progress():
        items = read_files(data, published_splits=False)
        report = eval_run(ckpt_dir, items, model, baselines, cache)
    rows = _rows(report.results, "alignment")
    for name in sorted({n for res in report.baselines.values() for n in res}):
        rows += _rows({c: {d: r for d, r in res[name].items() if d != "hp"}
                       for c, res in report.baselines.items() if name in res}, name)
    for direction, by_corpus in report.margins.items():
        # one stderr line per corpus, direction and k: trained minus best baseline
        for corpus, ks in by_corpus.items():
            parts = [f"{k} {100 * m['margin']:+.2f} vs {m['best_baseline']}" for k, m in ks.items()]
            click.echo(f"margin {corpus} {direction}: " + ", ".join(parts), err=True)
    _emit(rows, as_json)


@align.command("transfer")
@click.argument("src_dir", type=click.Path(file_okay=False))
@click.option("--data", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="Target pairs JSON Lines (items with split train/test, or hashed by group).")
@click.option("--shots", type=int, required=True, help="Labelled target pairs to adapt on.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--epochs", type=int, default=30)
@click.option("--seed", type=int, default=0)
@json_option()
def transfer_cmd(src_dir, data, shots, out_dir, epochs, seed, as_json) -> None:
    """Zero-shot vs few-shot vs from-scratch on the target's test split."""
    from ..train.data import load_items
    from ..train.run import transfer_run

    if shots < 2:
        raise XmodalError(f"--shots must be at least 2, got {shots}")
    with _progress():
        items = load_items(data, (), None, seed)
        report = transfer_run(src_dir, items, shots, out_dir, epochs=epochs, seed=seed)
    rows = []
    for method, res in report["results"].items():
        rows += _rows(res, method)
    _emit(rows, as_json)
