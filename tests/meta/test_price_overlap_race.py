"""Two writers adding overlapping price entries of one (project, model) at the same moment (two
replicas on one PostgreSQL; two request threads on SQLite): exactly one is stored, the other is
refused with 409, every round."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from promptpulse.errors import Conflict
from promptpulse.meta import MetaDB, add_entry, list_entries
from promptpulse.model import PriceOverride

ROUNDS = 25


def test_overlapping_entries_added_at_once_store_one(metadata_url: str) -> None:
    dbs = [MetaDB(metadata_url), MetaDB(metadata_url)]  # two replicas' connections
    try:
        outcomes: list[list[str]] = []
        for r in range(ROUNDS):
            model = f"race-{r}"
            barrier = threading.Barrier(2)
            said: list[str] = []

            def add(db: MetaDB, k: int, model: str = model, barrier=barrier, said=said) -> None:
                price = PriceOverride(model, 1.0 + k, 2.0)
                barrier.wait()
                try:
                    add_entry(db, "p", price, datetime(2025, 6, 1 + k, tzinfo=UTC), None)
                    said.append("stored")
                except Conflict:
                    said.append("409")

            threads = [threading.Thread(target=add, args=(db, k)) for k, db in enumerate(dbs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            outcomes.append(sorted(said))
        assert outcomes == [["409", "stored"]] * ROUNDS
        stored = [e for e in list_entries(dbs[0]) if e.price.model.startswith("race-")]
        assert len(stored) == ROUNDS
    finally:
        for db in dbs:
            db.close()
