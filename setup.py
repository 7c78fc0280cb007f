"""Package discovery only: every folder with an __init__.py under the four
top-level packages installs as xmodal.<folder path>. Everything else is in
pyproject.toml."""
import os

from setuptools import setup

ROOTS = ("alignment", "indexer", "search", "benchmarks")


def _packages() -> list[str]:
    found = []
    for root in ROOTS:
        for dirpath, _dirs, files in os.walk(root):
            if "__init__.py" in files and "__pycache__" not in dirpath:
                found.append("xmodal." + dirpath.replace(os.sep, "."))
    return sorted(found)


setup(packages=_packages())
