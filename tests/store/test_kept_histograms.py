"""Counts, sums, exact percentiles and active users of an unfiltered or project-filtered range
on every backend, against numpy, over ranges that cut hours and days anywhere, while calls
arrive, are repriced, retained and erased.

DuckDB keeps the percentiles' first pass and the users per (project, day) in memory between
questions (store/duck/histograms.py, day_users.py): this follows them through every change of
the stored calls, and the counts and sums beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model import CATALOG, Filter, Scope
from promptpulse.store import Store
from promptpulse.store.duck import DuckStore, day_users, histograms
from promptpulse.store.duck.hourly import exact_hourly_quantiles
from promptpulse.store.duck.quantiles import histogram
from promptpulse.store.duck.sql import where_clause
from promptpulse.store.rollup_plan import ceil_to, floor_to
from tests.store.conftest import END, RAW_ONLY, T0, make_calls, naive, write, write_shuffled

US = int((END - T0) / timedelta(microseconds=1))
METRICS = [
    CATALOG[m]
    for m in (
        "requests", "successes", "errors", "unpriced_requests", "input_tokens", "output_tokens",
        "cost_usd", "latency_max_ms", "latency_mean_ms", "cache_hit_rate", "latency_p50_ms",
        "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p99_ms", "active_users",
    )
]  # fmt: skip


def micros(t: datetime) -> int:
    return int((naive(t) - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def columns(table: pa.Table) -> dict[str, np.ndarray]:
    t = table.column("timestamp").cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    out = {"t": t}
    for name in ("project", "user_id", "status", "id"):
        out[name] = np.asarray(table.column(name).to_pylist(), dtype=object)
    for name in ("input_tokens", "output_tokens", "latency_ms", "ttft_ms", "cost_usd"):
        out[name] = np.asarray(table.column(name).to_pylist(), dtype=float)  # None -> nan
    out["cache_hit"] = np.asarray(table.column("cache_hit").to_pylist(), dtype=bool)
    return out


def expected(stored: dict[str, np.ndarray], scope: Scope) -> dict[str, float | None]:
    keep = (stored["t"] >= micros(scope.start)) & (stored["t"] < micros(scope.end))
    projects = scope.filter_values("project")
    if projects is not None:
        keep &= np.isin(stored["project"], projects)
    c = {k: v[keep] for k, v in stored.items()}
    n = int(keep.sum())
    latency = c["latency_ms"][~np.isnan(c["latency_ms"])]
    ttft = c["ttft_ms"][~np.isnan(c["ttft_ms"])]

    def q(values: np.ndarray, p: float) -> float | None:
        return float(np.quantile(values, p)) if len(values) else None

    return {
        "latency_p50_ms": q(latency, 0.5),
        "latency_p95_ms": q(latency, 0.95),
        "latency_p99_ms": q(latency, 0.99),
        "ttft_p50_ms": q(ttft, 0.5),
        "ttft_p99_ms": q(ttft, 0.99),
        "requests": n,
        "successes": int((c["status"] == "success").sum()),
        "errors": int((c["status"] == "error").sum()),
        "unpriced_requests": int(np.isnan(c["cost_usd"]).sum()),
        "input_tokens": float(np.nansum(c["input_tokens"])),
        "output_tokens": float(np.nansum(c["output_tokens"])),
        "cost_usd": float(np.nansum(c["cost_usd"])),
        "latency_max_ms": float(latency.max()) if len(latency) else None,
        "latency_mean_ms": float(latency.sum() / n) if n and len(latency) else None,
        "cache_hit_rate": float(c["cache_hit"].mean()) if n else None,
        "active_users": len({u for u in c["user_id"] if u is not None}),
    }


def scopes() -> list[Scope]:
    rng = np.random.default_rng(12)
    out = [
        Scope(T0, END),
        Scope(T0 - timedelta(days=1), END + timedelta(days=1)),
        Scope(T0 + timedelta(hours=5, minutes=13, microseconds=9), END - timedelta(minutes=1)),
        Scope(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),  # exactly one hour
        Scope(T0 + timedelta(minutes=10), T0 + timedelta(minutes=50)),  # inside an hour
        Scope(T0 + timedelta(hours=2, minutes=13), END + timedelta(minutes=7)),  # open end
        Scope(T0, END, (Filter("project", ("alpha",)),)),
        Scope(T0 + timedelta(minutes=1), END, (Filter("project", ("beta", "gamma")),)),
        Scope(T0, END, (Filter("project", ("nobody",)),)),
    ]
    for _ in range(5):
        a, b = sorted(int(x) for x in rng.integers(0, US, 2))
        out.append(Scope(T0 + timedelta(microseconds=a), T0 + timedelta(microseconds=b)))
    return out


HOURLY = [
    CATALOG[m]
    for m in ("requests", "cost_usd", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
              "ttft_p50_ms", "ttft_p99_ms")
]  # fmt: skip


def check_hourly(
    store: Store, stored: dict[str, np.ndarray], scope: Scope, allow_approximate: bool = False
) -> None:
    """The exact hourly series: every hour's counts, sums and percentiles against numpy."""
    found = store.aggregate(scope, HOURLY, [], "hour", allow_approximate)
    assert not any(r.approximate for r in found), scope
    rows = {r.t: r.values for r in found}
    hour = floor_to(scope.start, "hour")
    while hour < scope.end:
        part = Scope(
            max(hour, scope.start), min(hour + timedelta(hours=1), scope.end), scope.filters
        )
        want = expected(stored, part)
        if not want["requests"]:
            assert hour not in rows or not rows[hour]["requests"], (scope, hour)
        else:
            got = rows[hour]
            for m in HOURLY:
                value = want[m.name]
                if value is None:
                    assert got[m.name] is None, (scope, hour, m.name)
                else:
                    assert np.isclose(got[m.name], value, rtol=1e-9), (scope, hour, m.name)
        hour += timedelta(hours=1)


