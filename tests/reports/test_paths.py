"""Names that become paths cannot leave the reports directory (issue 17, item 7): a project
named like a path, a `dir` with `..` or a NUL; every file lands inside PROMPTPULSE_REPORTS_DIR."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from promptpulse.meta import report_schedules
from tests.conftest import InProcessApp, in_process_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    root = tmp_path_factory.mktemp("deep") / "a" / "b" / "c"
    yield from in_process_app(
        tmp_path_factory.mktemp("data"), reports_interval_s=0, reports_dir=root / "reports"
    )


def _every_file(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_file()}


@pytest.mark.parametrize("project", ["/../../../../x", "../escape", "a/../../b", ".hidden"])
def test_a_project_named_like_a_path_writes_inside_the_reports_dir(
    app: InProcessApp, project: str
) -> None:
    root = app.settings.reports_dir
    assert root is not None
    outside = root.parent.parent.parent.parent
    before = _every_file(outside) - _every_file(root)
    admin = app.key(None, "admin")
    body = {"project": project, "period": "day", "channels": [{"type": "file", "dir": "out"}]}
    with app.client(admin) as c:
        r = c.post("/v1/reports/schedules", json=body)
        assert r.status_code == 201, r.text
        with app.ctx.reports.engine.begin() as conn:
            conn.execute(
                sa.update(report_schedules)
                .where(report_schedules.c.id == r.json()["id"])
                .values(last_period_end=None)
            )
        sent = c.post("/v1/reports/schedules/run", params={"project": project})
        assert sent.status_code == 200, sent.text
    written = _every_file(root / "out")
    assert written, "the report was written"
    assert _every_file(outside) - _every_file(root) == before  # nothing outside
    assert all(p.resolve().parent == (root / "out").resolve() for p in written)
    assert all(not p.name.startswith(".") for p in written)


@pytest.mark.parametrize("bad", ["../up", "/etc", "x\x00y", "a/../../..", "x" * 300])
def test_a_bad_dir_is_a_422_naming_channels(app: InProcessApp, bad: str) -> None:
    body = {"project": "p", "period": "day", "channels": [{"type": "file", "dir": bad}]}
    with app.client(app.key(None, "admin")) as c:
        r = c.post("/v1/reports/schedules", json=body)
    assert r.status_code == 422, r.text
    assert any(e["field"].startswith("channels") for e in r.json()["errors"])
