"""The whole path once: ingest over HTTP, read the figures back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import LiveServer, iso


def test_ingest_then_overview(live: LiveServer, project: str) -> None:
    key = live.key(project)
    t0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
    events = [
        {
            "id": f"e{i}",
            "timestamp": iso(t0 + timedelta(seconds=i)),
            "model": "gpt-4o-mini",
            "latency_ms": 100 + i,
            "input_tokens": 10,
            "output_tokens": 5,
        }
        for i in range(10)
    ]
    with live.client(key) as c:
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": 10, "duplicates": 0, "rejected": []}
        again = c.post("/v1/events", json={"events": events})
        assert again.json() == {"accepted": 0, "duplicates": 10, "rejected": []}
        o = c.get(
            "/v1/metrics/overview", params={"from": iso(t0), "to": iso(t0 + timedelta(hours=1))}
        ).json()
    assert o["requests"] == 10
    assert o["latency_ms"]["max"] == 109
    assert o["tokens"]["total"] == 150
    assert o["cost_usd"]["unpriced_requests"] == 0


def test_health(live: LiveServer) -> None:
    with live.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").status_code == 200
        scraped = c.get("/metrics").text
        assert "promptpulse_writer_queue_events" in scraped
        assert "promptpulse_store_query_gate_waiting" in scraped  # the store's own (Store.load)
        assert "promptpulse_store_query_share_refused_total 0.0" in scraped  # a counter
        assert c.get("/openapi.json").status_code == 200
