"""`xmodal index ...` through click's CliRunner (output is piped: JSON Lines)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from xmodal.alignment.core.errors import XmodalError
from xmodal.indexer.cli import index

from indexer_helpers import make_images


def _run(args):
    res = CliRunner().invoke(index, args, catch_exceptions=True)
    return res


def test_cli_build_info_add_remove_compact(media_corpus, tmp_path, tiny):
    out = str(tmp_path / "my.xmodal")
    res = _run(["build", str(media_corpus), "--model", "tiny", "--out", out, "--quiet",
                "--shard-size", "5", "--memory", "64M"])
    assert res.exit_code == 0, res.output
    built = json.loads(res.stdout.strip().splitlines()[-1])
    assert built["counts"]["image"] == 8 and built["factory"] == "Flat" and built["skipped_count"] == 0

    res = _run(["info", out, "--verify"])
    info = json.loads(res.stdout)
    assert info["checksums"] == "ok" and info["encoder_spec"] == "tiny" and info["recall_at_10"] == 1.0

    more = tmp_path / "more"
    make_images(more, 1, seed=5, prefix="extra")
    res = _run(["add", out, str(more), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["added"] == 1

    res = _run(["remove", out, "--ids", "img1.png,img2.png"])
    removed = json.loads(res.stdout)
    assert removed["removed"] == 2 and removed["not_found"] == []
    assert removed["counts"]["deleted"] == 4  # two items + their captions

    res = _run(["compact", out, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["counts"]["deleted"] == 0


def test_cli_user_errors_are_one_line(tmp_path, media_corpus):
    res = _run(["info", str(tmp_path)])
    assert isinstance(res.exception, XmodalError) and "not an xmodal index" in str(res.exception)
    res = _run(["build", str(media_corpus), "--model", "no-such-model", "--out", str(tmp_path / "x"),
                "--quiet"])
    assert isinstance(res.exception, XmodalError) and "unknown model" in str(res.exception)
    assert "\n" not in str(res.exception)
    res = _run(["build", str(media_corpus), "--model", "tiny", "--out", str(tmp_path / "y"),
                "--memory", "lots", "--quiet"])
    assert isinstance(res.exception, XmodalError) and "memory budget" in str(res.exception)
