"""A store held in memory for backtests: the calls of one scope, read once, answering the same
`aggregate` / `values` questions the live evaluator asks the real store, for any window inside.

Why: a 30-day backtest at 1-minute steps is 43,200 evaluation rounds; one store query per round
would take minutes. The evaluator's own code (fetch, judge, the state machine) runs unchanged
over this store. Every figure is computed from the raw calls as the store defines it (the
catalog's base aggregates; exact percentiles by numpy's linear interpolation, as
`quantile_cont`), so a window's value equals the store's to floating-point rounding. Counts,
conditions and sums read prefix sums (O(1) per window); max, distinct and percentiles read the
window's slice.
"""

from __future__ import annotations

import calendar
import math
import operator
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.model import (
    COUNT,
    Agg,
    AggRow,
    Dimension,
    Filter,
    Kind,
    Metric,
    Op,
    Term,
    base_aggregates,
)
from promptpulse.model import Scope as QueryScope

_US = 1_000_000
_DAY_US = 86_400 * _US
# Which call field a condition of the catalog reads (each store compiles the same names).
_CONDITION_FIELD = {"success": "status", "error": "status", "unpriced": "cost_usd",
                    "cache_hit": "cache_hit"}  # fmt: skip


class ReplayError(Exception):
    """The evaluator asked a question this replay cannot answer (a different scope, a window
    outside what was read, a score): a programming error or an unsupported rule, never data."""


def fields_for(metrics: Iterable[Metric]) -> list[str]:
    """The call fields the metrics read (timestamp always)."""
    out = {"timestamp"}
    for m in metrics:
        if m.kind is Kind.QUANTILE:
            out.add(m.column)
        for a in (*m.parts, *((m.per,) if m.per else ())):
            if a.op is Op.COUNT_IF:
                out.add(_CONDITION_FIELD[a.arg])
            elif a.op is not Op.COUNT:
                out.add(a.arg)
    return sorted(out)


def _epoch_us(t: datetime) -> int:
    return calendar.timegm(t.utctimetuple()) * _US + t.microsecond


def _canon(filters: Iterable[Filter]) -> frozenset[tuple[str, tuple[str, ...]]]:
    return frozenset((f.dimension, tuple(sorted(f.values))) for f in filters)


