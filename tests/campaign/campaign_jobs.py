"""The standing fault campaign (issue 15): what its child processes run and
how the parent compares index states.

Children are forked from a fork server that loaded the `tiny` stack once
(`campaign_preload`), so a trial costs a fork, not a torch import. A child
runs one job (build / add / remove) and is killed with SIGKILL either by the
parent at a random moment or by itself right before its Nth file event
(`os.replace`, `os.fsync`, `os.unlink`, `os.rename`: the steps an atomic
publish is made of). The parent then checks the index is exactly the state
before or after the job, reruns the job, and checks nothing was lost."""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw

EVENTS = ("replace", "fsync", "unlink", "rename")
_STACK: Any = None


def stack() -> Any:
    """The tiny stack, loaded once per process (the fork server's copy is
    inherited by every child), on one thread: forked children must not
    inherit a started OpenMP pool."""
    global _STACK
    if _STACK is None:
        import faiss
        import torch

        torch.set_num_threads(1)
        faiss.omp_set_num_threads(1)
        from xmodal.alignment import load_encoder

        _STACK = load_encoder("tiny")
    return _STACK


def exit_unless_preloaded() -> None:
    """A child's check that the fork server really loaded the stack."""
    raise SystemExit(0 if _STACK is not None else 1)


# ---------------------------------------------------------------- corpora