def check(store: Store, stored: dict[str, np.ndarray], after: datetime | None = None) -> None:
    """Every scope (after raw retention: those starting at or after its cut; before it the
    rollups that outlive the calls answer, which the rollup tests check)."""
    chosen = scopes()
    if after is not None:
        chosen = [s for s in chosen if s.start >= after]
        chosen += [Scope(after, END), Scope(after + timedelta(minutes=3, seconds=1), END)]
    for i, scope in enumerate(chosen):
        check_kept(store, scope)
        if i % 3 == 0 or after is not None:  # a third of them: hour by hour is slower
            check_hourly(store, stored, scope)
        got = dict(store.aggregate(scope, METRICS, allow_approximate=False)[0].values)
        want = expected(stored, scope)
        for name, value in want.items():
            if value is None or got[name] is None:
                assert got[name] is None and (value is None or value == 0), (scope, name)
            else:
                assert np.isclose(got[name], value, rtol=1e-9, atol=1e-9), (scope, name)


def check_kept(store: Store, scope: Scope) -> None:
    """DuckDB: the kept first pass equals the one counted from the calls (the answer alone
    would not show a wrong one: a histogram that does not match the calls is counted again),
    and the kept users answer where they should (an answer counted from the calls would hide
    a summary that never answers)."""
    if not isinstance(store, DuckStore):
        return
    # No call at or after the range's end (counted here from the calls): the day and the hour
    # it ends in count as whole (store/duck/latest.py).
    where, params = where_clause(Scope(scope.end, scope.end + timedelta(days=3650), scope.filters))
    sql = f"SELECT count(*) FROM events WHERE {where}"
    open_end = store._with_cursor(lambda cur: cur.execute(sql, params).fetchone()[0]) == 0
    last = ceil_to if open_end else floor_to
    whole_day = ceil_to(scope.start, "day") < last(scope.end, "day")
    users = store._kept_active_users(scope)
    assert (users is not None) == whole_day, scope
    if users is not None:
        where, params = where_clause(scope)
        sql = f"SELECT count(DISTINCT user_id) FROM events WHERE {where}"
        assert users == store._with_cursor(lambda cur: cur.execute(sql, params).fetchone()[0])
    for column in ("latency_ms", "ttft_ms"):
        kept = store._kept_histogram(scope, column)
        if kept is not None:
            where, params = where_clause(scope)
            raw = store._with_cursor(histogram, where, params, column)
            assert np.array_equal(kept[0], raw[0]) and np.array_equal(kept[1], raw[1]), scope
        per_hour = store._kept_hour_histograms(scope, column)
        whole_hour = ceil_to(scope.start, "hour") < last(scope.end, "hour")
        assert (per_hour is not None) == whole_hour, scope
        for number, (buckets, counts) in (per_hour or {}).items():
            start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=number)
            part = Scope(max(start, scope.start), min(start + timedelta(hours=1), scope.end),
                         scope.filters)  # fmt: skip
            where, params = where_clause(part)
            raw = store._with_cursor(histogram, where, params, column)
            assert np.array_equal(buckets, raw[0]) and np.array_equal(counts, raw[1]), part
        if per_hour:  # pass 2 answers itself (a mismatch would hide behind the grouped fallback)
            where, params = where_clause(scope)
            got = store._with_cursor(exact_hourly_quantiles, where, params, column, [0.5], per_hour)
            assert got is not None and set(got) == set(per_hour), scope


