"""An alert rule on a custom metric (in-process app, rounds on demand): it fires when the formula,
computed from the calls of its window, crosses the threshold (value checked against numpy), and
a rule naming a custom metric its project does not have is a 422."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.conftest import InProcessApp, in_process_app, iso


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path_factory.mktemp("data"), alerts_interval_s=0)


def test_a_rule_on_a_custom_metric_fires(app: InProcessApp) -> None:
    project = f"p-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read,admin")
    rng = np.random.default_rng(4)
    now = datetime.now(UTC)
    n = 300
    timeout = rng.random(n) < 0.3
    error = timeout | (rng.random(n) < 0.1)
    events = [
        {"timestamp": iso(now - timedelta(seconds=int(s))), "model": "m", "latency_ms": 5,
         "status": "error" if e else "success",
         **({"error_type": "timeout" if t else "rate_limit"} if e else {})}
        for s, e, t in zip(rng.integers(1, 1800, n), error, timeout, strict=True)
    ]  # fmt: skip
    rule = {
        "name": "timeouts",
        "metric": "timeout_rate",
        "operator": ">",
        "threshold": 0.2,
        "window": "1h",
        "min_requests": 10,
    }
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        missing = c.post("/v1/alerts/rules", json=rule)
        assert missing.status_code == 422 and "unknown metric 'timeout_rate'" in missing.text
        body = {
            "name": "timeout_rate",
            "formula": 'count(error_type = "timeout") / requests',
            "higher_is_better": False,
        }
        assert c.post("/v1/metrics/custom", json=body).status_code == 201
        created = c.post("/v1/alerts/rules", json=rule)
        assert created.status_code == 201, created.text
        in_use = c.delete("/v1/metrics/custom/timeout_rate")  # a rule names it: kept
        assert in_use.status_code == 422 and "alert rule 'timeouts'" in in_use.text
        assert c.get("/v1/metrics/custom/timeout_rate").status_code == 200
        assert c.post("/v1/alerts/evaluate").status_code == 200
        alerts = c.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
    mine = [a for a in alerts if a["source_id"] == created.json()["id"]]
    assert len(mine) == 1
    assert mine[0]["value"] == pytest.approx(timeout.sum() / n, rel=1e-9)
    assert timeout.sum() / n > 0.2  # the data is made to cross the threshold


def test_a_threshold_not_crossed_opens_nothing(app: InProcessApp) -> None:
    project = f"p-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read,admin")
    now = datetime.now(UTC)
    events = [{"timestamp": iso(now - timedelta(seconds=i + 1)), "model": "m",
               "latency_ms": 100 + i} for i in range(50)]  # fmt: skip
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        body = {"name": "slow_share", "formula": "count(latency_ms >= 140) / requests"}
        assert c.post("/v1/metrics/custom", json=body).status_code == 201
        rule = {
            "name": "slow",
            "metric": "slow_share",
            "operator": ">",
            "threshold": 0.5,
            "window": "1h",
            "min_requests": 1,
        }
        created = c.post("/v1/alerts/rules", json=rule).json()
        evaluated = c.post("/v1/alerts/evaluate")
        assert evaluated.status_code == 200 and not evaluated.json()["errors"], evaluated.text
        alerts = c.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
    assert not [a for a in alerts if a["source_id"] == created["id"]]  # 10 of 50 calls: 0.2
