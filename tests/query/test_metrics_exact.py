"""Every figure of /v1/metrics/* against an independent numpy computation on random events.

The events are generated once per module (seeded), posted over HTTP to a real server, and every
expected figure is computed here from the generated list alone: numpy for percentiles and sums,
numpy datetime64 for UTC buckets, `genai_prices.calc_price` for costs (never our pricing module).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest
from genai_prices import Usage, calc_price

from tests.conftest import InProcessApp, iso

BASE = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a Monday
CLUSTER = (BASE, BASE + timedelta(hours=3))
WIDE = (BASE - timedelta(days=45), BASE + timedelta(days=45))

PRICED = [
    "gpt-4o-mini",
    "gpt-4o",
    "claude-3-5-sonnet-20241022",
    "gemini-2.5-pro",
    "gemini-1.5-flash",
]
UNPRICED = ["acme-llm-1", "inhouse-7b"]
ERROR_TYPES = [
    "timeout",
    "rate_limit",
    "validation",
    "content_filter",
    "llm_error",
    "network",
    "system",
    "other",
]
OFFSETS = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
ALL_METRICS = [
    "requests",
    "successes",
    "errors",
    "success_rate",
    "error_rate",
    "latency_p50_ms",
    "latency_p75_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "latency_mean_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "tokens",
    "tokens_per_request",
    "cost_usd",
    "cost_per_request_usd",
    "unpriced_requests",
    "cache_hit_rate",
    "active_users",
    "rpm",
    "rpm_peak",
]
DIMENSIONS = [
    "project",
    "prompt_id",
    "prompt_version",
    "model",
    "provider",
    "environment",
    "feature",
    "user_id",
    "session_id",
    "service",
    "status",
    "error_type",
    "metadata.tier",
]


# ---------------------------------------------------------------- generating and expecting


def stamp(t: datetime, rng: np.random.Generator) -> str:
    """RFC 3339 in a random offset: the instant is the same, the text differs."""
    tz = OFFSETS[int(rng.integers(len(OFFSETS)))]
    text = t.astimezone(tz).isoformat()
    return text.replace("+00:00", "Z") if rng.random() < 0.5 else text


def expected_price(
    model: str, provider: str | None, ts: datetime, i: int, c: int, o: int
) -> tuple[str | None, float | None]:
    try:
        found = calc_price(
            Usage(input_tokens=i, cache_read_tokens=c, output_tokens=o),
            model_ref=model,
            provider_id=provider,
            genai_request_timestamp=ts.replace(tzinfo=None),
        )
    except LookupError:
        return (provider.lower() if provider else None), None
    return (provider.lower() if provider else found.provider.id), float(Decimal(found.total_price))


def make_event(rng: np.random.Generator, ts: datetime, n: int) -> tuple[dict[str, Any], dict]:
    """One random call: (what is sent, what is expected to be stored)."""

    def pick(options: Sequence[Any]) -> Any:
        return options[int(rng.integers(len(options)))]

    model = pick(PRICED + UNPRICED)
    provider = None
    if model == "gpt-4o-mini" and rng.random() < 0.5:
        provider = "OpenAI"  # stored lower-case
    if model == "acme-llm-1" and rng.random() < 0.5:
        provider = "acme"
    status = "error" if rng.random() < 0.2 else "success"
    inp = int(rng.integers(0, 5000))
    if model == "gemini-2.5-pro" and rng.random() < 0.4:
        inp = int(rng.integers(200_001, 400_000))  # the upper price tier
    cached = int(rng.integers(0, inp + 1)) if rng.random() < 0.4 else 0
    out = int(rng.integers(0, 2000))
    reasoning = int(rng.integers(0, out + 1)) if rng.random() < 0.3 else 0
    sent: dict[str, Any] = {
        "id": f"ev-{n}-{uuid.uuid4().hex[:8]}",
        "timestamp": stamp(ts, rng),
        "model": model,
        "latency_ms": round(float(rng.lognormal(6.5, 0.7)), 3),
        "input_tokens": inp,
        "output_tokens": out,
        "unknown_field": "ignored",
    }
    if cached:
        sent["cached_tokens"] = cached
    if reasoning:
        sent["reasoning_tokens"] = reasoning
    if provider:
        sent["provider"] = provider
    for name, options in (
        ("prompt_id", ["support", "summarize", "classify", None]),
        ("prompt_version", ["v1", "v2", "v3", None]),
        ("environment", ["prod", "staging", None]),
        ("feature", ["chat", "search", None]),
        ("user_id", [*(f"u{i}" for i in range(25)), None, None]),
        ("session_id", [*(f"s{i}" for i in range(40)), None]),
        ("service", ["api", "worker", None]),
    ):
        value = pick(options)
        if value is not None:
            sent[name] = value
    if status == "error":
        sent["status"] = "error"
        error_type = pick([*ERROR_TYPES, None])
        if error_type:
            sent["error_type"] = error_type
    elif rng.random() < 0.3:
        sent["status"] = "success"
    if rng.random() < 0.6:
        sent["ttft_ms"] = round(float(rng.uniform(10, 800)), 3)
    given_cost = None
    if rng.random() < 0.15:
        given_cost = round(float(rng.uniform(0, 0.05)), 6)
        sent["cost_usd"] = given_cost
    if rng.random() < 0.1:
        sent["cache_hit"] = True
    tags = [t for t in ("a", "b", "c", "vip") if rng.random() < 0.3]
    if tags:
        sent["tags"] = tags
    r = rng.random()
    if r < 0.7:
        sent["metadata"] = {"tier": pick(["free", "pro", "enterprise"]), "n": n}
    elif r < 0.8:
        sent["metadata"] = {"other": 1}
    stored_provider, cost = expected_price(model, provider, ts, inp, cached, out)
    stored = {
        **{
            k: sent.get(k)
            for k in (
                "prompt_id",
                "prompt_version",
                "environment",
                "feature",
                "user_id",
                "session_id",
                "service",
                "model",
                "ttft_ms",
                "latency_ms",
            )
        },
        "id": sent["id"],
        "ts": ts,
        "status": status,
        "error_type": (sent.get("error_type") or "other") if status == "error" else None,
        "provider": stored_provider,
        "cost": given_cost if given_cost is not None else cost,
        "input_tokens": inp,
        "output_tokens": out,
        "cached_tokens": cached,
        "reasoning_tokens": reasoning,
        "cache_hit": bool(sent.get("cache_hit", False)),
        "tags": tags,
        "tier": (sent.get("metadata") or {}).get("tier"),
    }
    return sent, stored


def random_time(rng: np.random.Generator, start: datetime, end: datetime) -> datetime:
    span_ms = int((end - start).total_seconds() * 1000)
    return start + timedelta(milliseconds=int(rng.integers(0, span_ms)))


def quantile(values: list[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else None


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def expected_metrics(
    sel: list[dict], minutes: float, scores: dict[str, list[tuple[str, float]]]
) -> dict[str, Any]:
    """Every catalog metric over a selection of stored events, computed with numpy."""
    n = len(sel)
    lat = [e["latency_ms"] for e in sel]
    ttft = [e["ttft_ms"] for e in sel if e["ttft_ms"] is not None]
    costs = [e["cost"] for e in sel if e["cost"] is not None]
    succ = sum(e["status"] == "success" for e in sel)
    errs = n - succ
    tok_in = int(np.sum([e["input_tokens"] for e in sel], dtype=np.int64))
    tok_out = int(np.sum([e["output_tokens"] for e in sel], dtype=np.int64))
    total_cost = float(np.sum(costs)) if costs else 0.0
    per_minute = Counter(e["ts"].replace(second=0, microsecond=0) for e in sel)
    m: dict[str, Any] = {
        "requests": n,
        "successes": succ,
        "errors": errs,
        "success_rate": ratio(succ, n),
        "error_rate": ratio(errs, n),
        "latency_max_ms": max(lat) if lat else None,
        "latency_mean_ms": float(np.mean(lat)) if lat else None,
        "input_tokens": tok_in,
        "output_tokens": tok_out,
        "cached_tokens": int(np.sum([e["cached_tokens"] for e in sel], dtype=np.int64)),
        "reasoning_tokens": int(np.sum([e["reasoning_tokens"] for e in sel], dtype=np.int64)),
        "tokens": tok_in + tok_out,
        "tokens_per_request": ratio(tok_in + tok_out, n),
        "cost_usd": total_cost,
        "cost_per_request_usd": ratio(total_cost, n),
        "unpriced_requests": n - len(costs),
        "cache_hit_rate": ratio(sum(e["cache_hit"] for e in sel), n),
        "active_users": len({e["user_id"] for e in sel if e["user_id"] is not None}),
        "rpm": n / minutes,
        "rpm_peak": max(per_minute.values()) if per_minute else 0,
    }
    for q in (50, 75, 90, 95, 99):
        m[f"latency_p{q}_ms"] = quantile(lat, q)
    for q in (50, 95, 99):
        m[f"ttft_p{q}_ms"] = quantile(ttft, q)
    ids = {e["id"] for e in sel}
    summary: dict[str, dict[str, Any]] = {}
    for name, pairs in scores.items():
        values = [v for event_id, v in pairs if event_id in ids]
        if values:
            summary[name] = {"count": len(values), "mean": float(np.mean(values))}
    m["scores"] = summary
    errors_by_type = Counter(e["error_type"] for e in sel if e["status"] == "error")
    m["errors_by_type"] = dict(errors_by_type)
    return m


def shape(m: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    """The overview body DESIGN.md promises, from flat metrics."""
    return {
        "from": iso(start),
        "to": iso(end),
        "requests": m["requests"],
        "successes": m["successes"],
        "errors": m["errors"],
        "success_rate": m["success_rate"],
        "error_rate": m["error_rate"],
        "errors_by_type": m["errors_by_type"],
        "latency_ms": {
            "p50": m["latency_p50_ms"],
            "p75": m["latency_p75_ms"],
            "p90": m["latency_p90_ms"],
            "p95": m["latency_p95_ms"],
            "p99": m["latency_p99_ms"],
            "max": m["latency_max_ms"],
            "mean": m["latency_mean_ms"],
        },
        "ttft_ms": {"p50": m["ttft_p50_ms"], "p95": m["ttft_p95_ms"], "p99": m["ttft_p99_ms"]},
        "tokens": {
            "input": m["input_tokens"],
            "output": m["output_tokens"],
            "cached": m["cached_tokens"],
            "total": m["tokens"],
            "per_request": m["tokens_per_request"],
        },
        "cost_usd": {
            "total": m["cost_usd"],
            "per_request": m["cost_per_request_usd"],
            "unpriced_requests": m["unpriced_requests"],
        },
        "cache_hit_rate": m["cache_hit_rate"],
        "rpm": {"mean": m["rpm"], "peak": m["rpm_peak"]},
        "active_users": m["active_users"],
        "scores": m["scores"],
    }


def assert_same(got: Any, want: Any, path: str = "") -> None:
    """Deep comparison; floats with rel 1e-9; `got` may hold extra keys only where noted."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not an object"
        for k, v in want.items():
            assert k in got, f"{path}.{k} missing"
            assert_same(got[k], v, f"{path}.{k}")
        return
    if want is None or got is None:
        assert got is None and want is None, f"{path}: got {got!r}, want {want!r}"
        return
    if isinstance(want, float) or isinstance(got, float):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
            f"{path}: got {got!r}, want {want!r}"
        )
        return
    assert got == want, f"{path}: got {got!r}, want {want!r}"


