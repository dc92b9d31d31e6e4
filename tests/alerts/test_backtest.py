"""Backtests equal a replay of the live evaluator: random histories with incidents injected are
ingested through the real API; the live evaluator (AlertService.evaluate_round, the metadata
database, the real store) runs minute by minute on an injected clock; the backtest of the same
rule body over the same range must find the same firings (start, end, subject) exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.alerts.conftest import T0, AlertServer, make_alert_server
from tests.alerts.synth import traffic
from tests.conftest import iso, stop_server

START = T0 + timedelta(weeks=5)  # four weeks of history before (anomaly baselines)
HOURS = 4
END = START + timedelta(hours=HOURS)
STEP = timedelta(minutes=1)


def _history(prompt: str, seed: int) -> list[dict[str, Any]]:
    """Four past weeks of the same hours, then this range with 2-4 random incidents."""
    rng = np.random.default_rng(seed)
    incidents = []
    for _ in range(int(rng.integers(2, 5))):
        at = START + timedelta(minutes=int(rng.integers(10, HOURS * 60 - 40)))
        kind = str(rng.choice(["latency", "error_rate", "traffic", "cost"]))
        size = {"latency": 3.0, "error_rate": 0.3, "traffic": 0.15, "cost": 4.0}[kind]
        incidents.append((at, at + timedelta(minutes=int(rng.integers(3, 30))), kind, size))

    def shape(t: datetime) -> dict[str, float]:
        return {k: s for a, b, k, s in incidents if a <= t < b}

    lo, hi = START - timedelta(hours=2), END + timedelta(minutes=5)
    events = []
    for k in range(1, 5):
        w = timedelta(weeks=k)
        events += traffic(prompt, lo - w, hi - w, 8, seed * 10 + k)
    events += traffic(prompt, lo, hi, 8, seed * 10, shape=shape)
    models, users = ["gpt-4o-mini", "gpt-4o", "claude"], [f"u{i}" for i in range(12)]
    for e in events:  # dimensions for group_by and distinct users
        e["model"] = models[int(rng.integers(0, 3))]
        e["user_id"] = users[int(rng.integers(0, 12))]
        # Random costs: sums of equal costs make exact ties (2x of 0.002 vs 0.004) whose side
        # depends on the order of floating-point additions, which differs between engines.
        e["cost_usd"] *= float(rng.uniform(0.5, 1.5))
    return events


def _rules(prompt: str) -> list[dict[str, Any]]:
    f = {"prompt_id": prompt}
    return [
        {"name": "errors", "metric": "error_rate", "operator": ">", "threshold": 0.12,
         "window": "5m", "for": "2m", "min_requests": 10, "filters": f},
        {"name": "p95", "metric": "latency_p95_ms", "operator": ">", "threshold": 1600,
         "window": "10m", "filters": f},
        {"name": "slow by model", "metric": "latency_p90_ms", "operator": ">=", "threshold": 1500,
         "window": "5m", "for": "1m", "min_requests": 3, "group_by": "model", "filters": f},
        {"name": "drop", "metric": "rpm", "operator": "<", "threshold": 3, "window": "5m",
         "for": "3m", "filters": f},
        {"name": "cost jump", "metric": "cost_usd", "operator": "increase", "threshold": 1.0,
         "baseline": "previous", "window": "10m", "filters": f},
        {"name": "users", "metric": "active_users", "operator": "<", "threshold": 9,
         "window": "5m", "for": "2m", "filters": f},
        {"name": "spike", "template": "latency_spike", "filters": f},
        {"name": "slowest", "metric": "latency_max_ms", "operator": ">", "threshold": 3000,
         "window": "3m", "renotify": "5m", "filters": f},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(tmp_path_factory.mktemp("backtest"), END)
    yield s
    stop_server(server, thread)


def _live(
    srv: AlertServer, ids: dict[str, str], step: timedelta = STEP
) -> dict[str, list[tuple[str, str | None, str]]]:
    """Every rule's (budget's, SLO's) firings as the live evaluator raised them, step by step."""
    service = srv.live.app.state.ctx.alerts
    names = {v: k for k, v in ids.items()}
    out: dict[str, list[list[Any]]] = {name: [] for name in ids}
    opened: dict[tuple[str, str], list[Any]] = {}
    t = START
    while t < END:
        result, _ = service.evaluate_round(t)
        assert not result["errors"], result["errors"]
        for ch in result["changes"]:
            rule = names.get(ch["source_id"])
            if rule is None:
                continue
            key = (rule, ch["alert_id"])
            if ch["event"] == "firing":
                opened[key] = [iso(t), None, ch["name"]]
                out[rule].append(opened[key])
            elif ch["to"] == "resolved" and key in opened:
                opened.pop(key)[1] = iso(t)
        t += step
    return {k: sorted(tuple(x) for x in v) for k, v in out.items()}  # type: ignore[misc]


