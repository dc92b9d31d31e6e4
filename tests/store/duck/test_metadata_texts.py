"""The metadata texts kept per project (metadata_texts.py): a grouping by `metadata.<key>` finds
every text the calls carry, including texts that arrive after the list was kept, after
deletions, and for projects with too many texts to list; checked against Python's json."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from promptpulse.model import CATALOG, Dimension, Filter, Scope
from promptpulse.store.duck import DuckStore
from promptpulse.store.duck.metadata_texts import MAX_TEXTS, TOO_MANY, MetadataTexts, texts_of
from tests.rollups.helpers import random_calls, write_direct

T0 = datetime(2025, 3, 3, tzinfo=UTC)
DAY = timedelta(days=1)
BY_TIER = [Dimension("metadata.tier")]


def _calls(seed: int, n: int, project: str, texts: list[str | None]) -> pa.Table:
    rng = np.random.default_rng(seed)
    calls = random_calls(rng, n, T0, T0 + DAY, project)
    picked = [texts[i] for i in rng.integers(0, len(texts), n)]
    column = calls.schema.get_field_index("metadata")
    return calls.set_column(column, "metadata", pa.array(picked, pa.string()))


def _tiers(calls: list[pa.Table], project: str | None = None) -> Counter[str | None]:
    """Calls per tier, by Python's json."""
    out: Counter[str | None] = Counter()
    for table in calls:
        for p, text in zip(
            table["project"].to_pylist(), table["metadata"].to_pylist(), strict=True
        ):
            if project is None or p == project:
                tier = None if text is None else json.loads(text).get("tier")
                out[None if tier is None else str(tier)] += 1
    return out


def _by_tier(store: DuckStore, project: str | None = None) -> Counter[str | None]:
    filters = () if project is None else (Filter("project", (project,)),)
    rows = store.aggregate(Scope(T0, T0 + DAY, filters), [CATALOG["requests"]], BY_TIER)
    return Counter({r.group[0]: r.values["requests"] for r in rows})


def test_texts_arriving_after_the_list_was_kept_get_their_own_group(tmp_path: Path) -> None:
    store = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=10**18)
    try:
        first = _calls(1, 2000, "a", ['{"tier": "free"}', '{"tier": "pro"}', None])
        write_direct(store, first)
        assert _by_tier(store, "a") == _tiers([first])  # the list is kept from here on
        assert store._metadata_texts._kept is not None
        later = _calls(2, 1500, "a", ['{"tier": "team", "n": 1}', '{"tier": "free", "x": 2}'])
        write_direct(store, later)
        got = _by_tier(store, "a")
        assert got == _tiers([first, later])
        assert got["team"] > 0
        # Another project's texts count for a range over every project, not for "a" alone.
        other = _calls(3, 800, "b", ['{"tier": "gold"}'])
        write_direct(store, other)
        assert _by_tier(store) == _tiers([first, later, other])
        assert _by_tier(store, "a") == _tiers([first, later])
        # An erasure throws the list away; texts after it are found again.
        store.erase("b")
        again = _calls(4, 500, "a", ['{"tier": "enterprise"}'])
        write_direct(store, again)
        assert _by_tier(store) == _tiers([first, later, again])
    finally:
        store.close()


def test_a_project_with_too_many_texts_keeps_the_exact_grouping(tmp_path: Path) -> None:
    """Unique texts (an id inside each) mark their project: its groupings find texts in range
    or parse each call's, and the other project keeps its list."""
    store = DuckStore(tmp_path / "events.duckdb", rollup_min_calls=10**18)
    try:
        unique = [json.dumps({"tier": f"t{i % 5}", "id": i}) for i in range(3 * MAX_TEXTS)]
        many = _calls(5, 3000, "many", unique)
        few = _calls(6, 1000, "few", ['{"tier": "free"}', '{"tier": "pro"}'])
        write_direct(store, many)
        write_direct(store, few)
        assert _by_tier(store, "many") == _tiers([many])
        kept = store._metadata_texts._kept
        assert kept is not None and kept["many"] is TOO_MANY
        assert texts_of(kept, ("few",)) == ['{"tier": "free"}', '{"tier": "pro"}']
        assert texts_of(kept, None) is None  # every project: one has too many
        assert _by_tier(store) == _tiers([many, few])
        assert _by_tier(store, "few") == _tiers([few])
    finally:
        store.close()


def test_a_project_passing_the_limit_in_a_commit_is_marked() -> None:
    texts = MetadataTexts()
    kept = {"p": {"a", "b"}}
    texts.fold(kept, {"p": {f"t{i}" for i in range(MAX_TEXTS - 2)}})
    assert texts_of(kept, ("p",)) is not None and len(kept["p"] or ()) == MAX_TEXTS
    texts.fold(kept, {"p": {"one more"}, "q": {"x"}})
    assert kept["p"] is TOO_MANY and kept["q"] == {"x"}
    texts.fold(kept, {"p": {"a"}})  # stays marked: nothing more is held for it
    assert kept["p"] is TOO_MANY
    # Two projects of few texts each, too many together.
    both = {"p": {f"p{i}" for i in range(200)}, "q": {f"q{i}" for i in range(200)}}
    assert texts_of(both, ("p",)) is not None and texts_of(both, None) is None
