"""A build killed with SIGKILL mid-way (a real process, not an exception)
resumes from its finished shards to the same index as an uninterrupted one."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from xmodal.indexer import open_index
from xmodal.indexer.build import BuildConfig, build

SCRIPT = textwrap.dedent("""
    import sys, time, pathlib
    from xmodal.indexer.build import BuildConfig, build
    corpus, out, marker = sys.argv[1:4]
    def hook(k, name, reused, n):
        if k == 1:  # two shards finished: signal the parent, then hang until killed
            pathlib.Path(marker).write_text(name)
            time.sleep(600)
    build(BuildConfig([corpus], out, model="tiny", shard_size=3), progress=False, on_shard=hook)
""")


@pytest.mark.slow
def test_sigkill_mid_build_then_resume(media_corpus, tmp_path, tiny):
    out, marker = tmp_path / "killed", tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(media_corpus), str(out), str(marker)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "child never finished two shards"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "manifest.json").exists()
    seen = []
    build(BuildConfig([str(media_corpus)], str(out), model="tiny", shard_size=3), stack=tiny,
          progress=False, on_shard=lambda k, name, reused, n: seen.append(reused))
    assert seen[:2] == [True, True] and not any(seen[2:])
    ref = tmp_path / "ref"
    build(BuildConfig([str(media_corpus)], str(ref), model="tiny", shard_size=3), stack=tiny, progress=False)
    a, b = open_index(ref), open_index(out)
    la, lb = a.labels_where(), b.labels_where()
    assert [r.id for r in a.rows(la)] == [r.id for r in b.rows(lb)]
    np.testing.assert_array_equal(a.vectors(la), b.vectors(lb))