def test_totals_follow_new_calls_reprices_retention_and_erasure(
    fresh: Callable[..., Store],
) -> None:
    store = fresh(RAW_ONLY)
    calls = make_calls(np.random.default_rng(31), 5000, id_prefix="kt")
    stored = columns(write_shuffled(store, calls, 2, lambda first: check(store, columns(first))))
    check(store, stored)

    # A reprice: new costs for some alpha calls (one made unpriced, the rest priced).
    chosen = np.flatnonzero(stored["project"] == "alpha")[:300]
    new_costs = [None, *(0.5 + i for i in range(len(chosen) - 1))]
    changes = pa.table(
        {
            "project": ["alpha"] * len(chosen),
            "id": [str(i) for i in stored["id"][chosen]],
            "cost_usd": pa.array(new_costs, pa.float64()),
            "price_ref": ["test"] * len(chosen),
        }
    )
    days = {("alpha", datetime(*naive(T0).timetuple()[:3]) + timedelta(days=d)) for d in range(4)}
    assert store.apply_costs(changes, sorted(days)) == len(chosen)
    stored["cost_usd"][chosen] = np.asarray(new_costs, dtype=float)
    check(store, stored)

    cut = T0 + timedelta(days=1, hours=7, minutes=31, seconds=2)  # inside an hour
    store.apply_retention("raw", cut)
    stored = {k: v[stored["t"] >= micros(cut)] for k, v in stored.items()}
    check(store, stored, after=cut)

    user = next(u for u in stored["user_id"] if u is not None)
    project = str(stored["project"][stored["user_id"] == user][0])
    store.erase(project, user)
    gone = (stored["user_id"] == user) & (stored["project"] == project)
    stored = {k: v[~gone] for k, v in stored.items()}
    check(store, stored, after=cut)
    store.erase("beta")
    stored = {k: v[stored["project"] != "beta"] for k, v in stored.items()}
    check(store, stored, after=cut)


@pytest.mark.parametrize("min_calls", [RAW_ONLY, 0], ids=["calls", "rollups"])
def test_a_range_ending_just_after_its_newest_call_is_exact_as_calls_arrive_after_it(
    fresh: Callable[..., Store], min_calls: int
) -> None:
    """A dashboard's range ends now, just after the newest call: the day and the hour it ends
    in are read whole from what is kept, and from rollups (`min_calls=0`). A call stamped after
    the end (a clock ahead) must not leak into the answer, nor one of another project."""
    store = fresh(min_calls)
    calls = make_calls(np.random.default_rng(41), 3000, id_prefix="oe")
    write(store, "events", calls)
    stored = columns(calls)
    alpha = stored["t"][stored["project"] == "alpha"]
    newest = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(alpha.max()))
    end = newest + timedelta(microseconds=1)
    ranges = [
        Scope(T0 + timedelta(hours=3, minutes=17), end, (Filter("project", ("alpha",)),)),
        Scope(end - timedelta(hours=24), end, (Filter("project", ("alpha",)),)),
        Scope(T0 + timedelta(hours=3, minutes=17), END + timedelta(seconds=1)),
    ]

    def check_ranges() -> None:
        for scope in ranges:
            check_kept(store, scope)
            check_hourly(store, stored, scope)
            got = dict(store.aggregate(scope, METRICS, allow_approximate=False)[0].values)
            for name, value in expected(stored, scope).items():
                if value is None or got[name] is None:
                    assert got[name] is None and (value is None or value == 0), (scope, name)
                else:
                    assert np.isclose(got[name], value, rtol=1e-9, atol=1e-9), (scope, name)

    check_ranges()
    if isinstance(store, DuckStore):
        assert store._open_end(ranges[0])
    # Later calls: alpha's one second after the end (same hour), beta's inside the range.
    later = make_calls(np.random.default_rng(42), 40, id_prefix="late").slice(0, 40)
    stamps = [newest + timedelta(seconds=1)] * 20 + [newest - timedelta(minutes=5)] * 20
    field = later.schema.get_field_index
    later = later.set_column(
        field("timestamp"), "timestamp", pa.array(stamps, later.schema.field("timestamp").type)
    ).set_column(field("project"), "project", pa.array(["alpha"] * 20 + ["beta"] * 20))
    write(store, "events", later)
    more = columns(later)
    stored = {k: np.concatenate([stored[k], more[k]]) for k in stored}
    if isinstance(store, DuckStore):
        assert not store._open_end(ranges[0])
    check_ranges()


