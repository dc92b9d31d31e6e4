"""What a reprice would change: the calls' costs recomputed with the price book and genai-prices
for their day, grouped per (project, provider, model, day) and computed with numpy (a price is
linear in the token counts within a group, or tiered by the prompt's size: see
ingest/pricing.py), so a million calls take a second or so, not a Python loop over each.

Pure: a table of calls in, the changes and the per (model, day) report out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.ingest.pricing import CLIENT_REF, _Linear, _Tiered, resolve
from promptpulse.model import MTOK, PriceEntry

# The fields of a call a reprice reads.
CALL_COLUMNS = (
    "project", "id", "timestamp", "provider", "model", "input_tokens", "cached_tokens",
    "output_tokens", "cache_write_tokens", "cost_usd", "price_ref",
)  # fmt: skip
BookLookup = Callable[[str, str, datetime], PriceEntry | None]
_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class DayRow:
    """One model's calls on one UTC day: how many, how many a reprice rewrites, and the cost
    before and after (sums over priced calls)."""

    model: str
    day: date
    calls: int
    repriced: int
    cost_before: float
    cost_after: float

    @property
    def delta(self) -> float:
        return self.cost_after - self.cost_before

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model, "day": self.day.isoformat(), "calls": self.calls,
            "repriced": self.repriced, "cost_before": self.cost_before,
            "cost_after": self.cost_after, "delta": self.delta,
        }  # fmt: skip


@dataclass
class Plan:
    rows: list[DayRow] = field(default_factory=list)
    changes: list[pa.Table] = field(default_factory=list)  # project, id, cost_usd, price_ref
    changed_days: set[tuple[str, datetime]] = field(default_factory=set)
    seen_days: set[tuple[str, datetime]] = field(default_factory=set)

    def add(self, other: Plan) -> None:
        self.rows += other.rows
        self.changes += other.changes
        self.changed_days |= other.changed_days
        self.seen_days |= other.seen_days

    def change_table(self) -> pa.Table:
        if not self.changes:
            return pa.table(
                {"project": [], "id": [], "cost_usd": [], "price_ref": []},
                schema=_CHANGE_SCHEMA,
            )
        return pa.concat_tables(self.changes)


_CHANGE_SCHEMA = pa.schema(
    [("project", pa.string()), ("id", pa.string()), ("cost_usd", pa.float64()),
     ("price_ref", pa.string())]
)  # fmt: skip


def plan(calls: pa.Table, book: BookLookup, unpriced_only: bool = False) -> Plan:
    """The reprice of `calls` (CALL_COLUMNS). Calls whose sender gave the cost (`client`) keep
    it; with `unpriced_only`, only calls without a cost are candidates. A call stored before
    provenance was recorded (price_ref null) that has a cost keeps it when no price is known
    now: it may have been the sender's own."""
    if calls.num_rows == 0:
        return Plan()
    c = {name: calls[name].combine_chunks() for name in CALL_COLUMNS}
    old_cost = c["cost_usd"].to_numpy(zero_copy_only=False).astype(np.float64)
    old_ref = np.asarray(c["price_ref"].to_pylist(), dtype=object)
    candidate = np.asarray(pc.fill_null(pc.not_equal(c["price_ref"], CLIENT_REF), True))
    if unpriced_only:
        candidate &= np.isnan(old_cost)
    day_num = c["timestamp"].cast(pa.int64()).to_numpy(zero_copy_only=False) // _DAY_US
    new_cost, new_ref = old_cost.copy(), old_ref.copy()
    keys = [_codes(c["project"]), _codes(c["provider"]), _codes(c["model"]), day_num]
    groups, inverse = _group(keys)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(groups) + 1))
    names = {k: _dictionary(c[k]) for k in ("project", "provider", "model")}
    tokens = {k: c[k].to_numpy(zero_copy_only=False) for k in CALL_COLUMNS[5:9]}
    for g, (p, pv, m, d) in enumerate(groups):
        rows = order[bounds[g] : bounds[g + 1]]
        rows = rows[candidate[rows]]
        if len(rows) == 0:
            continue
        day = _EPOCH + timedelta(days=int(d))
        cost, ref = _price(
            book, names["project"][p], names["provider"][pv] or None, names["model"][m], day,
            {k: v[rows] for k, v in tokens.items()},
        )  # fmt: skip
        if cost is None:  # no price known: unpriced, except legacy rows that have a cost
            legacy = np.fromiter((r is None for r in old_ref[rows]), bool, len(rows))
            rows = rows[~(legacy & ~np.isnan(old_cost[rows]))]
            cost = np.full(len(rows), np.nan)
        new_cost[rows] = cost
        new_ref[rows] = ref
    return _collect(c, day_num, old_cost, new_cost, old_ref, new_ref)


def _price(
    book: BookLookup,
    project: str,
    provider: str | None,
    model: str,
    day: datetime,
    t: dict[str, np.ndarray],
) -> tuple[np.ndarray | None, str | None]:
    """The costs of one group's calls and their provenance; None when no price is known."""
    inp, cached, out, write = (
        t["input_tokens"], t["cached_tokens"], t["output_tokens"], t["cache_write_tokens"]
    )  # fmt: skip
    entry = book(project, model, day)
    if entry is not None:
        price = entry.price
        cached_price = (
            price.input_per_mtok
            if price.cached_input_per_mtok is None
            else price.cached_input_per_mtok
        )
        cost = (
            (inp - cached) * price.input_per_mtok
            + cached * cached_price
            + out * price.output_per_mtok
        ) / MTOK
        return cost, entry.ref
    resolved = resolve(provider.lower() if provider else None, model, day.date())
    if resolved.formula is None:
        return None, None
    if isinstance(resolved.formula, _Linear):
        return _linear(resolved.formula, inp, cached, out, write), resolved.ref
    return _tiered(resolved.formula, inp, cached, out, write), resolved.ref