class ReplayStore:
    """The calls of `filters` in [start, end), in memory; answers windows inside that range."""

    def __init__(
        self, table: pa.Table, filters: Sequence[Filter], start: datetime, end: datetime
    ) -> None:
        self.filters = _canon(filters)
        self.start, self.end = start, end
        ts = table.column("timestamp").cast(pa.timestamp("us"))
        self.ts = np.asarray(ts.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        if len(self.ts) > 1 and np.any(np.diff(self.ts) < 0):
            raise ReplayError("calls must come oldest first")
        self.n = len(self.ts)
        self.num: dict[str, np.ndarray] = {}  # numeric fields as float64, NaN for null
        self.codes: dict[str, tuple[np.ndarray, list[Any]]] = {}  # strings: codes, -1 null
        for name in table.column_names:
            if name == "timestamp":
                continue
            col = table.column(name)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                enc = pc.dictionary_encode(col).combine_chunks()
                idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
                self.codes[name] = (idx.astype(np.int64), enc.dictionary.to_pylist())
            else:
                arr = col.cast(pa.float64()).fill_null(np.nan) if self.n else col
                self.num[name] = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
        self._prefix: dict[Agg | Term, np.ndarray] = {}
        self._calls: dict[Agg, np.ndarray] = {}

    # ------------------------------------------------------------ the Store questions

    def aggregate(
        self,
        scope: QueryScope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
        allow_approximate: bool = False,
    ) -> list[AggRow]:
        i, j = self._range(scope)
        if interval is not None:
            if group_by or interval != "day":
                raise ReplayError("a replay answers daily series without groups only")
            return self._daily(i, j, metrics)
        if not group_by:
            return [AggRow(self._values(metrics, i, j, None))]
        if len(group_by) != 1 or group_by[0].name not in self.codes:
            raise ReplayError(f"a replay groups by one loaded call field, not {group_by}")
        codes, names = self.codes[group_by[0].name]
        window = codes[i:j]
        rows = []
        for code in np.unique(window):
            mask = window == code
            key = None if code < 0 else names[int(code)]
            rows.append(AggRow(self._values(metrics, i, j, mask), (key,)))
        return rows

    def values(self, scope: QueryScope, column: str, where_not_null: bool = True) -> np.ndarray:
        i, j = self._range(scope)
        v = self.num[column][i:j]
        return v[~np.isnan(v)] if where_not_null else v

    def term_aggregate(
        self,
        scope: QueryScope,
        terms: Sequence[Term],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
    ) -> list[AggRow]:
        """Terms over call columns summed over one window (prefix sums), as a custom SLI asks;
        one row, zeros on no calls, as the store's ungrouped query gives."""
        if group_by or interval is not None:
            raise ReplayError("a replay sums terms over a window, without groups or buckets")
        i, j = self._range(scope)
        values: dict[str, Any] = {}
        for t in terms:
            p = self._prefix.get(t)
            if p is None:
                p = self._prefix[t] = np.concatenate(([0.0], np.cumsum(_term_values(self, t))))
            values[t.key] = float(p[j] - p[i])
        return [AggRow(values)]

    def score_summary(self, scope: QueryScope) -> dict[str, dict[str, float | int]]:
        raise ReplayError("backtests do not replay scores (score.* metrics)")

    # ------------------------------------------------------------ inside

    def _range(self, scope: QueryScope) -> tuple[int, int]:
        if _canon(scope.filters) != self.filters:
            raise ReplayError(f"a replay of {sorted(self.filters)} was asked {scope.filters}")
        if scope.start < self.start or scope.end > self.end:
            raise ReplayError(f"[{scope.start}, {scope.end}) is outside what was read")
        lo, hi = _epoch_us(scope.start), _epoch_us(scope.end)
        return int(np.searchsorted(self.ts, lo, "left")), int(np.searchsorted(self.ts, hi, "left"))

    def _daily(self, i: int, j: int, metrics: Sequence[Metric]) -> list[AggRow]:
        """Rows of the UTC days that have calls (as a store's GROUP BY gives them); each day's
        bounds by binary search, so a month of days costs no scan of its calls."""
        rows: list[AggRow] = []
        if i >= j:
            return rows
        first, last = int(self.ts[i] // _DAY_US), int(self.ts[j - 1] // _DAY_US)
        for d in range(first, last + 1):
            a = max(i, int(np.searchsorted(self.ts, d * _DAY_US, "left")))
            b = min(j, int(np.searchsorted(self.ts, (d + 1) * _DAY_US, "left")))
            if b > a:
                t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=d)
                rows.append(AggRow(self._values(metrics, a, b, None), t=t))
        return rows

    def _values(
        self, metrics: Sequence[Metric], i: int, j: int, mask: np.ndarray | None
    ) -> dict[str, Any]:
        derived = [m for m in metrics if m.kind is Kind.AGGREGATE]
        base = {a: self._agg(a, i, j, mask) for a in base_aggregates(derived)}
        out = {m.name: m.value(base) for m in derived}
        for m in metrics:
            if m.kind is Kind.QUANTILE:
                v = self._slice(m.column, i, j, mask)
                v = v[~np.isnan(v)]
                out[m.name] = _percentile(v, m.q) if len(v) else None
        return out

    def _slice(self, column: str, i: int, j: int, mask: np.ndarray | None) -> np.ndarray:
        v = self.num[column][i:j]
        return v if mask is None else v[mask]

    def _agg(self, a: Agg, i: int, j: int, mask: np.ndarray | None) -> Any:
        """One base aggregate as SQL gives it: counts 0 on nothing, sum and max null."""
        if a.op is Op.DISTINCT:
            codes = self.codes[a.arg][0][i:j]
            codes = codes if mask is None else codes[mask]
            return len(np.unique(codes[codes >= 0]))
        if a.op is Op.MAX:
            v = self._slice(a.arg, i, j, mask)
            v = v[~np.isnan(v)]
            return float(v.max()) if len(v) else None
        if mask is None:  # counts and sums of a contiguous window: prefix sums
            p = self._prefix_of(a)
            total = p[j] - p[i]
            if a.op is Op.SUM:
                n = self._prefix_of(Agg(Op.COUNT_VALUES, a.arg))
                return None if n[j] == n[i] else _num(total, a.arg in _INTEGER_FIELDS)
            return int(np.rint(total))
        per = self._per_call(a)[i:j][mask]
        if a.op is Op.SUM:
            present = ~np.isnan(self.num[a.arg][i:j][mask])
            return _num(per.sum(), a.arg in _INTEGER_FIELDS) if present.any() else None
        return int(per.sum())

    def _per_call(self, a: Agg) -> np.ndarray:
        """Each call's contribution to a count or sum (computed once per replay)."""
        got = self._calls.get(a)
        if got is None:
            got = self._calls[a] = self._contribution(a)
        return got

    def _contribution(self, a: Agg) -> np.ndarray:
        if a == COUNT:
            return np.ones(self.n)
        if a.op is Op.COUNT_IF:
            if a.arg in ("success", "error"):
                codes, names = self.codes["status"]
                want = names.index(a.arg) if a.arg in names else -2
                return (codes == want).astype(np.float64)
            if a.arg == "unpriced":
                return np.isnan(self.num["cost_usd"]).astype(np.float64)
            return np.nan_to_num(self.num["cache_hit"]).astype(bool).astype(np.float64)
        if a.op is Op.COUNT_VALUES:
            return (~np.isnan(self.num[a.arg])).astype(np.float64)
        if a.op is Op.SUM:
            return np.nan_to_num(self.num[a.arg])
        raise ReplayError(f"no per-call form of {a}")

    def _prefix_of(self, a: Agg) -> np.ndarray:
        p = self._prefix.get(a)
        if p is None:
            p = np.concatenate(([0.0], np.cumsum(self._per_call(a))))
            self._prefix[a] = p
        return p


_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}  # fmt: skip


