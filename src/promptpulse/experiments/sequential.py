"""Always-valid inference: the mixture sequential probability ratio test (mSPRT).

Johari, Pekelis & Walsh, "Always valid inference: continuous monitoring of A/B tests" (2017/2022).
For an asymptotically normal estimate `d` of the difference (variant minus control) with variance
`V = se²`, mixing a normal prior N(0, τ²) over the alternative gives the likelihood ratio

    Λ = sqrt(V / (V + τ²)) · exp( τ² d² / (2 V (V + τ²)) )

and `p = min(1, 1/Λ)` is a p-value that stays valid however often it is looked at: the chance
that it ever drops below α, over every look of an A/A test, is at most α (Ville's inequality).
Inverting the test gives a confidence sequence: an interval that holds at every look at once.
Everything is vectorised: the arguments may be numpy arrays (one value per look or experiment).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _tau2(tau: Any) -> np.ndarray:
    t = np.asarray(tau, dtype=float)
    return t * t


def log_likelihood_ratio(d: Any, se: Any, tau: Any) -> np.ndarray:
    """log Λ of the mSPRT with a N(0, τ²) mixture against θ = 0."""
    v = np.asarray(se, dtype=float) ** 2
    t2 = _tau2(tau)
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * np.log(v / (v + t2)) + t2 * d * d / (2 * v * (v + t2))
    return np.where(v > 0, out, np.where(d != 0, np.inf, 0.0))


def always_valid_p(d: Any, se: Any, tau: Any) -> np.ndarray:
    """min(1, 1/Λ) at each look (not yet the running minimum; see `running_p`)."""
    return np.minimum(1.0, np.exp(-log_likelihood_ratio(d, se, tau)))


def running_p(p_per_look: Any, axis: int = -1) -> np.ndarray:
    """The always-valid p-value sequence: the running minimum over looks so far."""
    return np.minimum.accumulate(np.asarray(p_per_look, dtype=float), axis=axis)


def confidence_sequence(d: Any, se: Any, tau: Any, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the 1-α confidence sequence for the difference at each look."""
    v = np.asarray(se, dtype=float) ** 2
    t2 = _tau2(tau)
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = np.sqrt(v * (v + t2) / t2 * (2 * np.log(1 / alpha) + np.log((v + t2) / v)))
    half = np.where(v > 0, half, 0.0)
    return d - half, d + half


MIN_CALLS_PER_ARM = 100  # before this, the normal approximation is not trusted: p stays 1


def proportion_looks(
    x_a: Any, n_a: Any, x_b: Any, n_b: Any, tau: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative counts at each look (last axis) -> (difference, its standard error, the
    running always-valid p-value). The p-value uses the pooled variance (the variance under
    the null hypothesis of no difference), which keeps it honest while counts are small."""
    x_a, n_a, x_b, n_b = (np.asarray(v, dtype=float) for v in (x_a, n_a, x_b, n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = x_a / n_a, x_b / n_b
        d = p_b - p_a
        se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        pooled = (x_a + x_b) / (n_a + n_b)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    enough = (n_a >= MIN_CALLS_PER_ARM) & (n_b >= MIN_CALLS_PER_ARM)
    p = np.where(enough, always_valid_p(np.nan_to_num(d), np.nan_to_num(se0), tau), 1.0)
    return d, se, running_p(p)
