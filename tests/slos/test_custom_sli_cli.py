"""`alerts apply --dry-run` with an SLO on a custom metric the same file defines: backtested on the
stopped data directory's store (the metric read from the file, as it is not saved), nothing
saved; a custom SLI over a sum is refused naming the item and the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.cli.helpers import assert_clean_failure, run
from tests.conftest import iso, start_server, stop_server


def _calls() -> list[dict[str, Any]]:
    """Two hours of calls ending 30 minutes ago; for 20 minutes every call is slow."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2, minutes=30)
    return [
        {"id": f"c{m}-{k}", "timestamp": iso(start + timedelta(minutes=m, seconds=10 * k)),
         "project": "shop", "model": "m", "latency_ms": 3000 if 40 <= m < 60 else 100}
        for m in range(120)
        for k in range(5)
    ]  # fmt: skip


def _doc(formula: str) -> dict[str, Any]:
    return {
        "custom_metrics": [{"project": "shop", "name": "fast_share", "formula": formula}],
        "slos": [{"name": "fast answers", "sli": "custom", "metric": "fast_share",
                  "objective": 0.99, "filters": {"project": "shop"}}],
    }  # fmt: skip


def test_dry_run_backtests_a_custom_sli_defined_in_the_file(tmp_path: Path) -> None:
    server, thread, live = start_server(tmp_path, alerts_interval_s=0)
    try:
        with live.client(live.key("shop", "ingest")) as c:
            assert c.post("/v1/events", json={"events": _calls()}).status_code == 200
    finally:
        stop_server(server, thread)
    f = tmp_path / "slo.yaml"
    f.write_text(yaml.safe_dump(_doc("count(latency_ms < 2000) / requests")))
    args = ["alerts", "apply", str(f), "--dry-run", "--backtest-days", "1", "--data-dir"]
    done = run(*args, str(tmp_path))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "would be created: slo fast answers" in out, out
    assert "backtest SLO fast answers: over the last 1 days it would have fired" in out, out
    assert "would have fired 0 times" not in out, out  # 20 slow minutes burn 100x the budget
    assert "burn rate 14.4x over 1h/5m" in out, out
    listed = run("alerts", "slos", "--data-dir", str(tmp_path), "--json")
    assert '"slos": []' in listed.stdout, listed.stdout  # nothing saved
    f.write_text(yaml.safe_dump(_doc("sum(cost_usd)")))
    assert_clean_failure(run(*args, str(tmp_path)), "slos[0] metric:", "not a proportion")
