"""Tests of a custom metric between two variants, from per-call term values.

A custom metric whose formula is made of terms (sums over calls: model/formula.py) is a smooth
function f of those sums, S = Σ x_i over the calls of a variant. With calls independent, the
delta method gives Var f(S) ≈ ∇f(S)ᵀ Cov(S) ∇f(S), Cov(S) = n · Cov(x) (sample covariance), and
the difference of two variants is tested with a z-test and its Wald interval (one procedure, so
the interval excludes 0 exactly when p < alpha).

A ratio of two per-call counts that are each 0 or 1, the numerator never above the denominator
(count(score.thumbs = 1) / count(score.thumbs) with one thumbs per call), is a proportion over
the calls that have the denominator: it gets the rates' two-proportion test instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from promptpulse.experiments import stats
from promptpulse.model.formula import Bin, Node, TermRef, gradient, terms


def estimate(node: Node, columns: Mapping[str, np.ndarray]) -> tuple[float | None, float | None]:
    """The formula over one variant's calls and the delta method's variance of it."""
    keys = [t.key for t in terms(node)]
    sums = {k: float(np.sum(columns[k])) for k in keys}
    value, grad = gradient(node, sums)
    if value is None or not math.isfinite(value):
        return None, None
    n = len(columns[keys[0]]) if keys else 0
    if n < 2:
        return value, None
    x = np.vstack([columns[k] for k in keys])
    cov = np.atleast_2d(np.cov(x, ddof=1)) * n
    g = np.array([grad.get(k, 0.0) for k in keys])
    var = float(g @ cov @ g)
    return value, (max(var, 0.0) if math.isfinite(var) else None)


def as_proportion(node: Node, columns: Mapping[str, np.ndarray]) -> tuple[int, int] | None:
    """(successes, trials) when the formula is a proportion over calls (see the module)."""
    if not (
        isinstance(node, Bin)
        and node.op == "/"
        and isinstance(node.left, TermRef)
        and isinstance(node.right, TermRef)
    ):
        return None
    a, b = columns[node.left.term.key], columns[node.right.term.key]
    binary = np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()
    if not binary or bool(np.any(a > b)):
        return None
    return int(a.sum()), int(b.sum())


def compare_formula(
    node: Node, a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], alpha: float = 0.05
) -> stats.TestResult:
    """Variant (b) minus control (a) of the formula."""
    pa, pb = as_proportion(node, a), as_proportion(node, b)
    if pa is not None and pb is not None:
        return stats.compare_proportions(pa[0], pa[1], pb[0], pb[1], alpha)
    va, var_a = estimate(node, a)
    vb, var_b = estimate(node, b)
    if va is None or vb is None or var_a is None or var_b is None:
        return stats.EMPTY
    d = vb - va
    se = math.sqrt(var_a + var_b)
    if se == 0:
        return stats.TestResult("delta_method", d, d, d, 1.0 if d == 0 else 0.0, 0.0)

    def at(level: float) -> tuple[float, float]:
        half = float(stats.sps.norm.ppf(1 - level / 2)) * se
        return d - half, d + half

    low, high = at(alpha)
    p = float(2 * stats.sps.norm.sf(abs(d / se)))
    return stats.TestResult("delta_method", d, low, high, p, se, at)