def select(
    events: list[dict], start: datetime, end: datetime, filters: dict[str, list[str]]
) -> list[dict]:
    def keep(e: dict) -> bool:
        if not start <= e["ts"] < end:
            return False
        for name, values in filters.items():
            if name == "tag":
                if not set(values) & set(e["tags"]):
                    return False
            elif name == "metadata.tier":
                if e["tier"] not in values:
                    return False
            elif name == "project":
                continue  # the module's one project; checked by passing it
            elif e[name] not in values:
                return False
        return True

    return [e for e in events if keep(e)]


# ---------------------------------------------------------------- the data set


@dataclass
class DataSet:
    project: str
    key: str
    events: list[dict]  # as stored (expected)
    scores: dict[str, list[tuple[str, float]]]

    def client(self, app: InProcessApp) -> httpx.Client:
        return app.client(self.key)


def post(client: httpx.Client, path: str, items: list[dict], kind: str = "events") -> dict:
    out = {"accepted": 0, "duplicates": 0}
    for i in range(0, len(items), 400):
        r = client.post(path, json={kind: items[i : i + 400]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["rejected"] == []
        out["accepted"] += body["accepted"]
        out["duplicates"] += body["duplicates"]
    return out


@pytest.fixture(scope="module")
def data(app: InProcessApp) -> DataSet:
    rng = np.random.default_rng(20250602)
    project = f"exact-{uuid.uuid4().hex[:8]}"
    key = app.key(project)
    times = [random_time(rng, *CLUSTER) for _ in range(700)]
    # A burst: many calls in one minute, the peak to find.
    burst = BASE + timedelta(minutes=77)
    times += [burst + timedelta(milliseconds=int(rng.integers(0, 60_000))) for _ in range(25)]
    times += [
        random_time(rng, BASE - timedelta(days=40), BASE + timedelta(days=40)) for _ in range(250)
    ]
    # Exactly on hour/day boundaries, to prove half-open ranges and bucket edges.
    times += [BASE, BASE + timedelta(hours=1), BASE + timedelta(hours=3), BASE + timedelta(days=1)]
    sent, stored = [], []
    for n, t in enumerate(times):
        s, e = make_event(rng, t, n)
        sent.append(s)
        stored.append(e)
    with app.client(key) as c:
        first = post(c, "/v1/events", sent)
        assert first == {"accepted": len(sent), "duplicates": 0}
        # Send a third of them again: they must not count twice.
        again = post(c, "/v1/events", sent[::3])
        assert again == {"accepted": 0, "duplicates": len(sent[::3])}
    return DataSet(project, key, stored, {})


def random_scores(
    rng: np.random.Generator, events: list[dict]
) -> tuple[list[dict], dict[str, list[tuple[str, float]]]]:
    scores: dict[str, list[tuple[str, float]]] = {"thumbs": [], "quality": []}
    items = []
    for e in events:
        if rng.random() < 0.3:
            v = float(rng.integers(0, 2))
            scores["thumbs"].append((e["id"], v))
            items.append(
                {
                    "id": f"th-{e['id']}",
                    "event_id": e["id"],
                    "name": "thumbs",
                    "value": v,
                    "source": "user",
                }
            )
        if rng.random() < 0.2:
            v = round(float(rng.uniform(0, 1)), 4)
            scores["quality"].append((e["id"], v))
            items.append(
                {
                    "id": f"q-{e['id']}",
                    "event_id": e["id"],
                    "name": "quality",
                    "value": v,
                    "source": "eval",
                }
            )
    # A score for a call that does not exist counts nowhere.
    items.append({"id": "orphan", "event_id": "no-such-call", "name": "thumbs", "value": 1})
    return items, scores


def get(client: httpx.Client, path: str, params: Any) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def as_params(
    start: datetime, end: datetime, filters: dict[str, list[str]] | None = None, **extra: str
) -> list[tuple[str, str]]:
    params = [("from", iso(start)), ("to", iso(end))]
    for name, values in (filters or {}).items():
        params += [(name, v) for v in values]
    return params + list(extra.items())


# ---------------------------------------------------------------- overview


FILTER_CASES: list[Any] = [
    {},
    {"project": ["<own>"]},
    {"prompt_id": ["support"]},
    {"prompt_id": ["support", "classify"]},
    {"prompt_version": ["v2"]},
    {"model": ["gpt-4o-mini", "acme-llm-1"]},
    {"provider": ["openai"]},
    {"provider": ["acme", "google"]},
    {"environment": ["prod"]},
    {"feature": ["search"]},
    {"user_id": ["u1", "u2", "u3"]},
    {"session_id": ["s1", "s7"]},
    {"service": ["worker"]},
    {"status": ["error"]},
    {"status": ["success"]},
    {"error_type": ["timeout", "rate_limit"]},
    {"error_type": ["other"]},
    {"tag": ["vip"]},
    {"tag": ["a", "b"]},
    {"metadata.tier": ["pro"]},
    {"metadata.tier": ["free", "enterprise"]},
    {"model": ["gpt-4o-mini", "gemini-2.5-pro"], "status": ["success"], "tag": ["a"]},
    {"environment": ["prod"], "metadata.tier": ["pro"], "prompt_id": ["support", "summarize"]},
    {"model": ["no-such-model"]},
]


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: "&".join(f) or "none")
@pytest.mark.parametrize("window", ["cluster", "wide"])
def test_overview_matches_numpy(
    app: InProcessApp, data: DataSet, filters: dict[str, list[str]], window: str
) -> None:
    start, end = CLUSTER if window == "cluster" else WIDE
    filters = {k: [data.project if v == "<own>" else v for v in vs] for k, vs in filters.items()}
    sel = select(data.events, start, end, filters)
    want = shape(expected_metrics(sel, (end - start).total_seconds() / 60, data.scores), start, end)
    with data.client(app) as c:
        got = get(c, "/v1/metrics/overview", as_params(start, end, filters))
    assert_same(got, want)
    assert set(got["errors_by_type"]) == set(want["errors_by_type"])
    assert set(got["scores"]) == set(want["scores"])


def test_overview_sanity_of_the_data_set(data: DataSet) -> None:
    """The generator really produced every case the other tests rely on."""
    sel = select(data.events, *CLUSTER, {})
    assert {e["error_type"] for e in sel} >= set(ERROR_TYPES)
    assert any(e["cost"] is None for e in sel) and any(e["ttft_ms"] is None for e in sel)
    assert any(e["input_tokens"] > 200_000 and e["model"] == "gemini-2.5-pro" for e in sel)
    assert {e["provider"] for e in sel} >= {"openai", "anthropic", "google", "acme", None}


def test_compare_previous(app: InProcessApp, data: DataSet) -> None:
    start, end = BASE + timedelta(hours=1), BASE + timedelta(hours=2)
    prev = (BASE, BASE + timedelta(hours=1))
    with data.client(app) as c:
        got = get(c, "/v1/metrics/overview", as_params(start, end, compare="previous"))
    assert_same(
        got,
        shape(expected_metrics(select(data.events, start, end, {}), 60, data.scores), start, end),
    )
    assert_same(
        got["previous"],
        shape(expected_metrics(select(data.events, *prev, {}), 60, data.scores), *prev),
    )


def test_half_open_range(app: InProcessApp, data: DataSet) -> None:
    """An event exactly on `from` is in; one exactly on `to` is out."""
    on_from = [e for e in data.events if e["ts"] == BASE + timedelta(hours=1)]
    assert len(on_from) == 1
    start, end = BASE + timedelta(hours=1), BASE + timedelta(hours=1, seconds=1)
    with data.client(app) as c:
        got = get(c, "/v1/metrics/overview", as_params(start, end))
        assert got["requests"] == 1
        assert got["latency_ms"]["p50"] == on_from[0]["latency_ms"]
        assert got["latency_ms"]["p99"] == on_from[0]["latency_ms"]
        before = get(c, "/v1/metrics/overview", as_params(start - timedelta(seconds=1), start))
    assert before["requests"] == len(select(data.events, start - timedelta(seconds=1), start, {}))
    assert all(
        e["ts"] != start for e in select(data.events, start - timedelta(seconds=1), start, {})
    )


def test_range_given_with_offsets(app: InProcessApp, data: DataSet) -> None:
    """`from`/`to` with +05:30 and -08:00 mean the same instants as in UTC."""
    start, end = BASE + timedelta(minutes=30), BASE + timedelta(minutes=150)
    want = shape(
        expected_metrics(select(data.events, start, end, {}), 120, data.scores), start, end
    )
    params = [
        ("from", start.astimezone(OFFSETS[1]).isoformat()),
        ("to", end.astimezone(OFFSETS[2]).isoformat()),
    ]
    with data.client(app) as c:
        assert_same(get(c, "/v1/metrics/overview", params), want)


def test_empty_range(app: InProcessApp, data: DataSet) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = start + timedelta(hours=2)
    with data.client(app) as c:
        got = get(c, "/v1/metrics/overview", as_params(start, end))
    assert_same(got, shape(expected_metrics([], 120, {}), start, end))
    assert got["success_rate"] is None and got["error_rate"] is None
    assert got["latency_ms"]["p50"] is None and got["ttft_ms"]["p99"] is None
    assert got["rpm"] == {"mean": 0, "peak": 0} and got["scores"] == {}
    assert got["errors_by_type"] == {}


def _own_events(app: InProcessApp, project: str, events: list[dict]) -> str:
    key = app.key(project)
    with app.client(key) as c:
        r = c.post("/v1/events", json={"events": events})
        assert r.status_code == 200, r.text
    return key


def test_one_event(app: InProcessApp, project: str) -> None:
    t = datetime(2025, 3, 3, 10, 15, 30, 250_000, tzinfo=UTC)
    key = _own_events(
        app,
        project,
        [
            {
                "timestamp": t.astimezone(OFFSETS[1]).isoformat(),
                "model": "acme-llm-1",
                "latency_ms": 42.5,
                "ttft_ms": 7,
                "user_id": "solo",
            }
        ],
    )
    with app.client(key) as c:
        got = get(
            c, "/v1/metrics/overview", as_params(t - timedelta(minutes=5), t + timedelta(minutes=5))
        )
    assert got["requests"] == 1 and got["successes"] == 1 and got["success_rate"] == 1
    assert got["latency_ms"] == {
        k: 42.5 for k in ("p50", "p75", "p90", "p95", "p99", "max", "mean")
    }
    assert got["ttft_ms"] == {"p50": 7, "p95": 7, "p99": 7}
    assert got["rpm"] == {"mean": 0.1, "peak": 1}
    assert got["cost_usd"]["total"] == 0 and got["cost_usd"]["unpriced_requests"] == 1
    assert got["active_users"] == 1


def test_cost_per_request_is_total_over_requests_when_all_unpriced(
    app: InProcessApp, project: str
) -> None:
    t = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    key = _own_events(app, project, [{"timestamp": iso(t), "model": "acme-llm-1", "latency_ms": 1}])
    with app.client(key) as c:
        got = get(c, "/v1/metrics/overview", as_params(t, t + timedelta(hours=1)))
    assert got["cost_usd"]["total"] == 0
    assert got["cost_usd"]["per_request"] == 0


def test_scores_in_overview(app: InProcessApp, project: str) -> None:
    rng = np.random.default_rng(11)
    t0 = datetime(2025, 3, 5, 9, tzinfo=UTC)
    sent, stored = [], []
    for n in range(120):
        s, e = make_event(rng, random_time(rng, t0, t0 + timedelta(hours=1)), n)
        sent.append(s)
        stored.append(e)
    key = _own_events(app, project, sent)
    items, scores = random_scores(rng, stored)
    with app.client(key) as c:
        assert post(c, "/v1/scores", items, "scores")["accepted"] == len(items)
        assert post(c, "/v1/scores", items, "scores") == {"accepted": 0, "duplicates": len(items)}
        half = (t0, t0 + timedelta(minutes=30))
        for start, end, filters in [
            (t0, t0 + timedelta(hours=1), {}),
            (*half, {}),
            (t0, t0 + timedelta(hours=1), {"model": ["gpt-4o"]}),
        ]:
            got = get(c, "/v1/metrics/overview", as_params(start, end, filters))
            want = expected_metrics(select(stored, start, end, filters), 60, scores)["scores"]
            assert set(got["scores"]) == set(want)
            assert_same(got["scores"], want)


def test_all_errors_and_no_ttft(app: InProcessApp, project: str) -> None:
    rng = np.random.default_rng(7)
    t0 = datetime(2025, 3, 4, 8, tzinfo=UTC)
    events = [
        {
            "timestamp": iso(t0 + timedelta(seconds=int(s))),
            "model": "gpt-4o-mini",
            "latency_ms": float(rng.uniform(1, 100)),
            "status": "error",
            "error_type": ERROR_TYPES[i % 3],
        }
        for i, s in enumerate(rng.integers(0, 3600, 40))
    ]
    key = _own_events(app, project, events)
    with app.client(key) as c:
        got = get(c, "/v1/metrics/overview", as_params(t0, t0 + timedelta(hours=1)))
    lat = [e["latency_ms"] for e in events]
    assert got["requests"] == got["errors"] == 40 and got["successes"] == 0
    assert got["error_rate"] == 1 and got["success_rate"] == 0
    assert got["errors_by_type"] == dict(Counter(e["error_type"] for e in events))
    assert math.isclose(got["latency_ms"]["p95"], np.percentile(lat, 95), rel_tol=1e-9)
    assert got["ttft_ms"] == {"p50": None, "p95": None, "p99": None}
    assert got["active_users"] == 0


# ---------------------------------------------------------------- time series


def trunc(ts: datetime, interval: str) -> np.datetime64:
    """UTC bucket start with numpy's calendar arithmetic (independent of the engine)."""
    t = np.datetime64(ts.astimezone(UTC).replace(tzinfo=None), "us")
    if interval == "week":  # 1970-01-01 was a Thursday: Monday is 3 days before
        days = t.astype("datetime64[D]").astype(np.int64)
        return np.datetime64(int(days - (days + 3) % 7), "D").astype("datetime64[us]")
    unit = {"minute": "m", "hour": "h", "day": "D", "month": "M"}[interval]
    return t.astype(f"datetime64[{unit}]").astype("datetime64[us]")


def buckets(start: datetime, end: datetime, interval: str) -> list[np.datetime64]:
    out = [trunc(start, interval)]
    end64 = np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "us")
    while True:
        t = out[-1]
        if interval == "month":
            nxt = (t.astype("datetime64[M]") + 1).astype("datetime64[us]")
        else:
            step = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}[interval]
            nxt = t + np.timedelta64(step, "s")
        if nxt >= end64:
            return out
        out.append(nxt)


