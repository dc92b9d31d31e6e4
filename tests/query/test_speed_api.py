"""Streaming speed and the Performance charts over HTTP, checked against numpy on random calls:
the catalog's speed metrics in /v1/metrics, /v1/metrics/histogram, /v1/metrics/heatmap, an alert
rule on tpot_p95_ms and /v1/compare on speed metrics. Every expected figure is computed here
from the generated events alone."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.conftest import InProcessApp, in_process_app, iso

T0 = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday; a week of calls
RANGE = {"from": iso(T0), "to": iso(T0 + timedelta(days=7))}
FIELDS = ("latency_ms", "ttft_ms", "tpot_ms", "generation_ms", "output_tps")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """Rounds of alert rules run only when the test asks."""
    yield from in_process_app(tmp_path_factory.mktemp("data"), alerts_interval_s=0)


def make_events(rng: np.random.Generator, n: int, start: datetime, span_s: float) -> list[dict]:
    latency = rng.lognormal(7, 0.6, n)
    ttft = np.where(rng.random(n) < 0.8, latency * rng.uniform(0.05, 0.7, n), np.nan)
    ttft[:5] = latency[:5] * 1.5  # TTFT above latency: no generation, no TPOT
    out = rng.integers(0, 600, n)
    out[5:15] = 1  # one token: no TPOT
    version = np.where(rng.random(n) < 0.5, "v1", "v2")
    latency[version == "v2"] *= 1.3
    return [
        {
            "id": f"c{i}-{rng.integers(1 << 40):x}",
            "timestamp": iso(start + timedelta(seconds=float(rng.uniform(0, span_s)))),
            "model": "gpt-4o-mini",
            "prompt_id": "chat",
            "prompt_version": str(version[i]),
            "status": "error" if rng.random() < 0.1 else "success",
            "latency_ms": float(latency[i]),
            **({} if math.isnan(ttft[i]) else {"ttft_ms": float(ttft[i])}),
            "output_tokens": int(out[i]),
        }
        for i in range(n)
    ]


def per_call(events: list[dict], field: str) -> np.ndarray:
    """The per-call figure of docs/metrics.md, NaN where it does not apply."""
    lat = np.array([e["latency_ms"] for e in events])
    ttft = np.array([e.get("ttft_ms", np.nan) for e in events])
    out = np.array([e["output_tokens"] for e in events], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        gen = np.where(ttft <= lat, lat - ttft, np.nan)
        return {
            "latency_ms": lat,
            "ttft_ms": ttft,
            "generation_ms": gen,
            "tpot_ms": np.where(out > 1, gen / (out - 1), np.nan),
            "output_tps": np.where((out > 0) & (lat > 0), out / (lat / 1000), np.nan),
        }[field]


def present(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


@pytest.fixture(scope="module")
def seeded(app: InProcessApp) -> tuple[str, list[dict]]:
    key = app.key("speed", "ingest,read,admin")
    events = make_events(np.random.default_rng(15), 3000, T0, 7 * 86400)
    with app.client(key) as c:
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text
    return key, events


def test_speed_metrics_in_the_catalog_and_overview_free(app: InProcessApp, seeded: Any) -> None:
    key, events = seeded
    with app.client(key) as c:
        names = {m["name"]: m for m in c.get("/v1/metrics/catalog").json()["metrics"]}
        for n in ("tpot_p50_ms", "tpot_p90_ms", "tpot_p95_ms", "tpot_p99_ms", "generation_p50_ms",
                  "generation_p95_ms", "generation_p99_ms", "output_tps_p5", "output_tps_p50",
                  "output_tps_p95"):  # fmt: skip
            assert n in names, n
        assert names["output_tps_p5"]["higher_is_better"] is True
        assert names["tpot_p95_ms"]["higher_is_better"] is False
        metrics = "tpot_p50_ms,tpot_p95_ms,generation_p99_ms,output_tps_p5,output_tps_p50"
        r = c.get("/v1/metrics/breakdown", params={**RANGE, "by": "prompt_version",
                                                   "metrics": metrics})  # fmt: skip
        assert r.status_code == 200, r.text
    for row in r.json()["rows"]:
        mine = [e for e in events if e["prompt_version"] == row["prompt_version"]]
        for name, field, q in (("tpot_p50_ms", "tpot_ms", 50), ("tpot_p95_ms", "tpot_ms", 95),
                               ("generation_p99_ms", "generation_ms", 99),
                               ("output_tps_p5", "output_tps", 5),
                               ("output_tps_p50", "output_tps", 50)):  # fmt: skip
            want = np.percentile(present(per_call(mine, field)), q)
            assert row[name] == pytest.approx(want, rel=1e-9), name


def test_timeseries_of_speed(app: InProcessApp, seeded: Any) -> None:
    key, events = seeded
    with app.client(key) as c:
        params = {**RANGE, "interval": "day", "metrics": "tpot_p95_ms,output_tps_p50"}
        r = c.get("/v1/metrics/timeseries", params=params)
    assert r.status_code == 200, r.text
    points = r.json()["series"][0]["points"]
    assert len(points) == 7
    for p in points:
        day = datetime.fromisoformat(p["t"].replace("Z", "+00:00"))
        mine = [e for e in events if iso(day) <= e["timestamp"] < iso(day + timedelta(days=1))]
        assert p["tpot_p95_ms"] == pytest.approx(
            np.percentile(present(per_call(mine, "tpot_ms")), 95), rel=1e-9
        )
        assert p["output_tps_p50"] == pytest.approx(
            np.percentile(present(per_call(mine, "output_tps")), 50), rel=1e-9
        )


@pytest.mark.parametrize("field", FIELDS)
def test_histogram(app: InProcessApp, seeded: Any, field: str) -> None:
    key, events = seeded
    with app.client(key) as c:
        r = c.get("/v1/metrics/histogram", params={**RANGE, "field": field, "bins": 30,
                                                   "prompt_version": "v2"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    x = present(per_call([e for e in events if e["prompt_version"] == "v2"], field))
    assert body["field"] == field and body["unit"] == (
        "tokens/s" if field == "output_tps" else "ms"
    )
    assert body["count"] == len(x)
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert body["percentiles"][name] == pytest.approx(np.percentile(x, q), rel=1e-9)
    bins = body["bins"]
    width = body["width"]
    assert len(bins) == 30 and bins[-1]["hi"] is None
    # the span covers 1.25 x p99, less than a third more, with a round width
    span = 1.25 * np.percentile(x, 99)
    assert span * (1 - 1e-12) <= width * 30 < span * 4 / 3
    mantissa = width / 10 ** math.floor(math.log10(width))
    assert min(abs(mantissa - s) for s in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)) < 1e-9
    for i, b in enumerate(bins):
        assert b["lo"] == pytest.approx(i * width)
        assert b["hi"] is None or b["hi"] == pytest.approx((i + 1) * width)
    want, _ = np.histogram(x, np.append(np.arange(30) * width, np.inf))
    assert [b["count"] for b in bins] == want.tolist()


def test_histogram_of_nothing(app: InProcessApp, seeded: Any) -> None:
    key, _ = seeded
    with app.client(key) as c:
        r = c.get("/v1/metrics/histogram", params={"from": iso(T0 - timedelta(days=3)),
                                                   "to": iso(T0), "field": "tpot_ms"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["bins"] == [] and r.json()["count"] == 0
    assert r.json()["percentiles"] == {"p50": None, "p95": None, "p99": None}


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "Asia/Kolkata"])
def test_heatmap(app: InProcessApp, seeded: Any, tz: str) -> None:
    key, events = seeded
    with app.client(key) as c:
        params = {**RANGE, "tz": tz, "metrics": "requests,error_rate,tpot_p95_ms"}
        r = c.get("/v1/metrics/heatmap", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tz"] == tz and len(body["cells"]) == 168
    zone = ZoneInfo(tz)
    local = [datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).astimezone(zone)
             for e in events]  # fmt: skip
    cell_of = np.array([t.weekday() * 24 + t.hour for t in local])
    errors = np.array([e["status"] == "error" for e in events])
    tpot = per_call(events, "tpot_ms")
    for cell in body["cells"]:
        mine = cell_of == cell["weekday"] * 24 + cell["hour"]
        assert cell["requests"] == int(mine.sum())
        if mine.any():
            assert cell["error_rate"] == pytest.approx(errors[mine].mean(), rel=1e-12)
            assert cell["tpot_p95_ms"] == pytest.approx(
                np.percentile(present(tpot[mine]), 95), rel=1e-9
            )
        else:
            assert cell["error_rate"] is None and cell["tpot_p95_ms"] is None
    counts = [c["requests"] for c in body["cells"]]
    assert body["scale"]["requests"]["min"] == min(counts)
    assert body["scale"]["requests"]["max"] == max(counts)
    rates = [c["error_rate"] for c in body["cells"] if c["error_rate"] is not None]
    assert body["scale"]["error_rate"]["max"] == pytest.approx(max(rates))


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("histogram", {"field": "nope"}, "field"),
        ("histogram", {"bins": "0"}, "bins"),
        ("histogram", {"bins": "x"}, "bins"),
        ("heatmap", {"tz": "Mars/Olympus"}, "tz"),
        ("heatmap", {"tz": "../../etc/passwd"}, "tz"),
        ("heatmap", {"metrics": "rpm_peak"}, "metrics"),
        ("heatmap", {"metrics": "nope"}, "metrics"),
    ],
)
def test_bad_input_names_the_field(
    app: InProcessApp, seeded: Any, path: str, params: dict, field: str
) -> None:
    key, _ = seeded
    with app.client(key) as c:
        r = c.get(f"/v1/metrics/{path}", params={**RANGE, **params})
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.text


def test_compare_on_speed(app: InProcessApp, seeded: Any) -> None:
    key, events = seeded
    params = {**RANGE, "by": "prompt_version", "values": "v1,v2", "primary": "tpot_p95_ms",
              "guardrails": "output_tps_p5"}  # fmt: skip
    with app.client(key) as c:
        r = c.get("/v1/compare", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    by_version = {v["value"]: v for v in body["variants"]}
    for version in ("v1", "v2"):
        mine = [e for e in events if e["prompt_version"] == version]
        assert by_version[version]["tpot_p95_ms"] == pytest.approx(
            np.percentile(present(per_call(mine, "tpot_ms")), 95), rel=1e-9
        )
    rows = {(c["metric"], c["variant"]): c for c in body["comparisons"]}
    tpot = rows[("tpot_p95_ms", "v2")]
    assert tpot["difference"] == pytest.approx(
        by_version["v2"]["tpot_p95_ms"] - by_version["v1"]["tpot_p95_ms"], rel=1e-9
    )
    assert tpot["ci_low"] <= tpot["difference"] <= tpot["ci_high"]
    assert ("output_tps_p5", "v2") in rows


def test_alert_rule_on_tpot_p95(app: InProcessApp) -> None:
    """A threshold just under the last hour's TPOT p95 fires with the numpy value; one just
    over it does not."""
    key = app.key("speed-alerts", "ingest,read,admin")
    now = datetime.now(UTC)
    events = make_events(np.random.default_rng(3), 400, now - timedelta(minutes=40), 1800)
    want = float(np.percentile(present(per_call(events, "tpot_ms")), 95))
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        ids = {}
        for name, threshold in (("under", want * 0.98), ("over", want * 1.02)):
            rule = {"name": name, "metric": "tpot_p95_ms", "operator": ">",
                    "threshold": threshold, "window": "1h", "min_requests": 0}  # fmt: skip
            r = c.post("/v1/alerts/rules", json=rule)
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        assert c.post("/v1/alerts/evaluate").status_code == 200
        alerts = c.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
    fired = {a["source_id"]: a for a in alerts if a["project"] == "speed-alerts"}
    assert set(fired) == {ids["under"]}, alerts
    assert fired[ids["under"]]["metric"] == "tpot_p95_ms"
    assert fired[ids["under"]]["value"] == pytest.approx(want, rel=1e-9)


def test_the_api_docs_examples_answer_as_documented(app: InProcessApp, seeded: Any) -> None:
    """The curl examples of docs/api.md, sent as written (plus the test's range)."""
    key, events = seeded
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    urls = re.findall(r'"\$PROMPTPULSE_URL(/v1/metrics/(?:histogram|heatmap)\?[^"]+)"', text)
    assert len(urls) == 2, urls
    with app.client(key) as c:
        hist, heat = (c.get(f"{u}&from={RANGE['from']}&to={RANGE['to']}").json() for u in urls)
    assert set(hist) == {"field", "unit", "bins", "count", "width", "percentiles"}
    assert set(hist["bins"][0]) == {"lo", "hi", "count"}
    ttft = present(per_call(events, "ttft_ms"))
    assert hist["count"] == len(ttft) and len(hist["bins"]) == 20
    assert hist["percentiles"]["p95"] == pytest.approx(np.percentile(ttft, 95), rel=1e-9)
    assert set(heat) == {"tz", "metrics", "cells", "scale"} and heat["tz"] == "America/New_York"
    assert set(heat["cells"][0]) == {"weekday", "hour", "requests", "error_rate"}
    assert sum(cell["requests"] for cell in heat["cells"]) == len(events)