def _term_values(replay: ReplayStore, t: Term) -> np.ndarray:
    """Each call's value of a term, as the stores compute it: a condition on a null column is
    false (SQL's coalesce(column op value, false)), a null summed counts 0."""
    if t.kind == "calls":
        return np.ones(replay.n)
    if t.kind == "sum":
        return np.nan_to_num(replay.num[t.column])
    if t.kind != "where":
        raise ReplayError(f"backtests replay calls, not scores: {t.key}")
    compare = _COMPARE[t.op]
    if t.column in replay.codes:  # text: compare each distinct value once
        codes, names = replay.codes[t.column]
        hit = [1.0 if compare(n, t.value) else 0.0 for n in names]  # type: ignore[arg-type]
        hits = np.array([*hit, 0.0])
        return hits[codes]  # code -1 (null) reads the trailing 0
    v = replay.num[t.column]
    with np.errstate(invalid="ignore"):
        return (~np.isnan(v) & compare(v, float(t.value))).astype(np.float64)  # type: ignore[arg-type]


# Integer call fields: their sums are exact integers (float64 holds them below 2**53).
_INTEGER_FIELDS = frozenset(
    {"input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens",
     "retries", "http_status"}
)  # fmt: skip


def _percentile(v: np.ndarray, q: float) -> float:
    """numpy.percentile(v, 100 q) (linear, its same interpolation), without its overhead: a
    backtest asks this tens of thousands of times of small windows."""
    h = (len(v) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(v) - 1)
    part = np.partition(v, (lo, hi)) if len(v) > 2 else np.sort(v)
    a, b, t = float(part[lo]), float(part[hi]), h - lo
    return a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)


def _num(x: float, integer: bool) -> float | int:
    return int(np.rint(x)) if integer else float(x)
