"""A body that is not JSON is a 400 on every JSON route, as the docs say (issue 17, Low)."""

from __future__ import annotations

import pytest

from tests.conftest import InProcessApp


@pytest.mark.parametrize(
    "path", ["/v1/budgets", "/v1/alerts/rules", "/v1/slos", "/v1/reports/schedules"]
)
@pytest.mark.parametrize("body", [b"{", b"not json", b'{"name": "x",}'])
def test_a_body_that_is_not_json_is_400(app: InProcessApp, path: str, body: bytes) -> None:
    with app.client(app.key("p-json", "ingest,read,admin")) as c:
        r = c.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "not valid JSON" in r.json()["detail"]
