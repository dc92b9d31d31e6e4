"""The store contract: what every event-store backend answers, checked on one seeded dataset.

Every figure is compared with an independent numpy computation on the raw dataset (never with a
hard-coded answer, never with another store's answer). The suite reaches a store only through
its door (`promptpulse.store`), the floor (`promptpulse.model`), `promptpulse.config` and the
real writer (`promptpulse.ingest.writer`): a backend module is never imported here, so the next
backend runs the same file by adding its name to `conftest.BACKENDS`.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptpulse.model import (
    CALL_FIELDS,
    CATALOG,
    COLUMN_DIMENSIONS,
    DERIVED_CALL_FIELDS,
    METRICS,
    NUMERIC_CALL_FIELDS,
    SCORE_SCHEMA,
    AggRow,
    Dimension,
    Filter,
    Kind,
    Metric,
    Scope,
)
from promptpulse.store import Store
from tests.store.conftest import (
    BURSTS,
    EDGE,
    END,
    METADATA,
    MODELS,
    ODD_EDGE,
    PROJECTS,
    T0,
    TAGS,
    Dataset,
    load,
    make_calls,
    naive,
    write,
)

# Rollup percentiles are within 1 % relative of the exact ones (DESIGN.md, "Metric definitions";
# the DuckDB backend's DDSketch has alpha 0.0099). Kept here as a number: the contract never
# imports a backend to learn its constants.
QUANTILE_BOUND = 0.01
# Distinct users from a rollup come from a HyperLogLog sketch (0.81 % standard error, near exact
# for the few hundred users here): within 5 % or 2 users.
DISTINCT_BOUND = 0.05
EXACT_REL = 1e-9  # float sums and interpolations: summation order only

SQL_METRICS: list[Metric] = [m for m in METRICS if m.kind in (Kind.AGGREGATE, Kind.QUANTILE)]
QUANTILES = [m for m in SQL_METRICS if m.kind is Kind.QUANTILE]
# Counts, sums and rates: exact wherever a store takes them from (no sketch involved).
EXACT_ANYWHERE = [m for m in SQL_METRICS if m.kind is Kind.AGGREGATE and m.name != "active_users"]
# Streaming speed: percentiles of per-call figures rollups keep no sketch of (always raw, exact).
SPEED = [m for m in QUANTILES if m.column in DERIVED_CALL_FIELDS]
SKETCHABLE = [m for m in SQL_METRICS if m not in SPEED]
METADATA_KEYS = ("tier", "region", "app.version", "attempt", "ring 0/1:x")
GROUP_DIMENSIONS = [*COLUMN_DIMENSIONS, *(f"metadata.{k}" for k in METADATA_KEYS)]
ALL_TIME = Scope(T0, END)


# ---------------------------------------------------------------- the independent computation


def us(t: datetime) -> np.datetime64:
    return np.datetime64(naive(t), "us")


def select(data: Dataset, scope: Scope) -> np.ndarray:
    """Indices of the calls in scope: half-open range, each filter's values OR-ed, filters AND-ed
    (a call with a null value matches no filter value)."""
    ts = data.col("timestamp")
    keep = (ts >= us(scope.start)) & (ts < us(scope.end))
    for f in scope.filters:
        wanted = set(f.values)
        if f.dimension == "tag":
            column = data.col("tags")
            keep &= np.array([bool(tags & wanted) for tags in column], dtype=bool)
        else:
            column = data.dim(f.dimension)
            keep &= np.array([v is not None and v in wanted for v in column], dtype=bool)
    return np.flatnonzero(keep)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def figures(data: Dataset, idx: np.ndarray) -> dict[str, Any]:
    """Every aggregate and percentile metric of the catalog over the calls `idx`, from DESIGN.md
    "Metric definitions (exact)": percentiles are numpy.percentile (linear) over non-null values,
    TTFT over calls that have it, cost over priced calls, distinct non-null users."""

    def col(name: str) -> np.ndarray:
        return data.col(name)[idx]

    n = len(idx)
    status = col("status")
    successes, errors = int((status == "success").sum()), int((status == "error").sum())
    inp, out = int(col("input_tokens").sum()), int(col("output_tokens").sum())
    latency, cost = col("latency_ms"), col("cost_usd")
    priced = cost[~np.isnan(cost)]
    users = {u for u in col("user_id") if u is not None}
    want: dict[str, Any] = {
        "requests": n,
        "successes": successes,
        "errors": errors,
        "success_rate": _ratio(successes, n),
        "error_rate": _ratio(errors, n),
        "latency_max_ms": float(latency.max()) if n else None,
        "latency_mean_ms": _ratio(float(latency.sum()), n),
        "input_tokens": inp,
        "output_tokens": out,
        "cached_tokens": int(col("cached_tokens").sum()),
        "reasoning_tokens": int(col("reasoning_tokens").sum()),
        "cache_write_tokens": int(col("cache_write_tokens").sum()),
        "tokens": inp + out,
        "tokens_per_request": _ratio(inp + out, n),
        "output_tokens_per_request": _ratio(out, n),
        "cost_usd": float(priced.sum()),
        "cost_per_request_usd": _ratio(float(priced.sum()), n),
        "unpriced_requests": n - len(priced),
        "cache_hit_rate": _ratio(int((col("cache_hit") == 1).sum()), n),
        "active_users": len(users),
    }
    for column in {m.column for m in QUANTILES}:  # the catalog declares column and fraction
        ms = [m for m in QUANTILES if m.column == column]
        x = col(column)
        x = x[~np.isnan(x)]
        found = np.percentile(x, [m.q * 100 for m in ms]) if len(x) else [None] * len(ms)
        want.update(
            {m.name: None if v is None else float(v) for m, v in zip(ms, found, strict=True)}
        )
    return want


def floor(ts: np.ndarray, interval: str) -> np.ndarray:
    """UTC-aligned buckets of naive-UTC datetime64[us] values; weeks start on Monday (ISO)."""
    if interval == "week":
        days = ts.astype("datetime64[D]")
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        return (days - weekday.astype("timedelta64[D]")).astype("datetime64[us]")
    unit = {"minute": "m", "hour": "h", "day": "D", "month": "M"}[interval]
    return ts.astype(f"datetime64[{unit}]").astype("datetime64[us]")


def aware(t: np.datetime64) -> datetime:
    return t.astype("datetime64[us]").item().replace(tzinfo=UTC)


Key = tuple[datetime | None, tuple[Any, ...]]


def grouped(
    data: Dataset,
    idx: np.ndarray,
    group_by: Sequence[str] = (),
    interval: str | None = None,
    extra: Sequence[np.ndarray] = (),
) -> dict[Key, np.ndarray]:
    """The calls `idx` split by (time bucket, group values); `extra` are leading group values."""
    buckets = (
        [aware(b) for b in floor(data.col("timestamp")[idx], interval)]
        if interval
        else [None] * len(idx)
    )
    columns = [*(e[idx] for e in extra), *(data.dim(d)[idx] for d in group_by)]
    out: dict[Key, list[int]] = defaultdict(list)
    for j, i in enumerate(idx):
        out[(buckets[j], tuple(c[j] for c in columns))].append(int(i))
    return {k: np.array(v, dtype=np.int64) for k, v in out.items()}


def expected_rows(
    data: Dataset, scope: Scope, group_by: Sequence[str] = (), interval: str | None = None
) -> dict[Key, dict[str, Any]]:
    idx = select(data, scope)
    if not group_by and not interval:  # one row, even for no calls
        return {(None, ()): figures(data, idx)}
    return {k: figures(data, v) for k, v in grouped(data, idx, group_by, interval).items()}


# ---------------------------------------------------------------- comparing


def is_utc(t: datetime | None) -> bool:
    return t is not None and t.tzinfo is not None and t.utcoffset() == timedelta(0)


def as_naive_utc(t: datetime) -> datetime:
    """A stored time as naive UTC: backends hand back naive UTC or aware UTC."""
    assert t.tzinfo is None or t.utcoffset() == timedelta(0), t
    return t.replace(tzinfo=None)


def only(want: Mapping[Key, Mapping[str, Any]], metrics: Sequence[Metric]) -> dict[Key, Any]:
    """Expected rows cut down to some metrics."""
    return {k: {m.name: v[m.name] for m in metrics} for k, v in want.items()}


def by_key(rows: Sequence[AggRow]) -> dict[Key, AggRow]:
    out = {(r.t, tuple(r.group)): r for r in rows}
    assert len(out) == len(rows), "two rows for one (bucket, group)"
    return out


def assert_figures(
    got: Mapping[str, Any], want: Mapping[str, Any], where: object, approximate: bool = False
) -> None:
    """Counts are ints and equal; float figures equal up to summation order; percentiles equal
    (or within QUANTILE_BOUND when `approximate`); distinct users likewise exact or bounded."""
    for name, w in want.items():
        g = got[name]
        ctx = (where, name, g, w)
        if w is None:
            assert g is None, ctx
            continue
        assert g is not None, ctx
        if CATALOG[name].kind is Kind.QUANTILE:
            bound = QUANTILE_BOUND if approximate else EXACT_REL
            assert abs(g - w) <= bound * abs(w) + 1e-9, ctx
        elif name == "active_users" and approximate:
            assert abs(g - w) <= max(2, DISTINCT_BOUND * w), ctx
        elif isinstance(w, int):
            assert isinstance(g, int) and not isinstance(g, bool) and g == w, ctx
        else:
            assert isinstance(g, float | int) and abs(g - w) <= EXACT_REL * abs(w) + 1e-12, ctx


def assert_rows(
    rows: Sequence[AggRow],
    want: Mapping[Key, Mapping[str, Any]],
    where: object,
    interval: str | None = None,
) -> None:
    got = by_key(rows)
    assert set(got) == set(want), (where, sorted(map(str, set(got) ^ set(want)))[:6])
    for key, row in got.items():
        assert row.approximate is False, (where, key)
        assert (row.t is None) == (interval is None) and (interval is None or is_utc(row.t)), key
        assert_figures(row.values, want[key], (where, key))


# ---------------------------------------------------------------- the catalog is covered


def test_every_catalog_metric_has_an_independent_definition(dataset: Dataset) -> None:
    """A new aggregate or percentile metric needs its definition in `figures` first."""
    assert set(figures(dataset, np.arange(3))) == {m.name for m in SQL_METRICS}


def test_suite_uses_only_the_door() -> None:
    allowed = {"promptpulse.store", "promptpulse.model", "promptpulse.config"}
    allowed |= {"promptpulse.ingest.writer"}
    here = Path(__file__).parent
    for file in (here / "test_contract.py", here / "conftest.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.startswith("promptpulse"):
                    assert name in allowed, f"{file.name} imports {name}"


# ---------------------------------------------------------------- aggregates


SCOPES = {
    "all": ALL_TIME,
    "wide": Scope(T0 - timedelta(days=30), END + timedelta(days=30)),
    "odd": Scope(ODD_EDGE, EDGE + timedelta(hours=20, minutes=7, microseconds=3)),
    "one-minute": Scope(BURSTS[0][0], BURSTS[0][0] + timedelta(minutes=1)),
    "empty": Scope(T0 - timedelta(days=3), T0 - timedelta(days=1)),
}


@pytest.mark.parametrize("which", ["store", "rollup_store"])
@pytest.mark.parametrize("name", list(SCOPES))
def test_aggregate_overall(
    request: pytest.FixtureRequest, dataset: Dataset, which: str, name: str
) -> None:
    """One row (also for no calls), every metric exact; a store that may answer from rollups
    still answers exactly unless the caller allows approximate figures."""
    store: Store = request.getfixturevalue(which)
    scope = SCOPES[name]
    rows = store.aggregate(scope, SQL_METRICS)
    assert len(rows) == 1 and rows[0].group == () and rows[0].t is None
    assert_rows(rows, expected_rows(dataset, scope), name)


@pytest.mark.parametrize("dimension", GROUP_DIMENSIONS)
def test_aggregate_group_by(store: Store, dataset: Dataset, dimension: str) -> None:
    """One row per value in range, the null group included (None), every metric exact."""
    rows = store.aggregate(ALL_TIME, SQL_METRICS, [Dimension(dimension)])
    assert_rows(rows, expected_rows(dataset, ALL_TIME, [dimension]), dimension)
    assert all(r.key == r.group[0] for r in rows)


def test_aggregate_group_by_two_dimensions(store: Store, dataset: Dataset) -> None:
    dims = ["project", "metadata.tier"]
    scope = Scope(T0 + timedelta(hours=6), END - timedelta(hours=6))
    rows = store.aggregate(scope, SQL_METRICS, [Dimension(d) for d in dims])
    assert_rows(rows, expected_rows(dataset, scope, dims), dims)


FILTER_CASES: dict[str, tuple[Filter, ...]] = {
    "model": (Filter("model", ("gpt-4o",)),),
    "models-or": (Filter("model", ("gpt-4o", "inhouse-7b")),),
    "status-and-project": (Filter("status", ("error",)), Filter("project", ("alpha", "gamma"))),
    "prompt-null-excluded": (Filter("prompt_id", ("support", "search")),),
    "user": (Filter("user_id", ("u1", "u2", "u3")),),
    "error-type": (Filter("error_type", ("timeout",)), Filter("environment", ("prod",))),
    "feature-service": (Filter("feature", ("f1",)), Filter("service", ("api", "worker"))),
    "session": (Filter("session_id", ("s1", "s2", "s3", "s4")),),
    "tag": (Filter("tag", ("vip",)),),
    "tags-or": (Filter("tag", ("vip", "canary")),),
    "metadata": (Filter("metadata.tier", ("gold",)),),
    "metadata-or": (Filter("metadata.tier", ("gold", "free")),),
    "metadata-dotted-key": (Filter("metadata.app.version", ("1.2",)),),
    "metadata-number": (Filter("metadata.attempt", ("2", "10")),),
    "metadata-odd-key": (Filter("metadata.ring 0/1:x", ("a",)), Filter("tag", ("vip",))),
    "metadata-and-tag-and-column": (
        Filter("metadata.region", ("eu",)),
        Filter("tag", ("beta-test",)),
        Filter("model", ("gpt-4o-mini", "claude-3-5-sonnet")),
    ),
    "no-match": (Filter("model", ("no-such-model",)),),
    "no-values-match-nothing": (Filter("metadata.tier", ()), Filter("project", ("alpha",))),
    "quotes-are-values": (Filter("model", ("gpt-4o' OR '1'='1",)),),
    "quotes-in-metadata": (Filter("metadata.tier", ("gold' OR 1=1 --", 'x"y')),),
    "quotes-in-tag": (Filter("tag", ("vip'] OR TRUE --",)),),
}


@pytest.mark.parametrize("which", ["store", "rollup_store"])
@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_aggregate_filtered(
    request: pytest.FixtureRequest, dataset: Dataset, which: str, case: str
) -> None:
    store: Store = request.getfixturevalue(which)
    scope = Scope(T0 + timedelta(minutes=30), END, FILTER_CASES[case])
    assert_rows(store.aggregate(scope, SQL_METRICS), expected_rows(dataset, scope), case)


@pytest.mark.parametrize("case", ["metadata", "tags-or", "status-and-project"])
def test_aggregate_filtered_and_grouped(store: Store, dataset: Dataset, case: str) -> None:
    scope = Scope(T0, END, FILTER_CASES[case])
    for dims in (["model"], ["metadata.region"]):
        rows = store.aggregate(scope, SQL_METRICS, [Dimension(d) for d in dims])
        assert_rows(rows, expected_rows(dataset, scope, dims), (case, dims))


@pytest.mark.parametrize(
    ("interval", "group_by", "filters"),
    [
        ("minute", (), (Filter("project", ("gamma",)),)),
        ("hour", (), ()),
        ("hour", ("status",), (Filter("tag", ("canary",)),)),
        ("day", (), ()),
        ("day", ("metadata.tier",), ()),
        ("week", ("project",), ()),
        ("month", (), (Filter("metadata.region", ("eu",)),)),
    ],
)
def test_aggregate_series(
    store: Store,
    dataset: Dataset,
    interval: str,
    group_by: tuple[str, ...],
    filters: tuple[Filter, ...],
) -> None:
    """Only non-empty buckets, each `t` aware UTC and the UTC floor of its calls' timestamps."""
    scope = Scope(T0 + timedelta(minutes=1, seconds=30), END - timedelta(hours=1), filters)
    rows = store.aggregate(scope, SQL_METRICS, [Dimension(d) for d in group_by], interval)
    assert_rows(rows, expected_rows(dataset, scope, group_by, interval), interval, interval)


