"""Queries while the index is updated: a served index is toggled between
two states (extra items added / removed) by writer processes while client
threads query it with the stored vectors of known items. 0 5xx, and 0 stale
results: a query that started after a publish finished sees the new state
(an added item is its own top hit; a removed one is in no hit list)."""
from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from campaign_jobs import Served, StatusCounter, copy_index, now, run_in_child, same_state, snapshot

pytestmark = [pytest.mark.campaign, pytest.mark.slow]

SECONDS = 20.0
CLIENTS = 3
PAUSE = 0.7


def _vectors(index_dir, ids):
    from xmodal.indexer import open_index

    ix = open_index(index_dir)
    out = {}
    for id_ in ids:
        label = ix.label_of(id_)
        out[id_] = np.asarray(ix.vectors([label]), np.float32)[0].tolist()
    return out


def test_queries_during_updates_see_no_stale_result_and_no_5xx(forks, world, tiny, figures):
    from xmodal.search import Engine
    from xmodal.search.app import create_app

    index = copy_index(world["start"]["remove"], world["base"] / "served")  # base + extra items
    extra = list(world["extra_ids"])
    base_ids = ["img0.png", "img5.png", "tone2.wav", "note0.txt"]
    vecs = _vectors(index, extra + base_ids)
    all_ids = {k.split(":", 1)[1] for k in world["ref"]["add"]["after"]["items"]}
    app = StatusCounter(create_app(Engine.open(str(index), encoder=tiny)))
    log: list[tuple] = []  # (start, end, status, query id, hit ids)
    ops: list[tuple] = []  # (start, end, present: are the extra items indexed afterwards)
    stop = threading.Event()

    def client(seed: int, url: str) -> None:
        rng = np.random.default_rng(seed)
        with httpx.Client(base_url=url, timeout=60) as http:
            while not stop.is_set():
                qid = (extra + base_ids)[int(rng.integers(len(extra) + len(base_ids)))]
                t0 = now()
                r = http.post("/search", json={"embedding": vecs[qid], "k": 5})
                hits = [h["id"] for h in r.json().get("hits", [])] if r.status_code == 200 else []
                log.append((t0, now(), r.status_code, qid, hits))

    with Served(app) as url:
        threads = [threading.Thread(target=client, args=(s, url)) for s in range(CLIENTS)]
        for t in threads:
            t.start()
        present, deadline = True, now() + SECONDS
        while now() < deadline:
            job = ({"kind": "remove", "index": str(index), "ids": extra} if present
                   else {"kind": "add", "index": str(index), "corpus": str(world["extra"])})
            t0 = now()
            code, _ = run_in_child(forks, job)
            assert code == 0, f"writer {job['kind']} failed"
            present = not present
            ops.append((t0, now(), present))
            time.sleep(PAUSE)  # queries wholly between two writes have one right answer
        stop.set()
        for t in threads:
            t.join(60)

    stale, foreign = [], []
    for t0, t1, code, qid, hits in log:
        if any(h not in all_ids for h in hits):
            foreign.append((qid, hits))
        # the state is known when the query ran wholly between two writes
        before = [op for op in ops if op[1] < t0]
        if not before or any(op[0] < t1 and op[1] > t0 for op in ops):
            continue
        present = before[-1][2]
        if qid in extra and present and (not hits or hits[0] != qid):
            stale.append((qid, "added item not its own top hit", hits))
        if qid in extra and not present and any(h in extra for h in hits):
            stale.append((qid, "removed item returned", hits))
        if qid in base_ids and (not hits or hits[0] != qid):
            stale.append((qid, "base item not its own top hit", hits))
    final = snapshot(index)
    want = world["ref"]["add"]["after"] if present else world["ref"]["build"]["after"]
    figures["concurrent"] = {
        "seconds": SECONDS, "updates": len(ops), "requests": app.total, "responses_by_code": app.codes,
        "server_errors": app.server_errors, "stale": len(stale), "foreign_ids": len(foreign),
        "checked_between_writes": sum(1 for t0, t1, *_ in log if not any(o[0] < t1 and o[1] > t0 for o in ops)),
        "final_state_matches_reference": same_state(final, want),
    }
    assert len(ops) >= 4 and len(log) >= 50, figures["concurrent"]
    assert app.server_errors == 0 and all(status == 200 for _t0, _t1, status, _q, _h in log)
    assert not stale, stale[:10]
    assert not foreign, foreign[:10]
    assert same_state(final, want), "items lost or changed by the update cycles"
