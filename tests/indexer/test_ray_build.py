"""The Ray embedding path on a real local Ray cluster (2 CPUs): the same ids,
vectors and skip reports as the local build, a worker killed mid-job, a
driver killed mid-job, and a cluster started with `ray start --head`."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ray_helpers import make_mixed_corpus
from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build
from xmodal.indexer.ray_embed import RayOptions

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")
pytestmark = [pytest.mark.slow, pytest.mark.ray]
SHARD = 250
TAG = f"xmodal-test-{os.getpid()}"  # in our Ray workers' environment


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The 2,000-item corpus and its local (in-process) build, built once."""
    root = tmp_path_factory.mktemp("mixed")
    paths, broken = make_mixed_corpus(root / "corpus")
    local = root / "local"
    report = build(BuildConfig(paths, str(local), model="tiny", shard_size=SHARD), progress=False)
    return paths, broken, local, report


def _start_or_skip(**kwargs) -> None:
    """Ray gives its raylet a fixed 30 s to register; on a machine so loaded
    that five tries miss it, the cluster cannot run here at all: skip, saying so."""
    from xmodal.alignment.core.errors import XmodalError
    from xmodal.indexer.ray_embed import start_local

    try:
        start_local(ray, attempts=5, **kwargs)
    except XmodalError as exc:
        if "timed out during startup" in str(exc):
            pytest.skip(f"local Ray cluster did not start on this loaded machine: {exc}")
        raise


@pytest.fixture
def local_ray():
    _start_or_skip(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                   runtime_env={"env_vars": {"XMODAL_TEST_TAG": TAG}})
    yield
    ray.shutdown()


def _same_index(a_dir: Path, b_dir: Path) -> None:
    a, b = open_index(a_dir), open_index(b_dir)
    la, lb = a.labels_where(), b.labels_where()
    ra, rb = a.rows(la), b.rows(lb)
    assert [(r.id, r.kind, r.parent_id, r.modality) for r in ra] == \
           [(r.id, r.kind, r.parent_id, r.modality) for r in rb]
    np.testing.assert_allclose(a.vectors(la), b.vectors(lb), atol=2e-3)  # fp16 shards


def _map_workers() -> list[psutil.Process]:
    """Encoder actors of the Ray cluster this test started: their
    environment carries our tag (other clusters on the machine are not ours)."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if "MapWorker" in " ".join(p.info["cmdline"] or []) and p.environ().get("XMODAL_TEST_TAG") == TAG:
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_ray_build_matches_local_even_when_a_worker_is_killed(mixed, tmp_path, local_ray):
    paths, broken, local, ref = mixed
    out = tmp_path / "ray"
    killed: list[int] = []
    finished = threading.Event()

    def kill_one_worker_after_first_shard() -> None:
        # no deadline: on a loaded machine actors take minutes to load the model
        while not finished.is_set() and not killed:
            done = list((out / "shards").glob("*.json")) if (out / "shards").is_dir() else []
            workers = _map_workers() if done else []
            if workers:
                killed.append(workers[0].pid)
                os.kill(workers[0].pid, signal.SIGKILL)
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_worker_after_first_shard, daemon=True)
    killer.start()
    try:
        report = build(BuildConfig(paths, str(out), model="tiny", shard_size=SHARD,
                                   ray=RayOptions("auto", workers=2)), progress=False)
    finally:
        finished.set()
        killer.join(timeout=5)
    assert killed, "no encoder actor was running to kill"
    assert report.embed.embedded_on.startswith("ray")
    assert report.embed.records == ref.embed.records and report.embed.shards == ref.embed.shards == 8
    assert report.embed.shards_reused == 0
    skipped = sorted((s["item"], s["reason"], s["stage"]) for s in report.skipped)
    assert skipped == sorted((s["item"], s["reason"], s["stage"]) for s in ref.skipped)
    names = {item.rsplit("/", 1)[-1] for item, _, _ in skipped}
    assert {"zero.png", "junk.jpg", "cut.png", "blank.txt", "shard.tar::t999.png"} <= names
    assert any(item.endswith("texts.jsonl:2001") or ":" in item.rsplit("/", 1)[-1] and "jsonl" in item
               for item, _, _ in skipped)  # the broken manifest line
    # one report per broken file, and the broken tar member's sample once more
    assert len(skipped) == broken + 1
    assert report.counts == ref.counts
    assert report.counts["total"] - report.counts["caption"] == 2000 - broken
    _same_index(local, out)


DRIVER = textwrap.dedent("""
    import os, pathlib, signal, sys
    from xmodal.indexer.build import BuildConfig, build
    from xmodal.indexer.ray_embed import RayOptions
    out, marker, *paths = sys.argv[1:]
    done = []
    def hook(k, name, reused, n):
        done.append(name)
        if len(done) == 3:  # three shards finished: mark them, then die like a killed driver
            pathlib.Path(marker).write_text("\\n".join(done))
            os.kill(os.getpid(), signal.SIGKILL)
    build(BuildConfig(paths, out, model="tiny", shard_size=%d, ray=RayOptions("auto", workers=1)),
          progress=False, on_shard=hook)