def to_dt(t: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(t.astype("datetime64[us]"))).replace(tzinfo=UTC)


SERIES_METRICS = [
    "requests",
    "successes",
    "errors",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_max_ms",
    "ttft_p99_ms",
    "tokens",
    "cost_usd",
    "unpriced_requests",
    "active_users",
    "cache_hit_rate",
    "rpm",
    "rpm_peak",
]


def expected_points(
    sel: list[dict], start: datetime, end: datetime, interval: str, metrics: list[str]
) -> list[dict]:
    points = []
    by_bucket: dict[np.datetime64, list[dict]] = {}
    for e in sel:
        by_bucket.setdefault(trunc(e["ts"], interval), []).append(e)
    for t in buckets(start, end, interval):
        b_start = to_dt(t)
        if interval == "month":  # month lengths differ: numpy's calendar
            b_next = to_dt((t.astype("datetime64[M]") + 1).astype("datetime64[us]"))
        else:
            step = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}[interval]
            b_next = b_start + timedelta(seconds=step)
        inside = by_bucket.get(t, [])
        covered = (min(b_next, end) - max(b_start, start)).total_seconds() / 60
        m = expected_metrics(inside, covered, {})
        point = {"t": iso(b_start), **{name: m[name] for name in metrics}}
        points.append(point)
    return points


