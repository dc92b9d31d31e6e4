"""Fixed-horizon statistics for comparing two variants: pure functions over numbers and arrays.

Every function returns a `TestResult` whose `difference` is variant (b) minus control (a), in the
metric's unit, with a two-sided confidence interval at `1 - alpha` and a two-sided p-value.

The interval and the p-value of a result always come from one procedure: the interval is the set
of differences that procedure's test would not reject, so at any level `a` the interval at `1 - a`
(`TestResult.interval(a)`) excludes 0 exactly when `p_value < a`. Rates: the pooled z-test and its
inverted score interval, or at small counts Agresti–Caffo's adjusted Wald test and interval;
percentiles: a bootstrap whose p-value is read off the same resampled differences as its
interval; means: Welch's t-test and its t interval.
Distributions come from scipy (`norm`, `t`, `chi2`, `hypergeom`); the test statistics are ours and
are held against scipy.stats / statsmodels in tests/experiments/test_stats.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from promptpulse.lazy import LazyModule

sps: Any = LazyModule("scipy.stats")  # scipy costs seconds at import; only experiments need it

SMALL_EXPECTED = 5.0  # below this expected count in any cell, the z-test is not trusted
FISHER_MIN_EXPECTED = SMALL_EXPECTED  # the old name

Interval = tuple[float | None, float | None]


@dataclass(frozen=True)
class TestResult:
    test: str
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    se: float | None = None  # standard error of `difference` (for the sequential test)
    # the same procedure's interval at another level 1 - a (for Holm); None: only (ci_low, ci_high)
    interval_at: Callable[[float], tuple[float, float]] | None = field(
        default=None, compare=False, repr=False
    )
    # further statistics reported alongside, which do not decide significance
    also: tuple[dict[str, Any], ...] = ()

    __test__ = False  # not a pytest class

    def interval(self, alpha: float) -> Interval:
        """The 1 - alpha interval of the same procedure: excludes 0 exactly when p < alpha."""
        if self.interval_at is None or self.difference is None:
            return self.ci_low, self.ci_high
        low, high = self.interval_at(alpha)
        return float(low), float(high)


EMPTY = TestResult("none", None, None, None, None)


def _z(alpha: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2))


# --- rates ---------------------------------------------------------------------------------------


def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of one proportion x/n."""
    z = _z(alpha)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p_b - p_a (method 10): good at small counts and
    at rates of 0 or 1."""
    p_a, p_b = x_a / n_a, x_b / n_b
    l_a, u_a = wilson_interval(x_a, n_a, alpha)
    l_b, u_b = wilson_interval(x_b, n_b, alpha)
    d = p_b - p_a
    return (
        d - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2),
        d + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2),
    )


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p) for p_b - p_a."""
    pooled = (x_a + x_b) / (n_a + n_b)
    var = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    d = x_b / n_b - x_a / n_a
    if var == 0:
        return 0.0, 1.0  # every call succeeded (or failed) in both: no evidence of a difference
    z = d / math.sqrt(var)
    return z, float(2 * sps.norm.sf(abs(z)))


def fisher_exact(x_a: int, n_a: int, x_b: int, n_b: int) -> float:
    """Two-sided Fisher's exact p-value of the 2x2 table [[x_a, n_a-x_a], [x_b, n_b-x_b]]:
    the probability, given the margins, of a table no more likely than the one observed."""
    total, successes = n_a + n_b, x_a + x_b
    dist = sps.hypergeom(total, successes, n_a)
    lo, hi = max(0, successes - n_b), min(successes, n_a)
    support = np.arange(lo, hi + 1)
    pmf = dist.pmf(support)
    observed = dist.pmf(x_a)
    # scipy's relative tolerance, so tables tied with the observed one in exact arithmetic count
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))


