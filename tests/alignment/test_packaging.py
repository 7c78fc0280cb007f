"""The wheel installs the four top-level folders under the xmodal namespace."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("alignment", "indexer", "search", "benchmarks")


@pytest.mark.slow
def test_wheel_layout(tmp_path):
    # Build from a copy so the shared working tree gets no build/ or egg-info churn.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    if not (src / "README.md").exists():
        (src / "README.md").write_text("xmodal\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = out.glob("xmodal-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if ".dist-info/" not in n]
    for pkg in PACKAGES:
        assert f"xmodal/{pkg}/__init__.py" in code, pkg
    assert all(n.startswith("xmodal/") for n in code), [n for n in code if not n.startswith("xmodal/")][:5]
    assert "xmodal/__init__.py" not in code  # PEP 420 namespace, no top-level package file
    # subpackages and data files come along
    for needed in ("xmodal/alignment/configs/lite.json", "xmodal/alignment/configs/tiny.json",
                   "xmodal/alignment/stacks/lite.py", "xmodal/alignment/cli/encode.py",
                   "xmodal/alignment/checkpoints/lite/alignment.json",
                   "xmodal/alignment/checkpoints/lite/alignment.safetensors",
                   "xmodal/search/web/index.html"):
        assert needed in code, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "xmodal.alignment.stacks.lite:build_tiny" in text and "xmodal.alignment.cli.root:main" in text
