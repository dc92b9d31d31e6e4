"""Seeding a data directory with demo history, once, through the same writer and ingest
pipeline as the API (the store is only asked how many calls it already holds), and then the
demo's objects (`scenario`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
from rich.console import Console

from promptpulse.config import Settings
from promptpulse.demo.scenario import PROJECT, seed_objects
from promptpulse.demo.traffic import DemoTraffic
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.ingest.writer import Writer
from promptpulse.meta import MetaDB, set_price
from promptpulse.meta.prices import OverrideCache
from promptpulse.model import PriceOverride
from promptpulse.store import Store, open_store

CHUNK = 5_000


def prepared(events: list[dict[str, Any]], prices: OverrideCache, now: datetime) -> pa.Table:
    """Demo events as the ingest API would store them for a key of the demo project."""
    return prepare_events(
        orjson.dumps({"events": events}),
        key_project=PROJECT,
        overrides=prices.lookup,
        now=now,
        max_events=len(events),
    ).table


def seed(settings: Settings, days: int, rpm: float, console: Console) -> int:
    """Write `days` of traffic ending now, unless the store already holds events; then the
    demo's experiment, budget, SLOs, rules and alerts, those that are missing. Calls written."""
    store = open_store(settings)
    try:
        meta = MetaDB(settings.metadata_db_url, settings.secret_keys)
        try:
            start = datetime.now(UTC) - timedelta(days=days)
            total = _seed_history(store, meta, days, rpm, console)
            with console.status("seeding the demo's experiment, budget, SLOs and alerts…"):
                seed_objects(settings, store, meta, start, console)
        finally:
            meta.close()
        return total
    finally:
        store.close()


def _seed_history(store: Store, meta: MetaDB, days: int, rpm: float, console: Console) -> int:
    existing = store.row_counts()["calls"]
    if existing:
        console.print(f"[dim]{existing:,} events already stored; not seeding again[/dim]")
        return 0
    # The self-hosted model has no public price: the demo shows a project's own override.
    set_price(meta, PROJECT, PriceOverride("llama-3.1-70b-selfhosted", 0.6, 0.6))
    writer = Writer(store)
    writer.start()
    try:
        with console.status("seeding demo traffic…"):
            total = _write_history(writer, OverrideCache(meta), days, rpm)
    finally:
        writer.stop()
    console.print(f"seeded {total:,} calls over {days} days")
    return total


def _write_history(writer: Writer, prices: OverrideCache, days: int, rpm: float) -> int:
    """`days` of traffic ending now, written in chunks of about CHUNK calls; calls accepted."""
    now = datetime.now(UTC)
    batch: list[dict[str, Any]] = []
    total = 0
    for minute in DemoTraffic(base_rpm=rpm).minutes(now - timedelta(days=days), now):
        batch.extend(minute)
        if len(batch) >= CHUNK:
            total += writer.write_sync("events", prepared(batch, prices, now)).accepted
            batch = []
    if batch:
        total += writer.write_sync("events", prepared(batch, prices, now)).accepted
    return total