@pytest.mark.parametrize(
    ("interval", "start", "end"),
    [
        ("minute", BASE + timedelta(minutes=7, seconds=30), BASE + timedelta(hours=2, seconds=10)),
        ("hour", BASE - timedelta(days=3, minutes=20), BASE + timedelta(days=2, minutes=5)),
        ("day", WIDE[0] + timedelta(hours=5), WIDE[1]),
        ("week", WIDE[0], WIDE[1] + timedelta(days=3)),
        ("month", WIDE[0] - timedelta(days=40), WIDE[1] + timedelta(days=40)),
    ],
)
def test_timeseries_matches_numpy(
    app: InProcessApp, data: DataSet, interval: str, start: datetime, end: datetime
) -> None:
    sel = select(data.events, start, end, {})
    with data.client(app) as c:
        got = get(
            c,
            "/v1/metrics/timeseries",
            as_params(start, end, interval=interval, metrics=",".join(SERIES_METRICS)),
        )
    assert got["interval"] == interval
    assert len(got["series"]) == 1
    want = expected_points(sel, start, end, interval, SERIES_METRICS)
    points = got["series"][0]["points"]
    assert [p["t"] for p in points] == [p["t"] for p in want]
    for g, w in zip(points, want, strict=True):
        assert_same(g, w, w["t"])
    assert sum(p["requests"] for p in points) == len(sel)
    empty = [p for p in points if p["requests"] == 0]
    assert empty, "the range should have empty buckets"
    for p in empty:
        assert p["errors"] == 0 and p["latency_p95_ms"] is None and p["ttft_p99_ms"] is None
    if interval == "week":
        assert all(datetime.fromisoformat(p["t"]).weekday() == 0 for p in points)


