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


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_body_without_a_json_content_type_names_the_header(
    app: InProcessApp, content_type: str | None
) -> None:
    """curl -d sends a form's Content-Type: the 422 says which header to send."""
    headers = {"Content-Type": content_type} if content_type else {}
    with app.client(app.key("p-json", "ingest,read,admin")) as c:
        r = c.post("/v1/budgets", content=b'{"name": "x"}', headers=headers)
        good = c.post("/v1/budgets", json={"name": "x"})
    assert r.status_code == 422, r.text
    field = r.json()["errors"][0]
    assert field["field"] == "body"
    assert "Content-Type: application/json" in field["message"]
    assert good.status_code == 422 and "Content-Type" not in good.text  # other errors, as before
