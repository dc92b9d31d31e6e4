"""schemathesis over the OpenAPI document against a real server (issue 17): every operation,
a few generated requests each, with an admin key for all projects. None may answer 5xx, and
every status answered must be listed for its operation in the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import LiveServer, start_server, stop_server

# Long polls and streams wait on purpose; everything else is exercised.
SKIPPED = ("/v1/changes", "/v1/changes/stream")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv, thread, info = start_server(
        tmp_path_factory.mktemp("schemathesis"),
        alerts_interval_s=0,
        rollup_interval_s=0,
        retention_interval_s=0,
        reports_interval_s=0,
    )
    yield info
    stop_server(srv, thread)
    info.meta.close()


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key(None, 'admin')}"}


def _exercise(operation: Any, admin: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=admin, timeout=30)
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.text[:300]}"
        listed = set(case.operation.definition.raw.get("responses", {}))
        assert str(response.status_code) in listed or "default" in listed, (
            f"{where} answered {response.status_code}, not listed in its OpenAPI entry "
            f"({sorted(listed)}): {response.text[:300]}"
        )

    run()


EXAMPLES = 3


@pytest.mark.slow
def test_no_operation_answers_a_server_error_or_an_unlisted_status(
    server: LiveServer, admin: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED:
            continue
        operations += 1
        try:
            _exercise(operation, admin)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
    assert operations > 60
    assert not failures, "\n".join(failures)
