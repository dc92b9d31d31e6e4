"""The demo's traffic generator and its seeding, without a server."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from rich.console import Console

from promptpulse.config import Settings
from promptpulse.demo import PROJECT, DemoTraffic, seed
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.meta import MetaDB, list_prices
from promptpulse.store import open_store

END = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)


def _events(traffic: DemoTraffic, days: float) -> list[dict[str, object]]:
    return [e for m in traffic.minutes(END - timedelta(days=days), END) for e in m]


def test_same_seed_same_events_and_all_of_them_valid() -> None:
    first = _events(DemoTraffic(seed=3, base_rpm=2), 5)
    assert first == _events(DemoTraffic(seed=3, base_rpm=2), 5)
    assert first != _events(DemoTraffic(seed=4, base_rpm=2), 5)
    prepared = prepare_events(
        orjson.dumps({"events": first}),
        key_project=PROJECT,
        overrides=lambda project, model: None,
        now=END,
        max_events=len(first),
    )
    assert prepared.rejected == [] and prepared.table.num_rows == len(first)
    # The second incident: gpt-4o-mini rate-limited for about an hour, four days before END.
    spike = [
        e
        for e in first
        if e["model"] == "gpt-4o-mini"
        and 4.02
        < (END - datetime.fromisoformat(str(e["timestamp"]))).total_seconds() / 86400
        < 4.06
    ]
    assert sum(e.get("error_type") == "rate_limit" for e in spike) > len(spike) / 10


def test_seed_writes_history_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    out = io.StringIO()
    console = Console(file=out, width=200)
    total = seed(settings, 1, 3.0, console)
    assert total > 500 and f"seeded {total:,} calls over 1 days" in out.getvalue()
    store = open_store(settings)
    try:
        assert store.row_counts()["calls"] == total
    finally:
        store.close()
    assert seed(settings, 1, 3.0, console) == 0
    assert "already stored; not seeding again" in out.getvalue()
    meta = MetaDB(settings.metadata_db_url)
    try:
        [(_, price)] = list_prices(meta, PROJECT)
        assert price.model == "llama-3.1-70b-selfhosted"
    finally:
        meta.close()
