"""`xmodal align`: train, evaluate and transfer contrastive alignments.

Thin over `xmodal.alignment.train`; progress and per-epoch validation
recall go to stderr, results to stdout (JSON Lines when piped or --json,
a table on a terminal).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..core.errors import XmodalError
from ..train.data import Item, assign_splits, from_corpora, read_jsonl
from ..retrieval_metrics import KS


def _read_files(data: tuple[str, ...], published_splits: bool) -> list[Item]:
    """Items of the JSONL files; skipped lines go to stderr. With
    `published_splits`, a file named train/val/test sets its items' split."""
    items: list[Item] = []
    for path in data:
        got, skipped = read_jsonl(path)
        for line in skipped:
            click.echo(line, err=True)
        for it in got:
            it.corpus = it.corpus or _corpus_name(path)
            if published_splits and it.split is None and Path(path).stem in ("train", "val", "test"):
                it.split = Path(path).stem  # a corpus's published split file
        items += got
    return items


def _load_items(data: tuple[str, ...], corpora: tuple[str, ...], cache: str | None, seed: int) -> list[Item]:
    items = _read_files(data, published_splits=True)
    if corpora:
        items += from_corpora(corpora, cache=cache, log=lambda m: click.echo(m, err=True))
    if not items:
        raise XmodalError("no training data: pass --data FILE.jsonl, --corpus NAME or --recipe NAME")
    return assign_splits(items, seed)


def _corpus_name(path: str) -> str:
    """`.../openclipart/test.jsonl` -> openclipart; `mine.jsonl` -> mine."""
    p = Path(path)
    return p.parent.name if p.stem in ("train", "val", "test", "pairs") and p.parent.name else p.stem


def _rows(results: dict, method: str) -> list[dict]:
    """{corpus: {direction: {R@k...}}} -> flat rows."""
    out = []
    for corpus, dirs in results.items():
        for d, r in dirs.items():
            r = r.as_dict() if hasattr(r, "as_dict") else r
            out.append({"method": method, "corpus": corpus, **{k: v for k, v in r.items()}})
    return out


def _emit(rows: list[dict], as_json: bool) -> None:
    if as_json or not sys.stdout.isatty():
        for r in rows:
            click.echo(json.dumps(r, sort_keys=True))
        return
    head = f"{'method':<14} {'corpus':<13} {'direction':<15} " + " ".join(f"R@{k:<5}" for k in KS) + " queries"
    click.echo(head)
    click.echo("-" * len(head))
    for r in rows:
        vals = " ".join(f"{100 * r.get(f'R@{k}', 0):6.2f}" for k in KS)
        click.echo(f"{r['method']:<14} {r['corpus']:<13} {r['direction']:<15} {vals} {r.get('n_queries', '')}")


@click.group()
def align() -> None:
    """Train / evaluate / transfer the contrastive prompt alignment."""


@align.command("train")
@click.option("--recipe", "recipe_name", default=None, help="Built-in recipe (lite, tiny) or a recipe JSON file.")
@click.option("--model", default=None, help="Base model spec (default: the recipe's, else lite).")
@click.option("--data", multiple=True, type=click.Path(dir_okay=False), help="Pairs JSON Lines (repeatable).")
@click.option("--corpus", multiple=True, help="Fetched corpus name (repeatable; default: the recipe's).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Checkpoint dir (default: $XMODAL_CACHE/alignments/<recipe name>).")
@click.option("--install", is_flag=True,
              help="Replace the shipped alignment (alignment/checkpoints/lite; --recipe lite only).")
