"""Repricing on both engines: random calls of several models over several days, priced at
ingest; then price entries for past periods; the dry run per (model, day) and the applied
costs equal an independent recomputation (genai_prices.calc_price + the entries); the rollups
serve the new costs; the audit trail has the reprice."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from promptpulse.ingest.pipeline import prepare_events
from promptpulse.meta import MetaDB, PriceBook, add_entry
from promptpulse.model import CATALOG, PriceEntry, PriceOverride, Scope
from promptpulse.prices import RepriceRequest, RepriceService, list_reprices
from promptpulse.prices.plan import CALL_COLUMNS
from promptpulse.store import Store, open_store
from tests.prices.helpers import DAY0, DAYS, body, expected_cost, random_events
from tests.store.conftest import BACKENDS, backend_settings, write

NOW = datetime(2025, 7, 1, tzinfo=UTC)
END = DAY0 + timedelta(days=DAYS)
EVERYTHING = Scope(DAY0, END)


@pytest.fixture(params=BACKENDS)
def parts(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Store, MetaDB, RepriceService]]:
    # rollup_min_calls=0: whole days answer from the rollups, which the reprice must rebuild.
    store = open_store(backend_settings(request.param, tmp_path / "data", rollup_min_calls=0))
    meta = MetaDB(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    yield store, meta, RepriceService(store, meta, lambda: NOW, "test")
    store.close()
    meta.close()


def ingest(store: Store, meta: MetaDB, events: list[dict]) -> None:
    prepared = prepare_events(
        body(events), key_project=None, overrides=PriceBook(meta).lookup, now=NOW,
        max_events=len(events),
    )  # fmt: skip
    assert not prepared.rejected
    write(store, "events", prepared.table)


def stored(store: Store, scope: Scope = EVERYTHING) -> dict[str, dict]:
    table = store.call_table(scope, CALL_COLUMNS)
    return {r["id"]: r for r in table.to_pylist()}


def per_model_day(calls: dict[str, dict], entries: list[PriceEntry]) -> dict[tuple, list]:
    """Independent (model, day) -> [calls, cost before, cost after]."""
    out: dict[tuple, list] = {}
    for c in calls.values():
        day = c["timestamp"].date().isoformat()
        row = out.setdefault((c["model"], day), [0, 0.0, 0.0])
        after, _ = expected_cost(c, entries)
        row[0] += 1
        row[1] += c["cost_usd"] or 0.0
        row[2] += after or 0.0
    return out


def cost_total(store: Store, scope: Scope) -> float:
    [row] = store.aggregate(scope, [CATALOG["cost_usd"]])
    return float(row.values["cost_usd"] or 0.0)


def test_reprice_equals_independent_recomputation(
    parts: tuple[Store, MetaDB, RepriceService],
) -> None:
    store, meta, service = parts
    rng = np.random.default_rng(16)
    ingest(store, meta, random_events(rng, "p", 1500) + random_events(rng, "q", 300))
    store.rebuild_rollups(DAY0, END)
    before = stored(store)
    assert sum(c["price_ref"] is None for c in before.values()) > 0  # unknown model: unpriced
    # Corrections for past periods: gpt-4o on days 2-3, an in-house model from day 4 on.
    entries = [
        add_entry(meta, "p", PriceOverride("gpt-4o", 1.0, 3.0, 0.25),
                  DAY0 + timedelta(days=1), DAY0 + timedelta(days=3)),
        add_entry(meta, "p", PriceOverride("acme-llm-1", 0.5, 1.5), DAY0 + timedelta(days=3)),
    ]  # fmt: skip
    mine = {k: v for k, v in before.items() if v["project"] == "p"}
    want = per_model_day(mine, entries)

    req = RepriceRequest(DAY0, END, project="p", dry_run=True, actor="test")
    dry = service.reprice(req)
    got = {(r["model"], r["day"]): r for r in dry["rows"]}
    assert set(got) == set(want)
    for key, (n, cost_before, cost_after) in want.items():
        assert got[key]["calls"] == n
        assert math.isclose(got[key]["cost_before"], cost_before, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(got[key]["cost_after"], cost_after, rel_tol=1e-9, abs_tol=1e-12), key
    assert stored(store) == before  # a dry run changes nothing
    assert list_reprices(meta) == []

    done = service.reprice(RepriceRequest(DAY0, END, project="p", dry_run=False, actor="test"))
    assert done["status"] == "done" and done["totals"]["repriced"] > 0
    after = stored(store)
    for ident, call in after.items():
        if call["project"] == "q":
            assert call == before[ident]  # another project is left alone
            continue
        cost, ref = expected_cost(before[ident], entries)
        if cost is None:
            assert call["cost_usd"] is None and call["price_ref"] is None
        else:
            assert math.isclose(call["cost_usd"], cost, rel_tol=1e-9, abs_tol=1e-15), ident
            assert call["price_ref"].split("@")[0] == ref, ident
    total_after = sum(v[2] for v in want.values())
    assert math.isclose(done["totals"]["cost_after"], total_after, rel_tol=1e-9)

    # The rollups (whole days answer from them here) were rebuilt with the new costs.
    p_scope = EVERYTHING.with_filter("project", ["p"])
    assert store._rollup_plan(p_scope, [CATALOG["cost_usd"]], [], None, False) is not None  # type: ignore[attr-defined]
    raw = math.fsum(c["cost_usd"] or 0.0 for c in after.values() if c["project"] == "p")
    assert math.isclose(cost_total(store, p_scope), raw, rel_tol=1e-9)
    assert math.isclose(raw, total_after, rel_tol=1e-9)

    [audit] = list_reprices(meta)
    assert (audit["status"], audit["project"], audit["actor"]) == ("done", "p", "test")
    assert audit["repriced"] == done["totals"]["repriced"]
    assert math.isclose(audit["cost_after"], total_after, rel_tol=1e-9)
    assert len(audit["per_day"]) == len(want)

    # Once more: nothing left to change.
    again = service.reprice(RepriceRequest(DAY0, END, project="p", dry_run=True))
    assert again["totals"]["repriced"] == 0
