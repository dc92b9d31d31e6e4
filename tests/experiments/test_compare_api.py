"""GET /v1/compare on a real server: shape, tests, winner, guardrails, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from tests.conftest import InProcessApp, iso

T0 = datetime(2026, 1, 5, tzinfo=UTC)
RANGE = {"from": iso(T0), "to": iso(T0 + timedelta(days=1))}


def _events(
    version: str, n: int, success: float, latency: float, cost: float, rng: np.random.Generator
) -> list[dict[str, Any]]:
    ok = rng.random(n) < success
    lat = rng.lognormal(np.log(latency), 0.4, n)
    return [
        {
            "id": f"{version}-{i}",
            "timestamp": iso(T0 + timedelta(seconds=int(i * 17 % 86000))),
            "model": "gpt-4o-mini",
            "prompt_id": "support",
            "prompt_version": version,
            "status": "success" if ok[i] else "error",
            "latency_ms": float(lat[i]),
            "ttft_ms": float(lat[i]) / 4,
            "input_tokens": int(100 + i % 50),
            "output_tokens": 20,
            "cost_usd": cost * (1 + (i % 7) / 10),
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def seeded(app: InProcessApp) -> tuple[str, str]:
    project = "cmp-seeded"
    key = app.key(project)
    rng = np.random.default_rng(7)
    events = (
        _events("v1", 1500, 0.90, 800, 0.002, rng)
        + _events("v2", 1500, 0.95, 800, 0.002, rng)  # better, same latency and cost
        + _events("v3", 1500, 0.96, 1600, 0.002, rng)
    )  # better but twice as slow
    with app.client(key) as c:
        for i in range(0, len(events), 2000):
            r = c.post("/v1/events", json={"events": events[i : i + 2000]})
            assert r.status_code == 200, r.text
    return project, key


def test_shape_and_winner(app: InProcessApp, seeded: tuple[str, str]) -> None:
    _, key = seeded
    with app.client(key) as c:
        r = c.get("/v1/compare", params={**RANGE, "by": "prompt_version", "values": "v1,v2,v3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == "prompt_version" and body["control"] == "v1"
    assert [v["value"] for v in body["variants"]] == ["v1", "v2", "v3"]
    for v in body["variants"]:
        assert v["requests"] == 1500
        assert set(v) >= {
            "success_rate",
            "latency_p50_ms",
            "latency_p95_ms",
            "ttft_p95_ms",
            "tokens_per_request",
            "cost_per_request_usd",
            "scores",
        }
    rows = {(c["metric"], c["variant"]): c for c in body["comparisons"]}
    sr = rows[("success_rate", "v2")]
    assert sr["test"] == "two_proportion_z" and sr["significant"]
    assert sr["difference"] == pytest.approx(
        body["variants"][1]["success_rate"] - body["variants"][0]["success_rate"]
    )
    assert sr["ci_low"] < sr["difference"] < sr["ci_high"]
    # Holm over two variants: the adjusted p is never below the raw one
    assert sr["p_value_adjusted"] >= sr["p_value"]
    p50 = rows[("latency_p50_ms", "v3")]
    assert p50["test"] == "bootstrap"  # Mann–Whitney is shown alongside but does not decide
    assert [a["test"] for a in p50["also"]] == ["mann_whitney"]
    # three variants: each interval at the level Holm tested it at, agreeing with the mark
    for c in body["comparisons"]:
        assert c["ci_level"] >= 0.95
        assert c["significant"] == (not c["ci_low"] <= 0 <= c["ci_high"]), c
    assert rows[("latency_p95_ms", "v3")]["significant"]
    assert rows[("latency_p95_ms", "v3")]["difference"] > 0
    assert rows[("cost_per_request_usd", "v2")]["test"] == "welch_t"
    # v3 is better on success rate but breaches the latency guardrail: v2 wins
    assert body["winner"] == "v2"
    assert body["best"]["latency_p95_ms"] == "v1" or body["best"]["latency_p95_ms"] is None
    assert "v2 wins" in body["verdict"]


def test_welch_matches_scipy_on_served_data(app: InProcessApp, seeded: tuple[str, str]) -> None:
    _, key = seeded
    rng = np.random.default_rng(7)
    a = _events("v1", 1500, 0.90, 800, 0.002, rng)
    b = _events("v2", 1500, 0.95, 800, 0.002, rng)
    with app.client(key) as c:
        body = c.get(
            "/v1/compare",
            params={**RANGE, "by": "prompt_version", "values": "v1,v2", "guardrails": "none"},
        ).json()
    tok = (
        [(e["input_tokens"] + e["output_tokens"]) for e in a],
        [(e["input_tokens"] + e["output_tokens"]) for e in b],
    )
    ref = sps.ttest_ind(tok[1], tok[0], equal_var=False)
    row = next(c for c in body["comparisons"] if c["metric"] == "tokens_per_request")
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert row["p_value_adjusted"] == row["p_value"]  # two variants: nothing to adjust
    assert body["guardrails"] == []


def test_no_winner_without_significance(app: InProcessApp, seeded: tuple[str, str]) -> None:
    _, key = seeded
    with app.client(key) as c:
        body = c.get(
            "/v1/compare",
            params={**RANGE, "by": "prompt_version", "values": "v2,v3", "guardrails": "none"},
        ).json()
    assert body["winner"] is None
    assert body["best"]["success_rate"] is None
    assert "no variant is significantly better" in body["verdict"]


def test_missing_variant_and_errors(app: InProcessApp, seeded: tuple[str, str]) -> None:
    _, key = seeded
    with app.client(key) as c:
        empty = c.get(
            "/v1/compare", params={**RANGE, "by": "prompt_version", "values": "v1,nope"}
        ).json()
        assert empty["variants"][1]["requests"] == 0 and empty["winner"] is None
        assert all(x["p_value"] is None for x in empty["comparisons"])
        bad = c.get(
            "/v1/compare",
            params={"by": "colour", "values": "v1", "primary": "requests", "alpha": "x"},
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        fields = {e["field"] for e in bad.json()["errors"]}
        assert fields >= {"by", "alpha"}
        one = c.get("/v1/compare", params={"by": "model", "values": "a", "primary": "requests"})
        assert {e["field"] for e in one.json()["errors"]} == {"values", "primary"}


def test_project_key_cannot_read_other_project(app: InProcessApp, seeded: tuple[str, str]) -> None:
    other = app.key("cmp-other")
    with app.client(other) as c:
        body = c.get(
            "/v1/compare", params={**RANGE, "by": "prompt_version", "values": "v1,v2"}
        ).json()
        assert [v["requests"] for v in body["variants"]] == [0, 0]
        r = c.get(
            "/v1/compare",
            params={**RANGE, "by": "prompt_version", "values": "v1,v2", "project": "cmp-seeded"},
        )
        assert r.status_code == 403
