"""`POST /v1/alerts/evaluate` with real keys, in-process: a project's admin runs a round of its own
project's rules, budgets and SLOs only; another project's admin does not touch it; an admin key
for all projects still evaluates everything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import InProcessApp, in_process_app, iso


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """The shared in-process app, but rounds run only when asked (no evaluator loop racing
    the tests)."""
    yield from in_process_app(tmp_path_factory.mktemp("data"), alerts_interval_s=0)


RULE = {
    "name": "any call",
    "metric": "requests",
    "operator": ">",
    "threshold": 0,
    "window": "1h",
    "min_requests": 0,
}


def _project(app: InProcessApp, *, budget: bool = False) -> tuple[str, str, str]:
    """A project with calls, a rule that fires on them (and a spent budget): (name, admin key,
    rule id)."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    key = app.key(name, "ingest,read,admin")
    now = datetime.now(UTC)
    with app.client(key) as c:
        events = [
            {"timestamp": iso(now - timedelta(seconds=30)), "model": "m", "latency_ms": 5,
             "cost_usd": 1.0}
            for _ in range(3)
        ]  # fmt: skip
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        r = c.post("/v1/alerts/rules", json=RULE)
        assert r.status_code == 201, r.text
        if budget:
            b = {
                "name": "tiny",
                "amount": 0.5,
                "period": "custom",
                "starts_at": iso(now - timedelta(hours=1)),
                "ends_at": iso(now + timedelta(hours=1)),
                "thresholds": [1.0],
                "alert_on_forecast": False,
            }
            assert c.post("/v1/budgets", json=b).status_code == 201
    return name, key, r.json()["id"]


def _open(app: InProcessApp, admin: str, project: str) -> list[dict[str, Any]]:
    with app.client(admin) as c:
        alerts = c.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
    return [a for a in alerts if a["project"] == project]


def _evaluate(app: InProcessApp, key: str) -> dict[str, Any]:
    with app.client(key) as c:
        r = c.post("/v1/alerts/evaluate")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_project_admin_evaluates_only_its_own_project(app: InProcessApp) -> None:
    admin = app.key(None, "admin")
    a, key_a, rule_a = _project(app)
    b, key_b, rule_b = _project(app, budget=True)

    round_a = _evaluate(app, key_a)
    assert round_a["project"] == a and round_a["rules"] == 1
    assert [(ch["source_id"], ch["to"]) for ch in round_a["changes"]] == [(rule_a, "firing")]
    assert [x["source_id"] for x in _open(app, admin, a)] == [rule_a]
    assert _open(app, admin, b) == []  # B's rule and budget were not evaluated

    round_b = _evaluate(app, key_b)
    assert round_b["project"] == b
    assert {(ch["source"], ch["to"]) for ch in round_b["changes"]} == {
        ("rule", "firing"),
        ("budget", "firing"),
    }
    assert {x["source"] for x in _open(app, admin, b)} == {"rule", "budget"}
    assert [x["source_id"] for x in _open(app, admin, a)] == [rule_a]  # untouched

    # B disables its rule: A's round leaves B's open alert alone; B's own round resolves it.
    with app.client(key_b) as c:
        r = c.patch(f"/v1/alerts/rules/{rule_b}", json={"enabled": False})
        assert r.status_code == 200, r.text
    assert _evaluate(app, key_a)["changes"] == []
    assert {x["source"] for x in _open(app, admin, b)} == {"rule", "budget"}
    changes = _evaluate(app, key_b)["changes"]
    assert [(ch["source_id"], ch["to"]) for ch in changes] == [(rule_b, "resolved")]
    assert {x["source"] for x in _open(app, admin, b)} == {"budget"}


def test_an_admin_for_all_projects_still_evaluates_every_project(app: InProcessApp) -> None:
    admin = app.key(None, "admin")
    c_name, _, rule_c = _project(app)
    d_name, _, rule_d = _project(app)
    result = _evaluate(app, admin)
    assert result["project"] is None and result["rules"] >= 2
    opened = {ch["source_id"] for ch in result["changes"] if ch["to"] == "firing"}
    assert {rule_c, rule_d} <= opened
    assert [x["source_id"] for x in _open(app, admin, c_name)] == [rule_c]
    assert [x["source_id"] for x in _open(app, admin, d_name)] == [rule_d]


def test_a_project_key_without_admin_cannot_evaluate(app: InProcessApp) -> None:
    with app.client(app.key("p-reader", "ingest,read")) as c:
        assert c.post("/v1/alerts/evaluate").status_code == 403