def test_half_open_range(store: Store, dataset: Dataset) -> None:
    """[start, end): a call exactly at `start` is in, a call exactly at `end` is out; a range
    given in another time zone is the same instants."""
    requests = [CATALOG["requests"]]
    ts = dataset.col("timestamp")
    for edge in (EDGE, ODD_EDGE):
        at = int((ts == us(edge)).sum())
        assert at >= 2
        for scope in (
            Scope(edge, END),
            Scope(T0, edge),
            Scope(edge, edge + timedelta(microseconds=1)),
            Scope(edge - timedelta(microseconds=1), edge),
            Scope(edge.astimezone(timezone(timedelta(hours=5, minutes=30))), END),
        ):
            got = store.aggregate(scope, requests)[0]["requests"]
            assert got == len(select(dataset, scope)), scope
        assert (
            store.aggregate(Scope(edge, edge + timedelta(microseconds=1)), requests)[0]["requests"]
            == at
        )
    assert (
        store.aggregate(Scope(T0, END - timedelta(microseconds=1)), requests)[0]["requests"]
        == dataset.n - 2
    )  # the two calls in the last microsecond


STRATEGY_FILTERS: dict[str, tuple[str, ...]] = {
    "project": PROJECTS,
    "model": tuple(MODELS),
    "status": ("success", "error"),
    "prompt_id": ("support", "search", "summarise"),
    "environment": ("prod", "staging"),
    "error_type": ("timeout", "rate_limit", "llm_error"),
    "user_id": ("u0", "u5", "u7", "u11", "u42"),
    "tag": TAGS,
    "metadata.tier": ("gold", "free", "platinum"),
    "metadata.region": ("eu", "us"),
}
INSTANTS = [T0, EDGE, ODD_EDGE, END, *(m for m, _, _ in BURSTS)]


