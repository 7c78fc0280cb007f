"""`xmodal bench server-load`: C concurrent clients (threads, one
keep-alive httpx connection each) POST text queries to /search against
loopback until a request count or a time limit is reached; requests/s,
latency percentiles and status codes. Against a running server (--url),
or one it starts with `xmodal serve INDEX` on a free loopback port and
stops afterwards (--index). `--tool wrk` drives the same workload from wrk
(less client CPU on a small machine)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from xmodal.alignment.core.errors import XmodalError

from .query_latency import DEFAULT_QUERIES, percentiles


@dataclass
class LoadOptions:
    """What `xmodal bench server-load` takes: exactly one of url / index."""

    url: str | None = None
    index: str | None = None
    clients: int = 16
    requests: int = 2000
    duration: float = 30.0
    k: int = 10
    target: str | None = None  # None: every modality
    server_threads: int | None = None
    tool: str = "httpx"
    queries: list[str] = field(default_factory=lambda: list(DEFAULT_QUERIES))


def run_load(url: str, clients: int, total: int, duration: float, k: int = 10,
             target: str | None = None, queries: list[str] = DEFAULT_QUERIES) -> dict[str, Any]:
    """Fire up to `total` requests (or until `duration` s) from `clients`
    threads; -> throughput, latency percentiles and status counts."""
    import httpx

    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    codes: dict[str, int] = {}
    stop_at = time.perf_counter() + duration

    def next_ticket() -> int | None:
        nonlocal issued
        with lock:
            if issued >= total or time.perf_counter() >= stop_at:
                return None
            issued += 1
            return issued

    def client_loop() -> None:
        with httpx.Client(base_url=url, timeout=60.0) as http:
            while (ticket := next_ticket()) is not None:
                body = {"text": queries[ticket % len(queries)], "k": k, "target": target}
                t0 = time.perf_counter()
                try:
                    code = str(http.post("/search", json=body).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                    if code == "200":
                        latencies.append(ms)

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = codes.get("200", 0)
    return {"tool": "httpx", "requests": sum(codes.values()), "ok": ok, "status_codes": codes,
            "wall_seconds": round(wall, 3), "requests_per_second": round(ok / wall, 2) if wall else None,
            "latency_ms": percentiles(latencies)}


def run_wrk(url: str, clients: int, duration: float, k: int = 10, target: str | None = None,
            queries: list[str] = DEFAULT_QUERIES) -> dict[str, Any]:
    """The same workload driven by `wrk` (apt install wrk): a C load
    generator costs far less CPU than Python clients on the same cores.
    Time-bounded only (wrk has no request budget)."""
    import re
    import shutil
    import tempfile

    exe = shutil.which("wrk")
    if exe is None:
        raise XmodalError("--tool wrk: wrk is not installed (apt-get install wrk), or use --tool httpx")
    bodies = [json.dumps({"text": q, "k": k, "target": target}) for q in queries]
    lua = ("local bodies = {" + ",".join(f"[==[{b}]==]" for b in bodies) + "}\n"
           "local i = 0\n"
           "request = function()\n  i = i + 1\n"
           "  return wrk.format('POST', '/search', {['Content-Type'] = 'application/json'}, "
           "bodies[(i % #bodies) + 1])\nend\n")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    try:
        cmd = [exe, "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{int(max(duration, 1))}s",
               "--timeout", "30s", "--latency", "-s", fh.name, url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)

    def ms(token: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", token).groups()
        return round(float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit], 3)

    lat = {f"p{p}": ms(m) for p, m in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"tool": "wrk", "requests": total, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else None,
            "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "latency_ms": lat, "wrk_output": out}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: str, port: int, threads: int | None, timeout: float = 300.0) -> subprocess.Popen:
    """`xmodal serve INDEX` on loopback; returns once /health answers."""
    import httpx

    cmd = [sys.executable, "-m", "xmodal.alignment.cli.root"]
    if threads:
        cmd += ["--threads", str(threads)]
    cmd += ["serve", index, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env={**os.environ})
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise XmodalError(f"the server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise XmodalError(f"the server did not answer /health within {timeout:.0f}s: {' '.join(cmd)}")


def run_server_load(opts: LoadOptions) -> dict[str, Any]:
    """Warm up with a few requests, then load the server with `opts.tool`."""
    if bool(opts.url) == bool(opts.index):
        raise XmodalError("bench server-load: give exactly one of --url or --index")
    if opts.clients < 1 or opts.requests < 1 or opts.duration <= 0:
        raise XmodalError("bench server-load: --clients, --requests and --duration must be positive")
    url, proc = opts.url, None
    if opts.index:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(opts.index, port, opts.server_threads)
    try:
        run_load(url, 2, 10, 30.0, opts.k, opts.target, opts.queries)  # warm-up, not counted
        if opts.tool == "wrk":
            result = run_wrk(url, opts.clients, opts.duration, opts.k, opts.target, opts.queries)
        else:
            result = run_load(url, opts.clients, opts.requests, opts.duration, opts.k, opts.target, opts.queries)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return {"url": url, "server_started": proc is not None, **result}


def markdown(r: dict[str, Any], opts: LoadOptions) -> str:
    from .report import md_table

    lat = r.get("latency_ms") or {}
    row = [r["tool"], opts.clients, r["requests"], r.get("ok", r["requests"] - r.get("non_2xx", 0)),
           r["requests_per_second"], lat.get("p50"), lat.get("p90"), lat.get("p99")]
    codes = r.get("status_codes") or {"non-2xx": r.get("non_2xx"), "socket errors": r.get("socket_errors")}
    return "\n".join([
        f"## Server load: {opts.index or r['url']} (k={opts.k}, target {opts.target or 'all'})", "",
        md_table(["tool", "clients", "requests", "ok", "requests/s", "p50 ms", "p90 ms", "p99 ms"], [row]), "",
        f"Status: {', '.join(f'{k} {v}' for k, v in codes.items())}. Latency over successful requests; "
        "the load generator shares the machine with the server.",
    ])
