"""A budget no calendar can hold is refused naming its field; a custom period is bounded; and a
broken budget (stored by an older server) in one project never stops another project's alerts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from promptpulse.meta import budgets as budgets_table
from tests.conftest import InProcessApp, in_process_app, iso


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path_factory.mktemp("data"), alerts_interval_s=0)


def budget(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": f"b-{uuid.uuid4().hex[:6]}",
        "amount": 0.5,
        "period": "custom",
        "starts_at": iso(now - timedelta(hours=1)),
        "ends_at": iso(now + timedelta(hours=1)),
        "thresholds": [1.0],
        "alert_on_forecast": False,
        **extra,
    }


HOSTILE = [
    ("year-1-with-offset", {"starts_at": "0001-01-01T00:00:00+01:00"}, "starts_at"),
    ("year-9999", {"ends_at": "9999-12-31T23:59:59-01:00"}, "ends_at"),
    (
        "a-whole-calendar",
        {"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2090-01-01T00:00:00Z"},
        "ends_at",
    ),
    ("before-2000", {"starts_at": "1999-01-01T00:00:00Z"}, "starts_at"),
]


@pytest.mark.parametrize(
    ("extra", "field"), [(e, f) for _, e, f in HOSTILE], ids=[c for c, _, _ in HOSTILE]
)
def test_an_unbounded_custom_period_is_422_naming_the_field(
    app: InProcessApp, project: str, extra: dict, field: str
) -> None:
    with app.client(app.key(project, "ingest,read,admin")) as c:
        r = c.post("/v1/budgets", json=budget(**extra))
        assert r.status_code == 422, r.text
        assert field in r.json()["detail"], r.json()
        assert c.get("/v1/budgets").status_code == 200


def test_a_year_long_custom_period_is_fine(app: InProcessApp, project: str) -> None:
    with app.client(app.key(project, "ingest,read,admin")) as c:
        r = c.post(
            "/v1/budgets",
            json=budget(starts_at="2026-01-01T00:00:00Z", ends_at="2027-01-01T00:00:00Z"),
        )
        assert r.status_code == 201, r.text


def _spent_project(app: InProcessApp) -> tuple[str, str]:
    name = f"p-{uuid.uuid4().hex[:8]}"
    key = app.key(name, "ingest,read,admin")
    now = datetime.now(UTC)
    events = [
        {
            "timestamp": iso(now - timedelta(seconds=30)),
            "model": "m",
            "latency_ms": 5,
            "cost_usd": 1.0,
        }
    ]
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        assert c.post("/v1/budgets", json=budget()).status_code == 201
    return name, key


def _store_broken_budget(app: InProcessApp, project: str) -> None:
    """As a server before this check stored it: a period from year 1 (with an offset)."""
    spec = {**budget(), "filters": {"project": [project]}}
    spec["starts_at"] = "0001-01-01T00:00:00+01:00"
    now = datetime.now(UTC).replace(tzinfo=None)
    with app.meta.engine.begin() as conn:
        conn.execute(
            budgets_table.insert().values(
                id=f"bdg_{uuid.uuid4().hex[:12]}",
                project=project,
                name=spec["name"],
                spec=json.dumps(spec),
                created_at=now,
                updated_at=now,
            )
        )


def test_a_broken_budget_in_one_project_never_stops_anothers_alert(app: InProcessApp) -> None:
    a, key_a = _spent_project(app)
    b, _ = _spent_project(app)
    _store_broken_budget(app, a)
    admin = app.key(None, "admin")
    with app.client(admin) as c:
        r = c.post("/v1/alerts/evaluate")
        assert r.status_code == 200, r.text
        fired = {(ch["source"], ch["to"]) for ch in r.json()["changes"]}
        assert ("budget", "firing") in fired
        alerts = c.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
    assert {x["project"] for x in alerts if x["source"] == "budget"} >= {a, b}
    with app.client(key_a) as c:  # the broken project's own list and round still answer
        listed = c.get("/v1/budgets")
        assert listed.status_code == 200, listed.text
        assert c.post("/v1/alerts/evaluate").status_code == 200
