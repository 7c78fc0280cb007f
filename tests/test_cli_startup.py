"""CLI start-up: help, argument errors and `index info` answer without
importing torch (importing it costs 3-10 s on a small machine). Each command
runs in a fresh interpreter that reports whether torch got loaded; nothing
here is timed (the import times are in benchmarks/RESULTS.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

PROBE = """
import sys
sys.argv = ["xmodal", *sys.argv[1:]]
from xmodal.alignment.cli.root import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("TORCH_LOADED=%s EXIT=%s" % ("torch" in sys.modules, code), file=sys.stderr)
"""


def _run_cli(*args: str) -> tuple[bool, int, str]:
    """(torch imported?, exit code, stdout) of `xmodal ARGS` in a fresh interpreter."""
    res = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("TORCH_LOADED="), res.stderr
    loaded, code = last.split()
    return loaded == "TORCH_LOADED=True", int(code.split("=")[1] or 0), res.stdout


@pytest.fixture(scope="module")
def text_index(tmp_path_factory) -> Path:
    """A real (tiny-model) index of two text files, built in this process."""
    from xmodal.indexer.cli import index

    root = tmp_path_factory.mktemp("startup")
    (root / "corpus").mkdir()
    (root / "corpus" / "a.txt").write_text("a red bicycle")
    (root / "corpus" / "b.txt").write_text("a sleeping cat")
    out = root / "ix.xmodal"
    res = CliRunner().invoke(index, ["build", str(root / "corpus"), "--model", "tiny", "--out", str(out),
                                     "--quiet", "--backend", "torch"])
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["index", "--help"],
                                  ["bench", "--help"]])
def test_help_does_not_import_torch(args):
    loaded, code, out = _run_cli(*args)
    assert code == 0 and "Usage:" in out
    assert not loaded, f"xmodal {' '.join(args)} imported torch"


def test_index_info_does_not_import_torch(text_index):
    loaded, code, out = _run_cli("index", "info", str(text_index), "--json")
    assert code == 0 and json.loads(out)["encoder_spec"] == "tiny"
    assert not loaded, "xmodal index info imported torch"


def test_a_bad_k_is_refused_before_any_model_loads(text_index):
    loaded, code, _ = _run_cli("search", str(text_index), "a cat", "-k", "0")
    assert code == 2
    assert not loaded, "xmodal search -k 0 loaded torch before refusing the argument"


def test_the_probe_does_see_torch_when_a_command_needs_it(text_index):
    """The check above can fail: a real query loads torch and is reported."""
    loaded, code, out = _run_cli("search", str(text_index), "a cat", "-k", "1", "--backend", "torch")
    assert code == 0 and loaded and json.loads(out.splitlines()[0])["id"]


THREADS_PROBE = """
import sys
from xmodal.alignment.core.threads import set_threads
import xmodal.alignment
set_threads(1)
assert "torch" not in sys.modules
import torch
print(torch.get_num_threads())
"""


def test_a_thread_count_set_before_torch_loads_still_reaches_torch():
    out = subprocess.run([sys.executable, "-c", THREADS_PROBE], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "1"