@st.composite
def scopes(draw: st.DrawFn) -> Scope:
    def instant() -> datetime:
        if draw(st.booleans()):
            return draw(st.sampled_from(INSTANTS))
        return T0 + timedelta(microseconds=draw(st.integers(-3_600_000_000, 75 * 3_600_000_000)))

    a, b = sorted((instant(), instant()))
    filters = []
    for d in draw(st.lists(st.sampled_from(list(STRATEGY_FILTERS)), unique=True, max_size=3)):
        values = st.lists(st.sampled_from(STRATEGY_FILTERS[d]), min_size=1, max_size=3, unique=True)
        filters.append(Filter(d, tuple(draw(values))))
    return Scope(a, b if b > a else b + timedelta(microseconds=1), tuple(filters))


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scope=scopes())
@pytest.mark.parametrize("which", ["store", "rollup_store"])
def test_aggregate_random_scopes(
    request: pytest.FixtureRequest, dataset: Dataset, which: str, scope: Scope
) -> None:
    """Random ranges (often starting or ending exactly on a call) and random filters."""
    store: Store = request.getfixturevalue(which)
    assert_rows(store.aggregate(scope, SQL_METRICS), expected_rows(dataset, scope), scope)


# ---------------------------------------------------------------- peaks and scores


def expected_peaks(
    data: Dataset, scope: Scope, group_by: Sequence[str] = (), interval: str | None = None
) -> dict[Key, int]:
    idx = select(data, scope)
    minute = floor(data.col("timestamp"), "minute")
    out: dict[Key, int] = {}
    for key, calls in grouped(data, idx, group_by, interval).items():
        out[key] = int(np.unique(minute[calls], return_counts=True)[1].max())
    return out


@pytest.mark.parametrize(
    ("group_by", "interval", "filters"),
    [
        ((), None, ()),
        ((), None, (Filter("project", ("beta", "gamma")),)),
        (("project",), None, ()),
        (("metadata.tier",), None, (Filter("tag", ("vip", "canary")),)),
        ((), "hour", ()),
        (("model",), "day", ()),
        (("status",), "month", (Filter("metadata.region", ("eu", "us")),)),
    ],
)
def test_peak_per_minute(
    store: Store,
    dataset: Dataset,
    group_by: tuple[str, ...],
    interval: str | None,
    filters: tuple[Filter, ...],
) -> None:
    """The most calls in one UTC-aligned minute, per group and bucket."""
    scope = Scope(T0, END, filters)
    rows = store.peak_per_minute(scope, [Dimension(d) for d in group_by], interval)
    got = {(r.t, tuple(r.group)): r.peak for r in rows}
    assert len(got) == len(rows)
    assert got == expected_peaks(dataset, scope, group_by, interval)
    assert all(isinstance(r.peak, int) and (interval is None or is_utc(r.t)) for r in rows)