@pytest.mark.parametrize("group_by", ["model", "metadata.tier", "error_type"])
def test_timeseries_group_by(app: InProcessApp, data: DataSet, group_by: str) -> None:
    start, end = CLUSTER
    key = "tier" if group_by == "metadata.tier" else group_by
    sel = select(data.events, start, end, {"environment": ["prod"]})
    metrics = ["requests", "latency_p95_ms", "cost_usd", "rpm_peak"]
    with data.client(app) as c:
        got = get(
            c,
            "/v1/metrics/timeseries",
            as_params(
                start,
                end,
                {"environment": ["prod"]},
                interval="hour",
                metrics=",".join(metrics),
                group_by=group_by,
            ),
        )
    groups = {e[key] for e in sel}
    assert {s["group"] for s in got["series"]} == groups
    assert len(got["series"]) == len(groups)
    for series in got["series"]:
        inside = [e for e in sel if e[key] == series["group"]]
        want = expected_points(inside, start, end, "hour", metrics)
        assert len(series["points"]) == 3
        for g, w in zip(series["points"], want, strict=True):
            assert_same(g, w, f"{series['group']}@{w['t']}")


def test_timeseries_offsets_land_in_utc_buckets(app: InProcessApp, project: str) -> None:
    """23:30 at -08:00 is 07:30 UTC the next day; 05:00 at +05:30 is 23:30 UTC the day before."""
    events = [
        {"timestamp": "2025-02-10T23:30:00-08:00", "model": "m", "latency_ms": 1},  # 11th 07:30Z
        {"timestamp": "2025-02-11T05:00:00+05:30", "model": "m", "latency_ms": 2},  # 10th 23:30Z
        {"timestamp": "2025-02-11T00:00:00Z", "model": "m", "latency_ms": 3},
    ]
    key = _own_events(app, project, events)
    with app.client(key) as c:
        days = get(
            c,
            "/v1/metrics/timeseries",
            [
                ("from", "2025-02-10T00:00:00Z"),
                ("to", "2025-02-13T00:00:00Z"),
                ("interval", "day"),
                ("metrics", "requests,latency_max_ms"),
            ],
        )
        hours = get(
            c,
            "/v1/metrics/timeseries",
            [
                ("from", "2025-02-10T23:00:00Z"),
                ("to", "2025-02-11T08:00:00Z"),
                ("interval", "hour"),
                ("metrics", "requests"),
            ],
        )
    assert [(p["t"], p["requests"], p["latency_max_ms"]) for p in days["series"][0]["points"]] == [
        ("2025-02-10T00:00:00Z", 1, 2),
        ("2025-02-11T00:00:00Z", 2, 3),
        ("2025-02-12T00:00:00Z", 0, None),
    ]
    counts = {p["t"]: p["requests"] for p in hours["series"][0]["points"]}
    assert counts == {
        "2025-02-10T23:00:00Z": 1,
        "2025-02-11T00:00:00Z": 1,
        **{f"2025-02-11T0{h}:00:00Z": 0 for h in range(1, 7)},
        "2025-02-11T07:00:00Z": 1,
    }


