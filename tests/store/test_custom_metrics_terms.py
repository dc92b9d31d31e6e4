"""Custom metrics' terms on every backend: each term summed per group and bucket, and per call,
against numpy over the raw dataset (scores joined on (project, call id), orphans ignored)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest

from promptpulse.model import Dimension, Filter, Scope, Term
from promptpulse.store import Store
from tests.store.conftest import END, T0, Dataset
from tests.store.test_contract import select

TERMS = (
    Term("calls"),
    Term("where", "error_type", "=", "timeout"),
    Term("where", "status", "!=", "error"),
    Term("where", "latency_ms", "<", 2000.0),
    Term("where", "ttft_ms", ">=", 300.0),  # null ttft never matches
    Term("where", "cache_hit", "=", True),
    Term("sum", "cost_usd"),
    Term("sum", "output_tokens"),
    Term("score_count", "thumbs"),
    Term("score_count", "thumbs", "=", 1.0),
    Term("score_count", "helpfulness", ">", 0.5),
    Term("score_sum", "helpfulness"),
)


def per_call(data: Dataset, term: Term) -> np.ndarray:
    """The term's value for every call of the dataset, computed here from the raw rows."""
    n = data.n
    if term.kind == "calls":
        return np.ones(n)
    if term.kind == "sum":
        return np.nan_to_num(data.col(term.column), nan=0.0)
    if term.kind == "where":
        column = data.col(term.column)
        compare = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            ">=": lambda a, b: a >= b,
        }[term.op]
        value = float(term.value) if isinstance(term.value, bool) else term.value
        return np.array([0.0 if v is None or v != v else float(compare(v, value)) for v in column])
    row = {k: i for i, k in enumerate(zip(data.col("project"), data.col("id"), strict=True))}
    out = np.zeros(n)
    for s in data.scores.to_pylist():
        i = row.get((s["project"], s["event_id"]))
        if i is None or s["name"] != term.column:
            continue
        if term.kind == "score_sum":
            out[i] += s["value"]
        elif (
            not term.op
            or (term.op == "=" and s["value"] == term.value)
            or (term.op == ">" and s["value"] > term.value)
        ):
            out[i] += 1
    return out


SCOPES = {
    "all": Scope(T0, END),
    "project": Scope(T0, END, (Filter("project", ("alpha",)),)),
    "filtered": Scope(T0 + timedelta(hours=7), END, (Filter("model", ("gpt-4o", "inhouse-7b")),)),
}


@pytest.mark.parametrize("name", list(SCOPES))
def test_term_aggregate_by_group_and_day(store: Store, dataset: Dataset, name: str) -> None:
    scope = SCOPES[name]
    idx = select(dataset, scope)
    rows = store.term_aggregate(scope, TERMS, [Dimension("model")], "day")
    days = dataset.col("timestamp")[idx].astype("datetime64[D]")
    models = dataset.col("model")[idx]
    want: dict[tuple[object, object], dict[str, float]] = defaultdict(dict)
    for term in TERMS:
        values = per_call(dataset, term)[idx]
        for key in set(zip(days.tolist(), models.tolist(), strict=True)):
            mask = (days == np.datetime64(key[0])) & (models == key[1])
            want[key][term.key] = float(values[mask].sum())
    got = {(r.t.replace(tzinfo=None).date(), r.key): r.values for r in rows if r.t}
    assert set(got) == set(want)
    for key, values in want.items():
        assert got[key] == pytest.approx(values, rel=1e-9, abs=1e-9)


def test_term_aggregate_whole_range_and_empty(store: Store, dataset: Dataset) -> None:
    scope = SCOPES["project"]
    idx = select(dataset, scope)
    [row] = store.term_aggregate(scope, TERMS)
    for term in TERMS:
        assert row[term.key] == pytest.approx(per_call(dataset, term)[idx].sum(), rel=1e-9)
    empty = Scope(END + timedelta(days=1), END + timedelta(days=2))
    assert [r.values for r in store.term_aggregate(empty, TERMS)] in (
        [],
        [{t.key: 0 for t in TERMS}],
    )


def test_term_columns_per_call(store: Store, dataset: Dataset) -> None:
    """Per call, row-aligned: the multiset of value tuples equals the raw one."""
    scope = SCOPES["filtered"]
    idx = select(dataset, scope)
    got = store.term_columns(scope, TERMS)
    assert all(len(v) == len(idx) for v in got.values())
    got_rows = sorted(zip(*(got[t.key].tolist() for t in TERMS), strict=True))
    want_rows = sorted(zip(*(per_call(dataset, t)[idx].tolist() for t in TERMS), strict=True))
    assert np.allclose(np.array(got_rows), np.array(want_rows), rtol=1e-9)


def test_a_bad_term_never_reaches_sql(store: Store) -> None:
    for bad in (
        Term("where", "status; DROP TABLE events", "=", "x"),
        Term("where", "status", "LIKE", "x"),
        Term("sum", "model"),
    ):
        with pytest.raises(ValueError):
            store.term_aggregate(SCOPES["all"], [bad])
    # a value is bound, never SQL: a quote in it is just text that matches nothing
    [row] = store.term_aggregate(SCOPES["all"], [Term("where", "model", "=", "x' OR '1'='1")])
    assert row.values == {"count(model = \"x' OR '1'='1\")": 0}
