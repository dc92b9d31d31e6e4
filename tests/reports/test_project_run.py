"""`POST /v1/reports/schedules/run` with real keys, in-process: a project's admin sends its own
project's due schedules only; an admin key for all projects sends every due schedule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from promptpulse.meta import report_schedules
from tests.conftest import InProcessApp, in_process_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """Schedules are sent only when a test asks (no scheduler loop racing it)."""
    yield from in_process_app(tmp_path_factory.mktemp("data"), reports_interval_s=0)


def _project(app: InProcessApp) -> tuple[str, str, str]:
    """A project with a daily schedule writing files, due at once: (name, admin key, schedule
    id)."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    key = app.key(name, "ingest,read,admin")
    body = {"period": "day", "channels": [{"type": "file", "dir": name}]}
    with app.client(key) as c:
        r = c.post("/v1/reports/schedules", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # A new schedule starts with the next period; make it look as if it was made days ago.
    with app.ctx.reports.engine.begin() as conn:
        conn.execute(
            sa.update(report_schedules)
            .where(report_schedules.c.id == sid)
            .values(last_period_end=None)
        )
    return name, key, sid


def _run(app: InProcessApp, key: str) -> list[str]:
    with app.client(key) as c:
        r = c.post("/v1/reports/schedules/run")
    assert r.status_code == 200, r.text
    return [s["schedule_id"] for s in r.json()["sent"]]


def test_a_project_admin_sends_only_its_own_projects_schedules(app: InProcessApp) -> None:
    _, key_a, sched_a = _project(app)
    _, key_b, sched_b = _project(app)
    assert _run(app, key_a) == [sched_a]
    assert _run(app, key_a) == []  # sent once
    assert _run(app, key_b) == [sched_b]  # B's was left for B


def test_an_admin_for_all_projects_sends_every_due_schedule(app: InProcessApp) -> None:
    _, _, sched_c = _project(app)
    _, _, sched_d = _project(app)
    assert {sched_c, sched_d} <= set(_run(app, app.key(None, "admin")))


def test_a_key_without_admin_cannot_run_the_scheduler(app: InProcessApp) -> None:
    with app.client(app.key("p-reader", "ingest,read")) as c:
        assert c.post("/v1/reports/schedules/run").status_code == 403
