"""Deterministic, sticky assignment of a unit (a user or session id) to an experiment variant.

Pure standard library, so the SDK can use it without the server. clients/js/assign.js computes
exactly the same thing; tests/experiments/test_assign_js.py holds the two together.

    u = first 53 bits of SHA-256(UTF-8 "<experiment_key>:<unit_id>") / 2**53      (in [0, 1))
    variant = the first one, in the given order, with u · total_weight < cumulative weight

53 bits make u exact in an IEEE double in every language; the cumulative sums and the product are
the same IEEE operations in the same order in Python and JavaScript, so the choice is identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

Variants = Mapping[str, float] | Sequence[str] | Sequence[tuple[str, float]]


def bucket(experiment_key: str, unit_id: str) -> float:
    """The unit's uniform position in [0, 1) for this experiment."""
    digest = hashlib.sha256(f"{experiment_key}:{unit_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 9007199254740992.0  # 2**53


def _weighted(variants: Variants) -> list[tuple[str, float]]:
    if isinstance(variants, Mapping):
        pairs = [(str(k), float(v)) for k, v in variants.items()]
    else:
        pairs = [(v, 1.0) if isinstance(v, str) else (str(v[0]), float(v[1])) for v in variants]
    if not pairs:
        raise ValueError("an experiment needs at least one variant")
    if any(not w >= 0 or w == float("inf") for _, w in pairs) or sum(w for _, w in pairs) <= 0:
        raise ValueError("variant weights must be finite, non-negative and not all zero")
    return pairs


def assign(experiment_key: str, unit_id: str, variants: Variants) -> str:
    """The variant of `unit_id`: the same for the same unit, experiment and split, everywhere.

    `variants` is a mapping name -> weight (any positive scale, e.g. {"v1": 50, "v2": 50}), a list
    of (name, weight) pairs, or a list of names for an even split. Order matters: keep it stable.
    """
    pairs = _weighted(variants)
    total = 0.0
    for _, w in pairs:
        total += w
    point = bucket(experiment_key, str(unit_id)) * total
    cumulative = 0.0
    for name, w in pairs:
        cumulative += w
        if point < cumulative:
            return name
    return next(name for name, w in reversed(pairs) if w > 0)