def _restricted_mle(x_a: int, n_a: int, x_b: int, n_b: int, delta: float) -> tuple[float, float]:
    """Maximum-likelihood (p_a, p_b) under p_b - p_a = delta: the closed-form root of the cubic of
    Miettinen & Nurminen (1985), as statsmodels writes it."""
    n, c = n_a + n_b, x_a + x_b
    t2 = ((n_b + 2 * n_a) * delta - n - c) / (3 * n)
    t1 = ((n_a * delta - n - 2 * x_a) * delta + c) / (3 * n)
    t0 = x_a * delta * (1 - delta) / (2 * n)
    q = t2**3 - 1.5 * t1 * t2 + t0
    r2 = t2 * t2 - t1
    if r2 <= 0:
        p_a = -t2  # a triple root
    else:
        r = math.copysign(math.sqrt(r2), q) if q != 0 else math.sqrt(r2)
        w = (math.pi + math.acos(max(-1.0, min(1.0, q / r**3)))) / 3
        p_a = 2 * r * math.cos(w) - t2
    p_a = min(min(1.0, 1.0 - delta), max(max(0.0, -delta), p_a))
    return p_a, min(1.0, max(0.0, p_a + delta))


def score_z(x_a: int, n_a: int, x_b: int, n_b: int, delta: float) -> float:
    """The score statistic of H: p_b - p_a = delta (variance at the restricted MLE, no N/(N-1)
    factor). At delta = 0 it is the pooled two-proportion z; it decreases as delta grows."""
    d = x_b / n_b - x_a / n_a
    p_a, p_b = _restricted_mle(x_a, n_a, x_b, n_b, delta)
    var = p_b * (1 - p_b) / n_b + p_a * (1 - p_a) / n_a
    if var <= 0:
        return 0.0 if d == delta else math.copysign(math.inf, d - delta)
    return (d - delta) / math.sqrt(var)


