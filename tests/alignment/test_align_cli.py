"""`xmodal align train / eval / transfer` through click's CliRunner."""
import json

import pytest
from click.testing import CliRunner

from xmodal.alignment.cli.root import cli
from xmodal.alignment.core.errors import XmodalError

from train_synthetic import write_synthetic_files


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    jsonl = write_synthetic_files(root / "data", 16, split_of=lambda i: ["train", "train", "val", "test"][i % 4])
    return root, jsonl


def _lines(output):
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _env(root):
    return {"XMODAL_CACHE": str(root / "cache")}


@pytest.fixture(scope="module")
def trained(files):
    root, jsonl = files
    out = root / "ckpt"
    res = CliRunner().invoke(cli, ["align", "train", "--model", "tiny", "--data", jsonl, "--out", str(out),
                                   "--epochs", "2", "--n-ctx", "0", "--no-audio-tower", "--json"], env=_env(root))
    assert res.exit_code == 0, res.output
    return root, jsonl, out, res


def test_train_writes_checkpoint_and_reports_trained_and_baselines(trained):
    root, jsonl, out, res = trained
    rows = _lines(res.stdout)
    methods = {r["method"] for r in rows}
    assert {"trained", "lstsq", "procrustes", "cca", "asif"} <= methods
    assert all({"R@1", "R@5", "R@10", "direction", "corpus"} <= set(r) for r in rows)
    assert "epoch   1/2" in res.stderr and "val text->image" in res.stderr  # progress on stderr
    cfg = json.loads((out / "alignment.json").read_text())
    assert cfg["base"] == "tiny" and cfg["metrics"]["test"]["all"]["trained"]["text->image"]["n_queries"] == 8


def test_eval_reports_every_direction(trained):
    root, jsonl, out, _ = trained
    res = CliRunner().invoke(cli, ["align", "eval", str(out), "--data", jsonl, "--json"], env=_env(root))
    assert res.exit_code == 0, res.output
    dirs = {r["direction"] for r in _lines(res.stdout)}
    assert dirs == {"text->image", "image->text", "text->audio", "audio->text", "image->audio", "audio->image"}


def test_eval_of_a_missing_checkpoint_is_one_line(files):
    root, jsonl = files
    res = CliRunner().invoke(cli, ["align", "eval", str(root / "nope"), "--data", jsonl])
    assert isinstance(res.exception, XmodalError)
    assert "not found" in str(res.exception) and "\n" not in str(res.exception)


def test_transfer_prints_three_settings(trained):
    root, jsonl, out, _ = trained
    res = CliRunner().invoke(cli, ["align", "transfer", str(out), "--data", jsonl, "--shots", "4",
                                   "--out", str(root / "tgt"), "--epochs", "1", "--json"], env=_env(root))
    assert res.exit_code == 0, res.output
    assert {r["method"] for r in _lines(res.stdout)} == {"zero_shot", "few_shot", "from_scratch"}
    assert (root / "tgt" / "alignment.safetensors").is_file()


def test_bad_shots_and_bad_jsonl_lines(files, tmp_path):
    root, jsonl = files
    res = CliRunner().invoke(cli, ["align", "transfer", "x", "--data", jsonl, "--shots", "1", "--out", "y"])
    assert isinstance(res.exception, XmodalError) and "--shots" in str(res.exception)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "captions": [""], "image": "x.png"}\nnot json\n')
    res = CliRunner().invoke(cli, ["align", "eval", str(root / "nope"), "--data", str(bad)])
    assert isinstance(res.exception, XmodalError) and "no usable items" in str(res.exception)


def _fake_corpus(cache, name, jsonl):
    """A fetched corpus in `cache` made of the synthetic items (images only)."""
    from pathlib import Path

    from xmodal.alignment.data import corpus_dir
    from xmodal.alignment.data.pairs import Pair, write_pairs

    root = corpus_dir(name, cache)
    root.mkdir(parents=True)
    base = Path(jsonl).parent
    by_split = {"train": [], "val": [], "test": []}
    for line in Path(jsonl).read_text().splitlines():
        o = json.loads(line)
        by_split[o["split"]].append(Pair(id=o["id"], modality="image", path=str(base / o["image"]),
                                         captions=o["captions"], group=o["group"]))
    for split, pairs in by_split.items():
        write_pairs(root / f"{split}.jsonl", pairs)
    write_pairs(root / "pairs.jsonl", sum(by_split.values(), []))
    (root / ".done").write_text("test\n")


