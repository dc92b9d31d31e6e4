"""Sample-size planning for a fixed-horizon two-sided test.

Proportions use Cohen's effect size h = 2·asin(√p₂) − 2·asin(√p₁) with the normal power function;
means use the noncentral t of the two-sample t-test. Both count both tails, as statsmodels'
`NormalIndPower` / `TTestIndPower` do, and solve for the calls per variant by root finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from promptpulse.errors import FieldError, Invalid
from promptpulse.lazy import LazyModule

optimize: Any = LazyModule("scipy.optimize")
sps: Any = LazyModule("scipy.stats")  # imported on first use: scipy is slow to import


@dataclass(frozen=True)
class Plan:
    per_variant: int  # calls (or units) needed in each variant, rounded up
    exact: float  # the unrounded solution
    effect_size: float  # Cohen's h or d
    target: float | None = None  # the rate the variant must reach (proportions)


def _check(alpha: float, power: float) -> None:
    errors = []
    if not 0 < alpha < 1:
        errors.append(FieldError("alpha", "must be between 0 and 1"))
    if not 0 < power < 1:
        errors.append(FieldError("power", "must be between 0 and 1"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def cohens_h(p1: float, p2: float) -> float:
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def normal_power(effect: float, n1: float, alpha: float, ratio: float = 1.0) -> float:
    """Power of the two-sided z-test with n1 in the first group and ratio·n1 in the second."""
    crit = sps.norm.isf(alpha / 2)
    shift = abs(effect) * math.sqrt(1 / (1 / n1 + 1 / (ratio * n1)))
    return float(sps.norm.sf(crit - shift) + sps.norm.cdf(-crit - shift))


def t_power(effect: float, n1: float, alpha: float, ratio: float = 1.0) -> float:
    """Power of the two-sided two-sample t-test (equal variances) with effect size d."""
    n2 = ratio * n1
    df = n1 + n2 - 2
    crit = sps.t.isf(alpha / 2, df)
    nc = abs(effect) * math.sqrt(1 / (1 / n1 + 1 / n2))
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def _solve(power_of: object, target: float, low: float) -> float:
    f = power_of  # type: ignore[assignment]
    if f(low) >= target:  # type: ignore[operator]
        return low
    high = max(low * 2, 4.0)
    while f(high) < target:  # type: ignore[operator]
        high *= 2
        if high > 1e12:
            raise Invalid(
                "the effect is too small to detect with any sample size",
                [FieldError("mde", "too small to detect")],
            )
    return float(optimize.brentq(lambda n: f(n) - target, low, high, xtol=1e-9))  # type: ignore[operator]


def sample_size_proportions(
    baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> Plan:
    """Calls per variant to detect an absolute change `mde` from the rate `baseline`.

    The change is taken in the direction that needs more calls (towards 0.5), so the plan holds
    whichever way the rate moves; when only one direction stays within [0, 1] that one is used.
    """
    _check(alpha, power)
    errors = []
    if not 0 < baseline < 1:
        errors.append(FieldError("baseline", "must be a rate strictly between 0 and 1"))
    if not 0 < mde < 1:
        errors.append(FieldError("mde", "must be an absolute change of the rate, between 0 and 1"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
    targets = [t for t in (baseline + mde, baseline - mde) if 0 < t < 1]
    if not targets:
        raise Invalid(
            "mde: moves the rate out of (0, 1)",
            [FieldError("mde", "baseline ± mde must stay between 0 and 1")],
        )
    target = min(targets, key=lambda t: abs(cohens_h(baseline, t)))
    h = cohens_h(baseline, target)
    n = _solve(lambda n: normal_power(h, n, alpha, ratio), power, 1e-6)
    return Plan(math.ceil(n - 1e-9), n, h, target)


def sample_size_means(
    sd: float, mde: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> Plan:
    """Calls per variant to detect an absolute change `mde` of a mean with standard deviation sd."""
    _check(alpha, power)
    if not sd > 0 or not mde > 0:
        raise Invalid(
            "sd and mde must be positive",
            [FieldError("sd" if not sd > 0 else "mde", "must be positive")],
        )
    d = mde / sd
    n = _solve(lambda n: t_power(d, n, alpha, ratio), power, 2.0 + 1e-9)
    return Plan(math.ceil(n - 1e-9), n, d)