def test_peak_per_minute_of_nothing(store: Store) -> None:
    rows = store.peak_per_minute(SCOPES["empty"])
    assert [r.peak for r in rows] in ([], [0])
    assert store.peak_per_minute(SCOPES["empty"], [Dimension("model")], "hour") == []


def expected_scores(data: Dataset, scope: Scope) -> dict[str, dict[str, float | int]]:
    idx = select(data, scope)
    calls = set(zip(data.col("project")[idx], data.col("id")[idx], strict=True))
    values: dict[str, list[float]] = defaultdict(list)
    for s in data.scores.to_pylist():
        if (s["project"], s["event_id"]) in calls:
            values[s["name"]].append(s["value"])
    return {k: {"count": len(v), "mean": float(np.mean(v))} for k, v in values.items()}


@pytest.mark.parametrize(
    "scope",
    [
        ALL_TIME,
        Scope(T0, END, (Filter("project", ("beta",)),)),
        Scope(EDGE, END, (Filter("model", ("gpt-4o",)), Filter("metadata.tier", ("gold",)))),
        Scope(T0, EDGE, (Filter("tag", ("canary",)),)),
        SCOPES["empty"],
    ],
    ids=["all", "project", "filtered", "tag", "empty"],
)
def test_score_summary(store: Store, dataset: Dataset, scope: Scope) -> None:
    """Scores of the calls in scope (joined on project and call id), per name: count, mean."""
    assert_scores(store.score_summary(scope), expected_scores(dataset, scope))


def assert_scores(got: Mapping[str, Mapping[str, Any]], want: Mapping[str, Mapping[str, Any]]):
    assert set(got) == set(want)
    for name, w in want.items():
        assert got[name]["count"] == w["count"] and isinstance(got[name]["count"], int)
        assert got[name]["mean"] == pytest.approx(w["mean"], rel=EXACT_REL)


# ---------------------------------------------------------------- raw calls


def stored_value(name: str, value: Any) -> Any:
    """A value a store hands back, in the dataset's terms (naive UTC, metadata parsed)."""
    if isinstance(value, datetime):
        return as_naive_utc(value)
    if name == "metadata":
        return json.loads(value) if value else None
    if name == "tags":
        return sorted(value or [])
    return value


def dataset_rows(data: Dataset) -> dict[str, dict[str, Any]]:
    if "rows" not in data.cache:
        rows = {r["id"]: r for r in data.calls.to_pylist()}
        for r in rows.values():
            r["metadata"] = json.loads(r["metadata"]) if r["metadata"] else None
        data.cache["rows"] = rows
    return data.cache["rows"]


def assert_rows_are_calls(data: Dataset, rows: Sequence[Mapping[str, Any]]) -> None:
    calls = dataset_rows(data)
    for r in rows:
        want = calls[r["id"]]
        for name, value in r.items():
            assert stored_value(name, value) == want[name], (r["id"], name, value, want[name])


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize(
    ("columns", "filters", "limit"),
    [
        (list(CALL_FIELDS), (), 25),
        (["id", "timestamp", "latency_ms", "status"], (Filter("status", ("error",)),), 40),
        (["timestamp", "id", "metadata", "tags"], (Filter("metadata.tier", ("free",)),), 10**6),
        (["id", "timestamp"], (Filter("tag", ("vip",)), Filter("project", ("gamma",))), 7),
    ],
    ids=["all-columns", "errors", "metadata-all", "tag"],
)
def test_calls(
    store: Store,
    dataset: Dataset,
    columns: list[str],
    filters: tuple[Filter, ...],
    limit: int,
    newest_first: bool,
) -> None:
    """The requested fields of the newest (or oldest) `limit` calls in scope, in time order."""
    scope = Scope(T0 + timedelta(hours=2), EDGE + timedelta(microseconds=1), filters)
    rows = store.calls(scope, columns, limit, newest_first)
    idx = select(dataset, scope)
    assert len(rows) == min(limit, len(idx)) > 0
    assert all(list(r) == columns for r in rows)
    times = [as_naive_utc(r["timestamp"]) for r in rows]
    want = sorted(dataset.col("timestamp")[idx].astype(datetime).tolist(), reverse=newest_first)
    assert times == want[: len(rows)]
    assert {r["id"] for r in rows} <= set(dataset.col("id")[idx])
    assert_rows_are_calls(dataset, rows)


@pytest.mark.parametrize(
    "scope",
    [ALL_TIME, Scope(ODD_EDGE, END, (Filter("metadata.tier", ("gold",)), Filter("tag", ("vip",))))],
    ids=["all", "filtered"],
)
def test_values(store: Store, dataset: Dataset, scope: Scope) -> None:
    """Every numeric field of the calls in scope as float64: nulls left out, or NaN."""
    idx = select(dataset, scope)
    for name in NUMERIC_CALL_FIELDS:
        want = dataset.col(name)[idx]
        got = store.values(scope, name)
        assert got.dtype == np.float64, name
        np.testing.assert_array_equal(np.sort(got), np.sort(want[~np.isnan(want)]), name)
        got = store.values(scope, name, where_not_null=False)
        np.testing.assert_array_equal(np.sort(got), np.sort(want), name)


