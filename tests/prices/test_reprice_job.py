"""A reprice that outlasts PROMPTPULSE_REPRICE_WAIT_S (0 here: every one does) is answered 202
with its id and a Location; it goes on in the server, the audit row follows it to `done`, the
costs are the new ones; the CLI follows it and prints the same table as when it waits."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator

import pytest

from tests.cli.helpers import run
from tests.conftest import LiveServer, start_server, stop_server

P = "/v1/prices"
CALLS = [
    {"id": f"job-{i}", "timestamp": f"2025-06-0{1 + i % 3}T12:00:00Z", "model": "job-model",
     "latency_ms": 1, "input_tokens": 1000 * (i + 1), "output_tokens": 100 + i}
    for i in range(9)
]  # fmt: skip
# Half the given prices: what the calls cost once repriced from June 2 on.
PRICE = {"model": "job-model", "input_per_mtok": 2, "output_per_mtok": 6}


def cost(call: dict) -> float:
    return (2 * call["input_tokens"] + 6 * call["output_tokens"]) / 1e6


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server, thread, info = start_server(
        tmp_path_factory.mktemp("job"), reprice_wait_s=0, reprice_interval_s=0
    )
    yield info
    stop_server(server, thread)


def follow(live: LiveServer, key: str, location: str) -> dict:
    deadline = time.monotonic() + 60
    with live.client(key) as c:
        while time.monotonic() < deadline:
            row = c.get(location).json()
            if row["status"] not in ("queued", "running"):
                return row  # type: ignore[no-any-return]
            time.sleep(0.05)
    raise AssertionError(f"{location} still running after 60 s")


def test_a_long_reprice_is_answered_202_and_goes_on(live: LiveServer) -> None:
    admin = live.key("jobs", "ingest,read,admin")
    given = [{**c, "cost_usd": 1.0} for c in CALLS[:3]]  # the sender's cost is kept
    with live.client(admin) as c:
        assert c.post("/v1/events", json={"events": given + CALLS[3:]}).status_code == 200
        r = c.post(f"{P}/entries", json={**PRICE, "valid_from": "2025-06-02"})
        assert r.status_code == 201, r.text
        body = {"from": "2025-06-01T00:00:00Z", "to": "2025-06-04T00:00:00Z",
                "model": "job-model", "dry_run": False}  # fmt: skip
        r = c.post(f"{P}/reprice", json=body)
        assert r.status_code == 202, r.text
        answer = r.json()
        assert answer["status"] == "running"
        assert r.headers["location"] == answer["location"] == f"{P}/reprices/{answer['id']}"
        row = follow(live, admin, r.headers["location"])
        assert row["status"] == "done" and row["error"] is None
        june = {"from": "2025-06-01T00:00:00Z", "to": "2025-06-04T00:00:00Z", "limit": 100}
        stored = c.get("/v1/calls", params=june)
        assert stored.status_code == 200, stored.text
    by_id = {call["id"]: call for call in stored.json()["calls"]}
    for i, call in enumerate(CALLS):
        got = by_id[call["id"]]["cost_usd"]
        if i < 3:
            assert got == 1.0  # given by the sender: never repriced
        elif call["timestamp"] >= "2025-06-02":
            assert math.isclose(got, cost(call), rel_tol=1e-12), call["id"]
    priced = [c for c in CALLS[3:] if c["timestamp"] >= "2025-06-02"]
    assert math.isclose(row["cost_after"] - row["cost_before"], row["delta"], abs_tol=1e-12)
    assert row["repriced"] == len(priced)


def test_the_cli_follows_a_reprice_answered_202(live: LiveServer) -> None:
    admin = live.key("jobs-cli", "ingest,read,admin")
    with live.client(admin) as c:
        assert c.post("/v1/events", json={"events": CALLS}).status_code == 200
        r = c.post(f"{P}/entries", json={**PRICE, "valid_from": "2025-06-02"})
        assert r.status_code == 201, r.text
    flags = ["--url", live.url, "--api-key", admin]
    args = ["prices", "reprice", "--from", "2025-06-01T00:00:00Z", "--to",
            "2025-06-04T00:00:00Z", "--model", "job-model", *flags]  # fmt: skip
    dry = run(*args, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    done = run(*args, "--json")
    assert done.returncode == 0, done.stderr
    assert "waiting for it" in done.stderr
    result = json.loads(done.stdout)  # the audit row, shaped as the POST answers
    assert result["status"] == "done"
    assert result["totals"]["repriced"] == report["totals"]["repriced"] > 0
    assert math.isclose(result["totals"]["cost_after"], report["totals"]["cost_after"])
    want = sum(cost(c) for c in CALLS if c["timestamp"] >= "2025-06-02")
    assert math.isclose(report["totals"]["cost_after"], want, rel_tol=1e-12)
    assert [r["day"] for r in result["rows"]] == [r["day"] for r in report["rows"]]
    table = run(*args)  # nothing left to change: still followed, and said
    assert table.returncode == 0 and "written" in table.stdout, table.stderr


def test_the_cli_stops_following_at_its_wait_and_the_reprice_goes_on(live: LiveServer) -> None:
    """`--wait 0`: the 202 is not followed; the CLI says so and where to look, exits 1, and the
    reprice still reaches `done` on the server."""
    admin = live.key("jobs-wait", "ingest,read,admin")
    with live.client(admin) as c:
        assert c.post("/v1/events", json={"events": CALLS}).status_code == 200
        before = {r["id"] for r in c.get(f"{P}/reprices").json()["reprices"]}
    args = ["prices", "reprice", "--from", "2025-06-01T00:00:00Z", "--to",
            "2025-06-04T00:00:00Z", "--model", "job-model", "--wait", "0",
            "--url", live.url, "--api-key", admin]  # fmt: skip
    stopped = run(*args)
    assert stopped.returncode == 1, (stopped.stdout, stopped.stderr)
    said = " ".join(stopped.stderr.split())
    found = re.search(r"reprice (\d+) is still running after 0 s; it continues on the server "
                      r"\(GET /v1/prices/reprices/(\d+) says when it is done\)", said)  # fmt: skip
    assert found and found[1] == found[2], said
    assert "waiting for it" not in said
    assert int(found[1]) not in before  # a new reprice, not an old one
    row = follow(live, admin, f"{P}/reprices/{found[1]}")
    assert row["status"] == "done" and row["error"] is None
    negative = run(*args[:-6], "--wait", "-1", *args[-4:])
    assert negative.returncode == 2 and "--wait" in negative.stderr, negative.stderr
