"""Every comparison's interval and p-value come from one procedure, so they never disagree about 0:
before Holm (p < alpha iff 0 is outside the 1 - alpha interval) and after it (`significant` iff 0
is outside the reported, Holm-level interval). The new procedures are held against scipy and
statsmodels, and A/A data is rejected at about alpha."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps
from statsmodels.stats import proportion as smp
from statsmodels.stats.multitest import multipletests

from promptpulse.experiments import stats
from promptpulse.experiments.compare import judge
from promptpulse.experiments.results import plan_for

ALPHA = 0.05


def _outside(low: float | None, high: float | None) -> bool:
    assert low is not None and high is not None
    return not low <= 0 <= high


# --- the procedures against scipy / statsmodels ---------------------------------------------------


def _reference_score_interval(
    x_a: int, n_a: int, x_b: int, n_b: int, alpha: float
) -> tuple[float, float]:
    """The score interval from first principles with scipy: the restricted MLE by numerical
    maximisation of the likelihood, the ends by brentq. (statsmodels' own closed form has a wrong
    coefficient for delta != 0, statsmodels/statsmodels#10269, so it is not the reference here.)"""

    def restricted(delta: float) -> tuple[float, float]:
        def nll(p_a: float) -> float:
            p_b = p_a + delta
            tiny = 1e-300
            return -(
                x_a * math.log(max(p_a, tiny))
                + (n_a - x_a) * math.log(max(1 - p_a, tiny))
                + x_b * math.log(max(p_b, tiny))
                + (n_b - x_b) * math.log(max(1 - p_b, tiny))
            )

        lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)
        p_a = optimize.minimize_scalar(
            nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}
        ).x
        return p_a, p_a + delta

    d = x_b / n_b - x_a / n_a
    z = sps.norm.ppf(1 - alpha / 2)

    def stat(delta: float) -> float:
        p_a, p_b = restricted(delta)
        return (d - delta) / math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)

    eps = 1e-9
    low = optimize.brentq(lambda t: stat(t) - z, -1 + eps, d) if stat(-1 + eps) > z else -1.0
    high = optimize.brentq(lambda t: stat(t) + z, d, 1 - eps) if stat(1 - eps) < -z else 1.0
    return low, high


@pytest.mark.parametrize("seed", range(12))
def test_score_interval_inverts_the_z_test(seed: int) -> None:
    rng = np.random.default_rng(800 + seed)
    n_a, n_b = (int(v) for v in rng.integers(30, 4000, 2))
    x_a = int(rng.binomial(n_a, rng.uniform(0.05, 0.95)))
    x_b = int(rng.binomial(n_b, rng.uniform(0.05, 0.95)))
    alpha = float(rng.choice([0.01, 0.05, 0.1, 0.05 / 3]))
    low, high = stats.score_interval(x_a, n_a, x_b, n_b, alpha)
    ref = _reference_score_interval(x_a, n_a, x_b, n_b, alpha)
    assert (low, high) == pytest.approx(ref, abs=2e-6)
    # at delta = 0 the score test is the pooled z-test (statsmodels is right there)
    _, p = stats.two_proportion_ztest(x_a, n_a, x_b, n_b)
    sm = smp.test_proportions_2indep(x_b, n_b, x_a, n_a, method="score", correction=False)
    assert p == pytest.approx(sm.pvalue, rel=1e-9, abs=1e-300)
    # the statistic at each end is the critical value: the interval is the test inverted
    z = sps.norm.ppf(1 - alpha / 2)
    if low > -1:
        assert stats.score_z(x_a, n_a, x_b, n_b, low) == pytest.approx(z, rel=1e-6)
    if high < 1:
        assert stats.score_z(x_a, n_a, x_b, n_b, high) == pytest.approx(-z, rel=1e-6)


