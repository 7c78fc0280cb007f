"""The training pipeline flows one way: `run` orchestrates, no step imports
it, the modules of `alignment/train` import each other without cycles, and
no module imports another's private names."""
import ast
from pathlib import Path

import xmodal.alignment.train as train_pkg

TRAIN = Path(train_pkg.__file__).parent


def _imports() -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported train module, imported name)} (relative imports)."""
    out: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(TRAIN.glob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                found |= {(node.module.split(".")[0], a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {(a.name, "") for a in node.names}
        out[path.stem] = found
    return out


def test_no_step_imports_the_orchestrator():
    importers = sorted(m for m, deps in _imports().items() if any(d == "run" for d, _ in deps))
    assert importers == []


def test_train_modules_import_each_other_without_cycles():
    graph = {m: {d for d, _ in deps} for m, deps in _imports().items()}
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [m]))
        if state.get(m) == 2 or m not in graph:
            return
        state[m] = 1
        for d in sorted(graph[m]):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_no_private_names_imported_across_modules():
    private = sorted(f"{m} imports {d}.{n}" for m, deps in _imports().items() for d, n in deps
                     if n.startswith("_"))
    assert private == []
