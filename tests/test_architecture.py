"""The import rules of ARCHITECTURE.md hold for the whole tree, and the
checker that enforces them catches each kind of violation."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import import_rules as rules

REPO = Path(__file__).resolve().parent.parent
ROOTS = {f"xmodal.{name}": REPO / name for name in rules.LAYERS}


def test_the_tree_follows_the_import_rules():
    imports, packages = rules.collect(ROOTS)
    assert len(imports) > 500 and "xmodal.alignment.core" in packages  # it really walked the tree
    assert rules.violations(imports, packages) == []


RUNTIME_PROBE = """
import sys
def loaded(*prefixes):
    return sorted(m for m in sys.modules if m.startswith(prefixes))
import xmodal.alignment, xmodal.alignment.cli.root, xmodal.alignment.stack, xmodal.alignment.pipeline
print("alignment", loaded("faiss"))
import xmodal.indexer, xmodal.indexer.cli, xmodal.indexer.build, xmodal.indexer.update
print("indexer", loaded("fastapi", "uvicorn", "starlette", "http.server",
                        "xmodal.alignment.train", "xmodal.alignment.data"))
import xmodal.search, xmodal.search.cli, xmodal.search.app
print("search", loaded("xmodal.alignment.train", "xmodal.alignment.data"))
"""


@pytest.mark.slow  # a fresh interpreter importing torch, FAISS and FastAPI: ~15 s here
def test_the_rules_also_hold_for_what_really_gets_imported():
    """The AST walk cannot see imports by name (importlib, entry points):
    import the layers in a fresh interpreter and look at what came in."""
    out = subprocess.run([sys.executable, "-c", RUNTIME_PROBE], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["alignment []", "indexer []", "search []"]


def _tree(tmp_path: Path, files: dict[str, str]) -> tuple[list[rules.Import], set[str]]:
    """A synthetic source tree: `files` maps 'layer/sub/mod.py' to source."""
    for rel, src in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(src)
    return rules.collect({f"xmodal.{name}": tmp_path / name for name in rules.LAYERS
                          if (tmp_path / name).is_dir()})


CLEAN = {
    "alignment/__init__.py": "from .core.errors import XmodalError\n",
    "alignment/core/__init__.py": "",
    "alignment/core/errors.py": "import json\n",
    "alignment/registry.py": "from .core import errors\n",
    "indexer/__init__.py": "",
    "indexer/build.py": "import faiss\nfrom xmodal.alignment.registry import x\nfrom . import shards\n",
    "indexer/shards.py": "from xmodal.alignment.core.errors import XmodalError\n",
    "search/__init__.py": "",
    "search/app.py": "import fastapi\nfrom xmodal.indexer import build\n",
    "benchmarks/__init__.py": "",
    "benchmarks/run.py": "from xmodal.search.app import y\nfrom xmodal.alignment.data import z\n",
}


def test_a_clean_synthetic_tree_passes(tmp_path):
    assert rules.violations(*_tree(tmp_path, CLEAN)) == []


@pytest.mark.parametrize("extra, kind, edge", [
    ({"alignment/cli.py": "def f():\n    from xmodal.indexer import build\n"},  # function-level
     "layer", "xmodal.alignment.cli imports xmodal.indexer.build"),
    ({"search/engine.py": "from xmodal.benchmarks import run\n"},
     "layer", "xmodal.search.engine imports xmodal.benchmarks.run"),
    ({"alignment/core/hashing.py": "from ..registry import x\n"},
     "kernel", "xmodal.alignment.core.hashing imports xmodal.alignment.registry"),
    ({"indexer/fit.py": "from xmodal.alignment.train.fit import fit\n"},
     "training", "xmodal.indexer.fit imports xmodal.alignment.train.fit"),
    ({"search/corpus.py": "import xmodal.alignment.data.pairs\n"},
     "training", "xmodal.search.corpus imports xmodal.alignment.data.pairs"),
    ({"alignment/ann.py": "def f():\n    import faiss.contrib.torch_utils\n"},
     "faiss", "xmodal.alignment.ann imports faiss.contrib.torch_utils"),
    ({"indexer/serve.py": "from http.server import HTTPServer\n"},
     "http", "xmodal.indexer.serve imports http.server"),
    ({"indexer/web.py": "def f():\n    import uvicorn\n"},
     "http", "xmodal.indexer.web imports uvicorn"),
])
def test_the_checker_catches_each_kind_of_violation(tmp_path, extra, kind, edge):
    found = rules.violations(*_tree(tmp_path, {**CLEAN, **extra}))
    edges = [f for f in found if not f.startswith("cycle: ")]  # an upward import often closes a cycle too
    assert len(edges) == 1 and edges[0].startswith(f"{kind}: {edge} ("), found


def test_the_checker_finds_package_cycles(tmp_path):
    cyclic = {**CLEAN,
              "indexer/readers/__init__.py": "",
              "indexer/readers/tar.py": "from ..build import TAR\n",       # child -> parent
              "indexer/build.py": CLEAN["indexer/build.py"] + "from .readers import tar\n",
              "alignment/a/__init__.py": "", "alignment/a/m.py": "from ..b.m import x\n",
              "alignment/b/__init__.py": "", "alignment/b/m.py": "def f():\n    from ..c import m\n",
              "alignment/c/__init__.py": "", "alignment/c/m.py": "from xmodal.alignment.a import m\n"}
    found = rules.violations(*_tree(tmp_path, cyclic))
    assert sorted(found) == [
        "cycle: xmodal.alignment.a -> xmodal.alignment.b -> xmodal.alignment.c -> xmodal.alignment.a",
        "cycle: xmodal.indexer -> xmodal.indexer.readers -> xmodal.indexer",
    ]


def test_relative_and_submodule_imports_resolve(tmp_path):
    imports, _ = _tree(tmp_path, {**CLEAN, "alignment/core/x.py": "from . import errors\nfrom .. import registry\n"
                                                                 "from .errors import E\n"})
    got = {(i.src, i.dst) for i in imports if i.src == "xmodal.alignment.core.x"}
    assert got == {("xmodal.alignment.core.x", "xmodal.alignment.core.errors"),
                   ("xmodal.alignment.core.x", "xmodal.alignment.registry")}
