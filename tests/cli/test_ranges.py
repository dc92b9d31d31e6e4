"""`--since 30m|24h|7d|2w` wherever `--from`/`--to` exist: a range ending now (or at --to),
never together with --from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from promptpulse.cli.ranges import span, start
from tests.cli.helpers import assert_clean_failure, run
from tests.conftest import LiveServer, iso


def test_span_and_start() -> None:
    assert [span(s) for s in ("30m", "24h", "7d", "2w")] == [
        timedelta(minutes=30), timedelta(hours=24), timedelta(days=7), timedelta(weeks=2)
    ]  # fmt: skip
    for bad in ("7", "d", "0d", "7y", "-1d", "1.5h"):
        with pytest.raises(typer.BadParameter, match="30m, 24h, 7d or 2w"):
            span(bad)
    assert start("2d", None, "2026-03-10T00:00:00Z") == "2026-03-08T00:00:00Z"
    assert start(None, "2026-03-01", None) == "2026-03-01"
    with pytest.raises(typer.BadParameter, match="--since and --from"):
        start("7d", "2026-03-01T00:00:00Z", None)


def test_query_and_export_since(live: LiveServer, project: str, tmp_path: Path) -> None:
    key = live.key(project)
    now = datetime.now(UTC)
    events = [
        {"id": f"c{i}", "timestamp": iso(now - timedelta(hours=h)), "model": "m", "latency_ms": 5}
        for i, h in enumerate((0.1, 0.2, 30, 30.5, 24 * 10))
    ]
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
    env = {"PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key, "COLUMNS": "80"}
    counts = {}
    for since in ("30m", "24h", "7d", "2w"):
        done = run("query", "overview", "--since", since, "--json", env=env)
        assert done.returncode == 0, done.stderr
        counts[since] = json.loads(done.stdout)["requests"]
    assert counts == {"30m": 2, "24h": 2, "7d": 4, "2w": 5}

    out = tmp_path / "out"
    done = run("export", "--since", "7d", "--format", "jsonl", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("4 rows"), done.stdout

    both = run("query", "overview", "--since", "7d", "--from", "2026-01-01T00:00:00Z", env=env)
    assert_clean_failure(both, "--since and --from")
    assert " ".join(both.stderr.split()).count("--since and --from") == 1, both.stderr
    assert_clean_failure(run("export", "--since", "1y", env=env), "7d or 2w")
    assert_clean_failure(run("export", "-o", str(out), env=env), "--from or --since")


def test_rollups_rebuild_since(tmp_path: Path) -> None:
    d = ("--data-dir", str(tmp_path))
    done = run("rollups", "rebuild", "--since", "2d", "--to", "2026-03-10", *d)
    assert done.returncode == 0, done.stderr
    assert "nothing to rebuild" in done.stdout
    both = run(
        "rollups", "rebuild", "--since", "2d", "--from", "2026-03-01", "--to", "2026-03-10", *d
    )
    assert_clean_failure(both, "--since and --from")
