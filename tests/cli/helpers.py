"""Running the `promptpulse` command as a user does: a subprocess, with no PROMPTPULSE_* setting
inherited. It runs `python -m promptpulse.cli` under this interpreter (what the `promptpulse`
script runs), so the code under test is the one on this process's path (PYTHONPATH is passed
on), not whichever checkout an installed script happens to point at."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import LiveServer

CLI = [sys.executable, "-m", "promptpulse.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPULSE_")}
    clean.update({"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=clean)


def assert_clean_failure(done: subprocess.CompletedProcess[str], *words: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out, out
    for w in words:
        assert w.lower() in out.lower(), out


LONG = "a rather long label that has to give way before any identifier does"


def make_alert(live: LiveServer, project: str, name: str = LONG) -> str:
    """A firing alert of `project`, straight in the live server's metadata database."""
    from promptpulse.alerts import repo
    from promptpulse.alerts.state import Subject

    subject = Subject(
        source="rule", source_id="rule_cli", scope_key=name, name=name, severity="warning",
        alert_type="threshold", metric="error_rate", for_=timedelta(0), renotify=timedelta(0),
        project=project, scope={},
    )  # fmt: skip
    with live.meta.engine.begin() as conn:
        return repo.open_alert(
            conn, subject, datetime.now(UTC), "firing", 0.5, 0.1, "error rate above 10 %"
        )
