"""GET /v1/users/*: every figure against pandas/numpy on random calls sent through the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from tests.conftest import InProcessApp, iso

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DAYS = 45
PROMPTS = ("support", "search", "summarise")
MODELS = ("gpt-4o", "gpt-4o-mini")
ODD = "ünï/cödé ?#&%2F+"  # a user id the path must carry URL-encoded


def make_events(seed: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    users = [f"user-{i}" for i in range(80)] + [ODD]
    for u in users:
        first = int(rng.integers(0, DAYS))
        stay = rng.uniform(0.05, 0.5)
        for d in [first] + [d for d in range(first + 1, DAYS) if rng.random() < stay]:
            for _ in range(int(rng.integers(1, 4))):
                events.append(_event(rng, len(events), u, d))
    for _ in range(150):
        events.append(_event(rng, len(events), None, int(rng.integers(0, DAYS))))
    return events


def _event(rng: np.random.Generator, i: int, user: str | None, day: int) -> dict[str, Any]:
    t = T0 + timedelta(days=day, microseconds=int(rng.integers(0, 86_400_000_000)))
    error = rng.random() < 0.15
    e: dict[str, Any] = {
        "id": f"e{i}",
        "timestamp": iso(t),
        "prompt_id": PROMPTS[int(rng.integers(0, 3))],
        "model": MODELS[int(rng.integers(0, 2))],
        "latency_ms": float(np.round(rng.lognormal(6, 0.7), 3)),
        "input_tokens": int(rng.integers(0, 3000)),
        "output_tokens": int(rng.integers(0, 500)),
        "cost_usd": float(np.round(rng.uniform(0, 0.05), 6)),
        "status": "error" if error else "success",
    }
    if error:
        e["error_type"] = "timeout"
    if user is not None:
        e["user_id"] = user
    return e


@pytest.fixture(scope="module")
def world(app: InProcessApp) -> tuple[str, pd.DataFrame]:
    key = app.key("users-api")
    events = make_events()
    with app.client(key) as c:
        for i in range(0, len(events), 2000):
            r = c.post("/v1/events", json={"events": events[i : i + 2000]})
            assert r.status_code == 200 and r.json()["accepted"] == len(events[i : i + 2000])
    df = pd.DataFrame(events)
    df["ts"] = pd.to_datetime(df.timestamp, utc=True)
    df["day"] = df.ts.dt.floor("D").dt.date
    return key, df


def get(app: InProcessApp, key: str, path: str, **params: Any) -> Any:
    with app.client(key) as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def in_range(df: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return df[(df.ts >= start) & (df.ts < end)]


RANGES = {
    "whole": (T0, T0 + timedelta(days=DAYS)),
    "mid-day": (T0 + timedelta(days=20, hours=9), T0 + timedelta(days=40, hours=3)),
}


@pytest.mark.parametrize("interval", ["day", "week"])
@pytest.mark.parametrize("case", list(RANGES))
def test_activity(app: InProcessApp, world: tuple, case: str, interval: str) -> None:
    key, df = world
    start, end = RANGES[case]
    got = get(
        app, key, "/v1/users/activity", interval=interval, **{"from": iso(start)}, to=iso(end)
    )
    ud = df[df.user_id.notna() & (df.ts < end)][["user_id", "day"]].drop_duplicates()
    first = ud.groupby("user_id").day.min()
    last_day = (end - timedelta(microseconds=1)).date()
    b = start.date() - timedelta(days=start.weekday() if interval == "week" else 0)
    step = 7 if interval == "week" else 1
    want = []

    def users_in(lo: date, hi: date) -> int:
        return int(ud[(ud.day >= lo) & (ud.day <= hi)].user_id.nunique())

    while b <= last_day:
        last = min(b + timedelta(days=step - 1), last_day)
        active, new = users_in(b, last), int(((first >= b) & (first <= last)).sum())
        want.append(
            {
                "t": f"{b.isoformat()}T00:00:00Z",
                "active": active,
                "new_users": new,
                "returning_users": active - new,
                "dau": users_in(last, last),
                "wau": users_in(last - timedelta(days=6), last),
                "mau": users_in(last - timedelta(days=29), last),
            }
        )
        b += timedelta(days=step)
    assert got["points"] == want
    assert got["interval"] == interval
    assert sum(p["new_users"] for p in want) > 0 and any(p["returning_users"] for p in want)


def test_retention(app: InProcessApp, world: tuple) -> None:
    key, df = world
    start, end = T0 + timedelta(days=3), T0 + timedelta(days=DAYS - 2, hours=5)
    got = get(app, key, "/v1/users/retention", **{"from": iso(start)}, to=iso(end))
    assert got["days"] == [1, 7, 30]
    ud = df[df.user_id.notna() & (df.ts < end)][["user_id", "day"]].drop_duplicates()
    first = ud.groupby("user_id").day.min()
    seen = set(zip(ud.user_id, ud.day, strict=True))
    want = []
    for c in sorted(set(first[first >= start.date()])):
        cohort = list(first[first == c].index)
        days = []
        for k in (1, 7, 30):
            d = c + timedelta(days=k)
            over = datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1) <= end
            n = sum((u, d) in seen for u in cohort) if over else None
            days.append({"day": k, "users": n, "rate": None if n is None else n / len(cohort)})
        want.append({"cohort": c.isoformat(), "users": len(cohort), "days": days})
    assert got["cohorts"] == want
    rates = [d["rate"] for c in want for d in c["days"]]
    assert None in rates and any(r for r in rates if r)  # both kinds occur


@pytest.mark.parametrize("sort", ["requests", "errors", "cost_usd", "tokens"])
def test_top(app: InProcessApp, world: tuple, sort: str) -> None:
    key, df = world
    start, end = RANGES["mid-day"]
    got = get(app, key, "/v1/users/top", sort=sort, limit=7, **{"from": iso(start)}, to=iso(end))
    d = in_range(df, start, end)
    d = d[d.user_id.notna()].assign(
        errors=lambda x: (x.status == "error").astype(int),
        tokens=lambda x: x.input_tokens + x.output_tokens,
    )
    g = d.groupby("user_id").agg(
        requests=("id", "size"), errors=("errors", "sum"), cost_usd=("cost_usd", "sum"),
        tokens=("tokens", "sum"),
    )  # fmt: skip
    assert len(got["rows"]) == 7
    values = [r[sort] for r in got["rows"]]
    assert values == pytest.approx(sorted(g[sort], reverse=True)[:7])
    for r in got["rows"]:
        want = g.loc[r["user_id"]]
        assert r["requests"] == want.requests and r["errors"] == want.errors
        assert r["cost_usd"] == pytest.approx(want.cost_usd) and r["tokens"] == want.tokens
        assert r["error_rate"] == pytest.approx(want.errors / want.requests)
        lat = d[d.user_id == r["user_id"]].latency_ms
        assert r["latency_p95_ms"] == pytest.approx(np.percentile(lat, 95))


def test_one_user(app: InProcessApp, world: tuple) -> None:
    key, df = world
    start, end = RANGES["whole"]
    got = get(app, key, f"/v1/users/{quote(ODD, safe='')}", **{"from": iso(start)}, to=iso(end))
    mine = df[df.user_id == ODD]
    assert got["user_id"] == ODD
    assert pd.Timestamp(got["first_seen"]) == mine.ts.min()
    assert pd.Timestamp(got["last_seen"]) == mine.ts.max()
    k = got["kpis"]
    assert k["requests"] == len(mine) and k["errors"] == (mine.status == "error").sum()
    assert k["cost_usd"] == pytest.approx(mine.cost_usd.sum())
    assert k["tokens"] == (mine.input_tokens + mine.output_tokens).sum()
    assert k["latency_p95_ms"] == pytest.approx(np.percentile(mine.latency_ms, 95))
    per_day = mine.groupby("day").size()
    points = got["series"]["series"][0]["points"]
    assert got["series"]["interval"] == "day" and len(points) == DAYS
    for p in points:
        assert p["requests"] == per_day.get(date.fromisoformat(p["t"][:10]), 0)
    by_prompt = mine.groupby("prompt_id").size()
    assert {r["prompt_id"]: r["requests"] for r in got["prompts"]} == by_prompt.to_dict()
    assert sum(r["requests"] for r in got["models"]) == len(mine)


def test_one_user_respects_the_range_and_filters(app: InProcessApp, world: tuple) -> None:
    key, df = world
    start, end = RANGES["mid-day"]
    user = df[df.user_id.notna()].user_id.value_counts().index[0]
    got = get(app, key, f"/v1/users/{user}", model="gpt-4o", **{"from": iso(start)}, to=iso(end))
    mine = df[(df.user_id == user) & (df.model == "gpt-4o")]
    assert got["kpis"]["requests"] == len(in_range(mine, start, end))
    assert pd.Timestamp(got["first_seen"]) == mine.ts.min()  # ever, not only in the range


def test_unknown_user_and_bad_input(app: InProcessApp, world: tuple) -> None:
    key, _ = world
    with app.client(key) as c:
        r = c.get("/v1/users/nobody-at-all")
        assert r.status_code == 404 and "nobody-at-all" in r.json()["detail"]
        for path, params, field in (
            ("/v1/users/activity", {"interval": "hour"}, "interval"),
            ("/v1/users/retention", {"days": "0,7"}, "days"),
            ("/v1/users/retention", {"days": "x"}, "days"),
            ("/v1/users/top", {"sort": "nope"}, "sort"),
            ("/v1/users/top", {"limit": "0"}, "limit"),
            ("/v1/users/activity", {"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ):
            r = c.get(path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert field in {e["field"] for e in r.json()["errors"]}, r.json()
        assert c.get("/v1/users/top", params={"project": "other"}).status_code == 403


def test_another_project_sees_nothing(app: InProcessApp, world: tuple) -> None:
    other = app.key("users-api-other")
    start, end = RANGES["whole"]
    got = get(app, other, "/v1/users/activity", **{"from": iso(start)}, to=iso(end))
    assert {p["mau"] for p in got["points"]} == {0}
    with app.client(other) as c:
        assert c.get(f"/v1/users/{quote(ODD, safe='')}").status_code == 404