""" % SHARD)


def test_killed_driver_rerun_reembeds_no_finished_shard(mixed, tmp_path):
    paths, _, local, _ = mixed
    out, marker = tmp_path / "ray", tmp_path / "marker"
    # the killed driver's cluster (raylet and workers inherit its environment) carries this tag
    driver_tag = f"{TAG}-driver"
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(out), str(marker), *paths],
                          capture_output=True, timeout=600, env={**os.environ, "XMODAL_TEST_TAG": driver_tag})
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    finished = marker.read_text().split()
    assert not (out / "manifest.json").exists()
    mtimes = {n: (out / "shards" / f"{n}.npy").stat().st_mtime_ns for n in finished}
    _reap_orphans(driver_tag)
    seen: dict[str, bool] = {}
    report = build(BuildConfig(paths, str(out), model="tiny", shard_size=SHARD,
                               ray=RayOptions("auto", workers=2)), progress=False,
                   on_shard=lambda k, name, reused, n: seen.__setitem__(name, reused))
    reembedded = [n for n in finished if not seen[n]]
    assert reembedded == [] and report.embed.shards_reused >= len(finished) == 3
    assert {n: (out / "shards" / f"{n}.npy").stat().st_mtime_ns for n in finished} == mtimes
    _same_index(local, out)


def _tagged(tag: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get("XMODAL_TEST_TAG") == tag:
                out.append(p)
        except psutil.Error:
            continue
    return out


def _reap_orphans(tag: str, timeout: float = 30) -> None:
    """A SIGKILLed driver's local cluster shuts itself down, but a worker
    busy when its raylet died can linger (seen: a MapWorker asleep for
    minutes): wait for them, then end what is left of that cluster only."""
    deadline = time.time() + timeout
    while (left := _tagged(tag)) and time.time() < deadline:
        time.sleep(0.5)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=10)


@pytest.mark.skipif(shutil.which("ray") is None and not (Path(sys.executable).parent / "ray").exists(),
                    reason="the ray CLI is not installed")
def test_build_on_a_cluster_started_with_ray_start(mixed, tmp_path):
    paths, _, _, _ = mixed
    ray_cli = str(Path(sys.executable).parent / "ray") if (Path(sys.executable).parent / "ray").exists() else "ray"
    port = 6390 + os.getpid() % 500
    # its own session dir, so other clusters on this machine are left alone;
    # short, as Ray's socket paths under it must fit in AF_UNIX's 107 bytes
    tmp = Path(tempfile.mkdtemp(prefix="xr-", dir="/tmp"))
    env = {**os.environ, "RAY_TMPDIR": str(tmp)}
    start = subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2",
                            "--include-dashboard=false", f"--temp-dir={tmp}", "--disable-usage-stats"],
                           capture_output=True, text=True, env=env, timeout=180)
    try:
        assert start.returncode == 0, start.stderr[-2000:]
        small = tmp_path / "small.jsonl"
        small.write_text("".join(f'{{"id": "s{i}", "text": "sentence number {i}"}}\n' for i in range(60)))
        out = tmp_path / "ix"
        cli = Path(sys.executable).parent / "xmodal"
        proc = subprocess.run([str(cli), "index", "build", str(small), "--model", "tiny", "--out", str(out),
                               "--ray", f"127.0.0.1:{port}", "--workers", "2", "--shard-size", "20",
                               "--json", "--quiet"], capture_output=True, text=True, env=env, timeout=400)
        assert proc.returncode == 0, proc.stderr[-2000:]
        ix = open_index(out)
        assert ix.manifest.counts["text"] == 60
        assert '"embedded_on": "ray (127.0.0.1:' in proc.stdout
    finally:
        _stop_cluster(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)


def _stop_cluster(marker: str) -> None:
    """`ray stop` would stop every Ray cluster on the machine: end only the
    processes of ours (their command lines or RAY_TMPDIR name our temp dir)."""
    procs = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            ours = marker in " ".join(p.info["cmdline"] or []) or p.environ().get("RAY_TMPDIR") == marker
            if ours and p.pid != os.getpid():
                procs.append(p)
                procs.extend(p.children(recursive=True))
        except psutil.Error:
            continue
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=15)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
