"""fetch / load_corpus / CLI end to end on a synthetic corpus; apt handling."""
import json
import os
import stat

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from xmodal.alignment.cli.data import data
from xmodal.alignment.data import corpus_dir, debian, fetch, freedesktop, load_corpus
from xmodal.alignment.core.errors import XmodalError


@pytest.fixture
def fake_freedesktop(tmp_path, monkeypatch):
    """Replace the package download by a folder of synthetic sounds."""
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    t = np.linspace(0, 0.1, 1600, endpoint=False)
    for i in range(30):
        sf.write(sounds / f"event-{chr(97 + i % 26)}{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 30 * i) * t), 16000)
    calls = []

    def build(root, log=print):
        calls.append(root)
        return freedesktop.build_from_dir(sounds)

    monkeypatch.setattr(freedesktop, "build", build)
    monkeypatch.setenv("XMODAL_CACHE", str(tmp_path / "cache"))
    return calls


def test_fetch_is_idempotent_and_splits_load(fake_freedesktop, tmp_path):
    root = fetch("freedesktop", log=lambda m: None)
    assert root == corpus_dir("freedesktop") == tmp_path / "cache" / "data" / "freedesktop"
    for f in ("pairs.jsonl", "train.jsonl", "val.jsonl", "test.jsonl", "splits.json",
              "summary.json", "skipped.jsonl", ".done"):
        assert (root / f).exists(), f
    fetch("freedesktop", log=lambda m: None)
    assert len(fake_freedesktop) == 1  # second fetch did not rebuild
    everything = load_corpus("freedesktop")
    parts = {s: load_corpus("freedesktop", split=s) for s in ("train", "val", "test")}
    assert sorted(p.id for v in parts.values() for p in v) == sorted(p.id for p in everything)
    assert len(everything) == 30
    summary = json.loads((root / "summary.json").read_text())
    assert summary["by_modality"] == {"audio": 30}
    assert sum(summary["splits"].values()) == 30


def test_load_before_fetch_and_unknown_names(fake_freedesktop):
    with pytest.raises(XmodalError, match="not fetched yet .*xmodal data fetch freedesktop"):
        load_corpus("freedesktop")
    with pytest.raises(XmodalError, match="unknown corpus 'nope'"):
        load_corpus("nope")


def test_cli_list_and_fetch(fake_freedesktop, tmp_path):
    runner = CliRunner()
    res = runner.invoke(data, ["list", "--json"])
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert res.exit_code == 0 and {r["name"] for r in rows} >= {"openclipart", "instruments"}
    assert not next(r for r in rows if r["name"] == "freedesktop")["fetched"]
    res = runner.invoke(data, ["fetch", "freedesktop", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.output.splitlines()[-1])
    assert row["name"] == "freedesktop" and row["items"] == 30
    res = runner.invoke(data, ["fetch", "nope"])
    assert isinstance(res.exception, XmodalError) and "unknown corpus" in str(res.exception)


def test_cli_fetch_goes_on_after_a_failing_corpus(fake_freedesktop, monkeypatch):
    from xmodal.alignment.data import instruments

    def broken(root, log=print):
        raise XmodalError("fluidsynth not found: (apt-get install fluidsynth)")

    monkeypatch.setattr(instruments, "build", broken)
    res = CliRunner().invoke(data, ["fetch", "instruments", "freedesktop", "--json"])
    assert "error: fluidsynth not found" in res.output  # CliRunner mixes stderr in
    assert json.loads(res.output.splitlines()[-1])["name"] == "freedesktop"
    assert isinstance(res.exception, XmodalError) and "instruments" in str(res.exception)


def test_missing_apt_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    with pytest.raises(XmodalError, match="apt-get is not available") as err:
        debian.download("some-pkg", tmp_path)
    assert "\n" not in str(err.value)


def test_apt_update_runs_once_when_package_unknown(tmp_path, monkeypatch):
    # A fake apt-get: `download` fails until `update` has been run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    script = bin_dir / "apt-get"
    script.write_text(f"""#!/bin/sh
echo "$1" >> {log}
if [ "$1" = update ]; then touch {tmp_path}/updated; exit 0; fi
if [ -f {tmp_path}/updated ]; then touch "$2_1.0_all.deb"; exit 0; fi
echo "E: Unable to locate package $2" >&2; exit 100
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    deb = debian.download("pkg-x", tmp_path / "debs", log=lambda m: None)
    assert deb.name == "pkg-x_1.0_all.deb"
    assert log.read_text().split() == ["download", "update", "download"]
    assert debian.download("pkg-x", tmp_path / "debs") == deb  # cached: no apt call
    assert log.read_text().split() == ["download", "update", "download"]


@pytest.mark.skipif(not (debian.shutil.which("dpkg-deb") and debian.shutil.which("dpkg")),
                    reason="dpkg / dpkg-deb not installed")
def test_fetch_package_unpacks_a_local_deb_once(tmp_path):
    import subprocess

    # Build a real tiny .deb and put it where a download would land.
    src = tmp_path / "src"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN" / "control").write_text(
        "Package: xm-tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@y>\nDescription: t\n")
    (src / "usr/share/xm").mkdir(parents=True)
    (src / "usr/share/xm/hello.txt").write_text("hello\n")
    root = tmp_path / "corpus"
    (root / "debs").mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--build", str(src), str(root / "debs" / "xm-tiny_1.0_all.deb")],
                   check=True, capture_output=True)
    (root / "pkg" / ".xm-tiny.partial").mkdir(parents=True)  # left over by an interrupted run
    dest = debian.fetch_package("xm-tiny", root, log=lambda m: None)
    assert (dest / "usr/share/xm/hello.txt").read_text() == "hello\n"
    assert not (root / "pkg" / ".xm-tiny.partial").exists()
    assert (root / ".stages" / "extract-xm-tiny.done").exists()
    (dest / "usr/share/xm/hello.txt").write_text("changed\n")
    debian.fetch_package("xm-tiny", root, log=lambda m: None)  # done marker: not unpacked again
    assert (dest / "usr/share/xm/hello.txt").read_text() == "changed\n"