# ---------------------------------------------------------------- breakdown


BREAKDOWN_METRICS = list(ALL_METRICS)


def expected_rows(sel: list[dict], by: str, minutes: float, metrics: list[str]) -> dict:
    key = "tier" if by == "metadata.tier" else by
    out = {}
    for value in {e[key] for e in sel}:
        m = expected_metrics([e for e in sel if e[key] == value], minutes, {})
        out[value] = {by: value, **{name: m[name] for name in metrics}}
    return out


@pytest.mark.parametrize("by", DIMENSIONS)
def test_breakdown_matches_numpy(app: InProcessApp, data: DataSet, by: str) -> None:
    start, end = CLUSTER
    sel = select(data.events, start, end, {})
    if by == "project":
        want = {
            data.project: {
                "project": data.project,
                **{
                    k: v
                    for k, v in expected_metrics(sel, 180, {}).items()
                    if k in BREAKDOWN_METRICS
                },
            }
        }
    else:
        want = expected_rows(sel, by, 180, BREAKDOWN_METRICS)
    with data.client(app) as c:
        got = get(
            c,
            "/v1/metrics/breakdown",
            as_params(start, end, by=by, metrics=",".join(BREAKDOWN_METRICS), limit="1000"),
        )
    assert got["by"] == by
    rows = got["rows"]
    assert len(rows) == len(want)
    assert {r[by] for r in rows} == set(want)
    for r in rows:
        assert_same(r, want[r[by]], f"{by}={r[by]}")
    counts = [r["requests"] for r in rows]
    assert counts == sorted(counts, reverse=True)  # default: requests, descending