def test_score_interval_at_the_edges() -> None:
    # symmetric under swapping the groups, and sensible at rates of 0 and 1
    for x_a, n_a, x_b, n_b in [(0, 10, 10, 10), (0, 10, 0, 10), (3, 5000, 0, 5000), (7, 7, 2, 9)]:
        low, high = stats.score_interval(x_a, n_a, x_b, n_b)
        s_low, s_high = stats.score_interval(x_b, n_b, x_a, n_a)
        assert (low, high) == pytest.approx((-s_high, -s_low), abs=1e-9)
        assert -1 <= low <= x_b / n_b - x_a / n_a <= high <= 1
    assert stats.score_interval(0, 10, 0, 10) == pytest.approx(
        _reference_score_interval(0, 10, 0, 10, 0.05), abs=1e-6
    )


@pytest.mark.parametrize("seed", range(12))
def test_agresti_caffo_against_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(900 + seed)
    n_a, n_b = (int(v) for v in rng.integers(3, 60, 2))
    x_a, x_b = int(rng.integers(0, n_a + 1)), int(rng.integers(0, n_b + 1))
    alpha = float(rng.choice([0.01, 0.05, 0.1]))
    z, p, low, high = stats.agresti_caffo(x_a, n_a, x_b, n_b, alpha)
    ref = smp.test_proportions_2indep(x_b, n_b, x_a, n_a, method="agresti-caffo")
    ci = smp.confint_proportions_2indep(x_b, n_b, x_a, n_a, method="agresti-caffo", alpha=alpha)
    assert z == pytest.approx(ref.statistic, rel=1e-9)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert (low, high) == pytest.approx(ci, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("q", "seed"), [(0.5, 1), (0.95, 2), (0.5, 3), (0.9, 4)])
def test_bootstrap_p_value_against_scipy(q: float, seed: int) -> None:
    """The p-value is the bootstrap distribution's two-sided tail at 0: scipy's bootstrap
    distribution of the same statistic gives the same p within Monte Carlo error."""
    rng = np.random.default_rng(1000 + seed)
    a = rng.lognormal(6, 0.6, 400)
    b = rng.lognormal(6.08, 0.6, 350)
    ours = stats.bootstrap_quantile_difference(a, b, q, resamples=4000, seed=seed)
    dist = sps.bootstrap(
        (b, a),
        lambda x, y, axis: (
            np.percentile(x, q * 100, axis=axis) - np.percentile(y, q * 100, axis=axis)
        ),
        n_resamples=4000,
        method="percentile",
        vectorized=True,
        paired=False,
        random_state=np.random.default_rng(seed + 70),
    ).bootstrap_distribution
    ref = min(1.0, 2 * min(np.mean(dist <= 0), np.mean(dist >= 0)))
    assert ours.p_value is not None
    assert abs(ours.p_value - ref) < 4 * math.sqrt(max(ref, 0.01) / 4000) + 0.01
    # and the interval is the same distribution's: the smallest level whose interval still
    # holds 0 is the p-value
    assert _outside(*ours.interval(min(0.999, ours.p_value * 1.001)))
    assert not _outside(*ours.interval(ours.p_value * 0.999))


def test_median_reports_mann_whitney_alongside() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.lognormal(6, 0.5, 300), rng.lognormal(6.05, 0.5, 300)
    r = stats.median_difference(a, b)
    assert r.test == "bootstrap"
    u, p = stats.mann_whitney(a, b)
    assert r.also == ({"test": "mann_whitney", "statistic": u, "p_value": p},)