@click.option("--epochs", type=int, default=None)
@click.option("--head", type=click.Choice(["linear", "mlp"]), default=None)
@click.option("--n-ctx", type=int, default=None, help="Soft prompt tokens (0: heads only).")
@click.option("--prompt-init", default=None, help="Text whose embeddings initialise the soft prompt.")
@click.option("--templates", default=None, help="Hard template ('a picture of {}') or set (none, picture, ensemble).")
@click.option("--no-audio-tower", is_flag=True, help="Keep the audio tower frozen (train its head only).")
@click.option("--no-baselines", is_flag=True)
@click.option("--seed", type=int, default=None)
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="Data cache root.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def train_cmd(recipe_name, model, data, corpus, out_dir, install, epochs, head, n_ctx, prompt_init, templates,
              no_audio_tower, no_baselines, seed, cache, as_json) -> None:
    """Train an alignment; report held-out recall (and baselines)."""
    from dataclasses import replace

    from ..train.recipes import Recipe, checkpoint_dir, get_recipe
    from ..train.run import train_run

    if recipe_name and Path(recipe_name).is_file():
        recipe = Recipe.from_dict(json.loads(Path(recipe_name).read_text()))
    elif recipe_name:
        recipe = get_recipe(recipe_name)
    else:
        recipe = Recipe()
    changes = {k: v for k, v in {"model": model, "head": head, "n_ctx": n_ctx, "prompt_init": prompt_init,
                                 "templates": templates, "seed": seed}.items() if v is not None}
    if no_audio_tower:
        changes["train_audio_tower"] = False
    if no_baselines:
        changes["baselines"] = False
    if data or corpus:
        changes["corpora"] = list(corpus)
    recipe = replace(recipe, **changes)
    if epochs is not None:
        recipe = replace(recipe, train=replace(recipe.train, epochs=epochs))
    out_dir = str(checkpoint_dir(recipe.name, out_dir, install))
    items = _load_items(tuple(data), tuple(recipe.corpora), cache, recipe.seed)
    report = train_run(recipe, items, out_dir, log=sys.stderr)
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
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def eval_cmd(ckpt_dir, data, model, baselines, cache, as_json) -> None:
    """Recall@1/5/10 in every direction through the real encoder stack."""
    from ..train.evalckpt import baseline_report, evaluate_checkpoint

    items = _read_files(data, published_splits=False)
    results, skipped = evaluate_checkpoint(ckpt_dir, items, model, log=sys.stderr)
    for line in skipped:
        click.echo(line, err=True)
    if skipped:
        click.echo(f"{len(skipped)} items skipped", err=True)
    rows = _rows(results, "alignment")
    if baselines:
        base = baseline_report(ckpt_dir, items, cache, log=sys.stderr)
        names = sorted({n for res in base.values() for n in res})
        for name in names:
            rows += _rows({c: {d: r for d, r in res[name].items() if d != "hp"}
                           for c, res in base.items() if name in res}, name)
        _say_margins(results, base)
    _emit(rows, as_json)


def _say_margins(results: dict, base: dict) -> None:
    """One stderr line per corpus, direction and k: trained minus best baseline."""
    from ..train.run import margins

    report = {c: {"trained": {d: r.as_dict() for d, r in res.items()}, **base.get(c, {})}
              for c, res in results.items()}
    for direction in ("text->image", "image->text"):
        for corpus, ks in margins(report, direction).items():
            parts = [f"{k} {100 * m['margin']:+.2f} vs {m['best_baseline']}" for k, m in ks.items()]
            click.echo(f"margin {corpus} {direction}: " + ", ".join(parts), err=True)


@align.command("transfer")
@click.argument("src_dir", type=click.Path(file_okay=False))
@click.option("--data", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="Target pairs JSON Lines (items with split train/test, or hashed by group).")
@click.option("--shots", type=int, required=True, help="Labelled target pairs to adapt on.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--epochs", type=int, default=30)
@click.option("--seed", type=int, default=0)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def transfer_cmd(src_dir, data, shots, out_dir, epochs, seed, as_json) -> None:
    """Zero-shot vs few-shot vs from-scratch on the target's test split."""
    from ..train.transfer import transfer

    if shots < 2:
        raise XmodalError(f"--shots must be at least 2, got {shots}")
    items = _load_items(tuple(data), (), None, seed)
    report = transfer(src_dir, items, shots, out_dir, epochs=epochs, seed=seed, log=sys.stderr)
    rows = []
    for method, res in report["results"].items():
        rows += _rows(res, method)
    _emit(rows, as_json)
