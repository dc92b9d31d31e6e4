"""The figures behind the Performance charts: a distribution histogram with exact percentile
marks (`GET /v1/metrics/histogram`) and a weekday x hour grid in a time zone
(`GET /v1/metrics/heatmap`). Parameters declared once (`*_PARAMS`), parsed, then answered through
the store's protocol; no SQL here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from promptpulse.model import HISTOGRAM_FIELDS, Kind, Metric, Scope
from promptpulse.query.parse import (
    SCOPE_PARAMS,
    Errors,
    MultiDict,
    Param,
    ParamKind,
    read,
    read_scope,
)
from promptpulse.store import Store

MARKS: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
RANGE_OVER_P99 = 1.25  # the bins span 0 .. a round number >= 1.25 x p99; the last bin is open
NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
DEFAULT_HEATMAP = ("requests", "error_rate")
ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")

FIELD = Param(
    "field",
    ParamKind.CHOICE,
    "The per-call figure: " + ", ".join(HISTOGRAM_FIELDS),
    default="latency_ms",
    choices=tuple(HISTOGRAM_FIELDS),
)
BINS = Param("bins", ParamKind.INT, "Number of bins", default=40, lo=1, hi=200)
HEAT_METRICS = Param(
    "metrics",
    ParamKind.METRICS,
    "Comma list of catalog metrics (counts, sums, rates, means, percentiles; default: "
    f"{','.join(DEFAULT_HEATMAP)})",
    default=DEFAULT_HEATMAP,
)
TZ = Param("tz", ParamKind.TEXT, "IANA time zone of weekday and hour (default UTC)", default="UTC")

HISTOGRAM_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, FIELD, BINS)
HEATMAP_PARAMS: tuple[Param, ...] = (*SCOPE_PARAMS, HEAT_METRICS, TZ)


@dataclass(frozen=True)
class HistogramRequest:
    scope: Scope
    field: str
    bins: int


@dataclass(frozen=True)
class HeatmapRequest:
    scope: Scope
    metrics: list[Metric]
    tz: str


def parse_histogram(params: MultiDict, now: datetime) -> HistogramRequest:
    errors = Errors()
    scope = read_scope(params, now, errors)
    v = read(HISTOGRAM_PARAMS, params, errors)
    errors.raise_if_any()
    return HistogramRequest(scope, v["field"], v["bins"])


def parse_heatmap(params: MultiDict, now: datetime) -> HeatmapRequest:
    errors = Errors()
    scope = read_scope(params, now, errors)
    v = read(HEATMAP_PARAMS, params, errors)
    tz = v["tz"]
    if not known_zone(tz):
        errors.add("tz", f"'{tz[:80]}' is not an IANA time zone such as Europe/Paris")
    for m in v["metrics"]:
        if m.kind not in (Kind.AGGREGATE, Kind.QUANTILE):
            errors.add("metrics", f"{m.name} is per minute of the window, not per hour of week")
    errors.raise_if_any()
    return HeatmapRequest(scope, v["metrics"], tz)


def known_zone(tz: str) -> bool:
    """An IANA zone name (the characters a store may inline) that zoneinfo knows."""
    if not ZONE_NAME.match(tz):
        return False
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "Etc"
        return False
    return True


def nice_width(span: float, bins: int) -> float:
    """The smallest round width (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k) at least span /
    bins: round bin edges, and the bins end below 4/3 of the span asked for."""
    raw = span / bins
    scale = 10.0 ** math.floor(math.log10(raw))
    width = next(step * scale for step in NICE_STEPS if step * scale >= raw * (1 - 1e-12))
    return float(f"{width:.12g}")  # 0.3, not 0.30000000000000004


def histogram(store: Store, scope: Scope, field: str, bins: int) -> dict[str, Any]:
    """Calls per bin of one per-call figure (calls without it left out) and its exact p50, p95
    and p99. Bins are `bins` equal widths from 0; the last one is open upward (`hi` null)."""
    marks = [
        Metric(f"{field}_{name}", "", "", Kind.QUANTILE, column=field, q=q) for name, q in MARKS
    ]
    found = store.aggregate(scope, marks)[0]  # exact: percentiles never from rollups here
    percentiles = {name: found[m.name] for (name, _), m in zip(MARKS, marks, strict=True)}
    out: dict[str, Any] = {
        "field": field,
        "unit": HISTOGRAM_FIELDS[field],
        "bins": [],
        "count": 0,
        "percentiles": percentiles,
    }
    p99 = percentiles["p99"]
    if p99 is None:  # no call has the figure
        return out
    width = nice_width(p99 * RANGE_OVER_P99 if p99 > 0 else 1.0, bins)
    counts = store.histogram(scope, field, width, bins)

    def edge(i: int) -> float:
        return float(f"{i * width:.12g}")  # 0.3, not 0.30000000000000004

    out["bins"] = [
        {"lo": edge(i), "hi": edge(i + 1) if i < bins - 1 else None, "count": n}
        for i, n in enumerate(counts)
    ]
    out["count"] = sum(counts)
    out["width"] = width
    return out


def heatmap(store: Store, scope: Scope, metrics: Sequence[Metric], tz: str) -> dict[str, Any]:
    """Every (weekday, hour) of the week in `tz`, Monday=0, each with the metrics over the calls
    whose local time falls in it (empty cells: counts 0, rates and percentiles null), and each
    metric's smallest and largest cell value (the colour scale)."""
    rows = {tuple(r.group): r for r in store.aggregate_by_hour_of_week(scope, metrics, tz)}
    empty = {m.name: _empty_value(m) for m in metrics}
    cells = []
    for weekday in range(7):
        for hour in range(24):
            found = rows.get((weekday, hour))
            values = {m.name: found[m.name] for m in metrics} if found else dict(empty)
            cells.append({"weekday": weekday, "hour": hour, **values})
    scale = {}
    for m in metrics:
        present = [c[m.name] for c in cells if c[m.name] is not None]
        scale[m.name] = {
            "min": min(present) if present else None,
            "max": max(present) if present else None,
            "unit": m.unit,
        }
    return {"tz": tz, "metrics": [m.name for m in metrics], "cells": cells, "scale": scale}


def _empty_value(m: Metric) -> Any:
    """A metric over no calls: a count or sum is 0, anything divided or ranked is null."""
    if m.kind is not Kind.AGGREGATE:
        return None
    return m.value(dict.fromkeys((*m.parts, *((m.per,) if m.per else ())), None))
