"""A project's price book: per model, prices valid for a period of whole UTC days.

Entries of one (project, model) never overlap, so a call's day picks at most one. Validity
bounds are UTC midnights: calls are priced per (model, day) (ingest/pricing.py), so a bound in
the middle of a day could not be honoured exactly.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time as _clock
from datetime import UTC, datetime, time

import sqlalchemy as sa

from promptpulse.errors import Conflict, MetadataUnavailable, NotFound, invalid
from promptpulse.meta.db import UNREACHABLE, MetaDB
from promptpulse.meta.tables import price_entries
from promptpulse.model import PriceEntry, PriceOverride, PriceRanges, PriceTable

log = logging.getLogger("promptpulse.prices")

_PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok")


def _check_price(price: PriceOverride) -> None:
    if not price.model or len(price.model) > 200:
        raise invalid("model", "must be 1 to 200 characters")
    for name in _PRICE_FIELDS:
        value = getattr(price, name)
        if value is not None and (not math.isfinite(value) or value < 0):
            raise invalid(name, "must be a finite number >= 0 (USD per million tokens)")


def _check_bound(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value.timetz().replace(tzinfo=None) != time(0):
        raise invalid(
            name, "must be a UTC midnight (a date such as 2026-11-01): calls are priced per day"
        )
    return value


def _check_validity(
    valid_from: datetime | None, valid_to: datetime | None
) -> tuple[datetime | None, datetime | None]:
    lo, hi = _check_bound("valid_from", valid_from), _check_bound("valid_to", valid_to)
    if lo is not None and hi is not None and hi <= lo:
        raise invalid("valid_to", "must be after valid_from")
    return lo, hi


def _entry(row: sa.Row) -> PriceEntry:  # type: ignore[type-arg]
    price = PriceOverride(
        row.model, row.input_per_mtok, row.output_per_mtok, row.cached_input_per_mtok
    )
    return PriceEntry(row.id, row.project, price, row.valid_from, row.valid_to, row.note)


def _overlaps(a: PriceEntry, lo: datetime | None, hi: datetime | None) -> bool:
    starts_before_end = hi is None or a.valid_from is None or a.valid_from < hi
    ends_after_start = lo is None or a.valid_to is None or lo < a.valid_to
    return starts_before_end and ends_after_start


def _refuse_overlap(
    conn: sa.Connection,
    project: str,
    model: str,
    lo: datetime | None,
    hi: datetime | None,
    skip: int | None,
) -> None:
    rows = conn.execute(
        sa.select(price_entries).where(
            price_entries.c.project == project, price_entries.c.model == model
        )
    )
    for other in map(_entry, rows):
        if other.id != skip and _overlaps(other, lo, hi):
            raise Conflict(
                f"the validity overlaps price entry {other.id} of '{model}' in '{project}' "
                f"({_span(other)}); correct or delete that entry first",
                [invalid("valid_from", f"overlaps entry {other.id}").errors[0]],
            )


def _one_writer(conn: sa.Connection, project: str, model: str) -> None:
    """The overlap check and the write of one (project, model) by one writer at a time, also
    between replicas: else two could both find no overlap, then both write."""
    if conn.dialect.name == "postgresql":
        digest = hashlib.blake2b(f"{project}\0{model}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    else:  # SQLite: a write first takes the database's write lock (others wait busy_timeout)
        c = price_entries.c
        conn.execute(
            price_entries.update()
            .where(c.project == project, c.model == model)
            .values(model=c.model)
        )


def _span(e: PriceEntry) -> str:
    lo = e.valid_from.date().isoformat() if e.valid_from else "always"
    hi = e.valid_to.date().isoformat() if e.valid_to else "open"
    return f"{lo} .. {hi}"


def add_entry(
    db: MetaDB,
    project: str,
    price: PriceOverride,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    note: str | None = None,
) -> PriceEntry:
    """A new entry; 422 for a bad price or validity, 409 when it overlaps another."""
    _check_price(price)
    lo, hi = _check_validity(valid_from, valid_to)
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        _one_writer(conn, project, price.model)
        _refuse_overlap(conn, project, price.model, lo, hi, skip=None)
        new_id = conn.execute(
            price_entries.insert().values(
                project=project, model=price.model, valid_from=lo, valid_to=hi,
                **_price_values(price), note=note, created_at=now, updated_at=now,
            ).returning(price_entries.c.id)
        ).scalar_one()  # fmt: skip
    return PriceEntry(int(new_id), project, price, lo, hi, note)


def _price_values(price: PriceOverride) -> dict[str, float | None]:
    return {name: getattr(price, name) for name in _PRICE_FIELDS}


def update_entry(
    db: MetaDB,
    entry_id: int,
    price: PriceOverride,
    valid_from: datetime | None,
    valid_to: datetime | None,
    note: str | None = None,
    project: str | None = None,
) -> tuple[PriceEntry, PriceEntry]:
    """Correct an entry (its prices and validity; not its model). `project`: the caller may
    only touch that project's entries. Returns (before, after)."""
    lo, hi = _check_validity(valid_from, valid_to)
    with db.engine.begin() as conn:
        before = _get(conn, entry_id, project)
        price = PriceOverride(
            before.price.model, price.input_per_mtok, price.output_per_mtok,
            price.cached_input_per_mtok,
        )  # fmt: skip
        _check_price(price)
        _one_writer(conn, before.project, price.model)
        _refuse_overlap(conn, before.project, price.model, lo, hi, skip=entry_id)
        conn.execute(
            price_entries.update()
            .where(price_entries.c.id == entry_id)
            .values(
                valid_from=lo, valid_to=hi, **_price_values(price), note=note,
                updated_at=datetime.now(UTC),
            )
        )  # fmt: skip
    return before, PriceEntry(entry_id, before.project, price, lo, hi, note)


