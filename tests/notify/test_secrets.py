"""Channel secrets never leak (issue 17, item 6): masks hide URL credentials, paths and query
tokens; logs and `last_error` hold no URL path and no forged line; CR/LF never reach a request;
the metadata database is private and, with a key, holds channel secrets encrypted."""

from __future__ import annotations

import logging
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from promptpulse.meta import MetaDB
from promptpulse.notify import ChannelSpec
from promptpulse.notify.channel import redact
from tests.conftest import InProcessApp, LiveServer, in_process_app
from tests.notify.conftest import Receiver

KEY = Fernet.generate_key().decode()
RULE = {"name": "r", "metric": "requests", "operator": ">", "threshold": 0, "window": "1h"}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@hooks.example/x/y", "http://hooks.example/********"),
        ("https://hooks.example?token=abc", "https://hooks.example/********"),
        ("https://hooks.example:8443/p?token=abc#f", "https://hooks.example:8443/********"),
        ("http://[fd00::1]:9/p", "http://[fd00::1]:9/********"),
    ],
)
def test_masks_keep_only_the_origin(url: str, shown: str) -> None:
    channel = ChannelSpec(type="webhook", url=url)
    assert channel.masked()["url"] == shown
    assert channel.target() == shown.replace("********", "…")


def test_redact_cuts_urls_and_escapes_control_characters() -> None:
    text = 'HTTP 500: see https://u:p@in.example/a?token=t\r\n2026 ERROR forged "x"'
    out = redact(text)
    assert "token" not in out and "u:p" not in out and "/a" not in out
    assert "\r" not in out and "\n" not in out and "\\x0d\\x0a" in out
    assert "https://in.example/…" in out


@pytest.mark.parametrize(
    "channel",
    [
        {"type": "webhook", "url": "http://h.example/x\r\nX-Injected: 1"},
        {"type": "webhook", "url": "http://h.example/x y"},
        {"type": "webhook", "url": "http://h.example/", "headers": {"X-A": "v\r\nX-B: w"}},
        {"type": "webhook", "url": "http://h.example/", "headers": {"X A": "v"}},
    ],
)
def test_crlf_in_a_url_or_header_is_a_422(live: LiveServer, channel: dict) -> None:
    with live.client(live.key(None, "admin")) as c:
        r = c.post("/v1/alerts/channels/test", json=channel)
    assert r.status_code == 422, r.text


def test_a_receivers_reply_cannot_forge_log_lines_or_show_urls(
    live: LiveServer, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 400
    secret_path = "/hook/s3cr3t-path?token=abc"
    with caplog.at_level(logging.DEBUG), live.client(live.key(None, "admin")) as c:
        body = c.post(
            "/v1/alerts/channels/test", json={"type": "webhook", "url": receiver.url + secret_path}
        ).json()
    assert body["status"] == "failed"
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in str(body)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path_factory.mktemp("data"), secret_key=KEY)


def _raw_specs(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return " ".join(row[0] for row in conn.execute("SELECT spec FROM alert_rules"))


def test_channel_secrets_are_encrypted_at_rest_and_still_work(
    sealed: InProcessApp, project: str, receiver: Receiver
) -> None:
    hook = receiver.url + "/very-secret-hook"
    rule = {**RULE, "channels": [{"type": "webhook", "url": hook, "secret": "sign-me"}]}
    with sealed.client(sealed.key(project, "ingest,read,admin")) as c:
        created = c.post("/v1/alerts/rules", json=rule)
        assert created.status_code == 201, created.text
        rule_id = created.json()["id"]
        raw = _raw_specs(sealed.settings.data_dir / "metadata.sqlite")
        assert "very-secret-hook" not in raw and "sign-me" not in raw and "enc:v1:" in raw
        assert '"metric":"requests"' in raw  # the rest of the spec stays readable
        r = c.post("/v1/alerts/channels/test", json={"rule_id": rule_id, "index": 0})
        assert r.json()["status"] == "sent", r.text
    (got,) = receiver.wait_for(1)
    assert got.path == "/very-secret-hook" and "X-PromptPulse-Signature" in got.headers


def test_without_the_key_sealed_secrets_are_refused_not_sent(
    sealed: InProcessApp, project: str
) -> None:
    rule = {**RULE, "channels": [{"type": "webhook", "url": "https://h.example/x"}]}
    with sealed.client(sealed.key(project, "ingest,read,admin")) as c:
        assert c.post("/v1/alerts/rules", json=rule).status_code == 201
    keyless = MetaDB(sealed.settings.metadata_db_url)
    try:
        from promptpulse.alerts import repo
        from promptpulse.errors import StoreUnavailable

        with pytest.raises(StoreUnavailable, match="PROMPTPULSE_SECRET_KEY"):
            repo.list_rules(keyless.engine)
    finally:
        keyless.close()


def test_setting_a_key_seals_the_secrets_already_stored(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from promptpulse.alerts import RuleIn, repo

    url = f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    plain = MetaDB(url)
    rule = RuleIn.model_validate(
        {**RULE, "channels": [{"type": "slack", "url": "https://hooks.example/T0/B0/xyz"}]}
    )
    repo.create_rule(plain.engine, rule, datetime.now(UTC))
    plain.close()
    assert "hooks.example/T0" in _raw_specs(tmp_path / "metadata.sqlite")
    keyed = MetaDB(url, [KEY])
    assert keyed.resealed == 1
    assert "hooks.example/T0" not in _raw_specs(tmp_path / "metadata.sqlite")
    (back,) = repo.list_rules(keyed.engine)
    assert back.rule.channels[0].url == "https://hooks.example/T0/B0/xyz"
    keyed.close()
    new_key = Fernet.generate_key().decode()
    rotated = MetaDB(url, [new_key, KEY])  # rotation: the old key read, the new one written
    assert rotated.resealed == 1
    rotated.close()
    only_new = MetaDB(url, [new_key])
    assert repo.list_rules(only_new.engine)[0].rule.channels[0].url.endswith("/xyz")
    assert only_new.resealed == 0
    only_new.close()


def test_data_files_are_private(live: LiveServer) -> None:
    data = live.settings.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("metadata.sqlite", "events.duckdb"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
