"""Per-project price overrides, for models `genai-prices` does not know."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

import sqlalchemy as sa

from promptpulse.errors import MetadataUnavailable, NotFound, invalid
from promptpulse.meta.db import UNREACHABLE, MetaDB
from promptpulse.meta.tables import price_overrides
from promptpulse.model import PriceOverride

log = logging.getLogger("promptpulse.prices")


def _check(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise invalid(name, "must be a finite number >= 0 (USD per million tokens)")


def set_price(db: MetaDB, project: str, override: PriceOverride) -> PriceOverride:
    if not override.model or len(override.model) > 200:
        raise invalid("model", "must be 1 to 200 characters")
    _check("input_per_mtok", override.input_per_mtok)
    _check("output_per_mtok", override.output_per_mtok)
    _check("cached_input_per_mtok", override.cached_input_per_mtok)
    values = {
        "input_per_mtok": override.input_per_mtok,
        "output_per_mtok": override.output_per_mtok,
        "cached_input_per_mtok": override.cached_input_per_mtok,
        "updated_at": datetime.now(UTC),
    }
    key = (price_overrides.c.project == project) & (price_overrides.c.model == override.model)
    with db.engine.begin() as conn:
        if conn.execute(price_overrides.update().where(key).values(**values)).rowcount == 0:
            conn.execute(
                price_overrides.insert().values(project=project, model=override.model, **values)
            )
    return override


def _to_override(row: sa.Row) -> PriceOverride:  # type: ignore[type-arg]
    return PriceOverride(
        row.model, row.input_per_mtok, row.output_per_mtok, row.cached_input_per_mtok
    )


def list_prices(db: MetaDB, project: str | None = None) -> list[tuple[str, PriceOverride]]:
    query = sa.select(price_overrides).order_by(price_overrides.c.project, price_overrides.c.model)
    if project is not None:
        query = query.where(price_overrides.c.project == project)
    with db.engine.connect() as conn:
        return [(r.project, _to_override(r)) for r in conn.execute(query)]


def get_override(db: MetaDB, project: str, model: str) -> PriceOverride | None:
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(price_overrides).where(
                price_overrides.c.project == project, price_overrides.c.model == model
            )
        ).first()
    return _to_override(row) if row else None


def delete_price(db: MetaDB, project: str, model: str) -> None:
    with db.engine.begin() as conn:
        gone = conn.execute(
            price_overrides.delete().where(
                price_overrides.c.project == project, price_overrides.c.model == model
            )
        ).rowcount
    if not gone:
        raise NotFound(f"no price override for model '{model}' in project '{project}'")


class OverrideCache:
    """All overrides in memory for the ingest hot path, re-read at most every `ttl_s` seconds so
    that a price set from the CLI (another process) takes effect within that time."""

    def __init__(self, db: MetaDB, ttl_s: float = 2.0) -> None:
        self._db = db
        self._ttl = ttl_s
        self._loaded_at = -math.inf
        self._table: dict[tuple[str, str], PriceOverride] = {}

    def invalidate(self) -> None:
        self._loaded_at = -math.inf

    def lookup(self, project: str, model: str) -> PriceOverride | None:
        now = _monotonic()
        if now - self._loaded_at > self._ttl:
            self._reload(now)
        return self._table.get((project, model))

    def _reload(self, now: float) -> None:
        try:
            self._table = {(p, o.model): o for p, o in list_prices(self._db)}
        except UNREACHABLE as exc:
            if self._loaded_at == -math.inf:  # nothing to price with: ingest must wait
                raise MetadataUnavailable(
                    f"the metadata database cannot be reached: {type(exc).__name__}"
                ) from exc
            # Keep pricing with the overrides last read (calls keep flowing in an outage);
            # try the database again after the next ttl.
            log.warning("metadata database unreachable; pricing with the overrides last read")
        self._loaded_at = now


def _monotonic() -> float:
    import time

    return time.monotonic()