@pytest.mark.parametrize("seed", [1, 2])
def test_backtests_equal_a_live_replay(srv: AlertServer, seed: int) -> None:
    prompt = f"bt{seed}"
    srv.ingest(_history(prompt, seed))
    ids = {}
    with srv.client(srv.key) as c:
        for body in _rules(prompt):
            r = c.post("/v1/alerts/rules", json=body)
            assert r.status_code == 201, r.text
            ids[body["name"]] = r.json()["id"]
    live = _live(srv, ids)
    fired = 0
    with srv.client(srv.key) as c:
        for body in _rules(prompt):
            r = c.post(
                "/v1/alerts/rules/backtest",
                params={"from": iso(START), "to": iso(END), "step": "1m"},
                json=body,
            )
            assert r.status_code == 200, r.text
            got = r.json()
            assert not got["coarsened"] and got["steps"] == HOURS * 60
            mine = sorted((f["start"], f["end"], f["subject"]) for f in got["firings"])
            assert mine == live[body["name"]], body["name"]
            assert got["count"] == len(mine)
            want_minutes = sum(
                ((_t(e) if e else END) - _t(s)).total_seconds() / 60 for s, e, _ in mine
            )
            assert got["minutes"] == pytest.approx(want_minutes)
            fired += len(mine)
        for r in ids.values():
            assert c.delete(f"/v1/alerts/rules/{r}").status_code == 204
    assert fired >= 4  # the incidents make the comparison meaningful


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


BAD = [
    ("from-after-to", {"from": iso(END), "to": iso(START)}, {}, "from"),
    ("equal", {"from": iso(START), "to": iso(START)}, {}, "from"),
    ("too-long", {"from": iso(END - timedelta(days=32)), "to": iso(END)}, {}, "from"),
    ("future", {"to": iso(END + timedelta(hours=1))}, {}, "to"),
    ("bad-time", {"from": "yesterday"}, {}, "from"),
    ("bad-step", {"step": "soon"}, {}, "step"),
    ("tiny-step", {"step": "10s"}, {}, "step"),
    ("no-metric", {}, {"metric": None, "operator": None}, "body"),
    ("bad-metric", {}, {"metric": "nope"}, "metric"),
    ("bad-window", {}, {"window": "0m"}, "body"),
    ("unknown-field", {}, {"colour": "red"}, "colour"),
    ("score", {}, {"metric": "score.thumbs"}, "metric"),
    ("metadata-group", {}, {"group_by": "metadata.tier"}, "group_by"),
]


