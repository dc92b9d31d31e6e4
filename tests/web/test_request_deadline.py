"""A read request carries one deadline for all of its queries (issue 17, item 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings
from promptpulse.meta import MetaDB
from promptpulse.store import open_store
from tests.conftest import LOCAL_RECEIVERS, InProcessApp


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """Requests get a deadline of a microsecond; the store itself opened with the usual limit
    (opening runs queries of its own)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"), query_timeout_s=1e-6, alerts_interval_s=0,
        allowed_hosts=LOCAL_RECEIVERS,
    )  # fmt: skip
    store = open_store(settings.model_copy(update={"query_timeout_s": 30}))
    meta = MetaDB(settings.metadata_db_url)
    application = create_app(settings, store=store, meta=meta)
    with TestClient(application) as running:
        yield InProcessApp(settings, meta, application, running)
    meta.close()
    store.close()


def test_a_read_past_its_deadline_is_503_saying_so(app: InProcessApp, project: str) -> None:
    with app.client(app.key(project)) as c:
        r = c.get("/v1/metrics/overview")
    assert r.status_code == 503, r.text
    assert "the request took longer than 1e-06 s" in r.json()["detail"]


def test_the_health_check_and_ingest_have_no_query_deadline(
    app: InProcessApp, project: str
) -> None:
    with app.client(app.key(project)) as c:
        assert c.get("/healthz").status_code == 200
        event = {"timestamp": "2026-01-01T00:00:00Z", "model": "m", "latency_ms": 1}
        assert c.post("/v1/events", json={"events": [event]}).status_code == 200