def _get(conn: sa.Connection, entry_id: int, project: str | None) -> PriceEntry:
    row = conn.execute(sa.select(price_entries).where(price_entries.c.id == entry_id)).first()
    if row is None or (project is not None and row.project != project):
        raise NotFound(f"no price entry {entry_id}")
    return _entry(row)


def get_entry(db: MetaDB, entry_id: int, project: str | None = None) -> PriceEntry:
    with db.engine.connect() as conn:
        return _get(conn, entry_id, project)


def delete_entry(db: MetaDB, entry_id: int, project: str | None = None) -> PriceEntry:
    with db.engine.begin() as conn:
        gone = _get(conn, entry_id, project)
        conn.execute(price_entries.delete().where(price_entries.c.id == entry_id))
    return gone


def list_entries(
    db: MetaDB, project: str | None = None, model: str | None = None
) -> list[PriceEntry]:
    c = price_entries.c
    query = sa.select(price_entries).order_by(
        c.project, c.model, sa.func.coalesce(c.valid_from, datetime(1970, 1, 1, tzinfo=UTC))
    )
    if project is not None:
        query = query.where(c.project == project)
    if model is not None:
        query = query.where(c.model == model)
    with db.engine.connect() as conn:
        return [_entry(r) for r in conn.execute(query)]


# ---------------------------------------------------------------- the model-level doors
# (`PUT /v1/prices/{model}`, `prices set|list|delete`): one entry per call of set_price, kept
# from before the book; an entry with the same validity is corrected in place.


def set_price(
    db: MetaDB,
    project: str,
    override: PriceOverride,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> PriceEntry:
    """Set a model's price for a validity (default: since always, open): corrects the entry
    with exactly that validity, or adds one (409 if it overlaps another)."""
    _check_price(override)
    lo, hi = _check_validity(valid_from, valid_to)
    same = [
        e for e in list_entries(db, project, override.model)
        if (e.valid_from, e.valid_to) == (lo, hi)
    ]  # fmt: skip
    if same:
        return update_entry(db, same[0].id, override, lo, hi, same[0].note)[1]
    return add_entry(db, project, override, lo, hi)


def list_prices(db: MetaDB, project: str | None = None) -> list[tuple[str, PriceOverride]]:
    return [(e.project, e.price) for e in list_entries(db, project)]


def delete_price(db: MetaDB, project: str, model: str) -> list[PriceEntry]:
    """Remove every entry of the model in the project."""
    c = price_entries.c
    with db.engine.begin() as conn:
        rows = conn.execute(
            sa.select(price_entries).where(c.project == project, c.model == model)
        ).all()
        conn.execute(price_entries.delete().where(c.project == project, c.model == model))
    if not rows:
        raise NotFound(f"no price override for model '{model}' in project '{project}'")
    return [_entry(r) for r in rows]


class PriceBook:
    """Every entry in memory for the ingest hot path, re-read at most every `ttl_s` seconds so
    that a price set from the CLI (another process) takes effect within that time."""

    def __init__(self, db: MetaDB, ttl_s: float = 2.0) -> None:
        self._db = db
        self._ttl = ttl_s
        self._loaded_at = -math.inf
        self._table = PriceTable()

    def invalidate(self) -> None:
        self._loaded_at = -math.inf

    def current(self) -> PriceTable:
        """Every entry as last read, re-read first if older than the ttl."""
        now = _monotonic()
        if now - self._loaded_at > self._ttl or self._loaded_at == -math.inf:
            self._reload(now)
        return self._table

    def lookup(self, project: str, model: str, day: datetime) -> PriceEntry | None:
        """The entry pricing the project's calls of `model` on `day` (naive UTC)."""
        return self.current().lookup(project, model, day)

    def entries(self) -> list[PriceEntry]:
        """Every entry as last read (reloaded if stale)."""
        return [e for found in self.current().ranges.values() for _, _, e in found]

    def _reload(self, now: float) -> None:
        try:
            table: PriceRanges = {}
            for e in list_entries(self._db):
                table.setdefault((e.project, e.price.model), []).append(
                    (_naive(e.valid_from), _naive(e.valid_to), e)
                )
            self._table = PriceTable(table)
        except UNREACHABLE as exc:
            if self._loaded_at == -math.inf:  # nothing to price with: ingest must wait
                raise MetadataUnavailable(
                    f"the metadata database cannot be reached: {type(exc).__name__}"
                ) from exc
            # Keep pricing with the entries last read (calls keep flowing in an outage);
            # try the database again after the next ttl.
            log.warning("metadata database unreachable; pricing with the prices last read")
        self._loaded_at = now


# Kept for the callers that knew it by its old name.
OverrideCache = PriceBook


def _naive(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(UTC).replace(tzinfo=None)


_monotonic = _clock.monotonic  # per call on the ingest path: no import, no wrapper
