"""The import rules of ARCHITECTURE.md as a checker over source trees.

`collect(roots)` parses every module (AST: module-level and function-level
imports alike, never executing them) into `Import` edges between xmodal
module names; `violations(imports)` returns one line per broken rule:

  layer      imports point one way: benchmarks -> search -> indexer -> alignment
  kernel     xmodal.alignment.core imports nothing else of xmodal
  training   indexer and search never import xmodal.alignment.train / .data
  faiss      nothing in alignment imports faiss
  http       nothing in indexer imports an HTTP server stack
  cycle      no import cycle between packages (each package or subpackage
             is one node: the package of the importing module -> the
             package of the imported one)
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

LAYERS = ("alignment", "indexer", "search", "benchmarks")  # bottom first
KERNEL = "xmodal.alignment.core"
TRAINING = ("xmodal.alignment.train", "xmodal.alignment.data")
HTTP = ("fastapi", "uvicorn", "starlette", "http.server", "socketserver", "wsgiref", "aiohttp",
        "flask", "werkzeug")


@dataclass(frozen=True)
class Module:
    """One source file: its dotted name and whether it is a package __init__."""

    name: str
    is_package: bool
    path: Path


@dataclass(frozen=True)
class Import:
    """`src` (an xmodal module) imports `dst` (any module) at `where`."""

    src: str
    dst: str
    where: str


def modules(roots: dict[str, Path]) -> list[Module]:
    """Every .py file under each root; `roots` maps a dotted package name
    (e.g. "xmodal.indexer") to its folder."""
    out = []
    for package, root in roots.items():
        for path in sorted(Path(root).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("").parts
            is_package = rel[-1] == "__init__"
            parts = rel[:-1] if is_package else rel
            out.append(Module(".".join((package, *parts)), is_package, path))
    return out


def collect(roots: dict[str, Path]) -> tuple[list[Import], set[str]]:
    """All import edges of the modules under `roots`, and the package names."""
    mods = modules(roots)
    known = {m.name for m in mods}
    return [imp for m in mods for imp in imports_of(m, known)], {m.name for m in mods if m.is_package}


def imports_of(mod: Module, known: set[str]) -> Iterator[Import]:
    """The modules `mod` imports anywhere in its body (functions included).

    `from P import n` counts as importing P.n when that is a module (a
    submodule import), else P."""
    tree = ast.parse(mod.path.read_text(encoding="utf-8"), str(mod.path))
    package = mod.name if mod.is_package else mod.name.rpartition(".")[0]
    for node in ast.walk(tree):
        where = f"{mod.path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(mod.name, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.module, node.level)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(mod.name, sub if sub in known else base, where)


def _absolute(package: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "xmodal" and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def violations(imports: Iterable[Import], packages: set[str]) -> list[str]:
    """One line per broken rule (empty: the tree follows ARCHITECTURE.md).

    `packages` names the package nodes of the cycle rule (every folder
    with an __init__.py, see `modules`)."""
    imports = list(imports)
    out = [line for imp in imports for line in _edge_rules(imp)]
    out += [f"cycle: {' -> '.join(c)}" for c in package_cycles(imports, packages)]
    return out


def _edge_rules(imp: Import) -> Iterator[str]:
    src, dst = _layer(imp.src), _layer(imp.dst)
    edge = f"{imp.src} imports {imp.dst} ({imp.where})"
    if src is not None and dst is not None and dst > src:
        yield f"layer: {edge}"
    if _within(imp.src, KERNEL) and dst is not None and not _within(imp.dst, KERNEL):
        yield f"kernel: {edge}"
    if src in (1, 2) and any(_within(imp.dst, t) for t in TRAINING):
        yield f"training: {edge}"
    if src == 0 and _within(imp.dst, "faiss"):
        yield f"faiss: {edge}"
    if src == 1 and any(_within(imp.dst, h) for h in HTTP):
        yield f"http: {edge}"


def package_of(module: str, packages: set[str]) -> str:
    """The innermost package in `packages` holding `module` (itself if it is one)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in packages:
            return ".".join(parts[:n])
    return module


def package_cycles(imports: list[Import], packages: set[str]) -> list[list[str]]:
    """Cycles in the package graph: one per strongly connected component
    of two or more packages, shown as a closed path through it."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if _layer(imp.dst) is None:
            continue  # third-party and stdlib modules are leaves
        a, b = package_of(imp.src, packages), package_of(imp.dst, packages)
        if a != b:
            graph.setdefault(a, set()).add(b)
    return [_closed_path(c, graph) for c in _components(graph) if len(c) > 1]


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    nodes = sorted(set(graph) | {b for bs in graph.values() for b in bs})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    out.append(sorted(comp))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _closed_path(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the component's first node (BFS back to it)."""
    members, start = set(component), component[0]
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if child in members and child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    return component  # unreachable for a real component
