"""Recommendations fire on figures built to trigger them, and stay quiet just short of it."""

from __future__ import annotations

from typing import Any

import pytest

from promptpulse.reports.build import movers
from promptpulse.reports.recommend import cheaper_models, output_growth, rising_errors


def row(requests: int, **kw: Any) -> dict[str, Any]:
    errors = kw.pop("errors", 0)
    out = {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests,
        "success_rate": 1 - errors / requests,
        "output_tokens": 100 * requests,
        "cost_usd": 0.001 * requests,
        "cost_per_request_usd": 0.001,
        "latency_p95_ms": 500.0,
        "unpriced_requests": 0,
    }
    out.update(kw)
    # As the catalog defines it (the report reads the metric, not a sum it divides itself).
    out["output_tokens_per_request"] = out["output_tokens"] / requests
    return out


def test_output_tokens_growth_at_40_percent_and_not_below() -> None:
    prev = {"a": row(100), "b": row(100), "small": row(10)}
    cur = {
        "a": row(50, output_tokens=140 * 50),  # +40 %
        "b": row(50, output_tokens=139 * 50),  # +39 %
        "small": row(10, output_tokens=1000 * 10),  # too few calls
    }
    recs = output_growth(cur, prev, 20)
    assert [r.prompt_id for r in recs] == ["a"]
    assert recs[0].numbers["output_tokens_per_request"] == 140
    assert "140 output tokens per request" in recs[0].detail and "against 100" in recs[0].detail


def test_cheaper_model_needs_half_the_cost_and_success_within_a_point() -> None:
    by_model = {
        ("p", "big"): row(100, cost_per_request_usd=0.010, success_rate=0.99),
        ("p", "small"): row(100, cost_per_request_usd=0.004, success_rate=0.982),  # -0.8 pt
        ("q", "big"): row(100, cost_per_request_usd=0.010, success_rate=0.99),
        ("q", "small"): row(100, cost_per_request_usd=0.004, success_rate=0.975),  # -1.5 pt
        ("r", "big"): row(100, cost_per_request_usd=0.010, success_rate=0.99),
        ("r", "mid"): row(100, cost_per_request_usd=0.006, success_rate=1.0),  # only 40 % less
        ("s", "big"): row(100, cost_per_request_usd=0.010),
        ("s", "free"): row(100, cost_per_request_usd=0.0, unpriced_requests=100),  # unpriced
        ("t", "big"): row(100, cost_per_request_usd=0.010),
        ("t", "tiny"): row(5, cost_per_request_usd=0.001),  # too few calls
    }
    recs = cheaper_models(by_model, 20)
    assert [(r.prompt_id, r.model, r.numbers["alternative"]) for r in recs] == [
        ("p", "big", "small")
    ]
    assert recs[0].numbers["saving_usd"] == pytest.approx(0.6)
    assert "$0.004 per request" in recs[0].detail and "98.2%" in recs[0].detail


def test_rising_error_rate_needs_points_factor_and_evidence() -> None:
    prev = {k: row(200, errors=4) for k in ("up", "noise", "flat")}  # 2 %
    cur = {
        "up": row(200, errors=20),  # 10 %, z ≈ 3.4
        "noise": row(25, errors=2),  # 8 % on 25 calls: z < 2
        "flat": row(200, errors=5),  # 2.5 %
    }
    recs = rising_errors(cur, prev, 20)
    assert [r.prompt_id for r in recs] == ["up"]
    assert "20 of 200 calls (10.0%)" in recs[0].detail and "+8.0 points" in recs[0].detail


def test_movers_are_ranked_and_guarded() -> None:
    prev = {"a": row(100), "b": row(100), "c": row(5)}
    cur = {
        "a": row(100, cost_usd=0.5, latency_p95_ms=600.0),
        "b": row(100, cost_usd=0.2, latency_p95_ms=1000.0),
        "c": row(100, cost_usd=9.0),  # too few calls before
    }
    got = movers(cur, prev, 20)
    cost = [m.prompt_id for m in got if m.metric == "cost_usd"]
    p95 = [m.prompt_id for m in got if m.metric == "latency_p95_ms"]
    assert cost == ["a", "b"] and p95 == ["b", "a"]
    assert not [m for m in got if m.metric == "error_rate"]
