"""Benchmark reports: `report.json` (results + the environment they were
measured in), a Markdown summary, and `--compare` deltas against an older
report."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from xmodal.alignment.core.atomic import atomic_write_text
from xmodal.alignment.core.errors import BadInput, XmodalError

PACKAGES = ("xmodal", "numpy", "torch", "faiss-cpu", "open_clip_torch", "transformers",
            "sentence-transformers", "timm", "librosa")
REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()

    try:
        return {"commit": run("rev-parse", "HEAD") or None,
                "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _threads() -> dict[str, Any]:
    out: dict[str, Any] = {"cpu_count": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        out["cpus_usable"] = len(os.sched_getaffinity(0))
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    if "faiss" in sys.modules:
        out["faiss_omp_threads"] = sys.modules["faiss"].omp_get_max_threads()
    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS", "XMODAL_THREADS"):
        if os.environ.get(var):
            out[var] = os.environ[var]
    return out


def git_state() -> dict[str, Any]:
    """Commit + dirty flag of the checkout this code runs from."""
    return _git()


def environment(git: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a number depends on: versions, CPU, threads, git commit (pass
    the state captured when the run STARTED: the tree may move meanwhile)."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu": _cpu_model(), "threads": _threads(), "loadavg_at_end": load,
            "versions": versions, "git": git or _git(),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_report(out_dir: str | os.PathLike, benchmark: str, command: str,
                 params: dict[str, Any], results: Any, markdown: str,
                 git: dict[str, Any] | None = None) -> Path:
    """Write `report.json` and `summary.md` into `out_dir`; returns the json
    path. `results` is a dict or a dataclass (written as its fields)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if is_dataclass(results):
        results = asdict(results)
    report = {"benchmark": benchmark, "command": command, "params": params,
              "environment": environment(git), "results": results}
    path = out / "report.json"
    atomic_write_text(path, json.dumps(_clean(report), indent=2, sort_keys=False))
    atomic_write_text(out / "summary.md", markdown.rstrip("\n") + "\n\n" + run_line(report) + "\n")
    return path


def run_line(report: dict[str, Any]) -> str:
    """The summary's last line: what ran, on which code, under what load
    (timings on a shared machine mean little without it)."""
    env = report["environment"]
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" (dirty tree)" if git.get("dirty") else "")
    load = env.get("loadavg_at_end")
    cpus = env["threads"].get("cpus_usable", env["threads"].get("cpu_count"))
    load_text = " / ".join(f"{x:.1f}" for x in load) if load else "unknown"
    return (f"`{report['command']}` at {commit}; load average (1/5/15 min) at the end "
            f"{load_text} on {cpus} CPUs; finished {env['finished_utc']}.")


def default_out_dir(benchmark: str, now: float | None = None) -> Path:
    """A new folder for one run: `<cache>/bench-runs/<benchmark>-<UTC time>`
    (`-2`, `-3`, ... when two runs start in the same second)."""
    from xmodal.alignment.data.cache import cache_root

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    root = cache_root() / "bench-runs"
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = root / (f"{benchmark}-{stamp}" if n == 1 else f"{benchmark}-{stamp}-{n}")
        try:
            path.mkdir()  # claims the name: a concurrent run gets the next one
            return path
        except FileExistsError:
            continue
    raise XmodalError(f"{root}: no free run folder for {benchmark}-{stamp}; pass --out")


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(str(p), f"cannot read report ({exc})", "pass a report.json written by xmodal bench") from None
    if not isinstance(data, dict) or "results" not in data:
        raise BadInput(str(p), "is not an xmodal bench report", "pass a report.json written by xmodal bench")
    return data


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats with 2 decimals, None as '-'."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves by path. List elements are keyed by their `name`
    (or `direction`/`modality`) so reordered lists still line up."""
    out: dict[str, float] = {}
    if isinstance(value, bool):
        return out
    if isinstance(value, (int, float)):
        out[prefix] = float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        for n, v in enumerate(value):
            key = n
            if isinstance(v, dict):
                key = v.get("name") or v.get("direction") or v.get("modality") or n
            out.update(flatten(v, f"{prefix}[{key}]"))
    return out


def compare(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, float | None, float | None, float | None]]:
    """(metric, old, new, new-old) for every numeric result in either report."""
    a, b = flatten(old.get("results", {})), flatten(new.get("results", {}))
    rows = []
    for key in sorted(set(a) | set(b)):
        o, n = a.get(key), b.get(key)
        delta = n - o if o is not None and n is not None else None
        rows.append((key, o, n, delta))
    return rows


def compare_markdown(new: dict[str, Any], old: dict[str, Any], old_path: str) -> str:
    rows = compare(new, old)
    changed = [r for r in rows if r[3] is None or r[3] != 0]
    head = f"### Compared with {old_path} (commit {(old.get('environment') or {}).get('git', {}).get('commit')})"
    if not changed:
        return head + "\n\nNo numeric result changed."
    return head + "\n\n" + md_table(["metric", "old", "new", "delta"], changed)
