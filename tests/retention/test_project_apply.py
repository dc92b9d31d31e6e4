"""`POST /v1/retention/apply` with real keys, in-process: a project's admin applies its own
project's policy only; an admin key for all projects applies every policy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import InProcessApp, in_process_app, iso


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """Retention runs only when a test asks (no background pass racing it)."""
    yield from in_process_app(tmp_path_factory.mktemp("data"), retention_interval_s=0)


def _project(app: InProcessApp) -> tuple[str, str]:
    """A project with one call 200 days old (past the 90-day default) and one recent call."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    key = app.key(name, "ingest,read,admin")
    now = datetime.now(UTC)
    events = [
        {"timestamp": iso(now - timedelta(days=200)), "model": "m", "latency_ms": 5},
        {"timestamp": iso(now - timedelta(minutes=1)), "model": "m", "latency_ms": 5},
    ]
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    return name, key


def _calls(app: InProcessApp, project: str) -> int:
    rows = app.ctx.store.execute("SELECT count(*) FROM events WHERE project = ?", [project])
    return int(rows[0][0])


def test_a_project_admin_applies_only_its_own_projects_policy(app: InProcessApp) -> None:
    a, key_a = _project(app)
    b, key_b = _project(app)
    with app.client(key_a) as c:
        r = c.post("/v1/retention/apply")
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert deleted and {d["project"] for d in deleted} == {a}
    assert sum(d["deleted"] for d in deleted if d["data_class"] == "raw") == 1
    assert (_calls(app, a), _calls(app, b)) == (1, 2)  # B's old call is still there

    with app.client(key_b) as c:  # B's own policy: an override of its own is honoured
        assert c.put(f"/v1/retention/{b}", json={"raw_days": 300}).status_code == 200
        assert c.post("/v1/retention/apply").status_code == 200
        assert _calls(app, b) == 2
        assert c.put(f"/v1/retention/{b}", json={"raw_days": None}).status_code == 200
        assert c.post("/v1/retention/apply").status_code == 200
        assert _calls(app, b) == 1


def test_an_admin_for_all_projects_applies_every_policy(app: InProcessApp) -> None:
    c_name, _ = _project(app)
    d_name, _ = _project(app)
    with app.client(app.key(None, "admin")) as c:
        r = c.post("/v1/retention/apply")
    assert r.status_code == 200, r.text
    assert (_calls(app, c_name), _calls(app, d_name)) == (1, 1)


def test_a_key_without_admin_cannot_apply_retention(app: InProcessApp) -> None:
    with app.client(app.key("p-reader", "ingest,read")) as c:
        assert c.post("/v1/retention/apply").status_code == 403
