"""Cost of a call from its tokens: per-project overrides first, then the `genai-prices` data.

`genai-prices` takes about 120 µs a call, too slow for 50,000 events a second. Most model prices
are linear in the token counts, so we ask it once per (provider, model, day) for the coefficients
and apply them; tiered prices (which depend on the prompt's size) are computed per call, memoised.
No price known means no cost: None, never a guess.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage, calc_price
from genai_prices import __version__ as GENAI_PRICES_VERSION
from genai_prices.types import ModelPrice, TieredPrices

from promptpulse.model import MTOK, PriceEntry

log = logging.getLogger("promptpulse.pricing")


@dataclass(frozen=True)
class _Linear:
    base: float
    per_input: float
    per_cached_delta: float  # a cache read instead of a plain input token
    per_output: float
    per_cache_write_delta: float = 0.0  # a cache write instead of a plain input token

    def cost(
        self, input_tokens: int, cached_tokens: int, output_tokens: int, cache_write: int
    ) -> float:
        return (
            self.base
            + input_tokens * self.per_input
            + cached_tokens * self.per_cached_delta
            + cache_write * self.per_cache_write_delta
            + output_tokens * self.per_output
        )


class _Tiered:
    """Cliff-tiered prices (genai-prices: past a tier's start, the tier's rate applies to all
    tokens, chosen by the prompt's input tokens). Between two tier starts the price is linear
    again, so each region gets its own coefficients, probed once."""

    def __init__(self, model_price: ModelPrice) -> None:
        starts = sorted(
            {int(t.start) for v in vars(model_price).values() if isinstance(v, TieredPrices)
             for t in v.tiers}
        )  # fmt: skip
        self.starts = starts
        self.regions = [
            _probe(model_price, lo, hi)
            for lo, hi in zip([0, *(s + 1 for s in starts)], [*starts, None], strict=True)
        ]

    def cost(
        self, input_tokens: int, cached_tokens: int, output_tokens: int, cache_write: int
    ) -> float:
        # Region k holds inputs with exactly k tier starts strictly below them.
        region = self.regions[bisect_left(self.starts, input_tokens)]
        return region.cost(input_tokens, cached_tokens, output_tokens, cache_write)


def _probe(mp: ModelPrice, lo: int, hi: int | None) -> _Linear:
    """Linear coefficients of the price for prompts of lo..hi input tokens (hi None: no end)."""
    a = max(lo, 1)
    b = a + 1000 if hi is None else hi
    if b <= a:  # a one-token region: its input price cannot be told from its base
        b = a
    at_a = _total(mp, a, 0, 0)
    per_input = float(_total(mp, b, 0, 0) - at_a) / (b - a) if b > a else 0.0
    return _Linear(
        base=float(at_a) - per_input * a,
        per_input=per_input,
        per_cached_delta=float(_total(mp, a, a, 0) - at_a) / a,
        per_output=float(_total(mp, a, 0, MTOK) - at_a) / MTOK,
        per_cache_write_delta=float(_total(mp, a, 0, 0, a) - at_a) / a,
    )


@dataclass(frozen=True)
class Resolved:
    provider: str | None
    formula: _Linear | _Tiered | None
    ref: str | None = None  # the cost provenance of the calls it priced (`price_ref`)


def _total(mp: ModelPrice, input_tokens: int, cached: int, output: int, write: int = 0) -> Decimal:
    usage = Usage(
        input_tokens=input_tokens,
        cache_read_tokens=cached,
        cache_write_tokens=write,
        output_tokens=output,
    )
    return mp.calc_price(usage)["total_price"]


@lru_cache(maxsize=16_384)
def resolve(provider: str | None, model: str, day: date) -> Resolved:
    """The provider genai-prices knows for this model, and how to price its calls on that day."""
    try:
        found = calc_price(
            Usage(input_tokens=0, output_tokens=0),
            model_ref=model,
            provider_id=provider,
            genai_request_timestamp=datetime.combine(day, time(12)),
        )
    except (LookupError, ValueError):
        return Resolved(provider, None)
    mp = found.model_price
    ref = f"genai-prices:{found.provider.id}/{found.model.id}@{GENAI_PRICES_VERSION}"
    if any(isinstance(v, TieredPrices) for v in vars(mp).values()):
        return Resolved(provider or found.provider.id, _Tiered(mp), ref)
    base = _total(mp, 0, 0, 0)
    with_input = _total(mp, MTOK, 0, 0)
    linear = _Linear(
        base=float(base),
        per_input=float(with_input - base) / MTOK,
        per_cached_delta=float(_total(mp, MTOK, MTOK, 0) - with_input) / MTOK,
        per_output=float(_total(mp, 0, 0, MTOK) - base) / MTOK,
        per_cache_write_delta=float(_total(mp, MTOK, 0, 0, MTOK) - with_input) / MTOK,
    )
    return Resolved(provider or found.provider.id, linear, ref)


# (project, model, day as naive UTC midnight) -> the project's price book entry, if any
OverrideLookup = Callable[[str, str, datetime], PriceEntry | None]
CLIENT_REF = "client"  # the sender reported the cost itself


def price_call(
    overrides: OverrideLookup,
    project: str,
    provider: str | None,
    model: str,
    timestamp: datetime,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
) -> tuple[str | None, float | None, str | None]:
    """(provider, cost_usd, price_ref) for one call; cost and ref None when nobody knows the
    price. `timestamp`: the call's UTC day (naive midnight), what prices are valid by. A book
    entry prices cache writes as plain input (it has no cache-write price)."""
    entry = overrides(project, model, timestamp)
    resolved = resolve(provider.lower() if provider else None, model, timestamp.date())
    if entry is not None:
        cost = entry.price.cost(input_tokens, cached_tokens, output_tokens)
        return resolved.provider, cost, entry.ref
    if resolved.formula is None:
        return resolved.provider, None, None
    try:
        cost = resolved.formula.cost(input_tokens, cached_tokens, output_tokens, cache_write_tokens)
        return resolved.provider, cost, resolved.ref
    except Exception:  # a price-data quirk must never cost the user the call itself
        log.warning("could not price %s/%s; stored as unpriced", provider, model, exc_info=True)
        return resolved.provider, None, None
