"""How a number reads: one rule for every figure a person sees (CLI tables, reports,
notifications). The dashboard's `web/static/js/fmt.js` is its twin; `tests/model/test_fmt.py`
runs one table of cases through both. The rule is documented in docs/metrics.md ("How figures
read"). Pure: imports nothing of PromptPulse.
"""

from __future__ import annotations

import math

DASH = "—"
#: Below this many calls in the previous period a relative change says "n/a" (or "new").
MIN_BASELINE = 100
_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _round_half_up(x: float, digits: int = 0) -> float:
    """Round half away from zero, as JavaScript's toFixed does for the cases we show."""
    q = 10.0**digits
    return math.copysign(math.floor(abs(x) * q + 0.5 + 1e-9) / q, x)


def _sig(x: float, digits: int = 3) -> str:
    """`x` (positive) to `digits` significant digits, trailing zeros dropped, no exponent."""
    if x == 0:
        return "0"
    places = digits - 1 - math.floor(math.log10(x))
    if places < 0:
        return f"{_round_half_up(x / 10**-places) * 10**-places:.0f}"
    text = f"{_round_half_up(x, places):.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _grouped(x: float, places: int = 0) -> str:
    return f"{_round_half_up(x, places):,.{places}f}"


def count(v: float | None) -> str:
    """Counts and tokens: 1,234; 16.7k, 1.23M from 10,000 (3 significant digits); 2.5 below 10."""
    if v is None:
        return DASH
    sign, a = ("-" if v < 0 else ""), abs(v)
    if _round_half_up(a) < 10_000:
        if a < 10 and _round_half_up(a, 1) != _round_half_up(a):
            return sign + _grouped(a, 1)
        return sign + _grouped(a)
    for size, suffix in _SUFFIXES:
        if float(_sig(a)) >= size:
            return f"{sign}{_sig(a / size)}{suffix}"
    return sign + _grouped(a)  # pragma: no cover - unreachable


def usd(v: float | None) -> str:
    """Money: $1,234.56 from $1; 3 significant digits below ($0.0123, a cheap model's cost per
    request $0.000251); <$0.000001; $0.00."""
    if v is None:
        return DASH
    sign, a = ("-" if v < 0 else ""), abs(v)
    if a == 0:
        return "$0.00"
    if a < 0.000001:
        return "<$0.000001"
    if float(_sig(a)) < 1:
        return f"{sign}${_sig(a)}"
    return f"{sign}${_grouped(a, 2)}"


def ms(v: float | None) -> str:
    """Durations: 850 ms (2.5 ms below 10); 1.23 s, 45.6 s (3 significant digits) to 2 min;
    then 2.5 min; from 2 h, 2.5 h."""
    if v is None:
        return DASH
    sign, a = ("-" if v < 0 else ""), abs(v)
    if _round_half_up(a) < 1000:
        if a < 10 and _round_half_up(a, 1) != _round_half_up(a):
            return f"{sign}{_grouped(a, 1)} ms"
        return f"{sign}{_grouped(a)} ms"
    if float(_sig(a / 1000)) < 120:
        return f"{sign}{_sig(a / 1000)} s"
    if _round_half_up(a / 60_000, 1) < 120:
        return f"{sign}{_grouped(a / 60_000, 1)} min"
    return f"{sign}{_grouped(a / 3_600_000, 1)} h"


def pct(v: float | None) -> str:
    """Rates (a fraction of 1): 12.3%, 0.1% resolution: <0.1%, >99.9%, 0.0%, 100.0%."""
    if v is None:
        return DASH
    p = v * 100
    if 0 < p < 0.05:
        return "<0.1%"
    if 99.95 <= p < 100:
        return ">99.9%"
    return f"{_grouped(p, 1)}%"


def per_min(v: float | None) -> str:
    """Requests per minute: 3 significant digits below 10,000 (0.5/min, 12.3/min), then counts."""
    if v is None:
        return DASH
    a = abs(v)
    body = count(a) if _round_half_up(a) >= 1000 else _sig(a)
    return f"{'-' if v < 0 else ''}{body}/min"


def p_value(v: float | None) -> str:
    """p-values: p < 0.001, else 3 decimals (p = 0.034)."""
    if v is None:
        return DASH
    if v < 0.001:
        return "p < 0.001"
    return f"p = {_round_half_up(v, 3):.3f}"


def number(v: float | None) -> str:
    """A figure without a unit: 3 significant digits below 1,000, else a count."""
    if v is None:
        return DASH
    a = abs(v)
    body = count(a) if _round_half_up(a) >= 1000 else _sig(a)
    return ("-" if v < 0 else "") + body


_BY_UNIT = {
    "count": count,
    "tokens": count,
    "usd": usd,
    "ms": ms,
    "ratio": pct,
    "requests/min": per_min,
    "p": p_value,
}


def value(v: float | None, unit: str | None) -> str:
    """A figure in the unit the metric catalog gives it (count, tokens, usd, ms, ratio,
    requests/min; `p` for a p-value); any other unit reads as a plain number."""
    return _BY_UNIT.get(unit or "", number)(v)


def change(current: float | None, previous: float | None, baseline_requests: float | None = None
           ) -> float | None:  # fmt: skip
    """The relative change a headline shows (0.25 = +25 %), or None when it would mislead:
    no figure, a previous value of 0, or a previous period with fewer than MIN_BASELINE calls."""
    if current is None or previous is None or previous == 0:
        return None
    if baseline_requests is not None and baseline_requests < MIN_BASELINE:
        return None
    return (current - previous) / abs(previous)


def delta(
    current: float | None,
    previous: float | None,
    baseline_requests: float | None = None,
    unit: str | None = None,
) -> str:
    """A change against the previous period, as text. Rates (`ratio`) move in points
    (+1.2 pts); everything else relatively (+12.3%, +250%). "new" when the previous value is 0
    (or the previous period has no calls) and the current one is not; "n/a" when the previous
    period holds fewer than MIN_BASELINE calls; "±0" when nothing changed; "—" without figures."""
    if current is None or previous is None:
        return DASH
    if current == previous:
        return "±0"
    if previous == 0 or baseline_requests == 0:
        return "new"
    if baseline_requests is not None and baseline_requests < MIN_BASELINE:
        return "n/a"
    if unit == "ratio":
        pts = _round_half_up((current - previous) * 100, 1)
        return "±0" if pts == 0 else f"{'+' if pts > 0 else '-'}{abs(pts):.1f} pts"
    return signed_pct((current - previous) / abs(previous))


def signed_pct(r: float) -> str:
    """A relative change: +12.3% (0.1% resolution below 100%), +250% from 100%, ±0."""
    p = r * 100
    a = abs(p)
    if a < 0.05:
        return "±0" if a == 0 else ("+" if p > 0 else "-") + "<0.1%"
    body = _grouped(a, 1) if _round_half_up(a, 1) < 100 else _grouped(a)
    return f"{'+' if p > 0 else '-'}{body}%"


def difference(d: float | None, unit: str | None) -> str:
    """A signed difference in the metric's unit (experiments): rates in points (+2.0 pts,
    +<0.1 pts), everything else by its unit's rule with a sign (+$0.0123, -1.23 s); ±0."""
    if d is None:
        return DASH
    if d == 0:
        return "±0"
    sign = "+" if d > 0 else "-"
    a = abs(d)
    if unit == "ratio":
        return f"{sign}<0.1 pts" if a * 100 < 0.05 else f"{sign}{_grouped(a * 100, 1)} pts"
    return sign + value(a, unit)
