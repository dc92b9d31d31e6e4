"""`GET /v1/rollups` with real keys, in-process: the status covers every project, so only an admin
key for all projects reads it; a project's admin gets a 403 that says why."""

from __future__ import annotations

from tests.conftest import InProcessApp


def test_rollup_status_needs_an_admin_key_for_all_projects(app: InProcessApp) -> None:
    with app.client(app.key(None, "admin")) as c:
        r = c.get("/v1/rollups")
        assert r.status_code == 200, r.text
        assert {"hour", "day", "raw_horizons", "unsketched_calls"} <= set(r.json())
    with app.client(app.key("p-own", "ingest,read,admin")) as c:
        r = c.get("/v1/rollups")
        assert r.status_code == 403
        assert "admin key for all projects" in r.json()["detail"]
