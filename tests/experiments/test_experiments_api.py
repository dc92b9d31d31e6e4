"""/v1/experiments on a real server: CRUD, exposures, SRM, sequential decision, plan, daily."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from promptpulse.experiments import power
from promptpulse.model import fmt
from promptpulse.sdk.assign import assign
from tests.conftest import InProcessApp, iso

T0 = datetime(2026, 2, 2, tzinfo=UTC)
# An exponent or four+ decimals: a machine number where a person reads.
RAW_NUMBER = re.compile(r"\d[eE][+-]?\d|\d\.\d{4,}")
DAYS = 7


def _seed(
    c: httpx.Client, version: str, per_day: int, success: float, latency: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    for day in range(DAYS):
        ok = rng.random(per_day) < success
        lat = rng.lognormal(np.log(latency), 0.3, per_day)
        events += [
            {
                "id": f"{version}-{day}-{i}",
                "timestamp": iso(T0 + timedelta(days=day, seconds=int(i * 86000 / per_day))),
                "model": "gpt-4o-mini",
                "prompt_version": version,
                "status": "success" if ok[i] else "error",
                "latency_ms": float(lat[i]),
                "input_tokens": 100,
                "output_tokens": 20,
                "cost_usd": 0.001,
            }
            for i in range(per_day)
        ]
    r = c.post("/v1/events", json={"events": events})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def admin(app: InProcessApp) -> Iterator[httpx.Client]:
    key = app.key("exp-shop", "ingest,read,admin")
    with app.client(key) as client:
        _seed(client, "v1", 400, 0.90, 700, 1)
        _seed(client, "v2", 400, 0.95, 700, 2)  # better, same latency
        _seed(client, "v3", 400, 0.96, 1400, 3)  # better, twice as slow
        yield client


def _create(c: httpx.Client, key: str, variants: list[str], **extra: Any) -> dict[str, Any]:
    body = {
        "name": f"Test {key}",
        "key": key,
        "hypothesis": "v2 fails less",
        "variants": [{"filter": f"prompt_version={v}", "weight": 50} for v in variants],
        "mde": 0.02,
        "start": iso(T0),
        "end": iso(T0 + timedelta(days=DAYS)),
        **extra,
    }
    r = c.post("/v1/experiments", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_crud(admin: httpx.Client, app: InProcessApp) -> None:
    exp = _create(admin, "crud", ["v1", "v2"])
    assert exp["control"] == "v1" and exp["dimension"] == "prompt_version"
    assert exp["variants"][1] == {"name": "v2", "filter": "prompt_version=v2", "weight": 50}
    assert admin.get(f"/v1/experiments/{exp['id']}").json() == exp
    assert admin.get("/v1/experiments/crud").json()["id"] == exp["id"]
    assert exp["id"] in [e["id"] for e in admin.get("/v1/experiments").json()["experiments"]]
    again = admin.post(
        "/v1/experiments",
        json={
            "name": "x",
            "key": "crud",
            "variants": [{"filter": "model=a"}, {"filter": "model=b"}],
        },
    )
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "key"
    patched = admin.patch(f"/v1/experiments/{exp['id']}", json={"status": "stopped", "mde": 0.03})
    assert patched.json()["status"] == "stopped" and patched.json()["mde"] == 0.03
    fixed = admin.patch(f"/v1/experiments/{exp['id']}", json={"key": "other"})
    assert fixed.status_code == 422
    # other projects do not see it; a read-only key cannot create
    with app.client(app.key("exp-elsewhere", "ingest,read")) as other:
        assert other.get(f"/v1/experiments/{exp['id']}").status_code == 404
        assert other.post("/v1/experiments", json={}).status_code in (403, 422)
        r = other.post(
            "/v1/experiments",
            json={"name": "x", "variants": [{"filter": "model=a"}, {"filter": "model=b"}]},
        )
        assert r.status_code == 403
    assert admin.delete(f"/v1/experiments/{exp['id']}").status_code == 204
    assert admin.get(f"/v1/experiments/{exp['id']}").status_code == 404


def test_invalid_experiments_name_their_fields(admin: httpx.Client) -> None:
    r = admin.post(
        "/v1/experiments",
        json={
            "name": "bad",
            "variants": [{"filter": "prompt_version=v1"}, {"filter": "model=m"}],
            "primary_metric": "requests",
            "alpha": 2,
        },
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"variants"}
    r = admin.post(
        "/v1/experiments",
        json={"name": "bad", "variants": [{"filter": "prompt_version=v1"}, {"filter": "nonsense"}]},
    )
    assert {e["field"] for e in r.json()["errors"]} == {"variants.1.filter"}
    r = admin.post(
        "/v1/experiments",
        json={
            "name": "bad",
            "variants": [{"filter": "model=a"}, {"filter": "model=b"}],
            "primary_metric": "requests",
            "guardrails": ["nope"],
            "alpha": 2,
        },
    )
    assert {e["field"] for e in r.json()["errors"]} == {"primary", "guardrails", "alpha"}


def test_results_winner_and_plan(admin: httpx.Client) -> None:
    exp = _create(admin, "winner", ["v1", "v2"])
    r = admin.get(f"/v1/experiments/{exp['id']}/results")
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["winner"] == "v2"
    assert res["decision"] == "stop: v2 wins"
    # The verdict reads by the formatting rule: points and an adjusted p, no raw floats.
    won = next(c for c in res["comparisons"] if c["metric"] == "success_rate")
    assert fmt.difference(won["difference"], "ratio") in res["verdict"], res["verdict"]
    assert fmt.p_value(won["p_value_adjusted"]) in res["verdict"]
    assert not RAW_NUMBER.search(res["verdict"]), res["verdict"]
    assert res["srm"]["source"] == "calls" and not res["srm"]["mismatch"]
    seq = next(t for t in res["sequential"]["tests"] if t["metric"] == "success_rate")
    fixed = next(c for c in res["comparisons"] if c["metric"] == "success_rate")
    # the confidence sequence is wider than the fixed-horizon interval, and contains the estimate
    assert seq["cs_low"] < fixed["ci_low"] < fixed["difference"] < fixed["ci_high"] < seq["cs_high"]
    assert seq["p_value"] >= fixed["p_value"]
    baseline = res["variants"][0]["success_rate"]
    assert res["plan"]["per_variant"] == power.sample_size_proportions(baseline, 0.02).per_variant
    assert res["plan"]["calls_per_day"] == pytest.approx(400)
    assert len(res["daily"]) == 2 * DAYS
    assert {d["variant"] for d in res["daily"]} == {"v1", "v2"}


def test_guardrail_breach_stops(admin: httpx.Client) -> None:
    exp = _create(admin, "slow", ["v1", "v3"])
    res = admin.get(f"/v1/experiments/{exp['id']}/results").json()
    assert res["decision"] == "stop: guardrail breached"
    assert res["winner"] is None


def test_no_difference_keeps_running_or_stops_for_futility(admin: httpx.Client) -> None:
    exp = _create(admin, "same", ["v2", "v3"], guardrails=[], mde=0.5)
    res = admin.get(f"/v1/experiments/{exp['id']}/results").json()
    assert res["decision"] == "stop: no meaningful difference"  # CS well inside ±0.5
    exp = _create(admin, "same-small", ["v2", "v3"], guardrails=[], mde=0.001)
    res = admin.get(f"/v1/experiments/{exp['id']}/results").json()
    assert res["decision"] == "keep running"


def test_exposures_are_sticky_and_srm_is_flagged(admin: httpx.Client) -> None:
    exp = _create(admin, "srm", ["v1", "v2"])
    url = f"/v1/experiments/{exp['id']}/exposures"
    r = admin.post(url, json={"exposures": [{"unit_id": "u-1"}, {"unit_id": "u-2"}]})
    assert r.json() == {"recorded": 2, "already_exposed": 0}
    again = admin.post(url, json={"exposures": [{"unit_id": "u-1", "variant": "v2"}]})
    assert again.json() == {"recorded": 0, "already_exposed": 1}
    assigned = admin.get(f"/v1/experiments/{exp['id']}/assign", params={"unit_id": "u-1"}).json()
    assert assigned["variant"] == assign("srm", "u-1", [("v1", 50), ("v2", 50)])
    bad = admin.post(url, json={"exposures": [{"unit_id": "u-3", "variant": "v9"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "exposures.0.variant"
    # a broken assignment: 1,000 units in the control and 800 in the treatment
    admin.post(
        url,
        json={
            "exposures": [{"unit_id": f"a{i}", "variant": "v1"} for i in range(1000)]
            + [{"unit_id": f"b{i}", "variant": "v2"} for i in range(800)]
        },
    )
    res = admin.get(f"/v1/experiments/{exp['id']}/results").json()
    assert res["srm"]["source"] == "exposures" and res["srm"]["mismatch"]
    assert res["verdict"].startswith("SAMPLE RATIO MISMATCH")
    assert "(1,002, 800)" in res["srm"]["message"] and "p < 0.001" in res["srm"]["message"]
    assert not RAW_NUMBER.search(res["srm"]["message"] + res["verdict"]), res["srm"]["message"]


def test_plan_endpoint(admin: httpx.Client) -> None:
    r = admin.get(
        "/v1/experiments/plan", params={"baseline": 0.95, "mde": 0.01, "daily_calls": 1000}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    expected = power.sample_size_proportions(0.95, 0.01, 0.05, 0.8)
    assert body["per_variant"] == expected.per_variant
    assert body["total"] == 2 * expected.per_variant
    assert body["days"] == pytest.approx(2 * expected.per_variant / 1000)
    means = admin.get("/v1/experiments/plan", params={"sd": 300, "mde": 50}).json()
    assert means["per_variant"] == power.sample_size_means(300, 50).per_variant
    bad = admin.get("/v1/experiments/plan", params={"baseline": "x", "alpha": 3})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"baseline", "mde"}