def sorted_rows(columns: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Row-aligned columns as a matrix with rows in a canonical order (NaN as -1: values >= 0)."""
    m = np.nan_to_num(np.column_stack([columns[n] for n in names]), nan=-1.0)
    return m[np.lexsort(m.T[::-1])] if len(m) else m


@pytest.mark.parametrize(
    "scope",
    [ALL_TIME, Scope(T0, EDGE, (Filter("model", ("inhouse-7b", "gpt-4o")),))],
    ids=["all", "filtered"],
)
def test_columns(store: Store, dataset: Dataset, scope: Scope) -> None:
    """Numeric fields row-aligned, NaN for null."""
    names = ["latency_ms", "ttft_ms", "input_tokens", "cost_usd", "cache_hit", "http_status"]
    got = store.columns(scope, names)
    idx = select(dataset, scope)
    assert set(got) == set(names)
    assert all(got[n].dtype == np.float64 and len(got[n]) == len(idx) for n in names)
    want = {n: dataset.col(n)[idx] for n in names}
    np.testing.assert_array_equal(sorted_rows(got, names), sorted_rows(want, names))


def test_row_counts(store: Store, dataset: Dataset) -> None:
    assert store.row_counts() == {"calls": dataset.n, "scores": dataset.scores.num_rows}


# ---------------------------------------------------------------- cohorts


def cohorts(data: Dataset, since: datetime) -> np.ndarray:
    """Per call: "new" when its user's first call in the project is at or after `since`,
    "returning" when before, None without a user_id."""
    first: dict[tuple[str, str], np.datetime64] = {}
    for p, u, t in zip(
        data.col("project"), data.col("user_id"), data.col("timestamp"), strict=True
    ):
        if u is not None and ((p, u) not in first or t < first[(p, u)]):
            first[(p, u)] = t
    out = np.empty(data.n, dtype=object)
    for i, (p, u) in enumerate(zip(data.col("project"), data.col("user_id"), strict=True)):
        out[i] = None if u is None else "new" if first[(p, u)] >= us(since) else "returning"
    return out


def a_first_call(data: Dataset) -> datetime:
    """A user's first call in its project, on the second day: `since` exactly on it."""
    ts, seen = data.col("timestamp"), set()
    order = np.argsort(ts, kind="stable")
    firsts = []
    for i in order:
        key = (data.col("project")[i], data.col("user_id")[i])
        if key[1] is not None and key not in seen:
            seen.add(key)
            firsts.append(ts[i])
    day2 = [t for t in firsts if us(T0 + timedelta(days=1)) <= t < us(T0 + timedelta(days=2))]
    return aware(day2[len(day2) // 2])


@pytest.mark.parametrize("group_by", [(), ("project",), ("metadata.tier", "model")])
@pytest.mark.parametrize(
    "filters",
    [
        (),
        (Filter("model", ("gpt-4o", "inhouse-7b")),),
        (Filter("tag", ("vip", "canary")), Filter("metadata.tier", ("gold", "free"))),
    ],
    ids=["all", "models", "tag-and-metadata"],
)
def test_cohort_aggregate(
    store: Store, dataset: Dataset, group_by: tuple[str, ...], filters: tuple[Filter, ...]
) -> None:
    """Rows per (cohort, *groups) over the calls in scope that have a user; history is every
    stored call of the project, whatever the scope's other filters."""
    since = a_first_call(dataset)
    cohort = cohorts(dataset, since)
    assert (cohort[dataset.col("timestamp") == us(since)] == "new").any()  # at since: new
    for scope in (Scope(since, END, filters), Scope(since - timedelta(hours=20), END, filters)):
        rows = store.cohort_aggregate(scope, since, SQL_METRICS, [Dimension(d) for d in group_by])
        idx = select(dataset, scope)
        idx = idx[cohort[idx] != None]  # noqa: E711 (an object array)
        want = {
            k: figures(dataset, v)
            for k, v in grouped(dataset, idx, group_by, None, extra=[cohort]).items()
        }
        assert {k[1][0] for k in want} == {"new", "returning"}
        assert_rows(rows, want, (scope, group_by))


@pytest.mark.parametrize("new", [True, False])
def test_cohort_columns(store: Store, dataset: Dataset, new: bool) -> None:
    since = a_first_call(dataset)
    cohort = cohorts(dataset, since)
    scope = Scope(since - timedelta(hours=3), END, (Filter("metadata.region", ("eu", "us")),))
    names = ["latency_ms", "ttft_ms", "output_tokens"]
    got = store.cohort_columns(scope, since, new, names)
    idx = select(dataset, scope)
    idx = idx[cohort[idx] == ("new" if new else "returning")]
    assert len(idx) and all(got[n].dtype == np.float64 for n in names)
    want = {n: dataset.col(n)[idx] for n in names}
    np.testing.assert_array_equal(sorted_rows(got, names), sorted_rows(want, names))


# ---------------------------------------------------------------- writing, exports


def test_writes_are_idempotent(fresh: Callable[..., Store], dataset: Dataset) -> None:
    """The same ids written again, by the same writer or a new one (which learns the stored keys
    from the store), are stored once: counts and figures unchanged."""
    store = fresh()
    part = dataset.calls.slice(0, 1200)
    assert write(store, "events", part) == (1200, 0)
    assert write(store, "scores", dataset.scores) == (dataset.scores.num_rows, 0)
    counts = store.row_counts()
    before = store.aggregate(ALL_TIME, SQL_METRICS)[0].values
    altered = part.set_column(
        part.schema.get_field_index("latency_ms"), "latency_ms", pa.array([1e6] * 1200)
    )
    twice = pa.concat_tables([part.slice(0, 500), altered])  # in one commit
    assert write(store, "events", twice, batch=2000) == (0, 1700)
    assert write(store, "events", altered.slice(700), batch=100) == (0, 500)
    assert write(store, "scores", dataset.scores) == (0, dataset.scores.num_rows)
    assert store.row_counts() == counts == {"calls": 1200, "scores": dataset.scores.num_rows}
    assert store.aggregate(ALL_TIME, SQL_METRICS)[0].values == before
    # Known and new ids in one commit: only the new ones are stored.
    mixed = pa.concat_tables([altered.slice(0, 300), dataset.calls.slice(1200, 100)])
    assert write(store, "events", mixed, batch=400) == (100, 300)
    assert store.row_counts()["calls"] == 1300
    rows = store.aggregate(ALL_TIME, SQL_METRICS)
    assert_rows(rows, {(None, ()): figures(dataset, np.arange(1300))}, "idempotent")


def exported(
    store: Store, source: str, columns: Sequence[str], scope: Scope, time_column: str = "timestamp"
) -> pa.Table:
    total, batches = store.export_batches(source, columns, scope, time_column, batch_rows=500)
    table = pa.Table.from_batches(list(batches))
    assert table.num_rows == total
    assert table.column_names == list(columns)
    return table


@pytest.mark.parametrize(
    ("columns", "filters"),
    [
        (list(CALL_FIELDS), ()),
        (
            ["id", "timestamp", "project", "model", "metadata", "tags", "cost_usd"],
            (Filter("metadata.tier", ("gold",)), Filter("tag", ("vip", "canary"))),
        ),
        (["id", "timestamp", "user_id"], (Filter("metadata.region", ("eu",)),)),
        (
            ["id", "timestamp", "latency_ms"],
            (Filter("project", ("alpha", "beta")), Filter("metadata.app.version", ("1.2",))),
        ),
    ],
    ids=["all", "metadata-and-tag", "metadata", "project-and-dotted-key"],
)
def test_export_calls(
    store: Store, dataset: Dataset, columns: list[str], filters: tuple[Filter, ...]
) -> None:
    """Exactly the calls in scope (every filter applies, metadata and tags included), with the
    requested columns, in time order."""
    scope = Scope(T0 + timedelta(hours=1), END - timedelta(hours=1), filters)
    table = exported(store, "calls", columns, scope)
    idx = select(dataset, scope)
    rows = table.to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(dataset.col("id")[idx])
    times = [as_naive_utc(r["timestamp"]) for r in rows]
    assert times == sorted(times)
    assert_rows_are_calls(dataset, rows)


def test_export_calls_by_arrival(store: Store, dataset: Dataset) -> None:
    """Scheduled exports select by `received_at` (every call of the dataset arrived at once,
    after END)."""
    arrived = aware(dataset.col("received_at")[0])
    for start, end, rows in (
        (arrived, arrived + timedelta(microseconds=1), dataset.n),
        (arrived - timedelta(hours=1), arrived, 0),
        (T0, END, 0),
    ):
        scope = Scope(start, end, (Filter("project", ("beta",)),))
        table = exported(store, "calls", ["id", "received_at"], scope, "received_at")
        assert table.num_rows == (rows and int((dataset.col("project") == "beta").sum()))


def test_export_scores(store: Store, dataset: Dataset) -> None:
    """Scores by arrival (`received_at`), of the scope's projects only, every stored column as
    written (orphans included: a score is kept whether or not its call is)."""
    arrived = dataset.scores.column("received_at")[0].as_py().replace(tzinfo=UTC)
    columns = list(SCORE_SCHEMA.names)
    everything = exported(store, "scores", columns, Scope(arrived, arrived + timedelta(seconds=1)))
    key = lambda r: (r["project"], r["id"])  # noqa: E731
    want = sorted(dataset.scores.to_pylist(), key=key)
    got = sorted(everything.to_pylist(), key=key)
    assert [key(r) for r in got] == [key(r) for r in want]
    for g, w in zip(got, want, strict=True):
        assert (g["event_id"], g["name"], g["value"], g["source"]) == (
            w["event_id"], w["name"], w["value"], w["source"])  # fmt: skip
    beta = Scope(arrived, arrived + timedelta(seconds=1), (Filter("project", ("beta",)),))
    only = exported(store, "scores", ["project", "id"], beta).to_pylist()
    assert len(only) == sum(r["project"] == "beta" for r in want) > 0
    assert exported(store, "scores", ["id"], Scope(T0, END)).num_rows == 0  # before arrival


@pytest.mark.parametrize(("source", "interval"), [("hourly", "hour"), ("daily", "day")])
def test_export_rollups(store: Store, dataset: Dataset, source: str, interval: str) -> None:
    """Rollup rows: one per (bucket, rollup dimensions), their call counts (`a_count`, a column
    of the export schema) add up to the calls per bucket and project."""
    assert set(store.rollup_dimensions) <= set(COLUMN_DIMENSIONS)
    columns = list(store.rollup_columns)
    assert {"bucket", "a_count", *store.rollup_dimensions} <= set(columns)
    scope = Scope(T0, END, (Filter("project", ("alpha", "gamma")),))
    rows = exported(store, source, columns, scope).to_pylist()
    keys = [(r["bucket"], *(r[d] for d in store.rollup_dimensions)) for r in rows]
    assert len(set(keys)) == len(keys)
    got: dict[Key, int] = defaultdict(int)
    for r in rows:
        got[(as_naive_utc(r["bucket"]).replace(tzinfo=UTC), (r["project"],))] += r["a_count"]
    idx = select(dataset, scope)
    want = {k: len(v) for k, v in grouped(dataset, idx, ["project"], interval).items()}
    assert dict(got) == want


# ---------------------------------------------------------------- retention and erasure


def remaining(data: Dataset, keep: np.ndarray) -> Dataset:
    """The dataset without the calls not in `keep`, and without those calls' scores."""
    keys = list(zip(data.col("project"), data.col("id"), strict=True))
    dropped = {k for k, kept in zip(keys, keep, strict=True) if not kept}
    scores = data.scores.filter(
        pa.array(
            [
                (p, e) not in dropped
                for p, e in zip(
                    data.scores.column("project").to_pylist(),
                    data.scores.column("event_id").to_pylist(),
                    strict=True,
                )
            ]
        )
    )
    return Dataset(data.calls.filter(pa.array(keep)), scores, 0)


def test_retention(fresh: Callable[..., Store], dataset_batches: tuple) -> None:
    """`apply_retention("raw", before, project)` removes exactly that project's raw calls before
    `before` (a call at `before` stays). `raw_incomplete` is then true for the scopes reaching
    before it in that project, and only those; what rollups can answer does not change
    (docs/data-lifecycle.md: queries reaching before the horizon answer from rollups)."""
    store = fresh()  # raw calls only, until retention
    data = load(store, dataset_batches)
    assert not store.raw_incomplete(ALL_TIME)
    project, ts = data.col("project"), data.col("timestamp")
    gone = (project == "alpha") & (ts < us(EDGE))
    assert ((project == "alpha") & (ts == us(EDGE))).any()  # stays: not before EDGE
    assert store.apply_retention("raw", EDGE, "alpha") == int(gone.sum()) > 0
    left = remaining(data, ~gone)
    check_raw(store, left)
    check_rollups_match(store, data, "raw retention")
    before = EDGE - timedelta(microseconds=1)
    for scope, incomplete in (
        (ALL_TIME, True),
        (Scope(T0, END, (Filter("project", ("alpha",)),)), True),
        (Scope(T0, END, (Filter("project", ("beta", "gamma")),)), False),
        (Scope(T0, END, (Filter("project", ("gamma", "alpha")),)), True),
        (Scope(EDGE, END), False),
        (Scope(before, END), True),
        (Scope(before, END, (Filter("model", ("gpt-4o",)),)), True),
    ):
        assert store.raw_incomplete(scope) is incomplete, scope
    # Every project but a kept one: gamma loses its first day, alpha keeps what it has left.
    cut = T0 + timedelta(days=1)
    gamma = (project == "gamma") & (ts < us(cut))
    assert store.apply_retention("raw", cut, None, keep_projects=("beta",)) == int(gamma.sum())
    check_raw(store, remaining(data, ~(gone | gamma)))
    check_rollups_match(store, data, "raw retention, kept project")
    assert store.raw_incomplete(Scope(T0, END, (Filter("project", ("gamma",)),)))
    assert not store.raw_incomplete(Scope(T0, END, (Filter("project", ("beta",)),)))


ERASE_IN_CUT_BUCKET = (
    "an erasure cannot take a user's calls out of a rollup bucket that the raw horizon cuts "
    "through: the bucket's calls before the horizon exist only in the rollup, and its sketches "
    "cannot be rebuilt without them. Unreachable through retention policies (they cut at UTC "
    "midnight); only a direct apply_retention at another instant makes such a bucket."
)


def _after_raw_retention(
    fresh: Callable[..., Store], dataset_batches: tuple, before: datetime
) -> tuple[Store, Any]:
    store = fresh(0)
    data = load(store, dataset_batches)
    store.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))  # days hold folded rows
    store.apply_retention("raw", before, "alpha")
    check_rollups_match(store, data, "raw retention")
    return store, data


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(T0 + timedelta(days=1), id="whole-day"),
        pytest.param(EDGE, id="mid-day"),
    ],
)
def test_rebuild_after_retention(
    fresh: Callable[..., Store], dataset_batches: tuple, before: datetime
) -> None:
    """Rollups are all that is left before a raw horizon: a rebuild never changes them (a bucket
    the horizon cuts through keeps its rollups)."""
    store, data = _after_raw_retention(fresh, dataset_batches, before)
    project, ts = data.col("project"), data.col("timestamp")
    done = store.rebuild_rollups(T0, END)
    assert done["alpha"] == int(((project == "alpha") & (ts >= us(before))).sum())
    check_rollups_match(store, data, "rebuilt after raw retention")


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(T0 + timedelta(days=1), id="whole-day"),
        pytest.param(
            EDGE, id="mid-day", marks=pytest.mark.xfail(strict=True, reason=ERASE_IN_CUT_BUCKET)
        ),
    ],
)
def test_erase_after_retention(
    fresh: Callable[..., Store], dataset_batches: tuple, before: datetime
) -> None:
    """An erasure rebuilds from the raw calls after the horizon only (older rollups hold no
    user)."""
    store, data = _after_raw_retention(fresh, dataset_batches, before)
    project, users, ts = data.col("project"), data.col("user_id"), data.col("timestamp")
    alpha = project == "alpha"
    after = ts >= us(before)
    both = set(users[alpha & after]) & set(users[alpha & ~after]) - {None}
    user = sorted(both)[0]  # a user with calls on both sides of the horizon
    erased = alpha & (users == user) & after
    assert store.erase("alpha", user)["calls"] == int(erased.sum())
    check_rollups_match(store, remaining(data, ~erased), "erased after raw retention")


