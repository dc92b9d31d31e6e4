"""New vs returning users in experiment results, on a real server: membership by the first call
in the project, calls without user_id in neither cohort, and every figure and comparison against
an independent numpy computation from the generated calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from promptpulse.experiments import stats
from tests.conftest import InProcessApp, iso

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 5
SPAN = DAYS * 86400


def _call(
    i: str, t: datetime, version: str, user: str | None, ok: bool, lat: float, tokens: int
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": i,
        "timestamp": iso(t),
        "model": "gpt-4o-mini",
        "prompt_version": version,
        "status": "success" if ok else "error",
        "latency_ms": lat,
        "input_tokens": tokens,
        "output_tokens": 10,
        "cost_usd": 0.001,
    }
    if user is not None:
        event["user_id"] = user
    return event


def _generate() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(history before T0, the experiment's calls, calls in another project).

    Returning users r* have a call before T0 (r-edge one microsecond before); new users n* call
    first at or after T0 (n0 exactly at T0); n-other has older calls only in another project, so
    is new here. Anonymous calls carry no user_id. v2 helps new users and not returning ones."""
    rng = np.random.default_rng(7)
    history = [
        _call(f"h-{u}", T0 - timedelta(days=3, minutes=u), "v0", f"r{u}", True, 500.0, 50)
        for u in range(40)
    ]
    history.append(_call("h-edge", T0 - timedelta(microseconds=1), "v1", "r-edge", True, 500.0, 50))
    elsewhere = [_call("o-1", T0 - timedelta(days=9), "v1", "n-other", True, 500.0, 50)]
    users = [(f"r{u}", u % 2) for u in range(40)] + [("r-edge", 0), ("n-other", 1)]
    users += [(f"n{u}", u % 2) for u in range(40)]
    calls: list[dict[str, Any]] = []
    for user, arm in users:
        version = ("v1", "v2")[arm]
        new = user.startswith("n")
        p_ok = 0.92 if new and arm else 0.70
        for j in range(int(rng.integers(5, 30))):
            offset = 0 if (user == "n0" and j == 0) else int(rng.integers(1, SPAN - 1))
            calls.append(
                _call(
                    f"c-{len(calls)}",
                    T0 + timedelta(seconds=offset),
                    version,
                    user,
                    bool(rng.random() < p_ok),
                    float(rng.lognormal(np.log(600 if new else 900), 0.4)),
                    int(rng.integers(50, 400)),
                )
            )
    for j in range(300):
        t = T0 + timedelta(seconds=int(rng.integers(0, SPAN)))
        calls.append(_call(f"a-{j}", t, ("v1", "v2")[j % 2], None, j % 3 > 0, 700.0, 100))
    # after the experiment's end: out of scope, and does not make anyone returning
    calls_after = [
        _call("late", T0 + timedelta(days=DAYS, hours=1), "v1", "n1", False, 1.0, 1),
    ]
    return history + calls_after, calls, elsewhere


HISTORY, CALLS, ELSEWHERE = _generate()


@pytest.fixture(scope="module")
def shop(app: InProcessApp) -> Iterator[httpx.Client]:
    project = "cohort-shop"
    with app.client(app.key("cohort-other", "ingest")) as other:
        assert other.post("/v1/events", json={"events": ELSEWHERE}).status_code == 200
    with app.client(app.key(project, "ingest,read,admin")) as client:
        r = client.post("/v1/events", json={"events": HISTORY + CALLS})
        assert r.status_code == 200, r.text
        yield client


def _results(c: httpx.Client, key: str, primary: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": key,
        "key": key,
        "variants": [{"filter": f"prompt_version={v}", "weight": 50} for v in ("v1", "v2")],
        "primary_metric": primary,
        "guardrails": [],
        "mde": 0.05,
        "start": iso(T0),
        "end": iso(T0 + timedelta(days=DAYS)),
        **extra,
    }
    r = c.post("/v1/experiments", json=body)
    assert r.status_code == 201, r.text
    res = c.get(f"/v1/experiments/{r.json()['id']}/results")
    assert res.status_code == 200, res.text
    return res.json()  # type: ignore[no-any-return]


def _cohort_calls(cohort: str, version: str) -> list[dict[str, Any]]:
    """The reference: a user is new when no call of theirs in this project precedes T0."""
    before = {
        e["user_id"]
        for e in HISTORY + CALLS
        if "user_id" in e and datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) < T0
    }
    return [
        e
        for e in CALLS
        if e.get("user_id") is not None
        and e["prompt_version"] == version
        and (e["user_id"] not in before) == (cohort == "new")
    ]


