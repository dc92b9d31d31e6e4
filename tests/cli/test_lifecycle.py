"""`promptpulse rollups|retention` on a data directory with the server stopped (for cron)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from promptpulse.cli import app
from promptpulse.store.duck import DuckStore
from tests.rollups.helpers import random_calls, write_direct

T0 = datetime(2025, 1, 6, tzinfo=UTC)


def test_rebuild_compact_and_retention_from_the_cli(tmp_path: Path) -> None:
    store = DuckStore(tmp_path / "events.duckdb")
    write_direct(
        store, random_calls(np.random.default_rng(2), 3_000, T0, T0 + timedelta(days=5), "p")
    )
    store._con.execute("DELETE FROM rollup_hour")  # damaged rollups
    store.close()
    runner = CliRunner()
    d = ["--data-dir", str(tmp_path)]
    r = runner.invoke(app, ["rollups", "rebuild", "--from", "2025-01-01", "--to", "2025-02-01", *d])
    assert r.exit_code == 0, r.output
    assert "p: rebuilt from 3000 calls" in r.output
    r = runner.invoke(app, ["rollups", "compact", *d])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["retention", "set", "p", "--raw-days", "30", *d])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["retention", "apply", "--now", "2025-02-08T00:00:00Z", *d])
    assert r.exit_code == 0, r.output
    assert "raw before 2025-01-09T00:00:00Z (p): " in r.output
    store = DuckStore(tmp_path / "events.duckdb")
    try:
        left = store.execute("SELECT count(*), min(timestamp) FROM events")[0]
        assert 0 < left[0] < 3_000 and left[1] >= datetime(2025, 1, 9)
        assert store.rollup_stats()["hour"]["calls"] == 3_000  # rollups keep everything
    finally:
        store.close()
    r = runner.invoke(app, ["rollups", "status", *d])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["hour"]["calls"] == 3_000
    r = runner.invoke(app, ["retention", "show", "--project", "p", "--json", *d])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["projects"]["p"]["effective"]["raw_days"] == 30
    r = runner.invoke(app, ["retention", "erase", "--project", "p", *d], input="n\n")
    assert r.exit_code == 1 and "Delete ALL data of project p?" in r.output
    r = runner.invoke(app, ["retention", "erase", "--project", "p", "--yes", *d])
    assert r.exit_code == 0, r.output
    assert f"erased ALL data of project p: {left[0]} calls" in r.output