def test_rollup_retention_changes_no_exact_figure(
    fresh: Callable[..., Store], dataset_batches: tuple
) -> None:
    """Deleting hourly or daily rollups loses no figure while the raw calls are stored."""
    store = fresh(0)
    data = load(store, dataset_batches)
    store.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))
    assert store.apply_retention("hour", T0 + timedelta(days=2)) > 0
    assert not store.raw_incomplete(ALL_TIME)
    check_rollups_match(store, data, "hourly rollups deleted")
    assert store.apply_retention("day", T0 + timedelta(days=1)) > 0
    check_rollups_match(store, data, "daily rollups deleted")


def check_raw(store: Store, left: Dataset) -> None:
    """What only raw calls answer sees exactly the calls left."""
    assert store.row_counts()["calls"] == left.n
    np.testing.assert_array_equal(
        np.sort(store.values(ALL_TIME, "latency_ms")), np.sort(left.col("latency_ms"))
    )
    ids = [r["id"] for r in store.calls(ALL_TIME, ["id"], 10**6)]
    assert sorted(ids) == sorted(left.col("id"))
    raw_only = Scope(T0, END, (Filter("tag", TAGS),))  # rollups keep no tags
    assert_rows(store.aggregate(raw_only, SQL_METRICS), expected_rows(left, raw_only), "raw")


