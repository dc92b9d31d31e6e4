"""`alerts apply --dry-run` shows each rule's, budget's and SLO's backtest: through a running
server with a key, and on a stopped data directory's store; nothing is saved either way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.helpers import run
from tests.conftest import LiveServer, iso, start_server, stop_server

DOC = {
    "rules": [{"name": "errors up", "metric": "error_rate", "operator": ">", "threshold": 0.5,
               "window": "5m", "min_requests": 3, "filters": {"prompt_id": "cli-bt"}}],
    "slos": [{"name": "ok calls", "objective": 0.99, "filters": {"prompt_id": "cli-bt"}}],
}  # fmt: skip


def _calls() -> list[dict[str, Any]]:
    """Two hours of calls a minute apart ending 30 minutes ago; 20 minutes of them all fail."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(hours=2, minutes=30)
    out = []
    for m in range(120):
        for k in range(5):
            t = iso(start + timedelta(minutes=m, seconds=10 * k))
            failing = 40 <= m < 60
            out.append({"id": f"c{m}-{k}", "timestamp": t, "project": "p", "model": "m",
                        "latency_ms": 100, "prompt_id": "cli-bt",
                        "status": "error" if failing else "success"})  # fmt: skip
    return out


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[tuple[Path, LiveServer, Any]]:
    server, thread, live = start_server(tmp_path, alerts_interval_s=0)
    yield tmp_path, live, lambda: stop_server(server, thread)
    stop_server(server, thread)


def _check(out: str) -> None:
    assert "would be created: rule errors up" in out, out
    assert "backtest rule errors up: over the last 1 days it would have fired 1 time," in out, out
    assert "backtest SLO ok calls: over the last 1 days" in out, out


def test_dry_run_backtests_through_the_server_then_locally(
    data_dir: tuple[Path, LiveServer, Any],
) -> None:
    tmp, live, stop = data_dir
    key = live.key(None, "ingest,read,admin")
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": _calls()}).status_code == 200
    f = tmp / "alerts.yaml"
    f.write_text(yaml.safe_dump(DOC))
    args = ["alerts", "apply", str(f), "--dry-run", "--backtest-days", "1", "--data-dir", str(tmp)]
    done = run(*args, "--url", live.url, "--api-key", key)
    assert done.returncode == 0, done.stdout + done.stderr
    _check(done.stdout)
    with live.client(key) as c:
        assert c.get("/v1/alerts/rules").json()["rules"] == []  # nothing saved
    # The same on the data directory itself, once its server is stopped.
    stop()
    local = run(*args)
    assert local.returncode == 0, local.stdout + local.stderr
    _check(local.stdout)
