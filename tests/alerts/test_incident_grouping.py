"""Incidents against a real server, a real webhook receiver and a real SMTP server (aiosmtpd),
with a simulated clock: related alerts group into one incident that notifies once; escalation
steps fire when nobody acknowledges, not after an acknowledgement; MTTA and MTTR equal numpy's;
bad escalation policies are 422s that change nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.alerts.conftest import AlertServer, Mailbox, Receiver, event, make_alert_server
from tests.conftest import stop_server

START = datetime.fromisoformat("2026-03-09T10:00:00+00:00")


@pytest.fixture
def srv(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(
        tmp_path_factory.mktemp("incidents"), START, smtp_url=f"smtp://127.0.0.1:{smtp.port}"
    )
    yield s
    stop_server(server, thread)


def _rule(srv: AlertServer, **body: Any) -> dict[str, Any]:
    with srv.client(srv.key) as c:
        r = c.post("/v1/alerts/rules", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def _traffic(
    srv: AlertServer, prompt: str, start: datetime, minutes: int, bad: bool, tag: str
) -> None:
    """Ten calls a minute; when `bad`, half fail and every call is slow."""
    srv.ingest(
        [
            event(
                start + timedelta(minutes=m, seconds=6 * k),
                f"{tag}-{prompt}-{m}-{k}",
                status="error" if bad and k < 5 else "success",
                latency=3000 if bad else 200,
                prompt=prompt,
            )
            for m in range(minutes)
            for k in range(10)
        ]
    )


def _get(srv: AlertServer, path: str, **params: Any) -> Any:
    with srv.client(srv.key) as c:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


def _settle(box: Receiver | Mailbox, n: int) -> list[Any]:
    """Wait for n deliveries, then a little longer to see that no more arrive."""
    box.wait_for(n)
    time.sleep(0.5)
    return box.wait_for(n, timeout=0)


def test_related_alerts_make_one_incident_and_one_notification(
    srv: AlertServer, receiver: Receiver, smtp: Mailbox
) -> None:
    mail0 = len(smtp.messages)
    common = {"window": "5m", "min_requests": 10, "filters": {"prompt_id": "checkout"}}
    rules = [
        _rule(srv, name="errors", metric="error_rate", operator=">", threshold=0.2,
              severity="warning", **common),
        _rule(srv, name="slow", metric="latency_p95_ms", operator=">", threshold=1000,
              severity="critical", **common),
        _rule(srv, name="some errors", metric="error_rate", operator=">", threshold=0.1,
              severity="info", **common),
    ]  # fmt: skip
    with srv.client(srv.key) as c:  # the team's channels on each rule
        for r in rules:
            chans = [
                {"type": "webhook", "url": f"{receiver.url}/team"},
                {"type": "email", "to": "team@example.com"},
            ]
            assert c.patch(f"/v1/alerts/rules/{r['id']}", json={"channels": chans}).is_success
    other = _rule(srv, name="search errors", metric="error_rate", operator=">", threshold=0.2,
                  filters={"prompt_id": "search"},
                  channels=[{"type": "webhook", "url": f"{receiver.url}/search"}])  # fmt: skip
    _traffic(srv, "checkout", START, 5, True, "a")
    _traffic(srv, "search", START, 5, True, "a")
    srv.clock.set(START + timedelta(minutes=5))
    out = srv.evaluate()
    assert sorted(c["to"] for c in out["changes"]) == ["firing"] * 4
    # One message for the checkout incident (webhook + email of its lead), one for search.
    assert out["notifications"] == 3 and len(out["deliveries"]) == 3
    incidents = _get(srv, "/v1/incidents")["incidents"]
    assert sorted(i["alerts"] for i in incidents) == [1, 3]
    big = next(i for i in incidents if i["alerts"] == 3)
    assert big["severity"] == "critical" and big["state"] == "open"
    assert big["prompts"] == ["checkout"]
    one = _get(srv, f"/v1/incidents/{big['id']}")
    lead = next(a for a in one["alerts"] if a["id"] == one["lead_alert_id"])
    assert lead["source_id"] in {r["id"] for r in rules}
    assert {a["source_id"] for a in one["alerts"]} == {r["id"] for r in rules}
    posts = _settle(receiver, 2)
    assert sorted(p.path for p in posts) == ["/search", "/team"]
    assert all(p.body["event"] == "firing" for p in posts)
    lead_post = next(p for p in posts if p.path == "/team")
    assert lead_post.body["links"]["incident"].endswith(f"/v1/incidents/{big['id']}")
    mails = _settle(smtp, mail0 + 1)[mail0:]
    assert [m["To"] for m in mails] == ["team@example.com"]
    kinds = [e["kind"] for e in one["timeline"]]
    assert kinds[0] == "opened" and kinds.count("joined") == 2
    assert sorted(e["channel"].split()[0] for e in one["timeline"] if e["kind"] == "notified") == [
        "email",
        "webhook",
    ]
    # Recovery: the three resolve; "resolved" is sent once, for the incident, by its lead.
    receiver.clear()
    _traffic(srv, "checkout", START + timedelta(minutes=5), 7, False, "b")
    _traffic(srv, "search", START + timedelta(minutes=5), 7, True, "b")  # search still failing
    srv.clock.set(START + timedelta(minutes=11))
    out = srv.evaluate()
    mine = [c for c in out["changes"] if c["source_id"] != other["id"]]
    assert sorted(c["to"] for c in mine) == ["resolved"] * 3
    assert out["notifications"] == 2
    posts = _settle(receiver, 1)
    assert [(p.path, p.body["event"]) for p in posts] == [("/team", "resolved")]
    assert "RESOLVED" in _settle(smtp, mail0 + 2)[-1]["Subject"]
    done = _get(srv, f"/v1/incidents/{big['id']}")
    assert done["state"] == "resolved" and done["resolved_at"] is not None
    assert [e["kind"] for e in done["timeline"]].count("alert_resolved") == 3
    assert done["ttr_s"] == pytest.approx(6 * 60)
    assert _get(srv, "/v1/incidents", state="open")["incidents"][0]["alerts"] == 1


def test_a_joining_alert_still_pages_a_channel_the_incident_has_not_reached(
    srv: AlertServer, receiver: Receiver
) -> None:
    """Grouping quiets repeats, never a first page: the team hears the incident once, the pager
    (only the critical rule's channel) hears the critical alert that joined it, and each hears
    "resolved" once."""
    common = {"window": "5m", "min_requests": 10, "filters": {"prompt_id": "pay"}}
    team = [{"type": "webhook", "url": f"{receiver.url}/team"}]
    pager = [{"type": "webhook", "url": f"{receiver.url}/pager"}]
    _rule(srv, name="errors", metric="error_rate", operator=">", threshold=0.2,
          channels=team, **common)  # fmt: skip
    _rule(srv, name="some errors", metric="error_rate", operator=">", threshold=0.1,
          channels=team, **common)  # fmt: skip
    _rule(srv, name="slow", metric="latency_p95_ms", operator=">", threshold=1000,
          severity="critical", channels=[*team, *pager], **common)  # fmt: skip
    _traffic(srv, "pay", START, 5, True, "a")
    srv.clock.set(START + timedelta(minutes=5))
    assert [c["to"] for c in srv.evaluate()["changes"]] == ["firing"] * 3
    (incident,) = _get(srv, "/v1/incidents")["incidents"]
    assert incident["alerts"] == 3 and incident["severity"] == "critical"
    posts = _settle(receiver, 2)
    assert sorted((p.path, p.body["event"]) for p in posts) == [
        ("/pager", "firing"),
        ("/team", "firing"),
    ]
    receiver.clear()
    _traffic(srv, "pay", START + timedelta(minutes=5), 7, False, "b")
    srv.clock.set(START + timedelta(minutes=11))
    assert [c["to"] for c in srv.evaluate()["changes"]] == ["resolved"] * 3
    posts = _settle(receiver, 2)
    assert sorted((p.path, p.body["event"]) for p in posts) == [
        ("/pager", "resolved"),
        ("/team", "resolved"),
    ]
    assert _get(srv, f"/v1/incidents/{incident['id']}")["state"] == "resolved"


def test_alerts_that_follow_the_same_change_are_one_incident(
    srv: AlertServer, receiver: Receiver
) -> None:
    """Prompts with nothing in common that fail after one deploy are one incident, its cause in
    the timeline; prompts that each follow a change of their own stay apart."""
    team = [{"type": "webhook", "url": f"{receiver.url}/team"}]
    for prompt in ("cart", "ship", "faq", "blog"):
        _rule(srv, name=f"{prompt} errors", metric="error_rate", operator=">", threshold=0.2,
              window="5m", min_requests=10, filters={"prompt_id": prompt},
              channels=team)  # fmt: skip

    def annotate(minute: int, title: str, **filters: str) -> str:
        body = {"time": (START + timedelta(minutes=minute)).isoformat(), "title": title,
                "kind": "deploy", **({"filters": filters} if filters else {})}  # fmt: skip
        with srv.client(srv.key) as c:
            r = c.post("/v1/annotations", json=body)
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

    annotate(1, "cart deploy", prompt_id="cart")
    annotate(2, "ship deploy", prompt_id="ship")
    _traffic(srv, "cart", START, 5, True, "a")
    _traffic(srv, "ship", START, 5, True, "a")
    srv.clock.set(START + timedelta(minutes=5))
    assert [c["to"] for c in srv.evaluate()["changes"]] == ["firing"] * 2
    shared = annotate(6, "platform deploy")  # names no prompt: a cause for every prompt after it
    _traffic(srv, "faq", START + timedelta(minutes=5), 5, True, "b")
    _traffic(srv, "blog", START + timedelta(minutes=5), 5, True, "b")
    srv.clock.set(START + timedelta(minutes=10))
    fired = [c["name"] for c in srv.evaluate()["changes"] if c["to"] == "firing"]
    assert sorted(fired) == ["blog errors", "faq errors"]  # (cart and ship resolve: no traffic)
    incidents = _get(srv, "/v1/incidents")["incidents"]
    assert sorted(i["prompts"] for i in incidents) == [["blog", "faq"], ["cart"], ["ship"]]
    both = next(i for i in incidents if i["alerts"] == 2)
    causes = [e["note"] for e in _get(srv, f"/v1/incidents/{both['id']}")["timeline"]
              if e["kind"] == "cause"]  # fmt: skip
    assert f"annotation {shared}" in causes


def _escalating(srv: AlertServer, receiver: Receiver, prompt: str, steps: Any) -> dict[str, Any]:
    return _rule(
        srv, name=f"{prompt} errors", metric="error_rate", operator=">", threshold=0.2,
        window="1h", filters={"prompt_id": prompt},
        channels=[{"type": "webhook", "url": f"{receiver.url}/{prompt}"}], escalation=steps,
    )  # fmt: skip


def test_escalation_fires_without_an_ack_and_not_after_one(
    srv: AlertServer, receiver: Receiver, smtp: Mailbox
) -> None:
    mail0 = len(smtp.messages)
    _escalating(
        srv, receiver, "pay",
        [{"after": "10m", "channels": [{"type": "webhook", "url": f"{receiver.url}/esc"}]},
         {"after": "20m", "channels": [{"type": "email", "to": "boss@example.com"}]}],
    )  # fmt: skip
    _escalating(
        srv, receiver, "ship",
        [{"after": "10m", "channels": [{"type": "webhook", "url": f"{receiver.url}/esc-b"}]}],
    )  # fmt: skip
    _traffic(srv, "pay", START, 5, True, "a")
    _traffic(srv, "ship", START, 5, True, "a")
    opened = START + timedelta(minutes=5)
    srv.clock.set(opened)
    assert len(srv.evaluate()["changes"]) == 2
    by_prompt = {i["prompts"][0]: i for i in _get(srv, "/v1/incidents")["incidents"]}
    srv.clock.set(opened + timedelta(minutes=1))
    with srv.client(srv.key) as c:
        r = c.post(f"/v1/incidents/{by_prompt['ship']['id']}/acknowledge", json={"by": "ana"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged" and r.json()["acknowledged_by"] == "ana"
        assert [a["state"] for a in r.json()["alerts"]] == ["acknowledged"]
    steps_at: dict[int, list[Any]] = {}
    for minute in (9, 10, 11, 19, 20, 35):
        srv.clock.set(opened + timedelta(minutes=minute))
        steps_at[minute] = srv.evaluate()["escalations"]
    pay = by_prompt["pay"]["id"]
    assert steps_at == {
        9: [],
        10: [{"incident_id": pay, "step": 1, "after": "10m"}],
        11: [],
        19: [],
        20: [{"incident_id": pay, "step": 2, "after": "20m"}],
        35: [],
    }
    posts = _settle(receiver, 4)  # pay and ship firing, ship acknowledged, pay escalated
    assert sorted((p.path, p.body["event"]) for p in posts) == [
        ("/esc", "escalated"),
        ("/pay", "firing"),
        ("/ship", "acknowledged"),
        ("/ship", "firing"),
    ]
    mails = _settle(smtp, mail0 + 1)[mail0:]
    assert [m["To"] for m in mails] == ["boss@example.com"]
    assert "ESCALATED" in mails[0]["Subject"]
    one = _get(srv, f"/v1/incidents/{pay}")
    assert one["escalation_step"] == 2 and one["state"] == "open"
    assert [e["kind"] for e in one["timeline"]].count("escalated") == 2
    esc = [e for e in one["timeline"] if e["kind"] == "notified" and e["note"] == "escalated"]
    assert [e["channel"].split()[0] for e in esc] == ["webhook", "email"]
    # Acknowledged now: no further step, even a long time later.
    with srv.client(srv.key) as c:
        assert c.post(f"/v1/incidents/{pay}/acknowledge").status_code == 200
        assert c.post(f"/v1/incidents/{pay}/acknowledge").status_code == 422
    srv.clock.set(opened + timedelta(minutes=50))
    assert srv.evaluate()["escalations"] == []


def test_mtta_and_mttr_equal_an_independent_computation(srv: AlertServer) -> None:
    rng = np.random.default_rng(16)
    severities = ["info", "warning", "critical"]
    n = 9
    rules = []
    for i in range(n):
        sev = severities[int(rng.integers(0, 3))]
        rules.append(
            _rule(srv, name=f"q{i}", metric="error_rate", operator=">", threshold=0.2,
                  severity=sev, filters={"prompt_id": f"q{i}"})
        )  # fmt: skip
        _traffic(srv, f"q{i}", START, 5, True, "a")
    opened = START + timedelta(minutes=5)
    srv.clock.set(opened)
    srv.evaluate()
    incident_of = {i["rule_id"]: i["id"] for i in _get(srv, "/v1/incidents")["incidents"]}
    assert len(incident_of) == n
    plan = []  # (minutes after opening, action, rule index)
    for i in range(n):
        ack = float(rng.uniform(1, 60)) if rng.random() < 0.7 else None
        if ack is not None:
            plan.append((ack, "acknowledge", i))
        if rng.random() < 0.7:
            plan.append(((ack or 0) + float(rng.uniform(1, 120)), "resolve", i))
    done: dict[tuple[str, int], float] = {}
    with srv.client(srv.key) as c:
        for minutes, action, i in sorted(plan):
            srv.clock.set(opened + timedelta(minutes=minutes))
            r = c.post(f"/v1/incidents/{incident_of[rules[i]['id']]}/{action}")
            assert r.status_code == 200, r.text
            done[(action, i)] = minutes * 60
    for by, key_of in (
        ("severity", lambda i: rules[i]["severity"]),
        ("rule", lambda i: rules[i]["id"]),
        ("project", lambda i: srv.project),
    ):
        want = {}
        for key in {key_of(i) for i in range(n)}:
            mine = [i for i in range(n) if key_of(i) == key]
            acks = [done[("acknowledge", i)] for i in mine if ("acknowledge", i) in done]
            res = [done[("resolve", i)] for i in mine if ("resolve", i) in done]
            want[key] = {
                "incidents": len(mine),
                "acknowledged": len(acks),
                "resolved": len(res),
                "mtta_s": float(np.mean(acks)) if acks else None,
                "mttr_s": float(np.mean(res)) if res else None,
            }
        got = _get(
            srv, "/v1/incidents/stats", by=by,
            **{"from": "2026-03-09T00:00:00Z", "to": "2026-03-10T00:00:00Z"},
        )  # fmt: skip
        rows = {r.pop("key"): r for r in got["rows"]}
        assert rows.keys() == want.keys(), by
        for key, row in rows.items():
            assert row == pytest.approx(want[key]), (by, key)
        if by == "severity":  # the daily report of that day carries the same figures
            day = {"period": "day", "as_of": "2026-03-10T00:00:00Z"}
            report = _get(srv, "/v1/reports/preview", **day)
            lines = {x.pop("severity"): x for x in report["incidents"]}
            assert lines.keys() == want.keys()
            for key, line in lines.items():
                assert line == pytest.approx(want[key]), key
            with srv.client(srv.key) as c:
                text = c.get("/v1/reports/preview", params={**day, "format": "markdown"}).text
            assert "## Incidents" in text and "| MTTA | MTTR |" in text
    # The range is half-open and counts incidents by when they opened.
    at = opened.isoformat()
    assert _get(srv, "/v1/incidents/stats", to=at, **{"from": "2026-03-09T00:00:00Z"})["rows"] == []
    assert len(_get(srv, "/v1/incidents/stats", by="project", **{"from": at})["rows"]) == 1


def test_bad_escalations_are_422s_and_change_nothing(srv: AlertServer, receiver: Receiver) -> None:
    hook = {"type": "webhook", "url": f"{receiver.url}/x", "secret": "s3cret"}
    base = {"name": "esc", "metric": "error_rate", "operator": ">", "threshold": 0.2}
    bad = [
        ([{"after": "10m", "channels": [hook]}, {"after": "10m", "channels": [hook]}],
         "escalation[1].after"),
        ([{"after": "30m", "channels": [hook]}, {"after": "5m", "channels": [hook]}],
         "escalation[1].after"),
        ([{"after": "0s", "channels": [hook]}], "after"),
        ([{"after": "5m", "channels": []}], "channels"),
        ([{"after": "soon", "channels": [hook]}], "after"),
    ]  # fmt: skip
    with srv.client(srv.key) as c:
        for steps, field in bad:
            r = c.post("/v1/alerts/rules", json={**base, "escalation": steps})
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert field in r.text, r.text
        assert c.get("/v1/alerts/rules").json()["rules"] == []
        good = [{"after": "10m", "channels": [hook]}, {"after": "1h", "channels": [hook]}]
        r = c.post("/v1/alerts/rules", json={**base, "escalation": good})
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["escalation"][0]["channels"][0]["secret"] == "********"
        assert "s3cret" not in r.text
        for steps, field in bad:  # a change with a loop leaves the rule as it was
            r = c.patch(f"/v1/alerts/rules/{rule['id']}", json={"escalation": steps})
            assert r.status_code == 422 and field in r.text, r.text
        assert c.get(f"/v1/alerts/rules/{rule['id']}").json() == rule
        # Sending the masked rule back keeps the stored secret.
        same = {k: v for k, v in rule.items() if k not in ("id", "created_at", "updated_at")}
        same.pop("priority", None)
        r = c.put(f"/v1/alerts/rules/{rule['id']}", json=same)
        assert r.status_code == 200, r.text
        assert c.get(f"/v1/alerts/rules/{rule['id']}").json()["escalation"] == rule["escalation"]
        assert c.get("/v1/incidents/inc_nope").status_code == 404
        assert c.post("/v1/incidents/inc_nope/acknowledge").status_code == 404
        for params, field in (
            ({"state": "sleeping"}, "state"),
            ({"from": "yesterday"}, "from"),
        ):
            r = c.get("/v1/incidents", params=params)
            assert r.status_code == 422 and field in r.text, r.text
        for params, field in (
            ({"by": "model"}, "by"),
            ({"from": "2026-03-10T00:00:00Z", "to": "2026-03-09T00:00:00Z"}, "from"),
        ):
            r = c.get("/v1/incidents/stats", params=params)
            assert r.status_code == 422 and field in r.text, r.text
