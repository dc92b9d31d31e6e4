"""Escalation steps' channels are secrets like a rule's own: sealed at rest with
PROMPTPULSE_SECRET_KEY, masked by the API, kept when a rule comes back masked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import InProcessApp, in_process_app
from tests.notify.test_secrets import KEY, RULE


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path_factory.mktemp("data"), secret_key=KEY)


def test_escalation_channel_secrets_are_sealed_and_masked(
    sealed: InProcessApp, project: str
) -> None:
    hook = {"type": "webhook", "url": "https://hooks.example.com/esc-secret-path", "secret": "s1gn"}
    rule = {**RULE, "escalation": [{"after": "15m", "channels": [hook]}]}
    with sealed.client(sealed.key(project, "read,admin")) as c:
        created = c.post("/v1/alerts/rules", json=rule)
        assert created.status_code == 201, created.text
        shown = created.json()
        assert "esc-secret-path" not in created.text and "s1gn" not in created.text
        with sealed.ctx.alerts.engine.connect() as conn:  # the stored text, not decrypted
            raw = " ".join(conn.execute(sa.text("SELECT spec FROM alert_rules")).scalars())
        assert "esc-secret-path" not in raw and "s1gn" not in raw and "enc:v1:" in raw
        back = {k: v for k, v in shown.items() if k not in ("id", "created_at", "updated_at")}
        back.pop("priority", None)
        r = c.put(f"/v1/alerts/rules/{shown['id']}", json=back)
        assert r.status_code == 200, r.text
        from promptpulse.alerts import repo

        stored = repo.get_rule(sealed.ctx.alerts.engine, shown["id"]).rule.escalation[0].channels[0]
        assert stored.url == hook["url"] and stored.secret == "s1gn"
