"""The price book over HTTP: entries with validity, corrections, the old per-model doors, and
bad input (a negative or non-finite price, an overlapping validity, valid_to before valid_from,
a bound inside a day, a reprice with from >= to or an unknown field): a clear 4xx naming the
field or the entry, and nothing stored."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from tests.cli.helpers import run
from tests.conftest import LiveServer

P = "/v1/prices"


def entries(c: httpx.Client, project: str) -> list[dict[str, Any]]:
    found = c.get(f"{P}/entries").json()["entries"]
    return [e for e in found if e["project"] == project]


def test_entries_with_validity_and_corrections(live: LiveServer, project: str) -> None:
    with live.client(live.key(project, "read,admin")) as c:
        june = {
            "model": "m1",
            "input_per_mtok": 1,
            "output_per_mtok": 2,
            "valid_from": "2025-06-01",
            "valid_to": "2025-07-01",
        }
        r = c.post(f"{P}/entries", json=june)
        assert r.status_code == 201, r.text
        first = r.json()
        assert (first["valid_from"], first["valid_to"]) == (
            "2025-06-01T00:00:00Z",
            "2025-07-01T00:00:00Z",
        )
        r = c.post(f"{P}/entries", json={**june, "valid_from": "2025-07-01", "valid_to": None})
        assert r.status_code == 201, r.text
        second = r.json()
        # A correction of the first: a new price, the same period.
        r = c.put(
            f"{P}/entries/{first['id']}",
            json={
                "input_per_mtok": 1.5,
                "output_per_mtok": 2,
                "valid_from": "2025-06-01",
                "valid_to": "2025-07-01",
                "note": "invoice said 1.5",
            },
        )
        assert r.status_code == 200, r.text
        got = {e["id"]: e for e in entries(c, project)}
        assert got[first["id"]]["input_per_mtok"] == 1.5
        assert got[first["id"]]["note"] == "invoice said 1.5"
        assert got[second["id"]]["valid_to"] is None
        # The old per-model door lists the book, and its PUT without validity keeps working.
        r = c.put(f"{P}/m2", json={"input_per_mtok": 3, "output_per_mtok": 4})
        assert r.status_code == 200 and r.json()["valid_from"] is None, r.text
        m2 = r.json()["id"]
        r = c.put(f"{P}/m2", json={"input_per_mtok": 5, "output_per_mtok": 6})
        assert r.status_code == 200 and r.json()["id"] == m2, r.text
        models = [(p["model"], p["input_per_mtok"]) for p in c.get(P).json()["prices"]]
        assert ("m2", 5) in models and ("m2", 3) not in models  # corrected in place
        assert c.delete(f"{P}/entries/{second['id']}").status_code == 204
        assert c.get(f"{P}/entries/{second['id']}").status_code == 404


def _refused(
    c: httpx.Client,
    project: str,
    method: str,
    path: str,
    body: dict,
    status: int,
    field: str | None = None,
) -> dict:
    before = entries(c, project)
    r = c.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    if field is not None:
        assert field in {e["field"] for e in problem.get("errors", [])}, problem
    assert entries(c, project) == before  # nothing stored
    return problem


def test_bad_prices_and_validities_are_refused(live: LiveServer, project: str) -> None:
    with live.client(live.key(project, "read,admin")) as c:
        base = {
            "model": "m",
            "input_per_mtok": 1,
            "output_per_mtok": 1,
            "valid_from": "2025-06-01",
            "valid_to": "2025-06-10",
        }
        r = c.post(f"{P}/entries", json=base)
        assert r.status_code == 201
        kept = r.json()["id"]
        _refused(
            c,
            project,
            "POST",
            f"{P}/entries",
            {**base, "input_per_mtok": -1},
            422,
            "input_per_mtok",
        )
        _refused(
            c,
            project,
            "PUT",
            f"{P}/m",
            {"input_per_mtok": 1, "output_per_mtok": -0.5},
            422,
            "output_per_mtok",
        )
        bad = c.post(
            f"{P}/entries",
            content=b'{"model":"m","input_per_mtok":1e999,"output_per_mtok":1}',
            headers={"content-type": "application/json"},
        )
        assert bad.status_code == 422
        _refused(
            c,
            project,
            "POST",
            f"{P}/entries",
            {**base, "valid_from": "2025-06-10", "valid_to": "2025-06-01"},
            422,
            "valid_to",
        )
        _refused(
            c,
            project,
            "POST",
            f"{P}/entries",
            {**base, "valid_from": "2025-06-10", "valid_to": "2025-06-10"},
            422,
            "valid_to",
        )
        _refused(
            c,
            project,
            "POST",
            f"{P}/entries",
            {**base, "valid_from": "2025-06-20T12:00:00Z", "valid_to": None},
            422,
            "valid_from",
        )
        overlap = _refused(
            c,
            project,
            "POST",
            f"{P}/entries",
            {**base, "valid_from": "2025-06-05", "valid_to": None},
            409,
        )
        assert f"entry {kept}" in overlap["detail"]
        # A since-always price of the model overlaps it too, by the old door as well.
        _refused(c, project, "PUT", f"{P}/m", {"input_per_mtok": 1, "output_per_mtok": 1}, 409)
        # A correction that would overlap another entry is refused, the entry left as it was.
        r = c.post(f"{P}/entries", json={**base, "valid_from": "2025-06-10", "valid_to": None})
        assert r.status_code == 201
        _refused(
            c,
            project,
            "PUT",
            f"{P}/entries/{r.json()['id']}",
            {"input_per_mtok": 9, "output_per_mtok": 9, "valid_from": "2025-06-09"},
            409,
        )
        _refused(c, project, "POST", f"{P}/entries", {**base, "colour": "red"}, 422, "colour")


def test_bad_reprice_requests(live: LiveServer, project: str) -> None:
    with live.client(live.key(project, "read,admin")) as c:
        before = c.get(f"{P}/reprices").json()
        for body, field in [
            ({"from": "2025-06-02T00:00:00Z", "to": "2025-06-01T00:00:00Z"}, "to"),
            ({"from": "2025-06-02T00:00:00Z", "to": "2025-06-02T00:00:00Z"}, "to"),
            ({"from": "2025-06-01T00:00:00Z", "to": "2025-06-02T00:00:00Z", "modle": "x"}, "modle"),
            ({"to": "2025-06-02T00:00:00Z"}, "from"),
        ]:
            r = c.post(f"{P}/reprice", json={**body, "dry_run": False})
            assert r.status_code == 422, r.text
            assert field in {e["field"] for e in r.json()["errors"]}, r.json()
        assert c.get(f"{P}/reprices").json() == before
        # A project key reprices only its own project.
        r = c.post(
            f"{P}/reprice",
            json={"from": "2025-06-01T00:00:00Z", "to": "2025-06-02T00:00:00Z", "project": "other"},
        )
        assert r.status_code == 403, r.text
    with live.client(live.key(project, "read")) as c:  # admin scope needed
        r = c.post(
            f"{P}/reprice", json={"from": "2025-06-01T00:00:00Z", "to": "2025-06-02T00:00:00Z"}
        )
        assert r.status_code == 403


def test_cli_reprice_dry_run_then_write(live: LiveServer, project: str) -> None:
    """`promptpulse prices reprice` through the running server: the dry run's table, then the
    write, recorded in the audit trail with the same totals as the JSON dry run said."""
    calls = [
        {"id": f"cli-{i}", "timestamp": f"2025-06-0{1 + i % 3}T12:00:00Z", "model": "cli-model",
         "latency_ms": 1, "input_tokens": 1000 * (i + 1), "output_tokens": 100}
        for i in range(6)
    ]  # fmt: skip
    admin = live.key(project, "ingest,read,admin")
    with live.client(admin) as c:
        assert c.post("/v1/events", json={"events": calls}).status_code == 200
    meta_key = {"--url": live.url, "--api-key": admin}
    args = ["prices", "reprice", "--from", "2025-06-01T00:00:00Z", "--to",
            "2025-06-04T00:00:00Z", "--model", "cli-model"]  # fmt: skip
    flags = [x for kv in meta_key.items() for x in kv]
    # A price from June 2 on, set afterwards (the leader may reprice the unpriced calls in the
    # background meanwhile: the costs after are the same either way).
    with live.client(admin) as c:
        june = {"model": "cli-model", "input_per_mtok": 1, "output_per_mtok": 10,
                "valid_from": "2025-06-02"}  # fmt: skip
        r = c.post(f"{P}/entries", json=june)
        assert r.status_code == 201, r.text
    dry = run(*args, "--dry-run", "--json", *flags)
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    want = sum((c["input_tokens"] + 10 * c["output_tokens"]) / 1e6 for c in calls
               if c["timestamp"] >= "2025-06-02")  # fmt: skip
    assert report["id"] is None
    assert math.isclose(report["totals"]["cost_after"], want, rel_tol=1e-12)
    table = run(*args, "--dry-run", *flags)
    assert table.returncode == 0 and "2025-06-02" in table.stdout and "dry run" in table.stdout
    done = run(*args, *flags)
    assert done.returncode == 0 and "written" in done.stdout, done.stderr
    with live.client(admin) as c:
        [row] = [r for r in c.get(f"{P}/reprices").json()["reprices"] if r["model"] == "cli-model"
                 and not r["automatic"]]  # fmt: skip
    assert row["status"] == "done" and math.isclose(row["cost_after"], want, rel_tol=1e-12)
    bad = run("prices", "reprice", "--from", "2025-06-04T00:00:00Z", "--to",
              "2025-06-01T00:00:00Z", *flags)  # fmt: skip
    assert bad.returncode == 2 and "to" in bad.stderr and "Traceback" not in bad.stderr
