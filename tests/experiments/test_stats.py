"""Every statistic held against scipy / statsmodels on random data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from promptpulse.errors import Invalid
from promptpulse.experiments import power, stats

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_two_proportion_z_against_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a, n_b = rng.integers(200, 5000, 2)
    x_a = rng.binomial(n_a, rng.uniform(0.05, 0.95))
    x_b = rng.binomial(n_b, rng.uniform(0.05, 0.95))
    z, p = stats.two_proportion_ztest(int(x_a), int(n_a), int(x_b), int(n_b))
    ref_z, ref_p = proportions_ztest([x_b, x_a], [n_b, n_a])
    assert z == pytest.approx(ref_z, rel=1e-9)
    assert p == pytest.approx(ref_p, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_newcombe_and_wilson_against_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_a, n_b = (int(v) for v in rng.integers(5, 3000, 2))
    x_a, x_b = int(rng.integers(0, n_a + 1)), int(rng.integers(0, n_b + 1))
    assert stats.wilson_interval(x_a, n_a) == pytest.approx(
        proportion_confint(x_a, n_a, method="wilson"), rel=1e-9, abs=1e-12
    )
    low, high = stats.newcombe_interval(x_a, n_a, x_b, n_b)
    ref = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="newcomb", compare="diff")
    assert (low, high) == pytest.approx(ref, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_fisher_against_scipy(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n_a, n_b = (int(v) for v in rng.integers(3, 40, 2))
    x_a, x_b = int(rng.integers(0, n_a + 1)), int(rng.integers(0, n_b + 1))
    ref = sps.fisher_exact([[x_a, n_a - x_a], [x_b, n_b - x_b]]).pvalue
    assert stats.fisher_exact(x_a, n_a, x_b, n_b) == pytest.approx(ref, rel=1e-9)


def test_small_counts_use_agresti_caffo() -> None:
    # was Fisher's exact p beside Newcombe's interval, which could disagree about 0
    assert stats.compare_proportions(1, 10, 6, 10).test == "agresti_caffo"
    assert stats.compare_proportions(400, 1000, 450, 1000).test == "two_proportion_z"
    assert stats.compare_proportions(0, 0, 1, 2) is stats.EMPTY


@pytest.mark.parametrize("seed", SEEDS)
def test_mann_whitney_against_scipy(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    a = np.round(rng.lognormal(6, 0.5, int(rng.integers(30, 400))), seed % 3)  # some ties
    b = np.round(rng.lognormal(6.1, 0.5, int(rng.integers(30, 400))), seed % 3)
    u, p = stats.mann_whitney(a, b)
    ref = sps.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert u == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_welch_against_scipy(seed: int) -> None:
    rng = np.random.default_rng(400 + seed)
    a = rng.gamma(2, 3, int(rng.integers(5, 500)))
    b = rng.gamma(2.2, 3.5, int(rng.integers(5, 500)))
    r = stats.welch_ttest(a, b, alpha=0.1)
    ref = sps.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.difference == pytest.approx(b.mean() - a.mean())


@pytest.mark.parametrize("seed", SEEDS)
def test_holm_against_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    p = rng.uniform(0, 0.2, int(rng.integers(2, 12)))
    ref = multipletests(p, method="holm")[1]
    assert stats.holm(list(p)) == pytest.approx(list(ref), rel=1e-12)
    assert stats.holm([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])


@pytest.mark.parametrize("seed", SEEDS)
def test_chi_square_against_scipy(seed: int) -> None:
    rng = np.random.default_rng(600 + seed)
    k = int(rng.integers(2, 6))
    weights = rng.uniform(1, 5, k)
    observed = rng.multinomial(int(rng.integers(100, 10000)), weights / weights.sum())
    r = stats.chi_square_goodness_of_fit(list(observed), list(weights * 10))
    ref = sps.chisquare(observed, weights / weights.sum() * observed.sum())
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("baseline", "mde", "alpha", "pw", "ratio"),
    [
        (0.95, 0.01, 0.05, 0.8, 1.0),
        (0.5, 0.05, 0.05, 0.9, 1.0),
        (0.1, 0.02, 0.01, 0.8, 2.0),
        (0.02, 0.005, 0.1, 0.7, 1.0),
        (0.97, 0.02, 0.05, 0.8, 0.5),
    ],
)
def test_proportion_sample_size_against_statsmodels(
    baseline: float, mde: float, alpha: float, pw: float, ratio: float
) -> None:
    plan = power.sample_size_proportions(baseline, mde, alpha, pw, ratio)
    h = proportion_effectsize(plan.target, baseline)
    ref = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=pw, ratio=ratio)
    assert plan.exact == pytest.approx(ref, rel=1e-5)
    assert plan.per_variant == int(np.ceil(ref - 1e-6))
    # the chosen direction is the harder one (moves towards 0.5 where the variance is larger)
    other = baseline - (plan.target - baseline)
    if 0 < other < 1:
        assert abs(proportion_effectsize(other, baseline)) >= abs(h) - 1e-12


@pytest.mark.parametrize(
    ("sd", "mde", "alpha", "pw"),
    [
        (300.0, 50.0, 0.05, 0.8),
        (1.0, 0.2, 0.01, 0.9),
        (0.004, 0.001, 0.05, 0.8),
        (10, 30, 0.05, 0.8),
    ],
)
def test_mean_sample_size_against_statsmodels(
    sd: float, mde: float, alpha: float, pw: float
) -> None:
    plan = power.sample_size_means(sd, mde, alpha, pw)
    ref = TTestIndPower().solve_power(effect_size=mde / sd, alpha=alpha, power=pw)
    assert plan.exact == pytest.approx(ref, rel=1e-4)


def test_plan_rejects_nonsense() -> None:
    with pytest.raises(Invalid) as caught:
        power.sample_size_proportions(1.2, 0.0, 0.05, 0.8)
    assert {e.field for e in caught.value.errors} == {"baseline", "mde"}
    with pytest.raises(Invalid):
        power.sample_size_proportions(0.5, 0.01, 1.5, 0.8)


@pytest.mark.parametrize(("q", "seed"), [(0.5, 1), (0.95, 2), (0.5, 3), (0.95, 4)])
def test_bootstrap_interval_against_scipy(q: float, seed: int) -> None:
    rng = np.random.default_rng(700 + seed)
    a = rng.lognormal(6, 0.6, 800)
    b = rng.lognormal(6.1, 0.6, 700)
    ours = stats.bootstrap_quantile_difference(a, b, q, resamples=4000, seed=seed)
    ref = sps.bootstrap(
        (b, a),
        lambda x, y, axis: (
            np.percentile(x, q * 100, axis=axis) - np.percentile(y, q * 100, axis=axis)
        ),
        n_resamples=4000,
        method="percentile",
        vectorized=True,
        paired=False,
        random_state=np.random.default_rng(seed + 50),
    ).confidence_interval
    width = ref.high - ref.low
    # two independent Monte Carlo runs of the same interval: ends agree within 10 % of its width
    assert abs(ours.ci_low - ref.low) < 0.1 * width
    assert abs(ours.ci_high - ref.high) < 0.1 * width
    assert ours.difference == pytest.approx(np.percentile(b, q * 100) - np.percentile(a, q * 100))


@pytest.mark.parametrize("q", [0.5, 0.95])
def test_large_sample_bootstrap_matches_resampling(q: float) -> None:
    """Above the resampling size the order-statistic draw gives the same interval."""
    rng = np.random.default_rng(9)
    a = rng.lognormal(6, 0.6, 20_000)
    b = rng.lognormal(6.02, 0.6, 20_000)
    fast = stats.bootstrap_quantile_difference(a, b, q, resamples=2000, seed=1)
    gen = np.random.default_rng(2)
    reps = np.array(
        [
            np.percentile(b[gen.integers(0, len(b), len(b))], q * 100)
            - np.percentile(a[gen.integers(0, len(a), len(a))], q * 100)
            for _ in range(400)
        ]
    )
    low, high = np.percentile(reps, [2.5, 97.5])
    width = high - low
    assert abs(fast.ci_low - low) < 0.15 * width
    assert abs(fast.ci_high - high) < 0.15 * width


def test_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(size=300)
    one = stats.bootstrap_quantile_difference(a, b, 0.95, seed=5)
    assert one == stats.bootstrap_quantile_difference(a, b, 0.95, seed=5)
    assert one != stats.bootstrap_quantile_difference(a, b, 0.95, seed=6)
