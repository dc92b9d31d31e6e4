"""A project's own price for a model: the override that wins over genai-prices."""

from __future__ import annotations

from dataclasses import dataclass

MTOK = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class PriceOverride:
    """A project's own price for a model, in USD per million tokens."""

    model: str
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None  # None: cached tokens cost the input price

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
        cached_price = (
            self.input_per_mtok
            if self.cached_input_per_mtok is None
            else self.cached_input_per_mtok
        )
        return (
            (input_tokens - cached_tokens) * self.input_per_mtok
            + cached_tokens * cached_price
            + output_tokens * self.output_per_mtok
        ) / MTOK
