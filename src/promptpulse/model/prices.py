"""A project's own price for a model: the override that wins over genai-prices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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


@dataclass(frozen=True)
class PriceEntry:
    """One entry of a project's price book: `price` applies to the project's calls of
    `price.model` with valid_from <= timestamp < valid_to (None: since always / open)."""

    id: int
    project: str
    price: PriceOverride
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    note: str | None = None
    # The cost provenance of the calls this entry priced (`price_ref`), made once: ingest
    # stores it per call.
    ref: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", f"book:{self.id}")

    def covers(self, timestamp: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= timestamp) and (
            self.valid_to is None or timestamp < self.valid_to
        )


# per (project, model): (from, to, entry) with naive UTC bounds, as ingest compares
PriceRanges = dict[tuple[str, str], list[tuple[datetime | None, datetime | None, PriceEntry]]]


@dataclass(frozen=True)
class PriceTable:
    """Every project's price book as last read: what ingest prices calls by. Plain data, so
    that it can be handed to a parse worker process (ingest/parse_pool.py)."""

    ranges: PriceRanges = field(default_factory=dict)

    def lookup(self, project: str, model: str, day: datetime) -> PriceEntry | None:
        """The entry pricing the project's calls of `model` on `day` (naive UTC)."""
        for lo, hi, entry in self.ranges.get((project, model), ()):
            if (lo is None or lo <= day) and (hi is None or day < hi):
                return entry
        return None
