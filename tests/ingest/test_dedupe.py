"""Idempotency: the same (project, id) is stored once, whatever the path it comes back by."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from promptpulse.ingest import dedupe
from promptpulse.ingest.dedupe import SeenKeys
from promptpulse.model import Scope
from tests.conftest import LiveServer, iso, start_server, stop_server

T = "2025-06-02T12:00:00Z"
EVERYTHING = Scope(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def event(ident: str | None, latency: float = 1.0) -> dict:
    e = {"timestamp": T, "model": "m", "latency_ms": latency}
    if ident is not None:
        e["id"] = ident
    return e


def stored_ids(live: LiveServer, project: str) -> list[str]:
    rows = live.ctx.store.calls(EVERYTHING.with_filter("project", [project]), ["id"], 1_000_000)
    return sorted(r["id"] for r in rows)


def test_same_id_twice_in_one_batch(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        r = c.post("/v1/events", json={"events": [event("a", 1), event("b"), event("a", 2)]})
    assert r.status_code == 200
    assert r.json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert stored_ids(live, project) == ["a", "b"]
    rows = live.ctx.store.calls(
        EVERYTHING.with_filter("project", [project]).with_filter("model", ["m"]),
        ["id", "latency_ms"],
        10,
    )
    assert {r["id"]: r["latency_ms"] for r in rows}["a"] == 1  # the first one wins


def test_same_id_across_batches(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        assert (
            c.post("/v1/events", json={"events": [event(f"x{i}") for i in range(10)]}).json()[
                "accepted"
            ]
            == 10
        )
        r = c.post("/v1/events", json={"events": [event(f"x{i}") for i in range(5, 15)]})
    assert r.json() == {"accepted": 5, "duplicates": 5, "rejected": []}
    assert stored_ids(live, project) == sorted(f"x{i}" for i in range(15))


def test_same_ids_from_concurrent_requests(live: LiveServer, project: str) -> None:
    ids = [f"c{i}" for i in range(300)]
    key = live.key(project)
    results: list[dict] = []
    lock = threading.Lock()
    rng = np.random.default_rng(3)
    orders = [rng.permutation(ids).tolist() for _ in range(8)]

    def send(order: list[str]) -> None:
        with live.client(key) as c:
            for i in range(0, len(order), 50):
                body = {"events": [event(x) for x in order[i : i + 50]]}
                r = c.post("/v1/events", json=body)
                while r.status_code == 429:  # backpressure on a busy machine: retry, as SDKs do
                    time.sleep(min(float(r.headers["Retry-After"]), 2.0))
                    r = c.post("/v1/events", json=body)
                assert r.status_code == 200, r.text
                with lock:
                    results.append(r.json())

    threads = [threading.Thread(target=send, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 * 6
    assert sum(r["accepted"] for r in results) == 300
    assert sum(r["duplicates"] for r in results) == 7 * 300
    assert stored_ids(live, project) == sorted(ids)


def test_same_id_in_two_projects_is_stored_in_each(live: LiveServer, project: str) -> None:
    other = project + "-b"
    admin = live.key(None, "admin")
    with live.client(admin) as c:
        r = c.post(
            "/v1/events",
            json={
                "events": [
                    {**event("shared"), "project": project},
                    {**event("shared"), "project": other},
                ]
            },
        )
        assert r.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    with live.client(live.key(other)) as c:
        assert c.post("/v1/events", json={"events": [event("shared")]}).json()["duplicates"] == 1
    assert stored_ids(live, project) == ["shared"]
    assert stored_ids(live, other) == ["shared"]


def test_server_makes_ids_when_absent(live: LiveServer, project: str) -> None:
    with live.client(live.key(project)) as c:
        for _ in range(2):
            r = c.post("/v1/events", json={"events": [event(None) for _ in range(5)]})
            assert r.json() == {"accepted": 5, "duplicates": 0, "rejected": []}
    ids = stored_ids(live, project)
    assert len(ids) == len(set(ids)) == 10
    assert all(ids)


@pytest.mark.slow
def test_dedupe_survives_a_restart(tmp_path: Path) -> None:
    # Recent calls: start-up applies raw retention (90 days by default) to older ones.
    recent = iso(datetime.now(UTC) - timedelta(hours=1))

    def event(ident: str) -> dict:
        return {"id": ident, "timestamp": recent, "model": "m", "latency_ms": 1}

    server, thread, live = start_server(tmp_path)
    key = live.key("restart")
    try:
        with live.client(key) as c:
            r = c.post("/v1/events", json={"events": [event(f"r{i}") for i in range(20)]})
            assert r.json()["accepted"] == 20
    finally:
        stop_server(server, thread)
    server, thread, live = start_server(tmp_path)
    try:
        with live.client(key) as c:
            r = c.post("/v1/events", json={"events": [event(f"r{i}") for i in range(10, 30)]})
            assert r.json() == {"accepted": 10, "duplicates": 10, "rejected": []}
        assert stored_ids(live, "restart") == sorted(f"r{i}" for i in range(30))
    finally:
        stop_server(server, thread)
        live.meta.close()


# ---------------------------------------------------------------- SeenKeys against a set


def _random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


KEPT_BITS = 50  # what the old tier keeps of each hash (dedupe.py)


def _kept(hashes: np.ndarray) -> np.ndarray:
    return hashes >> np.uint64(64 - KEPT_BITS)


@pytest.mark.parametrize("seed", [1, 2])
def test_seen_keys_finds_every_hash_added(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against np.isin over every hash added so far (a different algorithm: hash set/sort). Every
    hash added is found; a hash not added is a candidate only where its top 50 bits equal an
    added one's (the old tier keeps those); probes that differ in the lowest bit and in the
    lowest kept bit show both sides of that line."""
    monkeypatch.setattr(dedupe, "_YOUNG_MIN", 3000)  # the same rules, at sizes a test affords
    rng = np.random.default_rng(seed)
    extremes = np.array([0, 1, np.iinfo(np.uint64).max], dtype=np.uint64)
    initial = np.concatenate([_random_hashes(rng, 1000), extremes[:1]])
    seen = SeenKeys(initial.copy())
    truth = initial.copy()
    # Many small adds (parts join the young tier) and some big ones (the young joins the old).
    sizes = [int(rng.integers(0, 200)) for _ in range(60)] + [1500] * 8
    rng.shuffle(sizes)
    merges = 0
    for size in sizes:
        added = _random_hashes(rng, size)
        if size and rng.random() < 0.3:  # repeats of hashes already there
            added[: size // 3] = rng.choice(truth, size // 3)
        near = rng.choice(truth, 20)
        lowest, lowest_kept = np.uint64(1), np.uint64(1) << np.uint64(64 - KEPT_BITS)
        fresh, stored = _random_hashes(rng, 50), rng.choice(truth, 20)
        probe = np.concatenate(
            [added[:500], fresh, extremes, stored, near ^ lowest, near ^ lowest_kept]
        )
        for _ in range(2):  # before and after adding
            found = seen.maybe_seen(probe)
            assert (found >= np.isin(probe, truth)).all()  # never a stored hash missed
            assert (found <= np.isin(_kept(probe), _kept(truth))).all()
            assert not found[-20:].any()  # a kept bit differs: not a candidate
            seen.add(added)
            truth = np.unique(np.concatenate([truth, added]))
            added = added[:0]
        merges += seen._merge is not None
        if rng.random() < 0.5:
            seen.wait()  # the merged old tier adopted, or still merging: both searched
    assert merges >= 3  # the young tier joined the old one, in a thread
    seen.wait()
    assert (seen.maybe_seen(truth)).all()
    assert len(seen) >= len(truth)  # repeats are not deduplicated here: the writer does that


def test_seen_keys_empty() -> None:
    seen = SeenKeys()
    probe = np.array([0, 5, np.iinfo(np.uint64).max], dtype=np.uint64)
    assert not seen.maybe_seen(probe).any()
    seen.add(np.array([], dtype=np.uint64))
    assert len(seen) == 0
    seen.add(np.array([5], dtype=np.uint64))
    assert seen.maybe_seen(probe).tolist() == [False, True, False]