def test_holm_levels() -> None:
    # Holm stops at the first: both intervals at alpha / 2
    assert stats.holm_levels([0.03, 0.04], ALPHA) == pytest.approx([0.025, 0.025])
    # the first rejected at alpha / 2, then the second tested at alpha
    assert stats.holm_levels([0.04, 0.01], ALPHA) == pytest.approx([0.05, 0.025])
    assert stats.holm_levels([0.2, None, 0.001, 0.02], ALPHA) == pytest.approx(
        [0.05, None, 0.05 / 3, 0.025]
    )
    rng = np.random.default_rng(3)
    for _ in range(40):  # statsmodels' multipletests is slow
        p = list(rng.uniform(0, 0.08, int(rng.integers(1, 8))) ** rng.uniform(0.5, 2))
        levels = stats.holm_levels(p, ALPHA)
        reject = multipletests(p, alpha=ALPHA, method="holm")[0]
        for pi, level, rej in zip(p, levels, reject, strict=True):
            assert level is not None and (pi < level) == rej


# --- the property: significant == (0 outside [ci_low, ci_high]) -----------------------------------


def _rate_results(rng: np.random.Generator, m: int) -> list[stats.TestResult]:
    small = rng.random() < 0.4
    n_a = int(rng.integers(5, 60) if small else rng.integers(100, 20000))
    p_a = float(rng.uniform(0.01, 0.5) if small else rng.uniform(0.005, 0.995))
    x_a = int(rng.binomial(n_a, p_a))
    out = []
    for _ in range(m):
        n_b = int(rng.integers(5, 60) if small else rng.integers(100, 20000))
        se = math.sqrt(max(p_a * (1 - p_a), 1e-4) * (1 / n_a + 1 / n_b))
        p_b = min(0.999, max(0.001, p_a + rng.uniform(-4, 4) * se))  # near the edge of 0
        out.append(stats.compare_proportions(x_a, n_a, int(rng.binomial(n_b, p_b)), n_b, ALPHA))
    return out


def _mean_results(rng: np.random.Generator, m: int) -> list[stats.TestResult]:
    n_a = int(rng.integers(2, 400))
    a = rng.gamma(2, 3, n_a)
    out = []
    for _ in range(m):
        n_b = int(rng.integers(2, 400))
        shift = rng.uniform(-4, 4) * 4.2 * math.sqrt(1 / n_a + 1 / n_b)
        out.append(stats.welch_ttest(a, rng.gamma(2, 3, n_b) + shift, ALPHA))
    return out


def _quantile_results(rng: np.random.Generator, m: int) -> list[stats.TestResult]:
    q = float(rng.choice([0.5, 0.9, 0.95]))
    digits = int(rng.integers(0, 3))  # rounded latencies: ties, and resampled differences of 0
    a = np.round(rng.lognormal(5, 0.5, int(rng.integers(20, 150))), digits)
    out = []
    for _ in range(m):
        b = np.round(rng.lognormal(5 + rng.uniform(-0.3, 0.3), 0.5, int(rng.integers(20, 150))), 0)
        lowest = ALPHA / m
        if q == 0.5:
            out.append(stats.median_difference(a, b, ALPHA, seed=int(rng.integers(99)),
                                               min_alpha=lowest))  # fmt: skip
        else:
            out.append(stats.bootstrap_quantile_difference(a, b, q, ALPHA, seed=1,
                                                           min_alpha=lowest))  # fmt: skip
    return out


@pytest.mark.parametrize(("kind", "datasets"), [("rate", 600), ("mean", 300), ("quantile", 60)])
def test_significant_iff_zero_outside_the_interval(kind: str, datasets: int) -> None:
    make = {"rate": _rate_results, "mean": _mean_results, "quantile": _quantile_results}[kind]
    rng = np.random.default_rng({"rate": 1, "mean": 2, "quantile": 3}[kind])
    seen: dict[tuple[bool, bool], int] = {}
    for _ in range(datasets):
        m = int(rng.integers(1, 5))
        results = make(rng, m)
        for c, r in zip(judge(kind, [f"v{i}" for i in range(m)], results, ALPHA), results,
                        strict=True):  # fmt: skip
            assert c.p_value is not None and c.p_value_adjusted is not None
            # before the correction: p < alpha iff 0 is outside the 1 - alpha interval
            unadjusted = _outside(c.ci_low_unadjusted, c.ci_high_unadjusted)
            assert (c.p_value < ALPHA) == unadjusted, (c, r)
            # after it: the mark and the reported (Holm-level) interval agree
            assert c.significant == _outside(c.ci_low, c.ci_high), (c, r)
            assert c.ci_level is not None and 1 - ALPHA <= c.ci_level < 1
            if m == 1:
                assert (c.ci_low, c.ci_high) == (c.ci_low_unadjusted, c.ci_high_unadjusted)
            # and at any level in between
            for level in (0.01, 0.02, 0.1):
                assert (c.p_value < level) == _outside(*r.interval(level)), (c, level)
            key = (c.significant, m > 1)
            seen[key] = seen.get(key, 0) + 1
    # the data sat on both sides of the line, with and without Holm
    assert all(seen.get((s, h), 0) >= 3 for s in (True, False) for h in (True, False)), seen


