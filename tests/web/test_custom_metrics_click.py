"""Custom metrics through the API over the ClickHouse store (chdb embedded): the time series and
the breakdown of tests/web/test_custom_metrics_api.py, against the same numpy expectations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import InProcessApp, in_process_app
from tests.web import test_custom_metrics_api as api


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    pytest.importorskip("chdb")
    data_dir = tmp_path_factory.mktemp("chdb-app")
    engine = tmp_path_factory.getbasetemp() / "chdb-engine"  # one engine path per process
    url = f"chdb:///{engine}?database={data_dir.name.replace('-', '_')}"
    yield from in_process_app(data_dir, store_url=url)


data = api.data
defined = api.defined


def test_timeseries_on_clickhouse(app: InProcessApp, defined: api.Data) -> None:
    assert type(app.ctx.store).__name__ == "ClickStore"
    api.test_timeseries_by_hour_matches_numpy(app, defined)


def test_breakdown_on_clickhouse(app: InProcessApp, defined: api.Data) -> None:
    api.test_breakdown_by_model_sorted_by_a_custom_metric(app, defined)


def test_overview_on_clickhouse(app: InProcessApp, defined: api.Data) -> None:
    api.test_overview_answers_the_projects_custom_metrics(app, defined)