def test_eval_with_baselines_fits_them_on_the_checkpoint_corpora(files):
    root, jsonl = files
    cache = root / "basecache"
    _fake_corpus(cache, "emoji", jsonl)
    env = {"XMODAL_CACHE": str(cache)}
    out = root / "ckpt_corpus"
    res = CliRunner().invoke(cli, ["align", "train", "--model", "tiny", "--corpus", "emoji", "--out", str(out),
                                   "--epochs", "2", "--n-ctx", "0", "--no-audio-tower", "--no-baselines",
                                   "--json"], env=env)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["align", "eval", str(out), "--data", jsonl, "--baselines", "--json"], env=env)
    assert res.exit_code == 0, res.output
    rows = _lines(res.stdout)
    ti = {r["method"]: r for r in rows if r["direction"] == "text->image"}
    assert {"alignment", "lstsq", "procrustes", "cca", "asif"} <= set(ti)
    assert len({r["n_queries"] for r in ti.values()}) == 1  # everyone ranked the same 32 captions
    # the stderr margin is the alignment minus the best baseline row, per k
    best = max(ti[m]["R@1"] for m in ti if m != "alignment")
    line = next(x for x in res.stderr.splitlines() if x.startswith("margin all text->image"))
    r1 = line.split(": ", 1)[1].split(", ")[0].split()  # ["R@1", "+x.xx", "vs", name]
    assert r1[1] == f"{100 * (ti['alignment']['R@1'] - best):+.2f}"
    assert ti[r1[3]]["R@1"] == best
    # the file holds the train/val items too: said, since they are not held out
    assert "note: 12 evaluation items are in the checkpoint's train/val splits" in res.stderr


def test_eval_baselines_need_corpora_in_the_recipe(trained):
    root, jsonl, out, _ = trained
    res = CliRunner().invoke(cli, ["align", "eval", str(out), "--data", jsonl, "--baselines"], env=_env(root))
    assert isinstance(res.exception, XmodalError)
    assert "names no training corpora" in str(res.exception)


def test_train_writes_under_the_cache_by_default_never_into_the_package(files):
    from xmodal.alignment.stacks import lite

    root, jsonl = files
    shipped = lite.CHECKPOINT_DIR / "alignment.safetensors"
    before = shipped.stat().st_mtime_ns if shipped.exists() else None
    res = CliRunner().invoke(cli, ["align", "train", "--model", "tiny", "--data", jsonl, "--epochs", "1",
                                   "--n-ctx", "0", "--no-audio-tower", "--no-baselines", "--json"], env=_env(root))
    assert res.exit_code == 0, res.output
    assert (root / "cache" / "alignments" / "custom" / "alignment.safetensors").is_file()
    assert (shipped.stat().st_mtime_ns if shipped.exists() else None) == before
    # --install is the one way into the package: recipe lite only, never with --out
    for args, says in ((["--install"], "recipe 'custom'"), (["--recipe", "lite", "--install", "--out", "x"], "not both")):
        res = CliRunner().invoke(cli, ["align", "train", "--model", "tiny", "--data", jsonl, *args], env=_env(root))
        assert isinstance(res.exception, XmodalError) and says in str(res.exception), res.output


def test_install_writes_the_shipped_checkpoint_dir(files, monkeypatch, tmp_path):
    from xmodal.alignment.stacks import lite

    root, jsonl = files
    monkeypatch.setattr(lite, "CHECKPOINT_DIR", tmp_path / "shipped")  # stand-in: never the real package
    res = CliRunner().invoke(cli, ["align", "train", "--recipe", "lite", "--model", "tiny", "--data", jsonl,
                                   "--install", "--epochs", "1", "--n-ctx", "0", "--no-audio-tower",
                                   "--no-baselines", "--json"], env=_env(root))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "shipped" / "alignment.safetensors").is_file()


def test_help_names_every_built_in_recipe():
    from xmodal.alignment.train.recipes import RECIPES

    res = CliRunner().invoke(cli, ["align", "train", "--help"])
    assert res.exit_code == 0 and all(name in res.output for name in RECIPES)
