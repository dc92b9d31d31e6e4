"""The engine-neutral half of `Store.aggregate`, shared by every backend: whether a query may
answer from rollups (and which pieces of its range), the exact split of a whole-range overview
(counts and sums from rollups, percentiles and distinct counts from raw calls), and the rule
that rows built from sketches say `approximate`. A backend supplies the SQL: `_aggregate_raw`,
`_aggregate_rollups` and `_rollup_calls` (how many calls the rollup pieces of a plan hold)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from promptpulse.model import AggRow, Dimension, Kind, Metric, Op, Scope
from promptpulse.store.deadline import in_context
from promptpulse.store.rollup_plan import Piece, eligible, is_approximate, pieces


class RollupPlanning:
    rollup_min_calls: int
    # True when `_aggregate_rollups` says itself which rows came from sketches (it may answer
    # some sketch metrics exactly); else every row of a sketch metric says `approximate`.
    _rollups_mark_approximate: bool = False
    _horizons: dict[str, datetime]  # project -> where retention cut its raw calls
    _rollup_horizons: dict[tuple[str, str], datetime]  # (level, project) -> rollups cut there

    # --- what each backend writes in its own SQL
    def _aggregate_raw(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension],
        interval: str | None,
    ) -> list[AggRow]:
        raise NotImplementedError

    def _aggregate_rollups(
        self,
        plan: Sequence[Piece],
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension],
        interval: str | None,
    ) -> list[AggRow]:
        raise NotImplementedError

    def _rollup_calls(self, plan: Sequence[Piece], scope: Scope) -> int:
        raise NotImplementedError

    def _exact_is_faster(
        self, scope: Scope, metrics: Sequence[Metric], interval: str | None
    ) -> bool:
        """True where this backend answers an ungrouped query exactly faster than from
        rollups' sketches, so a caller that allows approximate figures gets exact ones."""
        return False

    def _open_end(self, scope: Scope) -> bool:
        """True when no call of the range is stamped at or after its end, known without a
        scan (a backend that keeps the newest call's time): its last hour is then whole."""
        return False

    # --- shared
    def aggregate(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension] = (),
        interval: str | None = None,
        allow_approximate: bool = False,
    ) -> list[AggRow]:
        """Catalog metrics per group; percentiles exact unless a row says approximate.

        Long ranges answer from rollups when they can (see `_rollup_plan`): counts, sums and
        rates stay exact; percentiles and distinct counts come from sketches, so only callers
        that pass `allow_approximate` get those, and each such row says `approximate`. Where
        the backend answers exactly faster (`_exact_is_faster`), they get exact figures."""
        exact = not allow_approximate or self._exact_is_faster(scope, metrics, interval)
        if exact and not group_by:
            split = self._exact_split(scope, metrics, interval)
            if split is not None:
                return split
            if allow_approximate:
                return self._aggregate_raw(scope, metrics, group_by, interval)
        plan = self._rollup_plan(scope, metrics, group_by, interval, allow_approximate)
        if plan is not None:
            rows = self._aggregate_rollups(plan, scope, metrics, group_by, interval)
            if is_approximate(metrics) and not self._rollups_mark_approximate:
                for r in rows:
                    r.approximate = True
            return rows
        if not exact and not group_by:
            # Too few matching calls for the sketches (a narrow filter): exact then, with the
            # counts and sums from rollups where they hold enough, as `exact=true` answers (a
            # prompt's overview of 10 M calls, 30 days: 152 ms all raw, 109 ms split).
            split = self._exact_split(scope, metrics, interval)
            if split is not None:
                return split
        return self._aggregate_raw(scope, metrics, group_by, interval)

    def _exact_split(
        self, scope: Scope, metrics: Sequence[Metric], interval: str | None = None
    ) -> list[AggRow] | None:
        """An exact answer over the whole range or per time bucket in two parts: counts and sums
        (exact in rollups, so they may come from there) and what only raw calls give exactly
        (percentiles, distinct users). None when there is nothing to split."""
        raw_only = [
            m for m in metrics
            if m.kind is Kind.QUANTILE or any(a.op is Op.DISTINCT for a in m.parts)
        ]  # fmt: skip
        rest = [m for m in metrics if m not in raw_only]
        if not raw_only or not rest:
            return None
        plan = self._rollup_plan(scope, rest, (), interval, False)  # decided once: may count
        if plan is None:
            return None
        # The two parts side by side: the raw part is the longer one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            raw = pool.submit(in_context(self._aggregate_raw), scope, raw_only, (), interval)
            rows = self._aggregate_rollups(plan, scope, rest, (), interval)
            exact = {r.t: r.values for r in raw.result()}
        for row in rows:
            # A bucket with calls has a raw row; one without its values has them as None.
            row.values.update(exact.get(row.t) or dict.fromkeys((m.name for m in raw_only), None))
        return rows

    def raw_incomplete(self, scope: Scope) -> bool:
        """True when retention removed raw calls this scope would read."""
        projects = scope.filter_values("project")
        cut = [c for p, c in self._horizons.items() if projects is None or p in projects]
        return any(c > scope.start for c in cut)

    def _rollup_plan(
        self,
        scope: Scope,
        metrics: Sequence[Metric],
        group_by: Sequence[Dimension],
        interval: str | None,
        allow_approximate: bool,
    ) -> list[Piece] | None:
        if not eligible(scope, metrics, group_by, interval):
            return None
        if is_approximate(metrics) and not allow_approximate:
            return None
        # An open end makes the newest hour a rollup piece: for counts and sums only, since
        # that hour's sketches are still one fragment per commit (as many rows as its calls,
        # slower to merge than the exact answer).
        open_end = not is_approximate(metrics) and self._open_end(scope)
        plan = pieces(scope.start, scope.end, interval, open_end)
        if all(p.source == "raw" for p in plan):
            return None
        raw_incomplete = self.raw_incomplete(scope)
        if self._rollups_deleted_under(plan, scope) and not raw_incomplete:
            return None  # retention removed rollups the plan would read; raw calls are all there
        if self.rollup_min_calls <= 0 or raw_incomplete:
            return plan
        calls = self._rollup_calls(plan, _scanned(scope, metrics))
        return plan if calls >= self.rollup_min_calls else None

    def _rollups_deleted_under(self, plan: Sequence[Piece], scope: Scope) -> bool:
        """True when retention deleted rollups of a level that a piece of the plan reads."""
        projects = scope.filter_values("project")
        for (level, project), cut in self._rollup_horizons.items():
            if projects is not None and project not in projects:
                continue
            if any(p.source == level and p.start < cut for p in plan):
                return True
        return False


def _scanned(scope: Scope, metrics: Sequence[Metric]) -> Scope:
    """The calls whose number decides raw against rollups. Counts and sums are exact either
    way, so only speed decides: a raw scan reads every call of the range's projects whatever
    the other filters (no index narrows `status` or `model`), so those are counted. Percentiles
    and distinct counts are approximate from rollups: for those the calls that match decide,
    so a narrow filter keeps its exact answer."""
    if is_approximate(metrics):
        return scope
    kept = tuple(f for f in scope.filters if f.dimension == "project")
    return Scope(scope.start, scope.end, kept)