@pytest.mark.parametrize(("params", "change", "field"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])  # fmt: skip
def test_bad_backtests_are_422_and_save_nothing(
    srv: AlertServer, params: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {"name": "bad", "metric": "error_rate", "operator": ">", "threshold": 0.1, **change}
    body = {k: v for k, v in body.items() if v is not None}
    with srv.client(srv.key) as c:
        before = c.get("/v1/alerts/rules").json()
        r = c.post("/v1/alerts/rules/backtest", params=params, json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(f == field or f.startswith(field) for f in fields), fields
        assert c.get("/v1/alerts/rules").json() == before  # nothing saved
        assert c.get("/v1/alerts", params={"state": "firing"}).status_code == 200


def test_a_range_with_no_calls_is_answered_with_a_warning(srv: AlertServer) -> None:
    """No data is an answer, not an error: a traffic-drop rule fires on an empty range."""
    body = {"name": "nothing", "metric": "requests", "operator": "<", "threshold": 1,
            "window": "5m", "filters": {"prompt_id": "never-sent"}}  # fmt: skip
    with srv.client(srv.key) as c:
        hour = {"from": iso(START), "to": iso(START + timedelta(hours=1))}
        r = c.post("/v1/alerts/rules/backtest", params=hour, json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["calls"] == 0 and got["warnings"]
    assert got["count"] == 1 and got["firings"][0]["ongoing"] and got["minutes"] == 60


def test_a_project_key_backtests_its_own_project_only(srv: AlertServer) -> None:
    body = {"name": "x", "metric": "requests", "operator": ">", "threshold": 1,
            "filters": {"project": "elsewhere"}}  # fmt: skip
    with srv.client(srv.key) as c:
        r = c.post("/v1/alerts/rules/backtest", json=body)
    assert r.status_code == 403, r.text


SPECS = [
    ("budgets", {"name": "day", "amount": 2.0, "period": "day", "thresholds": [0.5, 0.8, 1.0]}),
    ("budgets", {"name": "tokens", "amount": 300_000, "metric": "tokens", "period": "week"}),
    ("slos", {"name": "ok", "objective": 0.99}),
    ("slos", {"name": "fast", "sli": "latency", "latency_threshold_ms": 1500, "objective": 0.97,
              "burn_alerts": [{"long": "30m", "short": "5m", "burn_rate": 2}]}),
]  # fmt: skip


def test_budget_and_slo_backtests_equal_a_live_replay(srv: AlertServer) -> None:
    srv.ingest(_history("bts", 5))
    ids = {}
    with srv.client(srv.key) as c:
        for kind, spec in SPECS:
            r = c.post(f"/v1/{kind}", json={**spec, "filters": {"prompt_id": "bts"}})
            assert r.status_code == 201, r.text
            ids[spec["name"]] = r.json()["id"]
    step = timedelta(minutes=5)
    live = _live(srv, ids, step)
    fired = 0
    with srv.client(srv.key) as c:
        for kind, spec in SPECS:
            r = c.post(
                f"/v1/{kind}/backtest",
                params={"from": iso(START), "to": iso(END), "step": "5m"},
                json={**spec, "filters": {"prompt_id": "bts"}},
            )
            assert r.status_code == 200, r.text
            mine = sorted((f["start"], f["end"], f["subject"]) for f in r.json()["firings"])
            assert mine == live[spec["name"]], spec["name"]
            fired += len(mine)
        for kind, spec in SPECS:
            assert c.delete(f"/v1/{kind}/{ids[spec['name']]}").status_code == 204
    assert fired >= 3


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("budgets", {"name": "b", "amount": -1}, "amount"),
        ("budgets", {"name": "b", "amount": 1, "metric": "latency_p95_ms"}, "body"),
        (
            "budgets",
            {
                "name": "b",
                "amount": 1,
                "period": "custom",
                "starts_at": "2020-01-01T00:00:00Z",
                "ends_at": "2020-02-01T00:00:00Z",
            },
            "from",
        ),
        ("slos", {"name": "s", "objective": 1.5}, "objective"),
        ("slos", {"name": "s", "objective": 0.99, "sli": "latency"}, "body"),
    ],
)
def test_bad_budget_and_slo_backtests_are_422(
    srv: AlertServer, kind: str, body: dict[str, Any], field: str
) -> None:
    with srv.client(srv.key) as c:
        before = c.get(f"/v1/{kind}").json()
        r = c.post(f"/v1/{kind}/backtest", json=body)
        assert r.status_code == 422, r.text
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
        assert c.get(f"/v1/{kind}").json() == before
