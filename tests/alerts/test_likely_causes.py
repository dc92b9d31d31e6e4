"""Likely causes: a real server, a real webhook receiver. The changes recorded or first seen
shortly before an alert started, in its project and about its prompt, come with the firing
notification and with the alert's API answer; older ones, another prompt's and another
project's do not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.alerts.conftest import T0, AlertServer, Receiver, event, make_alert_server
from tests.conftest import iso, stop_server

LOOKBACK = timedelta(hours=2)  # docs/alerting.md, "Likely causes"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(tmp_path_factory.mktemp("causes"), T0 + timedelta(days=1))
    yield s
    stop_server(server, thread)


def _annotate(srv: AlertServer, key: str, t: datetime, title: str, **body: Any) -> None:
    with srv.client(key) as c:
        r = c.post("/v1/annotations", json={"time": iso(t), "title": title, **body})
        assert r.status_code == 201, r.text


def test_firing_alert_lists_changes_just_before_it(srv: AlertServer, receiver: Receiver) -> None:
    start = srv.clock()
    fired = start + timedelta(minutes=10)  # when the round below opens the alert
    # (time, title, concerns the alert?)
    notes = [
        (start - timedelta(minutes=30), "deploy 7.1", {}, True),
        (start - timedelta(hours=3), "deploy 7.0", {}, False),  # before the look-back
        (start - timedelta(minutes=20), "search retune", {"prompt_id": "search"}, False),
        (start - timedelta(minutes=25), "support retune", {"prompt_id": "support"}, True),
    ]
    for t, title, filters, _ in notes:
        _annotate(srv, srv.key, t, title, kind="config", filters=filters)
    other = srv.live.key("elsewhere", "ingest,read")
    _annotate(srv, other, start - timedelta(minutes=5), "elsewhere deploy", kind="deploy")
    # Versions: support v1 long before, support v2 and search v9 first called just before.
    calls = [
        event(start - timedelta(hours=5, minutes=k), f"v1-{k}", prompt_version="v1")
        for k in range(5)
    ]
    calls.append(event(start - timedelta(minutes=10), "v2-first", prompt_version="v2"))
    calls.append(event(start - timedelta(minutes=15), "s9", prompt="search", prompt_version="v9"))
    for m in range(10):
        for k in range(10):
            t = start + timedelta(minutes=m, seconds=6 * k)
            status = "error" if k < 5 else "success"
            calls.append(event(t, f"e-{m}-{k}", status=status, prompt_version="v2"))
    srv.ingest(calls)
    with srv.client(srv.key) as c:
        rule = c.post(
            "/v1/alerts/rules",
            json={
                "name": "support errors",
                "metric": "error_rate",
                "operator": ">",
                "threshold": 0.2,
                "window": "5m",
                "min_requests": 10,
                "filters": {"prompt_id": "support"},
                "channels": [{"type": "webhook", "url": receiver.url + "/hook"}],
            },
        )
        assert rule.status_code == 201, rule.text
    srv.clock.set(fired)
    store = srv.live.ctx.store
    read = store.version_starts
    reads: list[object] = []  # the real store's reads of first calls, counted
    store.version_starts = lambda scope: reads.append(scope) or read(scope)
    try:
        changes = [c for c in srv.evaluate()["changes"] if c["source_id"] == rule.json()["id"]]
    finally:
        del store.version_starts
    assert [c["to"] for c in changes] == ["firing"]
    assert len(reads) == 1  # read once for the incident's grouping and the notification

    in_window = [(t, title) for t, title, _, mine in notes if mine and fired - t <= LOOKBACK]
    in_window.append((start - timedelta(minutes=10), "support v2: first call"))
    want = [title for _, title in sorted(in_window, reverse=True)]  # newest first

    body = receiver.wait_for(1)[0].body
    assert body["event"] == "firing"
    assert [c["title"] for c in body["likely_causes"]] == want
    assert all(c["project"] == srv.project for c in body["likely_causes"])
    version = next(c for c in body["likely_causes"] if c["source"] == "prompt_version")
    assert version["time"] == iso(start - timedelta(minutes=10))
    with srv.client(srv.key) as c:
        alert = c.get(f"/v1/alerts/{changes[0]['alert_id']}").json()
    assert [x["title"] for x in alert["likely_causes"]] == want
