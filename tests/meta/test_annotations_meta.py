"""The annotations table (metadata migration 5) on SQLite and on a real PostgreSQL: stored and
read back by range, project and slice with aware UTC times; a refused one leaves nothing; delete
only within the key's project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from promptpulse.errors import Invalid, NotFound
from promptpulse.markers import AnnotationSpec, create, delete, list_in
from promptpulse.meta import MetaDB

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_annotations_round_trip(metadata_url: str) -> None:
    db = MetaDB(metadata_url)
    try:
        e = db.engine
        rng = np.random.default_rng(4)
        made = []
        for i in range(40):
            t = T + timedelta(
                seconds=int(rng.integers(0, 86400)), microseconds=int(rng.integers(0, 10**6))
            )
            filters = {"prompt_id": ("a", "b")[i % 2]} if i % 3 else {}
            spec = AnnotationSpec(t, ("deploy", "note")[i % 2], f"t{i}", "", filters)
            made.append(create(e, ("shop", "other")[i % 4 == 0], spec, T))
        # An offset other than UTC is stored as the same instant.
        plus2 = timezone(timedelta(hours=2))
        odd = create(
            e, "shop", AnnotationSpec(datetime(2026, 3, 1, 15, tzinfo=plus2), "config", "tz"), T
        )
        assert odd.spec.time == datetime(2026, 3, 1, 13, tzinfo=UTC)
        made.append(odd)
        lo, hi = T + timedelta(hours=3), T + timedelta(hours=20)
        got = list_in(e, ["shop"], lo, hi, {"prompt_id": ("a",)})
        want = [
            m
            for m in made
            if m.project == "shop"
            and lo <= m.spec.time < hi
            and m.spec.filters.get("prompt_id", "a") == "a"
        ]
        assert [g.id for g in got] == [
            m.id for m in sorted(want, key=lambda m: (m.spec.time, m.id))
        ]
        assert all(g.spec.time.tzinfo is not None for g in got)
        assert {g.id: g.spec for g in got} == {m.id: m.spec for m in want}
        assert len(list_in(e, None, T, T + timedelta(days=2))) == len(made)
        with pytest.raises(Invalid, match="title"):
            create(e, "shop", AnnotationSpec(T, "note", " "), T)
        assert len(list_in(e, None, T - timedelta(days=1), T + timedelta(days=2))) == len(made)
        with pytest.raises(NotFound):
            delete(e, made[0].id, "elsewhere" if made[0].project == "shop" else "shop")
        delete(e, made[0].id, made[0].project)
        assert made[0].id not in {a.id for a in list_in(e, None, T, T + timedelta(days=2))}
    finally:
        db.close()
