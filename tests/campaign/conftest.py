"""The standing fault campaign (issue 15): kill -9 trials, queries during
updates, schemathesis against the served schema, hostile uploads. Bounded
to a few minutes; run by `.ci/run` as `pytest -m campaign tests/campaign`
(the default `pytest -q` leaves it out, see pyproject's addopts).

Every test adds its figures to one report: printed at the end of the run
and written to $XMODAL_CAMPAIGN_REPORT (default campaign-report.json in the
pytest base temp directory)."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from campaign_jobs import copy_index, file_events, make_corpus, run_in_child, snapshot

FIGURES: dict[str, dict] = {}


@pytest.fixture(scope="session")
def figures():
    """name -> dict of figures; the test fills in its own entry."""
    return FIGURES


@pytest.fixture(scope="session")
def forks():
    """A fork server with the tiny stack loaded: `forks.Process(...)`."""
    import campaign_jobs

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["campaign_preload"])
    # Python 3.11's fork server ignores the sys.path it is handed: it finds
    # the preload module through PYTHONPATH, which it inherits.
    here = os.path.dirname(__file__)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([here, *([old] if old else [])])
    try:
        warm = ctx.Process(target=campaign_jobs.exit_unless_preloaded)  # starts the server
        warm.start()
        warm.join(600)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    assert warm.exitcode == 0, "the campaign's fork server did not preload the tiny stack"
    return ctx


@pytest.fixture(scope="session")
def tiny():
    import campaign_jobs

    return campaign_jobs.stack()


@pytest.fixture(scope="session")
def world(tmp_path_factory, forks):
    """The corpus, a clean reference build, and clean add/remove results,
    each run once in a child that logs its file events (and its time)."""
    base = tmp_path_factory.mktemp("campaign")
    corpus, extra = base / "corpus", base / "extra"
    make_corpus(corpus, 10, 3, 3)
    # `index add` of a folder outside the corpus root: its ids are absolute paths
    extra_ids = [str((extra / i).resolve()) for i in make_corpus(extra, 4, 1, 1, tag="x")]
    ref = {}
    out = base / "ref-build"
    job = {"kind": "build", "corpus": str(corpus), "out": str(out)}
    code, secs = run_in_child(forks, job, log=str(base / "build.log"))
    assert code == 0, "clean build failed"
    ref["build"] = {"before": None, "after": snapshot(out), "seconds": secs,
                    "events": file_events(base / "build.log")}
    added = copy_index(out, base / "ref-add")
    job = {"kind": "add", "index": str(added), "corpus": str(extra)}
    code, secs = run_in_child(forks, job, log=str(base / "add.log"))
    assert code == 0, "clean add failed"
    ref["add"] = {"before": ref["build"]["after"], "after": snapshot(added), "seconds": secs,
                  "events": file_events(base / "add.log")}
    removed = copy_index(added, base / "ref-remove")
    gone = ["img1.png", "tone0.wav", "note2.txt", str((extra / "ximg0.png").resolve())]
    job = {"kind": "remove", "index": str(removed), "ids": gone}
    code, secs = run_in_child(forks, job, log=str(base / "rm.log"))
    assert code == 0, "clean remove failed"
    ref["remove"] = {"before": ref["add"]["after"], "after": snapshot(removed), "seconds": secs,
                     "events": file_events(base / "rm.log"), "ids": gone}
    assert all(f"item:{i}" not in ref["remove"]["after"]["items"] for i in gone)
    assert all(f"item:{i}" in ref["add"]["after"]["items"] for i in extra_ids)
    return {"base": base, "corpus": corpus, "extra": extra, "extra_ids": extra_ids, "ref": ref,
            "start": {"add": out, "remove": added}}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES:
        return
    out = os.environ.get("XMODAL_CAMPAIGN_REPORT") or str(
        Path(str(config._tmp_path_factory.getbasetemp())) / "campaign-report.json")
    Path(out).write_text(json.dumps(FIGURES, indent=2, sort_keys=True))
    terminalreporter.section("campaign figures")
    for name, figs in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {json.dumps(figs, sort_keys=True)}")
    terminalreporter.write_line(f"(written to {out})")