def test_a_commit_without_ttft_keeps_the_histograms(
    fresh: Callable[..., Store],
) -> None:
    """Calls with no TTFT at all (a non-streaming app) fold into the kept histograms instead of
    throwing them away (every later overview would scan again)."""
    store = fresh(RAW_ONLY)
    calls = make_calls(np.random.default_rng(41), 2000, id_prefix="nt")
    write(store, "events", calls.slice(0, 1000))
    check(store, columns(calls.slice(0, 1000)))
    rest = calls.slice(1000)
    i = rest.schema.get_field_index("ttft_ms")
    no_ttft = rest.set_column(i, rest.schema.field(i), pa.nulls(rest.num_rows, pa.float64()))
    write(store, "events", no_ttft)
    if isinstance(store, DuckStore):
        assert store._day_histograms._kept is not None  # folded, not dropped
    check(store, columns(pa.concat_tables([calls.slice(0, 1000), no_ttft])))


def test_too_many_users_are_counted_from_the_calls(
    fresh: Callable[..., Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_USERS distinct users (at the first scan, or by a later commit) the kept users
    give up and active users are counted from the calls: still exact."""
    store = fresh(RAW_ONLY)
    calls = make_calls(np.random.default_rng(43), 3000, id_prefix="mu")
    first, rest = calls.slice(0, 1500), calls.slice(1500)
    i = rest.schema.get_field_index("user_id")
    late = [None if u is None else f"late-{u}" for u in rest.column(i).to_pylist()]
    rest = rest.set_column(i, rest.schema.field(i), pa.array(late, pa.string()))
    calls = pa.concat_tables([first, rest])
    write(store, "events", first)
    scope = Scope(T0, END)
    users = columns(first)["user_id"]
    limit = len({u for u in users if u is not None})
    if isinstance(store, DuckStore):
        monkeypatch.setattr(day_users, "MAX_USERS", limit)  # the first scan just fits
        assert store._kept_active_users(scope) == limit
    write(store, "events", rest)  # new users: the fold gives up
    stored = columns(calls)
    if isinstance(store, DuckStore):
        assert store._kept_active_users(scope) is None
        monkeypatch.setattr(day_users, "MAX_USERS", limit - 1)
        store._day_users.invalidate()  # a scan over the limit gives up as well
        assert store._kept_active_users(scope) is None
    for s in (scope, Scope(T0 + timedelta(hours=3), END, (Filter("project", ("alpha",)),))):
        got = store.aggregate(s, [CATALOG["active_users"]], allow_approximate=False)[0]
        assert got["active_users"] == expected(stored, s)["active_users"], s


def test_the_hourly_pass_1_built_a_day_at_a_time_misses_no_hour(
    fresh: Callable[..., Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-hour histograms are built a window of calls at a time (a week; a day here, so
    that the calls span several windows): every hour equals the calls' own histogram. With
    rollups answering whenever they can, the exact hourly series takes its counts and sums
    from them and its percentiles from the calls, hour by hour: the same figures."""
    store = fresh(0)
    monkeypatch.setattr(histograms, "HOUR_SCAN_WINDOW", timedelta(days=1))
    calls = make_calls(np.random.default_rng(47), 3000, id_prefix="hw")
    write(store, "events", calls)
    stored = columns(calls)
    for scope in (Scope(T0 - timedelta(hours=2), END + timedelta(hours=2)), Scope(T0, END)):
        check_kept(store, scope)
        check_hourly(store, stored, scope)


def test_an_hourly_series_allowed_to_be_approximate_is_exact_on_duckdb(
    fresh: Callable[..., Store],
) -> None:
    """DuckDB answers an hourly series exactly, by the two passes per hour, even where
    approximate figures are allowed and rollups could answer: it is faster than merging their
    sketches hour by hour (store/planned.py `_exact_is_faster`). Other engines answer from the
    sketches; where retention removed raw calls of the range, DuckDB does too."""
    store = fresh(0)  # rollups answer every range holding a whole hour
    calls = make_calls(np.random.default_rng(59), 3000, id_prefix="ha")
    write(store, "events", calls)
    stored = columns(calls)
    scopes = [
        Scope(T0, END),
        Scope(T0 + timedelta(hours=2, minutes=7), END, (Filter("project", ("alpha",)),)),
    ]
    for scope in scopes:
        if isinstance(store, DuckStore):
            check_hourly(store, stored, scope, allow_approximate=True)
        else:
            rows = store.aggregate(scope, HOURLY, [], "hour", True)
            assert rows and all(r.approximate for r in rows), scope
    store.apply_retention("raw", T0 + timedelta(hours=5))
    rows = store.aggregate(Scope(T0, END), HOURLY, [], "hour", True)
    assert rows and all(r.approximate for r in rows)