def score_interval(
    x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05
) -> tuple[float, float]:
    """The interval of p_b - p_a that inverts the two-proportion z-test: every delta whose score
    test is not rejected at alpha (Farrington–Manning; statsmodels' `score` without correction).
    It excludes 0 exactly when the pooled z-test's p < alpha."""
    z = _z(alpha)
    d = x_b / n_b - x_a / n_a

    def root(target: float, lo: float, hi: float) -> float:
        # score_z(lo) >= target >= score_z(hi): bisect to float precision
        for _ in range(200):
            mid = (lo + hi) / 2
            if mid in (lo, hi):
                break
            if score_z(x_a, n_a, x_b, n_b, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = -1.0 if score_z(x_a, n_a, x_b, n_b, -1.0) <= z else root(z, -1.0, d)
    high = 1.0 if score_z(x_a, n_a, x_b, n_b, 1.0) >= -z else root(-z, d, 1.0)
    return low, high


def agresti_caffo(
    x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05
) -> tuple[float, float, float, float]:
    """Agresti–Caffo: one success and one failure added to each group, then the Wald test and
    interval of the adjusted difference -> (z, two-sided p, low, high)."""
    p_a, p_b = (x_a + 1) / (n_a + 2), (x_b + 1) / (n_b + 2)
    d = p_b - p_a
    se = math.sqrt(p_a * (1 - p_a) / (n_a + 2) + p_b * (1 - p_b) / (n_b + 2))
    z = d / se
    half = _z(alpha) * se
    return z, float(2 * sps.norm.sf(abs(z))), d - half, d + half


def small_counts(x_a: int, n_a: int, x_b: int, n_b: int) -> bool:
    """An expected cell count of the 2x2 table under no difference is under 5."""
    total, successes = n_a + n_b, x_a + x_b
    expected = [n * k / total for n in (n_a, n_b) for k in (successes, total - successes)]
    return min(expected) < SMALL_EXPECTED


def compare_proportions(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05) -> TestResult:
    """p_b - p_a: the pooled two-proportion z-test with the score interval that inverts it; when
    an expected cell count is under 5, Agresti–Caffo's test with its own interval. Either way the
    interval excludes 0 exactly when p < alpha."""
    if n_a == 0 or n_b == 0:
        return EMPTY
    p_a, p_b = x_a / n_a, x_b / n_b
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    if small_counts(x_a, n_a, x_b, n_b):
        _, p, low, high = agresti_caffo(x_a, n_a, x_b, n_b, alpha)

        def ac_at(level: float) -> tuple[float, float]:
            return agresti_caffo(x_a, n_a, x_b, n_b, level)[2:]

        return TestResult("agresti_caffo", p_b - p_a, low, high, p, se, ac_at)
    _, p = two_proportion_ztest(x_a, n_a, x_b, n_b)
    low, high = score_interval(x_a, n_a, x_b, n_b, alpha)

    def score_at(level: float) -> tuple[float, float]:
        return score_interval(x_a, n_a, x_b, n_b, level)

    return TestResult("two_proportion_z", p_b - p_a, low, high, p, se, score_at)


# --- continuous ----------------------------------------------------------------------------------


def welch_ttest(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> TestResult:
    """Welch's t-test of mean(b) - mean(a), with the Welch–Satterthwaite degrees of freedom."""
    n_a, n_b = len(a), len(b)
    if n_a < 2 or n_b < 2:
        return EMPTY
    va, vb = float(np.var(a, ddof=1)) / n_a, float(np.var(b, ddof=1)) / n_b
    d = float(np.mean(b) - np.mean(a))
    se = math.sqrt(va + vb)
    if se == 0:  # no spread: the difference is exact
        return TestResult("welch_t", d, d, d, 1.0 if d == 0 else 0.0, 0.0, lambda _: (d, d))
    df = (va + vb) ** 2 / (va * va / (n_a - 1) + vb * vb / (n_b - 1))
    t = d / se

    def at(level: float) -> tuple[float, float]:
        half = float(sps.t.ppf(1 - level / 2, df)) * se
        return d - half, d + half

    low, high = at(alpha)
    return TestResult("welch_t", d, low, high, float(2 * sps.t.sf(abs(t), df)), se, at)


def mann_whitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mann–Whitney U of b against a (U counts pairs with b > a, ties half) and its two-sided
    p-value from the normal approximation with tie correction and continuity correction."""
    n_a, n_b = len(a), len(b)
    ranks = sps.rankdata(np.concatenate([a, b]))
    u_b = float(ranks[n_a:].sum()) - n_b * (n_b + 1) / 2
    n = n_a + n_b
    _, counts = np.unique(ranks, return_counts=True)
    ties = float((counts**3 - counts).sum())
    var = n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return u_b, 1.0
    mean = n_a * n_b / 2
    z = (abs(u_b - mean) - 0.5) / math.sqrt(var)
    return u_b, float(min(1.0, 2 * sps.norm.sf(max(z, 0.0))))


# --- bootstrap -----------------------------------------------------------------------------------

BOOTSTRAP_RESAMPLES = 2000
_RESAMPLE_CELLS = 4_000_000  # resampled values held at once (32 MB of float64)
_EXACT_RESAMPLE_MAX_N = 5_000  # above this a quantile's bootstrap draws order statistics
_MAX_RESAMPLES = 100_000  # cap on the extra resamples very small Holm levels ask for


def bootstrap_quantile(
    x: np.ndarray, q: float, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """`resamples` bootstrap replicates of the q-quantile of x (numpy's linear interpolation).

    Small samples are resampled for real, in chunks. For large ones the replicate quantile is
    drawn as the order statistic whose rank is Binomial(n, q) — the distribution the bootstrap
    quantile has (Schultzberg & Ankargren, "Resampling-free bootstrap inference for quantiles"):
    O(resamples) after one sort, with the same interval to well within 1 % at these sizes.
    """
    # Sorted first: the replicates depend on the values alone, not on the order a store hands
    # them back in (DuckDB's is insertion order, ClickHouse's its sort key).
    x = np.sort(x)
    n = len(x)
    if n <= _EXACT_RESAMPLE_MAX_N:
        out = np.empty(resamples)
        step = max(1, _RESAMPLE_CELLS // max(n, 1))
        for start in range(0, resamples, step):
            stop = min(resamples, start + step)
            idx = rng.integers(0, n, size=(stop - start, n))
            out[start:stop] = np.percentile(x[idx], q * 100, axis=1)
        return out
    ranks = rng.binomial(n, q, size=resamples)
    return x[np.clip(ranks, 0, n - 1)]


def bootstrap_quantile_difference(
    a: np.ndarray,
    b: np.ndarray,
    q: float,
    alpha: float = 0.05,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    min_alpha: float | None = None,
) -> TestResult:
    """Percentile-bootstrap test and interval of quantile_q(b) - quantile_q(a), resampling each
    group on its own; both are read off the same R sorted resampled differences d*.

    p = min(1, 2 (c + 1) / (R + 1)) with c = min(#{d* <= 0}, #{d* >= 0}); the 1 - a interval is
    [d*_(k), d*_(R-1-k)] (0-based order statistics) with k = ceil((R + 1) a / 2) - 2, which is
    exactly the set where that inequality flips: the interval excludes 0 iff p < a. Enough
    resamples are drawn for levels down to `min_alpha` (Holm's smallest)."""
    if len(a) == 0 or len(b) == 0:
        return EMPTY
    lowest = min(alpha, min_alpha if min_alpha is not None else alpha)
    resamples = int(max(resamples, min(_MAX_RESAMPLES, math.ceil(4 / lowest))))
    rng = np.random.default_rng(seed)
    reps = np.sort(
        bootstrap_quantile(b, q, resamples, rng) - bootstrap_quantile(a, q, resamples, rng)
    )
    d = float(np.percentile(b, q * 100) - np.percentile(a, q * 100))
    tail = min(int(np.count_nonzero(reps <= 0)), int(np.count_nonzero(reps >= 0)))
    p = min(1.0, 2 * (tail + 1) / (resamples + 1))

    def at(level: float) -> tuple[float, float]:
        k = math.ceil((resamples + 1) * level / 2) - 2
        if k < 0:  # too few resamples to resolve this level: p >= level, so keep 0 inside
            return min(float(reps[0]), 0.0), max(float(reps[-1]), 0.0)
        return float(reps[k]), float(reps[resamples - 1 - k])

    low, high = at(alpha)
    se = float(np.std(reps, ddof=1))
    return TestResult("bootstrap", d, low, high, float(p), se, at)


def median_difference(
    a: np.ndarray, b: np.ndarray, alpha: float = 0.05, seed: int = 0, min_alpha: float | None = None
) -> TestResult:
    """Difference in medians: the bootstrap's test and interval (they cannot disagree). Mann–Whitney
    U is reported alongside in `also`; it tests a shift of the whole distribution, not the
    median, so it does not decide significance."""
    boot = bootstrap_quantile_difference(a, b, 0.5, alpha, seed=seed, min_alpha=min_alpha)
    if boot.difference is None:
        return EMPTY
    u, p = mann_whitney(a, b)
    return replace(boot, also=({"test": "mann_whitney", "statistic": u, "p_value": p},))


# --- families and balance ------------------------------------------------------------------------


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (controls the family-wise error rate); None stays None."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def holm_levels(p_values: Sequence[float | None], alpha: float) -> list[float | None]:
    """The level each comparison's interval is reported at so that it agrees with Holm at alpha.

    Holm rejects the k smallest p-values (ranks r = 0..k-1, the first k whose adjusted value is
    under alpha); the hypothesis of rank r was tested at alpha / (m - r), and each of the others
    at alpha / (m - k), the level at which the step-down stopped. An interval at 1 - that level
    from a procedure whose interval excludes 0 iff p < level therefore excludes 0 iff Holm marks
    it significant. With one comparison every level is alpha."""
    adjusted = holm(p_values)
    order = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(order)
    rejected = sum(1 for _, i in order if (adj := adjusted[i]) is not None and adj < alpha)
    out: list[float | None] = [None] * len(p_values)
    for rank, (_, i) in enumerate(order):
        out[i] = alpha / (m - rank) if rank < rejected else alpha / (m - rejected)
    return out


@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    p_value: float
    expected: list[float]


def chi_square_goodness_of_fit(observed: Sequence[int], weights: Sequence[float]) -> ChiSquare:
    """Pearson's chi-square of observed counts against the split `weights` (any positive scale)."""
    total = float(sum(observed))
    scale = float(sum(weights))
    expected = [total * w / scale for w in weights]
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True) if e > 0)
    p = float(sps.chi2.sf(stat, len(observed) - 1)) if total > 0 else 1.0
    return ChiSquare(float(stat), p, expected)