def test_membership_and_users(shop: httpx.Client) -> None:
    res = _results(shop, "cohort-members", "success_rate")
    cohorts = res["cohorts"]
    assert cohorts["since"] == iso(T0)
    assert "neither" in cohorts["note"]
    for cohort in ("new", "returning"):
        for figures, version in zip(cohorts[cohort]["variants"], ("v1", "v2"), strict=True):
            mine = _cohort_calls(cohort, version)
            assert figures["value"] == version
            assert figures["requests"] == len(mine)
            assert figures["users"] == len({e["user_id"] for e in mine})
    users = {
        c: {e["user_id"] for v in ("v1", "v2") for e in _cohort_calls(c, v)}
        for c in ("new", "returning")
    }
    assert "n0" in users["new"] and "n-other" in users["new"]  # at the start; other project
    assert "r-edge" in users["returning"] and "r0" in users["returning"]
    assert not users["new"] & users["returning"]
    # anonymous calls are in neither cohort: the cohorts add up to the calls with a user_id
    anonymous = {
        v: sum(1 for e in CALLS if e["prompt_version"] == v and "user_id" not in e)
        for v in ("v1", "v2")
    }
    assert cohorts["calls_without_user_id"] == anonymous == {"v1": 150, "v2": 150}
    for i, (variant, version) in enumerate(zip(res["variants"], ("v1", "v2"), strict=True)):
        in_cohorts = sum(cohorts[c]["variants"][i]["requests"] for c in ("new", "returning"))
        assert variant["requests"] == in_cohorts + anonymous[version]


def _arrays(cohort: str, version: str) -> dict[str, np.ndarray]:
    mine = _cohort_calls(cohort, version)
    return {
        "ok": np.array([e["status"] == "success" for e in mine]),
        "latency": np.array([e["latency_ms"] for e in mine]),
        "tokens": np.array([e["input_tokens"] + e["output_tokens"] for e in mine], dtype=float),
    }


def test_success_rate_per_cohort_matches_numpy(shop: httpx.Client) -> None:
    res = _results(shop, "cohort-rate", "success_rate")
    for cohort in ("new", "returning"):
        a, b = _arrays(cohort, "v1"), _arrays(cohort, "v2")
        rates = [float(np.mean(a["ok"])), float(np.mean(b["ok"]))]
        shown = [v["success_rate"] for v in res["cohorts"][cohort]["variants"]]
        assert shown == pytest.approx(rates, rel=1e-12)
        expected = stats.compare_proportions(
            int(a["ok"].sum()), len(a["ok"]), int(b["ok"].sum()), len(b["ok"]), 0.05
        )
        (c,) = res["cohorts"][cohort]["comparisons"]
        assert c["metric"] == "success_rate" and c["variant"] == "v2"
        assert c["difference"] == pytest.approx(rates[1] - rates[0], rel=1e-12)
        assert c["ci_low"] == pytest.approx(expected.ci_low, rel=1e-9)
        assert c["ci_high"] == pytest.approx(expected.ci_high, rel=1e-9)
        assert c["p_value"] == pytest.approx(expected.p_value, rel=1e-9)
        assert c["test"] == expected.test
    # the effect holds for new users only, as generated
    assert res["cohorts"]["new"]["comparisons"][0]["significant"]
    assert not res["cohorts"]["returning"]["comparisons"][0]["significant"]


def test_mean_and_percentile_per_cohort_match_numpy(shop: httpx.Client) -> None:
    res = _results(shop, "cohort-tokens", "tokens_per_request", direction="lower")
    for cohort in ("new", "returning"):
        a, b = _arrays(cohort, "v1"), _arrays(cohort, "v2")
        shown = [v["tokens_per_request"] for v in res["cohorts"][cohort]["variants"]]
        assert shown == pytest.approx([a["tokens"].mean(), b["tokens"].mean()], rel=1e-12)
        expected = stats.welch_ttest(a["tokens"], b["tokens"], 0.05)
        (c,) = res["cohorts"][cohort]["comparisons"]
        assert c["test"] == "welch_t"
        assert c["difference"] == pytest.approx(b["tokens"].mean() - a["tokens"].mean())
        assert c["p_value"] == pytest.approx(expected.p_value, rel=1e-9)
        assert (c["ci_low"], c["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high))
    res = _results(shop, "cohort-p95", "latency_p95_ms")
    for cohort in ("new", "returning"):
        a, b = _arrays(cohort, "v1"), _arrays(cohort, "v2")
        shown = [v["latency_p95_ms"] for v in res["cohorts"][cohort]["variants"]]
        expected_p95 = [np.percentile(a["latency"], 95), np.percentile(b["latency"], 95)]
        assert shown == pytest.approx(expected_p95, rel=1e-9)
        expected = stats.bootstrap_quantile_difference(
            a["latency"], b["latency"], 0.95, 0.05, seed=0, min_alpha=0.05
        )
        (c,) = res["cohorts"][cohort]["comparisons"]
        assert c["test"] == expected.test
        assert c["p_value"] == pytest.approx(expected.p_value, rel=1e-9)
        assert (c["ci_low"], c["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high))


def test_no_user_ids_means_empty_cohorts(app: InProcessApp, project: str) -> None:
    with app.client(app.key(project, "ingest,read,admin")) as c:
        anonymous = [e for e in CALLS if "user_id" not in e]
        assert c.post("/v1/events", json={"events": anonymous}).status_code == 200
        res = _results(c, "cohort-anon", "success_rate")
    for cohort in ("new", "returning"):
        assert [v["requests"] for v in res["cohorts"][cohort]["variants"]] == [0, 0]
        assert res["cohorts"][cohort]["comparisons"][0]["difference"] is None
    assert res["cohorts"]["calls_without_user_id"] == {"v1": 150, "v2": 150}
