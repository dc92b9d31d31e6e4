"""Simulations: A/A experiments peeked at daily stay at ~α; a true effect is found at the planned
power. Vectorised numpy over 500 experiments at once: the same functions the results page uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from promptpulse.experiments import power, sequential, stats

EXPERIMENTS = 500
DAYS = 28
ALPHA = 0.05
BASELINE = 0.90
MDE = 0.02


def _daily_counts(
    rng: np.random.Generator, p_a: float, p_b: float, per_day: int
) -> tuple[np.ndarray, ...]:
    n_a = rng.poisson(per_day, (EXPERIMENTS, DAYS))
    n_b = rng.poisson(per_day, (EXPERIMENTS, DAYS))
    x_a, x_b = rng.binomial(n_a, p_a), rng.binomial(n_b, p_b)
    return tuple(np.cumsum(v, axis=1) for v in (x_a, n_a, x_b, n_b))


def test_aa_peeked_daily_keeps_false_positives_at_alpha() -> None:
    rng = np.random.default_rng(2026)
    x_a, n_a, x_b, n_b = _daily_counts(rng, BASELINE, BASELINE, 300)
    _, _, p = sequential.proportion_looks(x_a, n_a, x_b, n_b, MDE)
    rate = float(np.mean(p[:, -1] <= ALPHA))  # running minimum: rejected at any daily look
    print(f"\nA/A: {EXPERIMENTS} experiments x {DAYS} daily looks, mSPRT rejection rate {rate:.3f}")
    assert rate <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)  # ≤ ~6.9 %
    # the same data peeked at daily with the fixed-horizon z-test: the problem the mSPRT solves
    z_p = 2 * sps.norm.sf(
        np.abs(
            (x_b / n_b - x_a / n_a)
            / np.sqrt(
                (x_a + x_b) / (n_a + n_b) * (1 - (x_a + x_b) / (n_a + n_b)) * (1 / n_a + 1 / n_b)
            )
        )
    )
    naive = float(np.mean((z_p <= ALPHA).any(axis=1)))
    print(f"A/A: naive daily z-test peeking rejection rate {naive:.3f}")
    assert naive > 2 * ALPHA


def test_ab_detected_at_planned_power() -> None:
    plan = power.sample_size_proportions(BASELINE, MDE, ALPHA, 0.8)
    rng = np.random.default_rng(11)
    n = plan.per_variant
    x_a = rng.binomial(n, BASELINE, EXPERIMENTS)
    x_b = rng.binomial(n, plan.target, EXPERIMENTS)
    p = np.array(
        [
            stats.compare_proportions(int(a), n, int(b), n).p_value
            for a, b in zip(x_a, x_b, strict=True)
        ]
    )
    detected = float(np.mean(p < ALPHA))
    print(
        f"\nA/B: planned {n} per variant for {BASELINE}->{plan.target}, fixed-horizon "
        f"detection {detected:.3f} (planned 0.80)"
    )
    assert abs(detected - 0.8) < 3 * np.sqrt(0.8 * 0.2 / EXPERIMENTS)  # within ±5.4 points


def test_ab_sequential_eventually_stops_for_the_effect() -> None:
    plan = power.sample_size_proportions(BASELINE, MDE, ALPHA, 0.8)
    per_day = plan.per_variant // 14  # the plan is reached on day 14 of 28
    rng = np.random.default_rng(12)
    x_a, n_a, x_b, n_b = _daily_counts(rng, BASELINE, plan.target, per_day)
    d, _, p = sequential.proportion_looks(x_a, n_a, x_b, n_b, MDE)
    at_plan, at_end = float(np.mean(p[:, 13] <= ALPHA)), float(np.mean(p[:, -1] <= ALPHA))
    print(
        f"\nA/B sequential: stopped for B by the planned size {at_plan:.3f}, "
        f"by twice it {at_end:.3f}"
    )
    assert at_end >= 0.8
    effect = np.sign(plan.target - BASELINE)  # the plan takes the harder way, here down to 0.88
    assert np.all(np.sign(d[p[:, -1] <= ALPHA, -1]) == effect)  # every stop in the true direction


def test_confidence_sequence_inverts_the_test() -> None:
    d, se, tau = np.array([0.01, 0.03, -0.02]), np.array([0.01, 0.01, 0.005]), 0.02
    low, high = sequential.confidence_sequence(d, se, tau, ALPHA)
    p = sequential.always_valid_p(d, se, tau)
    np.testing.assert_array_equal((low > 0) | (high < 0), p < ALPHA)
    # wider than the fixed-horizon interval: the price of looking at every moment
    assert np.all(high - d > 1.96 * se)
    p_at_edge = sequential.always_valid_p(d - high, se, tau)  # testing θ = high at the edge
    np.testing.assert_allclose(p_at_edge, ALPHA, rtol=1e-9)


def test_small_samples_never_stop() -> None:
    _, _, p = sequential.proportion_looks([0, 1], [5, 10], [5, 10], [5, 10], MDE)
    assert list(p) == [1.0, 1.0]


@pytest.mark.parametrize("tau", [0.005, 0.02, 0.1])
def test_p_is_monotone(tau: float) -> None:
    rng = np.random.default_rng(3)
    x_a, n_a, x_b, n_b = _daily_counts(rng, 0.5, 0.52, 200)
    _, _, p = sequential.proportion_looks(x_a[:20], n_a[:20], x_b[:20], n_b[:20], tau)
    assert np.all(np.diff(p, axis=1) <= 0)
