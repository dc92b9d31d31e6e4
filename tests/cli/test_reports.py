"""`promptpulse report --data-dir`: the report of a stopped data directory, built by the server's
own ReportService (the server's preview is tested in tests/reports/test_scheduled_live.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from promptpulse.cli import app
from promptpulse.store.duck import DuckStore
from tests.rollups.helpers import random_calls, write_direct

WEEK = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


def test_report_of_a_stopped_data_directory(tmp_path: Path) -> None:
    store = DuckStore(tmp_path / "events.duckdb")
    rng = np.random.default_rng(5)
    write_direct(store, random_calls(rng, 700, WEEK, WEEK + timedelta(days=7), "shop"))
    write_direct(store, random_calls(rng, 300, WEEK, WEEK + timedelta(days=7), "other"))
    store.close()
    runner = CliRunner()
    args = ["report", "--period", "week", "--as-of", "2025-01-13T06:00:00Z"]
    d = ["--data-dir", str(tmp_path)]
    md = runner.invoke(app, [*args, "--project", "shop", "--format", "markdown", *d])
    assert md.exit_code == 0, md.output
    assert md.output.startswith("# PromptPulse weekly report · shop")
    assert "2025-01-06" in md.output and "700" in md.output
    text = runner.invoke(app, [*args, *d], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "Key figures" in text.output and "1,000" in text.output
    bad = runner.invoke(app, ["report", "--period", "year", *d])
    assert bad.exit_code != 0 and "day, week or month" in bad.output
