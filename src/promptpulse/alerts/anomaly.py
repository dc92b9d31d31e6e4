"""Seasonal baselines: the same window at the same hour of the week over the past weeks.

Robust statistics: the median of the past values, and the median absolute deviation (MAD)
scaled to a standard deviation (x 1.4826). Small samples give a MAD near zero, so the scale has
floors: 10 % of the median, and for counts the Poisson noise sqrt(median). Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WEEK = timedelta(weeks=1)
MAD_TO_SIGMA = 1.4826
REL_FLOOR = 0.10
COUNT_METRICS = frozenset({"requests", "errors", "successes", "tokens", "rpm"})


@dataclass(frozen=True)
class Baseline:
    median: float
    sigma: float  # robust spread (MAD x 1.4826, floored)
    samples: int

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "sigma": self.sigma, "samples": self.samples}


def shifted_windows(start: datetime, end: datetime, weeks: int) -> list[tuple[datetime, datetime]]:
    """The same window 1..weeks weeks ago."""
    return [(start - k * WEEK, end - k * WEEK) for k in range(1, weeks + 1)]


def baseline(values: Sequence[float | None], metric: str, min_samples: int = 2) -> Baseline | None:
    """Median and robust spread of past values; None with too little history."""
    xs = sorted(float(v) for v in values if v is not None and math.isfinite(v))
    if len(xs) < min_samples:
        return None
    med = _median(xs)
    mad = _median(sorted(abs(x - med) for x in xs))
    sigma = max(MAD_TO_SIGMA * mad, REL_FLOOR * abs(med))
    if metric in COUNT_METRICS:
        sigma = max(sigma, math.sqrt(max(med, 1.0)))
    if sigma == 0:
        sigma = 1e-9
    return Baseline(med, sigma, len(xs))


def is_anomalous(
    value: float, base: Baseline, z: float, direction: str, min_ratio: float | None
) -> bool:
    """True when value is more than z robust sigmas from the median, the chosen way, and (when
    asked) at least min_ratio times above (or below) it."""
    score = (value - base.median) / base.sigma
    up = score > z and (min_ratio is None or value >= min_ratio * base.median)
    down = score < -z and (min_ratio is None or value * min_ratio <= base.median)
    if direction == "up":
        return up
    if direction == "down":
        return down
    return up or down


def bounds(base: Baseline, z: float, direction: str, min_ratio: float | None) -> dict[str, float]:
    """The band a value must leave to count as anomalous (shown in alerts as the threshold)."""
    upper = base.median + z * base.sigma
    lower = base.median - z * base.sigma
    if min_ratio:
        upper = max(upper, base.median * min_ratio)
        lower = min(lower, base.median / min_ratio)
    out = {}
    if direction in ("up", "both"):
        out["upper"] = upper
    if direction in ("down", "both"):
        out["lower"] = lower
    return out


def _median(xs: list[float]) -> float:
    n = len(xs)
    mid = n // 2
    return xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