def make_corpus(root: Path, n_images: int, n_sounds: int, n_texts: int, tag: str = "") -> list[str]:
    """Distinct synthetic items (so each is its own nearest neighbour);
    returns their ids relative to `root`."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(int(hashlib.sha256(tag.encode()).hexdigest()[:8], 16))
    ids = []
    for i in range(n_images):
        im = Image.new("RGB", (48, 40), tuple(int(c) for c in rng.integers(0, 255, 3)))
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x, y = (int(v) for v in rng.integers(0, 36, 2))
            d.rectangle((x, y, x + 10, y + 8), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        im.save(root / f"{tag}img{i}.png")
        (root / f"{tag}img{i}.txt").write_text(f"picture {tag}{i} of shapes")
        ids.append(f"{tag}img{i}.png")
    for i in range(n_sounds):
        t = np.arange(8000) / 8000
        freq = 150 + 90 * i + float(rng.integers(0, 40))
        sf.write(root / f"{tag}tone{i}.wav", (0.3 * np.sin(2 * math.pi * freq * t)).astype(np.float32), 8000)
        ids.append(f"{tag}tone{i}.wav")
    for i in range(n_texts):
        (root / f"{tag}note{i}.txt").write_text(f"note {tag}{i}: {' '.join(rng.choice(list('abcdefgh'), 6))}")
        ids.append(f"{tag}note{i}.txt")
    return ids


# ---------------------------------------------------------------- jobs

def install_event_hooks(kill_at: int | None, log_path: str | None) -> None:
    """Count file events; log each; SIGKILL this process right before event
    number `kill_at` (1-based) happens."""
    count = [0]

    def wrap(fn: Any, name: str) -> Any:
        def hooked(*args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            target = args[0] if args else ""
            if log_path:
                with open(log_path, "a") as fh:
                    fh.write(json.dumps({"n": count[0], "event": name, "target": str(target)}) + "\n")
            if kill_at is not None and count[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return hooked

    for name in EVENTS:
        setattr(os, name, wrap(getattr(os, name), name))


def run_job(job: dict[str, Any], kill_at: int | None = None, log_path: str | None = None) -> None:
    """Run one job in this (child) process; `job` is JSON-able."""
    from xmodal.indexer.build import BuildConfig, build
    from xmodal.indexer.embed import EmbedSettings
    from xmodal.indexer.update import add, remove

    st = stack()
    if kill_at is not None or log_path:
        install_event_hooks(kill_at, log_path)
    if job["kind"] == "build":
        build(BuildConfig([job["corpus"]], job["out"], model="tiny", shard_size=4, workers=1,
                          tune_queries=50), stack=st, progress=False)
    elif job["kind"] == "add":
        add(job["index"], [job["corpus"]], stack=st, settings=EmbedSettings(shard_size=4, workers=1))
    elif job["kind"] == "remove":
        remove(job["index"], job["ids"])
    else:
        raise ValueError(job["kind"])


# ---------------------------------------------------------------- states

def snapshot(index_dir: str | Path, queries: np.ndarray | None = None) -> dict[str, Any] | None:
    """What a reader sees: ids (+kind), a digest of each stored vector, and
    the ids of the top 5 hits of fixed queries. None: no published index."""
    from xmodal.indexer import open_index

    if not (Path(index_dir) / "manifest.json").is_file():
        return None
    ix = open_index(index_dir)
    labels = np.asarray(ix.labels_where(), np.int64)
    rows = ix.rows(labels)
    vecs = np.asarray(ix.vectors(labels), np.float32)
    items = {f"{r.kind}:{r.id}": hashlib.sha256(v.tobytes()).hexdigest()[:16] for r, v in zip(rows, vecs)}
    if queries is None:
        queries = fixed_queries(vecs.shape[1])
    _, found = ix.search(queries, 5)
    by_label = {int(r.label): r.id for r in rows}
    results = [[by_label.get(int(x)) for x in line if int(x) >= 0] for line in found]
    return {"items": items, "results": results, "generation": ix.manifest.generation}


def fixed_queries(dim: int, n: int = 4) -> np.ndarray:
    q = np.random.default_rng(42).standard_normal((n, dim)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def same_state(a: dict | None, b: dict | None) -> bool:
    """Same items, vectors and results (generation numbers may differ)."""
    if a is None or b is None:
        return a is b
    return a["items"] == b["items"] and a["results"] == b["results"]


def copy_index(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".writer.lock", ".pins"))
    return dst


def wait_dead(proc: Any, timeout: float = 180.0) -> None:
    """Join a child; a hung child is killed (and counts as a failure)."""
    proc.join(timeout)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(5)
        raise AssertionError(f"child {proc.pid} hung for {timeout} s")


def run_in_child(forks, job, kill_at=None, log=None, kill_after=None):
    """Run a job in a forked child; `kill_after` seconds: SIGKILL it from
    here. Returns (exit code, seconds)."""
    start = now()
    proc = forks.Process(target=run_job, args=(job, kill_at, log))
    proc.start()
    if kill_after is not None:
        proc.join(kill_after)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
    wait_dead(proc)
    return proc.exitcode, now() - start


def file_events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def rss_peak_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def now() -> float:
    return time.monotonic()


# ---------------------------------------------------------------- serving

class StatusCounter:
    """ASGI wrapper counting every response status the app sends (a crash
    the app turns into a 500 included)."""

    def __init__(self, app: Any):
        self.app = app
        self.codes: dict[int, int] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting(message: dict) -> None:
            if message["type"] == "http.response.start":
                self.codes[message["status"]] = self.codes.get(message["status"], 0) + 1
            await send(message)

        await self.app(scope, receive, counting)

    @property
    def total(self) -> int:
        return sum(self.codes.values())

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.codes.items() if code >= 500)


class Served:
    """A uvicorn server in a thread of this process: `with Served(app) as url`."""

    def __init__(self, app: Any):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.app = app

    def __enter__(self) -> str:
        import threading

        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = now() + 60
        while not self.server.started:
            assert now() < deadline, "server did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve_forever(index_dir: str, ready_path: str) -> None:
    """Child: serve an index with the preloaded stack until killed; the
    port goes to `ready_path` once the server accepts connections."""
    from xmodal.search import Engine
    from xmodal.search.app import create_app

    with Served(create_app(Engine.open(index_dir, encoder=stack()))) as url:
        Path(ready_path).write_text(url.rsplit(":", 1)[1])
        while True:
            time.sleep(1)


def wait_for_file(path: Path, timeout: float) -> str:
    deadline = now() + timeout
    while not (path.exists() and path.read_text()):
        assert now() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def stop(proc: Any) -> None:
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