# --- A/A: fixed-horizon tests reject about alpha ------------------------------------------------


def test_aa_rates_reject_at_most_about_alpha() -> None:
    rng = np.random.default_rng(17)
    large = small = 0
    runs = 1500
    for _ in range(runs):
        p = float(rng.uniform(0.05, 0.95))
        n_a, n_b = (int(v) for v in rng.integers(300, 5000, 2))
        r = stats.compare_proportions(
            int(rng.binomial(n_a, p)), n_a, int(rng.binomial(n_b, p)), n_b
        )
        assert r.test == "two_proportion_z"
        large += bool(r.p_value is not None and r.p_value < ALPHA)
        n_a, n_b = (int(v) for v in rng.integers(8, 40, 2))
        p = float(rng.uniform(0.02, 0.15))
        r = stats.compare_proportions(
            int(rng.binomial(n_a, p)), n_a, int(rng.binomial(n_b, p)), n_b
        )
        small += bool(r.p_value is not None and r.p_value < ALPHA)
    tolerance = 2 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    print(f"\nA/A rates: z-test rejects {large / runs:.3f}, small counts {small / runs:.3f}")
    assert large / runs <= ALPHA + tolerance
    assert small / runs <= ALPHA + tolerance


def test_aa_median_bootstrap_rejects_at_most_about_alpha() -> None:
    rng = np.random.default_rng(23)
    runs = 200
    rejected = 0
    for i in range(runs):
        a = rng.lognormal(6, 0.5, int(rng.integers(60, 150)))
        b = rng.lognormal(6, 0.5, int(rng.integers(60, 150)))
        r = stats.median_difference(a, b, seed=i)
        rejected += bool(r.p_value is not None and r.p_value < ALPHA)
    print(f"\nA/A medians: bootstrap rejects {rejected / runs:.3f}")
    assert rejected / runs <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


# --- the plan's shape ----------------------------------------------------------------------------


def _base(rate: float | None) -> dict[str, Any]:
    return {
        "variants": [
            {"value": "a", "requests": 1200, "success_rate": rate},
            {"value": "b", "requests": 1000, "success_rate": rate},
        ]
    }


def test_plan_has_the_same_keys_with_a_note() -> None:
    variants = [SimpleNamespace(weight=1), SimpleNamespace(weight=1)]
    exp = SimpleNamespace(
        mde=0.02, primary_metric="success_rate", alpha=0.05, power=0.8, variants=variants
    )
    planned = plan_for(exp, _base(0.9), {}, 2.0)  # type: ignore[arg-type]
    no_mde = plan_for(SimpleNamespace(**{**vars(exp), "mde": None}), _base(0.9), {}, 2.0)  # type: ignore[arg-type]
    no_rate = plan_for(exp, _base(None), {}, 2.0)  # type: ignore[arg-type]
    assert planned["note"] is None and planned["per_variant"]
    for other in (no_mde, no_rate):
        assert set(other) == set(planned)
        assert other["note"] and other["calls_so_far"] == 1000
    assert planned["calls_so_far"] == 1000