def _linear(f: _Linear, inp: np.ndarray, cached: np.ndarray, out: np.ndarray,
            write: np.ndarray) -> np.ndarray:  # fmt: skip
    # The same operations in the same order as _Linear.cost: the same floats as at ingest.
    return (
        f.base
        + inp * f.per_input
        + cached * f.per_cached_delta
        + write * f.per_cache_write_delta
        + out * f.per_output
    )


def _tiered(f: _Tiered, inp: np.ndarray, cached: np.ndarray, out: np.ndarray,
            write: np.ndarray) -> np.ndarray:  # fmt: skip
    region = np.searchsorted(np.asarray(f.starts, dtype=np.int64), inp, side="left")
    cost = np.empty(len(inp), dtype=np.float64)
    for k, linear in enumerate(f.regions):
        here = region == k
        cost[here] = _linear(linear, inp[here], cached[here], out[here], write[here])
    return cost


def _group(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the key columns (one row per group, in key order) and each call's
    group. The columns are packed into one int64 (a 1-D sort is ~20x faster than np.unique
    over rows) unless their ranges are too wide to pack."""
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - lo + 1 for k, lo in zip(keys, lows, strict=True)]
    if math.prod(spans) >= 2**62:
        groups, inverse = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
        return groups, inverse.reshape(-1)
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for k, lo, span in zip(keys, lows, spans, strict=True):
        packed = packed * span + (k - lo)
    uniq, inverse = np.unique(packed, return_inverse=True)
    columns = []
    for lo, span in zip(reversed(lows), reversed(spans), strict=True):
        uniq, part = np.divmod(uniq, span)
        columns.append(part + lo)
    return np.stack(columns[::-1], axis=1), inverse.reshape(-1)


def _codes(column: pa.Array) -> np.ndarray:
    encoded = pc.fill_null(column, "").dictionary_encode()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _dictionary(column: pa.Array) -> list[str]:
    return pc.fill_null(column, "").dictionary_encode().dictionary.to_pylist()


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= 1e-12 * np.maximum(np.abs(a), np.abs(b))
    return both_nan | close


def _collect(
    c: dict[str, pa.Array],
    day_num: np.ndarray,
    old_cost: np.ndarray,
    new_cost: np.ndarray,
    old_ref: np.ndarray,
    new_ref: np.ndarray,
) -> Plan:
    changed = ~_same(old_cost, new_cost) | (old_ref != new_ref)
    out = Plan()
    codes, names = _codes(c["project"]), _dictionary(c["project"])
    for rows, days in ((slice(None), out.seen_days), (changed, out.changed_days)):
        if len(codes[rows]):
            groups, _ = _group([codes[rows], day_num[rows]])
            days.update((names[p], _day(d)) for p, d in groups)
    if changed.any():
        idx = pa.array(np.flatnonzero(changed))
        out.changes.append(
            pa.table(
                {
                    "project": c["project"].take(idx),
                    "id": c["id"].take(idx),
                    "cost_usd": pa.array(new_cost[changed], from_pandas=True),
                    "price_ref": pa.array(new_ref[changed].tolist(), pa.string()),
                },
                schema=_CHANGE_SCHEMA,
            )
        )
    out.rows = _day_rows(c["model"], day_num, old_cost, new_cost, changed)
    return out


def _day_rows(
    model: pa.Array,
    day_num: np.ndarray,
    old_cost: np.ndarray,
    new_cost: np.ndarray,
    changed: np.ndarray,
) -> list[DayRow]:
    codes, names = _codes(model), _dictionary(model)
    keys, inverse = _group([codes, day_num])
    n = len(keys)
    calls = np.bincount(inverse, minlength=n)
    repriced = np.bincount(inverse, weights=changed, minlength=n)
    before = np.bincount(inverse, weights=np.nan_to_num(old_cost), minlength=n)
    after = np.bincount(inverse, weights=np.nan_to_num(new_cost), minlength=n)
    return [
        DayRow(names[m], _day(d).date(), int(calls[i]), int(repriced[i]), float(before[i]),
               float(after[i]))
        for i, (m, d) in enumerate(keys)
    ]  # fmt: skip


def _day(day_num: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(day_num))


def merge_rows(rows: list[DayRow]) -> list[DayRow]:
    """One row per (model, day), sorted (plans of several chunks may share one)."""
    merged: dict[tuple[str, date], DayRow] = {}
    for r in rows:
        was = merged.get((r.model, r.day))
        merged[(r.model, r.day)] = r if was is None else DayRow(
            r.model, r.day, was.calls + r.calls, was.repriced + r.repriced,
            was.cost_before + r.cost_before, was.cost_after + r.cost_after,
        )  # fmt: skip
    return [merged[k] for k in sorted(merged)]


def totals(rows: list[DayRow]) -> dict[str, float | int]:
    before = math.fsum(r.cost_before for r in rows)
    after = math.fsum(r.cost_after for r in rows)
    return {
        "calls": sum(r.calls for r in rows),
        "repriced": sum(r.repriced for r in rows),
        "cost_before": before,
        "cost_after": after,
        "delta": after - before,
    }
