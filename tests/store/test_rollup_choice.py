"""Raw calls or rollups: which answers a query, on every backend, and that both answer the same.

`rollup_min_calls` decides. For counts and sums (exact either way) the calls of the range's
projects are counted, whatever the other filters, because a raw scan reads all of them: a narrow
filter (`status = error`) over a busy range answers from rollups. Percentiles and distinct counts
are approximate from rollups, so there the matching calls are counted and a narrow filter keeps
its exact answer: the percentiles from raw calls, the counts and sums from rollups still.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.model import CATALOG, Dimension, Filter, Scope
from promptpulse.store import Store
from tests.store.conftest import END, RAW_ONLY, T0, make_calls, write

SCOPE = Scope(T0, END, (Filter("project", ("alpha",)), Filter("status", ("error",))))


@pytest.fixture(scope="module")
def calls() -> pa.Table:
    return make_calls(np.random.default_rng(5), 3000, id_prefix="rc")


@pytest.fixture(scope="module")
def store(open_fresh: Callable[..., Store], calls: pa.Table) -> Store:
    s = open_fresh(RAW_ONLY)
    write(s, "events", calls)
    return s


@pytest.fixture
def threshold(store: Store, calls: pa.Table) -> Iterator[int]:
    """A `rollup_min_calls` above the project's errors and at most its calls: the project's
    whole range holds enough calls, its errors alone do not."""
    project = np.asarray(calls.column("project").to_pylist()) == "alpha"
    errors = project & (np.asarray(calls.column("status").to_pylist()) == "error")
    assert 0 < errors.sum() < project.sum()
    store.rollup_min_calls = int(errors.sum()) + 1
    yield store.rollup_min_calls
    store.rollup_min_calls = RAW_ONLY


@pytest.fixture
def sources(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which of the two paths answered each query ("raw", "rollups"): the real methods run."""
    used: list[str] = []
    for name, label in (("_aggregate_raw", "raw"), ("_aggregate_rollups", "rollups")):
        real = getattr(store, name)

        def spy(*args: Any, _real: Any = real, _label: str = label, **kwargs: Any) -> Any:
            used.append(_label)
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, spy)
    return used


def in_scope(calls: pa.Table) -> np.ndarray:
    """numpy: which calls SCOPE holds."""
    t = calls.column("timestamp").cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    start, end = (int(x.timestamp() * 1_000_000) for x in (SCOPE.start, SCOPE.end))
    return (  # type: ignore[no-any-return]
        (np.asarray(calls.column("project").to_pylist()) == "alpha")
        & (np.asarray(calls.column("status").to_pylist()) == "error")
        & (t >= start)
        & (t < end)
    )


def errors_by_type(calls: pa.Table) -> dict[str | None, int]:
    """numpy: the scope's errors per error type."""
    types = np.asarray(calls.column("error_type").to_pylist(), dtype=object)[in_scope(calls)]
    return {k: int((types == k).sum()) for k in set(types.tolist())}


def test_narrow_counts_answer_from_rollups(
    store: Store, calls: pa.Table, threshold: int, sources: list[str]
) -> None:
    rows = store.aggregate(SCOPE, [CATALOG["requests"]], [Dimension("error_type")])
    assert sources == ["rollups"]
    assert {r.key: r["requests"] for r in rows} == errors_by_type(calls)
    assert not any(r.approximate for r in rows)


def test_narrow_percentiles_stay_raw_and_exact(
    store: Store, calls: pa.Table, threshold: int, sources: list[str]
) -> None:
    metrics = [CATALOG["requests"], CATALOG["latency_p95_ms"]]
    row = store.aggregate(SCOPE, metrics, allow_approximate=True)[0]
    # The exact split: p95 from raw calls, requests from rollups (the project holds enough).
    assert sorted(sources) == ["raw", "rollups"] and not row.approximate
    keep = in_scope(calls)
    latency = calls.column("latency_ms").to_numpy(zero_copy_only=False)[keep]
    assert row["requests"] == int(keep.sum())
    assert row["latency_p95_ms"] == pytest.approx(float(np.percentile(latency, 95)), rel=1e-12)


def test_a_busy_project_without_narrow_filters_still_counts_its_calls(
    store: Store, calls: pa.Table, sources: list[str]
) -> None:
    """Above the project's calls, counts stay raw: the threshold still means something."""
    project = np.asarray(calls.column("project").to_pylist()) == "alpha"
    store.rollup_min_calls = int(project.sum()) + 1
    try:
        rows = store.aggregate(SCOPE, [CATALOG["requests"]], [Dimension("error_type")])
    finally:
        store.rollup_min_calls = RAW_ONLY
    assert sources == ["raw"]
    assert {r.key: r["requests"] for r in rows} == errors_by_type(calls)
