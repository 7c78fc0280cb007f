"""`xmodal encode` through click's CliRunner on the tiny model."""
import json

import numpy as np
import soundfile as sf
from click.testing import CliRunner
from PIL import Image

from xmodal.alignment import load_encoder
from xmodal.alignment.cli.root import cli


def _run(*args):
    return CliRunner().invoke(cli, ["encode", "--model", "tiny", *args])


def _rows(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_text_prints_the_library_vector():
    res = _run("--text", "a red car", "--json")
    assert res.exit_code == 0, res.output
    (row,) = _rows(res)
    assert row["item"] == "a red car" and row["modality"] == "text" and row["dim"] == 32
    expected = load_encoder("tiny").encode_text(["a red car"])[0]
    assert np.allclose(row["vector"], expected, atol=1e-5)


def test_bad_files_are_skipped_one_line_each(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (20, 20), (10, 200, 30)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    tone = tmp_path / "tone.wav"
    sf.write(tone, 0.2 * np.sin(np.arange(8000) / 5.0), 16000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000), 16000)
    res = _run("--image", str(good), "--image", str(bad), "--audio", str(tone), "--audio", str(silent),
               "--text", "", "--text", "ok", "--json", "--batch-size", "1")
    assert res.exit_code == 1
    items = [(r["modality"], r["item"]) for r in _rows(res)]
    assert items == [("text", "ok"), ("image", str(good)), ("audio", str(tone))]
    err = res.stderr.splitlines()
    assert sum(line.startswith("skipped") for line in err) == 3
    assert any(str(bad) in line for line in err) and any(str(silent) in line and "silent" in line for line in err)
    assert any('""' in line and "empty text" in line for line in err)


def test_folder_expands_to_media_files(tmp_path):
    for i in range(3):
        Image.new("RGB", (16, 16), (i * 80, 0, 0)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    res = _run("--image", str(tmp_path), "--json")
    assert res.exit_code == 0
    assert [r["item"] for r in _rows(res)] == [str(tmp_path / f"{i}.png") for i in range(3)]


def test_usage_errors_exit_2():
    assert _run().exit_code == 2
    res = CliRunner().invoke(cli, ["encode", "--model", "no-such-model", "--text", "x"])
    assert res.exit_code == 2 and "unknown model" in res.stderr and "lite" in res.stderr


def test_table_output_when_not_json():
    res = _run("--text", "hello", "--no-json")
    assert res.exit_code == 0
    assert res.stdout.startswith("text") and "hello" in res.stdout