def test_erase_user_and_project(fresh: Callable[..., Store], dataset_batches: tuple) -> None:
    """`erase(project, user_id)` removes that user's calls and their scores in that project
    only; rollups are rebuilt so that they still match the raw calls. `erase(project)` removes
    the project."""
    store = fresh(0)  # answers from rollups whenever it can
    data = load(store, dataset_batches)
    project, users = data.col("project"), data.col("user_id")
    both = set(users[project == "alpha"]) & set(users[project == "beta"]) - {None}
    user = max(sorted(both), key=lambda u: int(((project == "alpha") & (users == u)).sum()))
    gone = (project == "alpha") & (users == user)
    out = store.erase("alpha", user)
    assert out["calls"] == int(gone.sum()) > 0
    left = remaining(data, ~gone)
    assert store.row_counts() == {"calls": left.n, "scores": left.scores.num_rows}
    assert left.scores.num_rows < data.scores.num_rows
    theirs = Scope(T0, END, (Filter("user_id", (user,)),))
    rows = store.calls(theirs, ["id", "project"], 10**6)
    assert sorted(r["id"] for r in rows) == sorted(left.col("id")[select(left, theirs)])
    assert {r["project"] for r in rows} == {"beta", "gamma"} & set(project[users == user])
    check_rollups_match(store, left, "erased user")
    assert_scores(store.score_summary(ALL_TIME), expected_scores(left, ALL_TIME))
    out = store.erase("gamma")
    gone = gone | (project == "gamma")
    left = remaining(data, ~gone)
    assert out["calls"] == int((project == "gamma").sum())
    assert store.row_counts()["calls"] == left.n
    check_rollups_match(store, left, "erased project")


# ---------------------------------------------------------------- rollups


def check_rollups_match(store: Store, data: Dataset, where: str) -> None:
    """Counts and sums over whole days and hours (what rollups hold) equal the raw calls; with
    approximate figures allowed, percentiles are within QUANTILE_BOUND."""
    for scope, group_by, interval in (
        (ALL_TIME, (), None),
        (ALL_TIME, ("project",), "day"),
        (Scope(T0 + timedelta(hours=5), END - timedelta(hours=3)), ("model",), "hour"),
    ):
        dims = [Dimension(d) for d in group_by]
        key = ("rollup figures", scope, group_by)  # the same for each check of one dataset
        if key not in data.cache:
            data.cache[key] = expected_rows(data, scope, group_by, interval)
        want = data.cache[key]
        exact = store.aggregate(scope, EXACT_ANYWHERE, dims, interval)
        assert_rows(exact, only(want, EXACT_ANYWHERE), (where, group_by), interval)
        rows = store.aggregate(scope, SKETCHABLE, dims, interval, allow_approximate=True)
        check_approximate(rows, only(want, SKETCHABLE), (where, group_by), interval)


def check_approximate(
    rows: Sequence[AggRow],
    want: Mapping[Key, Mapping[str, Any]],
    where: object,
    interval: str | None = None,
) -> None:
    """`approximate` is set exactly when a sketch answered: such a row is within the bounds and
    some percentile of it differs from the exact one; any other row is exact."""
    got = by_key(rows)
    assert set(got) == set(want), where
    for key, row in got.items():
        assert interval is None or is_utc(row.t), key
        assert_figures(row.values, want[key], (where, key), approximate=row.approximate)
        if row.approximate and any(want[key][m.name] for m in QUANTILES):
            assert any(
                row[m.name] != pytest.approx(want[key][m.name], rel=1e-12, abs=0)
                for m in QUANTILES
                if want[key][m.name]
            ), ("approximate, yet every percentile is exact", where, key)


ROLLUP_CASES: dict[str, tuple[tuple[datetime, datetime], tuple[str, ...], str | None, tuple]] = {
    "days": ((T0, END), (), None, ()),
    "hours-and-days": ((T0 + timedelta(hours=1), END - timedelta(hours=2)), (), "day", ()),
    "raw-edges": (
        (T0 + timedelta(minutes=30), T0 + timedelta(days=2, hours=1, seconds=7)),
        ("model",),
        "hour",
        (Filter("environment", ("prod",)),),
    ),
    "weeks": ((T0 - timedelta(days=5), END + timedelta(days=5)), ("project",), "week", ()),
    "months": (
        (T0 + timedelta(hours=3), END),
        ("error_type",),
        "month",
        (Filter("status", ("error",)), Filter("project", ("alpha", "beta"))),
    ),
}


@pytest.mark.parametrize("case", list(ROLLUP_CASES))
def test_rollups_match_raw(rollup_store: Store, dataset: Dataset, case: str) -> None:
    """rollup_min_calls=0 and approximate figures allowed: counts and sums exact, percentiles
    within QUANTILE_BOUND, `approximate` on exactly the sketched rows."""
    (start, end), group_by, interval, filters = ROLLUP_CASES[case]
    scope = Scope(start, end, filters)
    dims = [Dimension(d) for d in group_by]
    rows = rollup_store.aggregate(scope, SKETCHABLE, dims, interval, allow_approximate=True)
    want = expected_rows(dataset, scope, group_by, interval)
    check_approximate(rows, only(want, SKETCHABLE), case, interval)
    if case == "days":  # rollup_min_calls=0: whole days answer from rollups whenever they can
        assert rows[0].approximate
    exact = rollup_store.aggregate(scope, SQL_METRICS, dims, interval)
    assert_rows(exact, want, case, interval)


