"""A project's custom metrics are key figures of its report, this period and the one before,
against numpy over the calls sent (in-process app, real store)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.conftest import InProcessApp, iso

DAY = datetime(2026, 3, 10, tzinfo=UTC)  # a Tuesday: the report of the day before is whole


def test_the_report_carries_custom_figures(app: InProcessApp) -> None:
    rng = np.random.default_rng(8)
    project = f"rep-{uuid.uuid4().hex[:8]}"
    key = app.key(project, "ingest,read,admin")
    n = 400
    stamps = [DAY - timedelta(hours=48) + timedelta(seconds=int(s))
              for s in rng.integers(0, 48 * 3600, n)]  # fmt: skip
    latency = rng.lognormal(7, 0.8, n)
    events = [{"id": f"r{i}", "timestamp": iso(stamps[i]), "model": "m", "prompt_id": "p",
               "latency_ms": float(latency[i])} for i in range(n)]  # fmt: skip
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).json()["accepted"] == n
        body = {
            "name": "fast_share",
            "formula": "count(latency_ms < 1000) / requests",
            "unit": "ratio",
            "higher_is_better": True,
            "description": "Calls under 1 s",
        }
        assert c.post("/v1/metrics/custom", json=body).status_code == 201
        params = {"period": "day", "as_of": iso(DAY)}
        r = c.get("/v1/reports/preview", params={**params, "format": "json"})
        assert r.status_code == 200, r.text
        text = c.get("/v1/reports/preview", params={**params, "format": "text"}).text
    figures = {f["name"]: f for f in r.json()["figures"]}
    day = np.array([s.date() for s in stamps])
    for field, when in (("value", DAY - timedelta(days=1)), ("previous", DAY - timedelta(days=2))):
        mask = day == when.date()
        assert figures["fast_share"][field] == pytest.approx((latency[mask] < 1000).mean())
    assert figures["fast_share"]["label"] == "Calls under 1 s"
    assert "Calls under 1 s" in text
