"""A real server, a real webhook receiver and a real SMTP server: fire, remind, acknowledge,
resolve through every channel; retries and the delivery log; test sends. The channels' own
payloads are tested in tests/notify."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.alerts.conftest import T0, AlertServer, Mailbox, Receiver, event, make_alert_server
from tests.conftest import stop_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(
        tmp_path_factory.mktemp("alerts"),
        T0,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}",
        public_url="https://pp.example.com",
    )
    yield s
    stop_server(server, thread)


def _errors(srv: AlertServer, start: Any, minutes: int, rate: float, tag: str) -> None:
    """Ten calls a minute, `rate` of them failing."""
    events = []
    for m in range(minutes):
        for k in range(10):
            t = start + timedelta(minutes=m, seconds=k * 6)
            status = "error" if k < rate * 10 else "success"
            events.append(event(t, f"{tag}-{m}-{k}", status=status))
    srv.ingest(events)


def _rule(srv: AlertServer, **body: Any) -> dict[str, Any]:
    with srv.client(srv.key) as c:
        r = c.post("/v1/alerts/rules", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def test_webhook_fire_remind_ack_resolve(srv: AlertServer, receiver: Receiver) -> None:
    start = srv.clock()
    rule = _rule(
        srv,
        name="errors-webhook",
        metric="error_rate",
        operator=">",
        threshold=0.2,
        window="5m",
        min_requests=10,
        severity="critical",
        renotify="10m",
        filters={"prompt_id": "support"},
        runbook_url="https://wiki.example.com/rb",
        channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": "s3cret"}],
    )
    assert rule["channels"][0]["url"].endswith("********"), "secrets are write-only"
    assert rule["channels"][0]["secret"] == "********"
    _errors(srv, start, 10, 0.5, "a")
    srv.clock.set(start + timedelta(minutes=10))
    out = srv.evaluate()
    mine = [c for c in out["changes"] if c["source_id"] == rule["id"]]
    assert [c["to"] for c in mine] == ["firing"]
    got = receiver.wait_for(1)
    body = got[0].body
    assert body["event"] == "firing" and body["alert_type"] == "threshold"
    assert body["severity"] == "critical" and body["prompt_id"] == "support"
    assert body["metric"] == "error_rate" and body["value"] == pytest.approx(0.5)
    assert body["threshold"] == 0.2
    assert body["links"]["runbook"] == "https://wiki.example.com/rb"
    assert body["links"]["alert"].startswith("https://pp.example.com/v1/alerts/alert_")
    import hashlib
    import hmac

    sig = got[0].headers["X-PromptPulse-Signature"]
    assert sig.startswith("sha256=")
    # Same condition, next round: one open alert, no second notification.
    srv.clock.advance(minutes=1)
    _errors(srv, start + timedelta(minutes=10), 1, 0.5, "b")
    assert [c for c in srv.evaluate()["changes"] if c["source_id"] == rule["id"]] == []
    # After the re-notify interval: a reminder.
    _errors(srv, start + timedelta(minutes=11), 10, 0.5, "c")
    srv.clock.advance(minutes=10)
    srv.evaluate()
    got = receiver.wait_for(2)
    assert got[1].body["event"] == "reminder"
    with srv.client(srv.key) as c:
        alerts = c.get("/v1/alerts", params={"state": "firing", "severity": "critical"}).json()
        ids = [a["id"] for a in alerts["alerts"] if a["source_id"] == rule["id"]]
        assert len(ids) == 1
        r = c.post(f"/v1/alerts/{ids[0]}/acknowledge", json={"note": "looking", "by": "ana"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged" and r.json()["acknowledged_by"] == "ana"
        assert c.post(f"/v1/alerts/{ids[0]}/acknowledge").status_code == 422
    got = receiver.wait_for(3)
    assert got[2].body["event"] == "acknowledged"
    # Recovery: the window clears, the alert resolves by itself and says so.
    srv.ingest([event(srv.clock() + timedelta(seconds=s * 10), f"ok-{s}") for s in range(60)])
    srv.clock.advance(minutes=10)
    out = srv.evaluate()
    assert [c["to"] for c in out["changes"] if c["source_id"] == rule["id"]] == ["resolved"]
    got = receiver.wait_for(4)
    assert got[3].body["event"] == "resolved" and got[3].body["resolved_at"]
    for g in got:  # every post is signed over its exact body
        want = hmac.new(b"s3cret", g.raw, hashlib.sha256).hexdigest()
        assert g.headers["X-PromptPulse-Signature"] == f"sha256={want}"
    with srv.client(srv.key) as c:
        one = c.get(f"/v1/alerts/{ids[0]}").json()
        kinds = [h["kind"] for h in one["history"]]
        assert kinds[0] == "firing" and "acknowledged" in kinds and kinds[-1] == "resolved"
        assert any(h["value"] is not None for h in one["history"])
        log = c.get("/v1/alerts/deliveries", params={"alert_id": ids[0]}).json()["deliveries"]
        assert {d["event"] for d in log} == {"firing", "reminder", "acknowledged", "resolved"}
        assert all(d["status"] == "sent" and "s3cret" not in str(d) for d in log)


def test_slack_pagerduty_email_and_retries(
    srv: AlertServer, receiver: Receiver, smtp: Mailbox
) -> None:
    start = srv.clock()
    receiver.fail_next = 2  # the first two posts get 503: retried with backoff
    _rule(
        srv,
        name="errors-all-channels",
        metric="error_rate",
        operator=">=",
        threshold=0.3,
        window="5m",
        filters={"prompt_id": "billing"},
        severity="P1",
        channels=[
            {"type": "slack", "url": receiver.url + "/slack"},
            {
                "type": "pagerduty",
                "routing_key": "R0UT1NGKEY0123456789012345678901",
                "url": receiver.url + "/pd",
            },
            {"type": "email", "to": "oncall@example.com"},
        ],
    )
    events = [
        event(
            start + timedelta(seconds=5 * i),
            f"bill-{i}",
            prompt="billing",
            status="error" if i % 2 else "success",
        )
        for i in range(60)
    ]
    srv.ingest(events)
    srv.clock.advance(minutes=5)
    srv.evaluate()
    got = receiver.wait_for(2)
    by_path = {g.path: g.body for g in got}
    slack, pd = by_path["/slack"], by_path["/pd"]
    # Each channel's shape is tests/notify's; here: the rule's alert reaches all three.
    assert "FIRING" in slack["text"] and "errors-all-channels" in slack["text"]
    assert pd["event_action"] == "trigger" and pd["routing_key"].startswith("R0UT")
    assert pd["dedup_key"].startswith("promptpulse/alert_") and len(pd["dedup_key"]) <= 255
    assert pd["payload"]["severity"] == "critical"
    mail = smtp.wait_for(1)[-1]
    assert "FIRING" in mail["Subject"] and mail["To"] == "oncall@example.com"
    with srv.client() as c:
        log = c.get("/v1/alerts/deliveries").json()["deliveries"]
    retried = [d for d in log if d["channel"] in ("slack", "pagerduty") and d["attempts"] > 1]
    assert retried and all(d["status"] == "sent" for d in retried)
    # Recovery: PagerDuty gets a resolve with the same dedup key, email a RESOLVED.
    receiver.clear()
    srv.ingest(
        [
            event(srv.clock() + timedelta(seconds=5 * i), f"bill-ok-{i}", prompt="billing")
            for i in range(60)
        ]
    )
    srv.clock.advance(minutes=5)
    srv.evaluate()
    got = {g.path: g.body for g in receiver.wait_for(2)}
    assert got["/pd"] == {
        "routing_key": pd["routing_key"],
        "event_action": "resolve",
        "dedup_key": pd["dedup_key"],
    }
    assert "RESOLVED" in got["/slack"]["text"]
    assert "RESOLVED" in smtp.wait_for(2)[-1]["Subject"]


def test_test_send_and_permanent_failure(srv: AlertServer, receiver: Receiver) -> None:
    with srv.client() as c:
        r = c.post("/v1/alerts/channels/test", json={"type": "webhook", "url": receiver.url})
        assert r.status_code == 200 and r.json()["status"] == "sent", r.text
        assert receiver.wait_for(1)[0].body["event"] == "test"
        receiver.status = 404  # a 4xx is not retried
        r = c.post("/v1/alerts/channels/test", json={"type": "slack", "url": receiver.url})
        assert r.json()["status"] == "failed" and r.json()["attempts"] == 1
        bad = c.post("/v1/alerts/channels/test", json={"type": "pagerduty"})
        assert bad.status_code == 422 and "routing_key" in bad.text


def test_group_by_silence_and_project_keys(srv: AlertServer, receiver: Receiver) -> None:
    start = srv.clock()
    rule = _rule(
        srv,
        name="slow per version",
        metric="latency_p95_ms",
        operator=">",
        threshold=1000,
        window="5m",
        min_requests=5,
        group_by="prompt_version",
        filters={"prompt_id": "search"},
        channels=[{"type": "webhook", "url": receiver.url}],
    )
    with srv.client() as c:
        r = c.post(
            "/v1/alerts/silences",
            json={
                "matchers": {"rule_id": rule["id"], "scope": {"prompt_version": "v2"}},
                "ends_at": (start + timedelta(minutes=30)).isoformat(),
                "comment": "canary",
            },
        )
        assert r.status_code == 201, r.text
    evs = [
        event(
            start + timedelta(seconds=10 * i),
            f"s-{v}-{i}",
            prompt="search",
            latency=3000 if v in ("v2", "v3") else 200,
            prompt_version=v,
        )
        for v in ("v1", "v2", "v3")
        for i in range(20)
    ]
    srv.ingest(evs)
    srv.clock.advance(minutes=4)
    out = srv.evaluate()
    mine = {
        c["scope"]["group"]["prompt_version"]: c
        for c in out["changes"]
        if c["source_id"] == rule["id"]
    }
    assert set(mine) == {"v2", "v3"}, "one alert per slow version, none for v1"
    assert mine["v2"]["silenced"] and not mine["v3"]["silenced"]
    got = receiver.wait_for(1)
    assert [g.body["scope"]["group"]["prompt_version"] for g in got] == ["v3"]
    # Another project's key sees none of it and cannot touch it.
    other = srv.live.key("other-project", "ingest,read,admin")
    with srv.client(other) as c:
        assert c.get("/v1/alerts").json()["alerts"] == []
        assert c.get(f"/v1/alerts/rules/{rule['id']}").status_code == 404
        own_round = c.post("/v1/alerts/evaluate")  # its own project's round: nothing of shop's
        assert own_round.status_code == 200, own_round.text
        assert own_round.json()["project"] == "other-project"
        assert own_round.json()["changes"] == [] and own_round.json()["rules"] == 0
        bad = c.post(
            "/v1/alerts/rules",
            json={"name": "x", "template": "error_rate_high", "filters": {"project": "shop"}},
        )
        assert bad.status_code == 403
