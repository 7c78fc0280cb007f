"""Load test of the HTTP server: C concurrent clients (threads, one
keep-alive httpx connection each) POST text queries to /search against
loopback until a request count or a time limit is reached. Reports
requests/s, latency percentiles and status codes as JSON.

    # against a running server
    python -m xmodal.benchmarks.server_load --url http://127.0.0.1:8000 -c 16 -n 2000 --duration 30
    # or let it start `xmodal serve INDEX` on a free loopback port and stop it afterwards
    python -m xmodal.benchmarks.server_load --index my.xmodal -c 16 -n 2000 --duration 30
    # the same workload from wrk (less client CPU on a small machine)
    python -m xmodal.benchmarks.server_load --index my.xmodal -c 16 --duration 20 --tool wrk
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import click

from .query_latency import DEFAULT_QUERIES, percentiles
from .report import emit_json, environment, git_state


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
        raise click.ClickException("wrk is not installed (apt-get install wrk) — use --tool httpx")
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
            raise click.ClickException(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise click.ClickException(f"server did not answer /health within {timeout:.0f}s")


@click.command()
@click.option("--url", help="Base URL of a running server.")
@click.option("--index", type=click.Path(exists=True, file_okay=False),
              help="Start `xmodal serve INDEX` on a free loopback port for the run.")
@click.option("-c", "--clients", default=16, show_default=True)
@click.option("-n", "--requests", "total", default=2000, show_default=True, help="Request budget.")
@click.option("--duration", default=30.0, show_default=True, help="Time budget in seconds.")
@click.option("-k", "--k", "k", default=10, show_default=True)
@click.option("--target", type=click.Choice(["image", "audio", "text", "all"]), default="all")
@click.option("--threads", type=int, default=None, help="Server torch/FAISS threads (with --index).")
@click.option("--tool", type=click.Choice(["httpx", "wrk"]), default="httpx", show_default=True,
              help="Load generator: Python threads with httpx, or wrk (time-bounded only).")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON report here.")
def main(url: str | None, index: str | None, clients: int, total: int, duration: float, k: int,
         target: str, threads: int | None, tool: str, out: str | None) -> None:
    """Requests/s the search server sustains with CLIENTS concurrent clients."""
    if bool(url) == bool(index):
        raise click.UsageError("give exactly one of --url or --index")
    git = git_state()  # the code that runs, even if the tree moves during the run
    proc = None
    if index:
        url = f"http://127.0.0.1:{free_port()}"
        proc = start_server(index, int(url.rsplit(":", 1)[1]), threads)
    try:
        run_load(url, 2, 10, 30.0, k, None if target == "all" else target)  # warm-up
        tgt = None if target == "all" else target
        result = (run_wrk(url, clients, duration, k, tgt) if tool == "wrk"
                  else run_load(url, clients, total, duration, k, tgt))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    report = {"benchmark": "server_load",
              "command": " ".join(["python -m xmodal.benchmarks.server_load", *sys.argv[1:]]),
              "params": {"url": url, "index": index, "clients": clients, "requests": total,
                         "duration": duration, "k": k, "target": target, "server_threads": threads,
                         "tool": tool},
              "environment": environment(git), **result}
    emit_json(report, out)


if __name__ == "__main__":
    main()
