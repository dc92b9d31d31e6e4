"""The custom_metrics table on SQLite and on a real PostgreSQL: create, read, replace, delete,
one name per project, and a refused change that leaves the stored row as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promptpulse.errors import Invalid, NotFound
from promptpulse.meta import MetaDB
from promptpulse.meta.custom_metrics import (
    CustomSpec,
    create_custom,
    delete_custom,
    get_custom,
    list_custom,
    project_metrics,
    update_custom,
)
from promptpulse.model import Kind

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_custom_metrics_round_trip(metadata_url: str) -> None:
    db = MetaDB(metadata_url)
    try:
        e = db.engine
        spec = CustomSpec("fast_share", "count(latency_ms < 2000) / requests", "ratio", True, "d")
        create_custom(e, "shop", spec, T)
        create_custom(e, "other", CustomSpec("fast_share", "errors"), T)  # another project
        got = get_custom(e, "shop", "fast_share")
        assert got.spec == spec and got.created_at == T and got.updated_at == T
        with pytest.raises(Invalid, match="exists already"):
            create_custom(e, "shop", spec, T)
        later = T + timedelta(hours=1)
        new = CustomSpec("fast_share", "count(latency_ms < 1000) / requests", "ratio", None)
        update_custom(e, "shop", "fast_share", new, later, None)
        got = get_custom(e, "shop", "fast_share")
        assert got.spec.formula.endswith("< 1000) / requests") and got.updated_at == later
        assert got.created_at == T and got.spec.higher_is_better is None
        with pytest.raises(Invalid):  # a bad formula changes nothing
            update_custom(e, "shop", "fast_share", CustomSpec("fast_share", "1 +"), later, None)
        assert get_custom(e, "shop", "fast_share").spec == got.spec
        metrics = project_metrics(e, "shop")
        assert list(metrics) == ["fast_share"] and metrics["fast_share"].kind is Kind.CUSTOM
        assert [r.project for r in list_custom(e, None)] == ["other", "shop"]
        delete_custom(e, "shop", "fast_share")
        with pytest.raises(NotFound):
            get_custom(e, "shop", "fast_share")
        assert [r.project for r in list_custom(e, None)] == ["other"]
    finally:
        db.close()
