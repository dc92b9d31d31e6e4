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