@pytest.mark.parametrize("interval", [None, "hour", "week"])
def test_counts_from_rollups_are_exact(
    rollup_store: Store, dataset: Dataset, interval: str | None
) -> None:
    """Counts, sums, rates, means and maxima grouped by each rollup dimension, over ranges with
    raw edges at both ends: exact, and not flagged approximate."""
    end = T0 + timedelta(days=1, hours=2) if interval == "hour" else END - timedelta(hours=3)
    scope = Scope(T0 + timedelta(minutes=17), end - timedelta(seconds=5))
    for d in rollup_store.rollup_dimensions:
        want = only(expected_rows(dataset, scope, [d], interval), EXACT_ANYWHERE)
        for allow in (False, True):
            rows = rollup_store.aggregate(
                scope, EXACT_ANYWHERE, [Dimension(d)], interval, allow_approximate=allow
            )
            assert_rows(rows, want, (d, interval, allow), interval)


def test_only_sketches_are_approximate(rollup_store: Store, dataset: Dataset) -> None:
    """What a rollup cannot answer is exact even when approximate figures are allowed: filters
    and groups outside the rollup dimensions, tags and metadata, minutes, ranges without a whole
    hour, and metrics with nothing sketched."""
    others = [d for d in COLUMN_DIMENSIONS if d not in rollup_store.rollup_dimensions]
    cases: list[tuple[Scope, list[Metric], tuple[str, ...], str | None]] = [
        (Scope(T0, END, (Filter("tag", ("vip",)),)), SQL_METRICS, (), None),
        (Scope(T0, END, (Filter("metadata.tier", ("gold",)),)), SQL_METRICS, (), "day"),
        (ALL_TIME, SQL_METRICS, ("metadata.region",), None),
        (Scope(T0, T0 + timedelta(hours=2)), SQL_METRICS, (), "minute"),
        (Scope(EDGE + timedelta(minutes=1), EDGE + timedelta(minutes=59)), SQL_METRICS, (), None),
        (ALL_TIME, EXACT_ANYWHERE, ("project",), "day"),
        (ALL_TIME, SQL_METRICS, (), None),  # streaming speed has no sketch: all from raw
        (ALL_TIME, SPEED, ("project",), "day"),
        *((ALL_TIME, SQL_METRICS, (d,), None) for d in others),
        *(
            (Scope(T0, END, (Filter(d, (a_value(dataset, d),)),)), SQL_METRICS, (), None)
            for d in others
        ),
    ]
    for scope, metrics, group_by, interval in cases:
        dims = [Dimension(d) for d in group_by]
        rows = rollup_store.aggregate(scope, metrics, dims, interval, allow_approximate=True)
        want = only(expected_rows(dataset, scope, group_by, interval), metrics)
        assert_rows(rows, want, (scope, group_by, interval), interval)


def a_value(data: Dataset, dimension: str) -> str:
    return next(v for v in data.dim(dimension) if v is not None)


def test_compaction_and_rebuild_change_no_figure(
    fresh: Callable[..., Store], dataset_batches: tuple
) -> None:
    """Many small commits (many fragments), compaction of part of the range then of all of it,
    late calls into compacted buckets, compaction again, a rebuild: after each, rollup figures
    still match the raw calls."""
    data, _ = dataset_batches
    store = fresh(0)
    write(store, "events", data.calls, batch=400)
    check_rollups_match(store, data, "fragments")
    hour = store.rollup_stats()["hour"]  # what `promptpulse rollups status` shows
    assert hour["calls"] == data.calls.num_rows and 0 <= hour["fragments"] <= hour["rows"]
    store.compact_rollups(EDGE, timedelta(hours=1))  # part of the range: a running server
    check_rollups_match(store, data, "partly compacted")
    store.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))
    check_rollups_match(store, data, "compacted")
    late = make_calls(np.random.default_rng(99), 300, id_prefix="late")
    write(store, "events", late)
    data = Dataset(pa.concat_tables([data.calls, late]), data.scores, 0)
    check_rollups_match(store, data, "late calls")
    store.compact_rollups(END + timedelta(hours=2), timedelta(hours=1))
    check_rollups_match(store, data, "compacted again")
    done = store.rebuild_rollups(T0, END)
    project = data.col("project")
    assert done == {p: int((project == p).sum()) for p in PROJECTS}
    check_rollups_match(store, data, "rebuilt")


# ---------------------------------------------------------------- health and bad input


def test_ping(store: Store) -> None:
    assert store.ping() is None


def test_bad_input_is_a_value_error_naming_it(store: Store, dataset: Dataset) -> None:
    since = T0 + timedelta(days=1)
    drop = "latency_ms; DROP TABLE events"
    for name, call in (
        ("nope", lambda: store.calls(ALL_TIME, ["nope"], 10)),
        (drop, lambda: store.calls(ALL_TIME, ["id", drop], 10)),
        ("nope", lambda: store.values(ALL_TIME, "nope")),
        ("nope", lambda: store.columns(ALL_TIME, ["latency_ms", "nope"])),
        ("nope", lambda: store.cohort_columns(ALL_TIME, since, True, ["nope"])),
        ("[]", lambda: store.columns(ALL_TIME, [])),
    ):
        with pytest.raises(ValueError, match=re.escape(name)):
            call()
    for bad in ("metadata.bad'key", "metadata.", "nope", 'metadata.a"b', "tag"):
        with pytest.raises(ValueError, match="not a dimension"):
            Dimension(bad)
    for bad in ("metadata.bad'key", "nope"):
        with pytest.raises(ValueError, match="not a filter"):
            Filter(bad, ("x",))
    assert store.row_counts()["calls"] > 0  # nothing was dropped


def test_the_dataset_has_the_edge_cases(dataset: Dataset) -> None:
    """What the tests above rely on is in the data (guards edits of conftest.py)."""
    for d in GROUP_DIMENSIONS:
        values = set(dataset.dim(d))
        assert values - {None}, d
        assert None in values or d in ("project", "model", "provider", "status", "prompt_version")
    for column in ("ttft_ms", "cost_usd", "queue_ms", "http_status"):
        assert np.isnan(dataset.col(column)).any(), column
    assert (dataset.col("latency_ms") == 0).any() and (dataset.col("cache_hit") == 1).any()
    assert {"tier": None, "region": "eu"} in list(dataset.col("metadata"))  # a JSON null
    assert {frozenset(t) for t in dataset.col("tags")} >= {frozenset(), frozenset({"vip"})}
    assert set(METADATA_KEYS) <= {k for m in METADATA if m for k in m}
    assert max(expected_peaks(dataset, ALL_TIME).values()) >= BURSTS[0][2]
    assert dataset.sent_duplicates > 0