def order_rows(rows: list[dict], by: str, sort: str, descending: bool) -> list[Any]:
    """Expected order: by the metric, nulls last either way, ties by the value's text."""
    rows = sorted(rows, key=lambda r: str(r[by]))
    present = [r for r in rows if r[sort] is not None]
    missing = [r for r in rows if r[sort] is None]
    present.sort(key=lambda r: r[sort], reverse=descending)
    return [r[by] for r in present + missing]


@pytest.mark.parametrize(
    ("by", "sort", "order", "limit"),
    [
        ("model", "cost_usd", "desc", 3),
        ("model", "latency_p95_ms", "asc", 20),
        ("user_id", "requests", "desc", 5),
        ("user_id", "ttft_p99_ms", "asc", 1000),
        ("prompt_id", "error_rate", "asc", 2),
        ("metadata.tier", "tokens_per_request", "desc", 1),
        ("session_id", "active_users", "asc", 7),
    ],
)
def test_breakdown_sort_order_limit(
    app: InProcessApp, data: DataSet, by: str, sort: str, order: str, limit: int
) -> None:
    start, end = CLUSTER
    sel = select(data.events, start, end, {"status": ["success", "error"]})
    want = expected_rows(sel, by, 180, ["requests", sort])
    with data.client(app) as c:
        got = get(
            c,
            "/v1/metrics/breakdown",
            as_params(
                start,
                end,
                {"status": ["success", "error"]},
                by=by,
                sort=sort,
                order=order,
                limit=str(limit),
                metrics="requests",
            ),
        )
    expected_order = order_rows(list(want.values()), by, sort, order == "desc")[:limit]
    assert [r[by] for r in got["rows"]] == expected_order
    for r in got["rows"]:
        assert_same(r, want[r[by]])


