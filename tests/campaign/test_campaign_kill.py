"""kill -9 during `build`, `add` and `remove`, at random moments and right
before file events: a reader sees exactly the state before or after the
job, and rerunning the job loses nothing (same ids, vectors and results as
a run that was never killed). Seeded: every trial is reproducible."""
from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from campaign_jobs import copy_index, run_in_child, same_state, snapshot

pytestmark = [pytest.mark.campaign, pytest.mark.slow]

RANDOM_TRIALS = {"build": 4, "add": 3, "remove": 3}
EVENT_TRIALS = {"build": 4, "add": 3, "remove": 3}


def _job(world, kind, target: Path) -> dict:
    if kind == "build":
        return {"kind": "build", "corpus": str(world["corpus"]), "out": str(target)}
    copy_index(world["start"][kind], target)
    if kind == "add":
        return {"kind": "add", "index": str(target), "corpus": str(world["extra"])}
    return {"kind": "remove", "index": str(target), "ids": world["ref"][kind]["ids"]}


def _trial(forks, world, kind, target, kill_at=None, kill_after=None) -> dict:
    ref = world["ref"][kind]
    job = _job(world, kind, target)
    code, _ = run_in_child(forks, job, kill_at=kill_at, kill_after=kill_after)
    killed = code == -signal.SIGKILL
    index_dir = target
    mid = snapshot(index_dir)
    mid_ok = same_state(mid, ref["before"]) or same_state(mid, ref["after"])
    code2, _ = run_in_child(forks, job)  # rerun the same command: resume / redo
    final = snapshot(index_dir)
    lost = sorted(set(ref["after"]["items"]) - set(final["items"])) if final else sorted(ref["after"]["items"])
    # a remove that had already committed is refused on the rerun (removing
    # ids that are not indexed is an error since issue 18.2) and changes nothing
    done_before = kind == "remove" and same_state(mid, ref["after"])
    ok = mid_ok and (code2 == 0 or done_before) and same_state(final, ref["after"])
    return {"kind": kind, "kill_at": kill_at, "kill_after": kill_after, "killed": killed,
            "mid_state": "before" if same_state(mid, ref["before"]) else "after" if mid_ok else "neither",
            "survived": ok, "lost": lost}


def test_kill9_trials_lose_nothing(forks, world, figures):
    rng = random.Random(15)
    trials = []
    for kind in ("build", "add", "remove"):
        ref = world["ref"][kind]
        n_events = len(ref["events"])
        assert n_events > 3, f"{kind}: only {n_events} file events seen"
        for t in range(RANDOM_TRIALS[kind]):
            delay = rng.uniform(0.02, ref["seconds"])
            trials.append(_trial(forks, world, kind, world["base"] / f"{kind}-r{t}", kill_after=delay))
        # file events spread over the job, always including the last one (the commit)
        picks = sorted({*rng.sample(range(1, n_events), EVENT_TRIALS[kind] - 1), n_events})
        for n in picks:
            trials.append(_trial(forks, world, kind, world["base"] / f"{kind}-e{n}", kill_at=n))
    killed = sum(t["killed"] for t in trials)
    survived = sum(t["survived"] for t in trials)
    figures["kill9"] = {
        "trials": len(trials), "killed": killed, "survived": survived,
        "lost_items": sum(len(t["lost"]) for t in trials),
        "mid_states": {s: sum(t["mid_state"] == s for t in trials) for s in ("before", "after", "neither")},
        "file_events": {k: len(world["ref"][k]["events"]) for k in ("build", "add", "remove")},
    }
    bad = [t for t in trials if not t["survived"]]
    assert not bad, json.dumps(bad, indent=1)
    assert killed >= len(trials) // 2, "most trials must really kill the job"