def test_breakdown_with_filters(app: InProcessApp, data: DataSet) -> None:
    start, end = WIDE
    filters = {"tag": ["vip", "c"], "status": ["error"], "metadata.tier": ["pro", "free"]}
    sel = select(data.events, start, end, filters)
    minutes = (end - start).total_seconds() / 60
    want = expected_rows(sel, "error_type", minutes, BREAKDOWN_METRICS)
    with data.client(app) as c:
        got = get(
            c,
            "/v1/metrics/breakdown",
            as_params(
                start,
                end,
                filters,
                by="error_type",
                metrics=",".join(BREAKDOWN_METRICS),
                limit="1000",
            ),
        )
    assert {r["error_type"] for r in got["rows"]} == set(want)
    for r in got["rows"]:
        assert_same(r, want[r["error_type"]])


# ---------------------------------------------------------------- bad parameters


T0, T1 = "2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z"
BAD = [
    ("overview", [("from", T1), ("to", T0)], "from"),
    ("overview", [("from", T0), ("to", T0)], "from"),
    ("overview", [("from", "yesterday")], "from"),
    ("overview", [("to", "2025-06-02T00:00:00")], "to"),
    ("overview", [("from", T0), ("from", T0)], "from"),
    ("overview", [("compare", "next")], "compare"),
    ("overview", [("model", "")], "model"),
    ("overview", [("metadata.bad$key", "x")], "metadata.bad$key"),
    ("timeseries", [("metrics", "requests,nope")], "metrics"),
    ("timeseries", [("interval", "fortnight")], "interval"),
    (
        "timeseries",
        [("interval", "minute"), ("from", "2025-01-01T00:00:00Z"), ("to", "2025-03-01T00:00:00Z")],
        "interval",
    ),
    ("timeseries", [("group_by", "tag")], "group_by"),
    ("timeseries", [("group_by", "colour")], "group_by"),
    ("timeseries", [("interval", "hour"), ("interval", "day")], "interval"),
    ("breakdown", [], "by"),
    ("breakdown", [("by", "nope")], "by"),
    ("breakdown", [("by", "model"), ("sort", "nope")], "sort"),
    ("breakdown", [("by", "model"), ("order", "sideways")], "order"),
    ("breakdown", [("by", "model"), ("limit", "0")], "limit"),
    ("breakdown", [("by", "model"), ("limit", "1001")], "limit"),
    ("breakdown", [("by", "model"), ("limit", "ten")], "limit"),
    ("breakdown", [("by", "model"), ("by", "prompt_id")], "by"),
    ("breakdown", [("by", "model"), ("metrics", "requests,bogus")], "metrics"),
]


@pytest.mark.parametrize(
    ("endpoint", "params", "field"), BAD, ids=[f"{e}-{f}-{i}" for i, (e, _, f) in enumerate(BAD)]
)
def test_bad_parameters_are_named(
    app: InProcessApp, data: DataSet, endpoint: str, params: list[tuple[str, str]], field: str
) -> None:
    with data.client(app) as c:
        r = c.get(f"/v1/metrics/{endpoint}", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 422
    assert field in [e["field"] for e in body["errors"]], body
