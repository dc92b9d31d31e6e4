"""A real server on a simulated clock sends a weekly report (Europe/Paris, MON 08:00) by email
(aiosmtpd), webhook (a real HTTP receiver) and to files, once per period across a restart; its
figures equal /v1/metrics/overview for the same period; the recommendations fire on the prompts
built to trigger them and on no other; `promptpulse report` prints the same report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptpulse.reports.render import value
from tests.alerts.conftest import SimClock, event
from tests.conftest import LiveServer, iso, start_server, stop_server
from tests.notify.conftest import Mailbox, Receiver

PROJECT = "shop"
# The report's week in Paris: Monday 9 March 00:00 CET to Monday 16 March (UTC+1).
WEEK = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
PREV = WEEK - timedelta(days=7)
SEND = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)  # MON 08:00 in Paris


def _calls(start: datetime, prompt: str, n: int, tag: str, **kw: Any) -> list[dict[str, Any]]:
    """n calls spread over six days from `start`; `errors` of them fail."""
    errors = kw.pop("errors", 0)
    out = []
    for i in range(n):
        t = start + timedelta(hours=2) + timedelta(minutes=i * (6 * 24 * 60 // n))
        status = "error" if i < errors else "success"
        out.append(
            event(t, f"{tag}-{prompt}-{kw.get('model', 'm')}-{i}", prompt=prompt, status=status,
                  user_id=f"u{i % 7}", latency=200.0 + i, **kw)
        )  # fmt: skip
    return out


def traffic() -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    for start, tag, current in ((PREV, "p", False), (WEEK, "c", True)):
        # verbose: output tokens per request 100 -> 150 (+50 %): recommendation.
        ev += _calls(start, "verbose", 60, tag, output_tokens=150 if current else 100)
        # steady: 100 -> 110 (+10 %), same error rate: nothing.
        ev += _calls(start, "steady", 60, tag, output_tokens=110 if current else 100, errors=1)
        # flaky: 2 % -> 25 % errors on 100 calls: recommendation (and an alert).
        ev += _calls(start, "flaky", 100, tag, errors=25 if current else 2)
        if current:
            # pricey: gpt-4o-mini at a fifth of gpt-4o's cost, both always succeed.
            ev += _calls(start, "pricey", 40, tag, model="gpt-4o", cost=0.01)
            ev += _calls(start, "pricey", 40, tag, model="gpt-4o-mini", cost=0.002)
            # quality: the cheap model fails 10 % more often: nothing.
            ev += _calls(start, "quality", 40, tag, model="gpt-4o", cost=0.01)
            ev += _calls(start, "quality", 40, tag, model="gpt-4o-mini", cost=0.001, errors=4)
    return ev


@dataclass
class Env:
    live: LiveServer
    clock: SimClock
    admin: str
    key: str
    reports_dir: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return self.live.client(key or self.admin)


def _start(data: Path, clock: SimClock, smtp: Mailbox, reports_dir: Path) -> Any:
    return start_server(
        data, clock=clock, alerts_interval_s=0, reports_interval_s=0.1,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}", reports_dir=reports_dir,
        rollup_interval_s=0, retention_interval_s=0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, smtp: Mailbox) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("reports")
    clock = SimClock(SEND - timedelta(hours=1))
    server, thread, live = _start(data, clock, smtp, data / "out")
    e = Env(live, clock, live.key(None, "admin"), live.key(PROJECT, "ingest,read,admin"),
            data / "out")  # fmt: skip
    with e.client(e.key) as c:
        r = c.post("/v1/events", json={"events": traffic()})
        assert r.status_code == 200 and r.json()["accepted"] == len(traffic()), r.text[:300]
        # An alert fires mid-week on flaky's errors; a budget for the month.
        r = c.post(
            "/v1/alerts/rules",
            json={
                "name": "flaky errors",
                "metric": "error_rate",
                "operator": ">",
                "threshold": 0.1,
                "window": "1d",
                "for": "0s",
                "min_requests": 5,
                "filters": {"prompt_id": "flaky"},
            },
        )
        assert r.status_code == 201, r.text
        r = c.post("/v1/budgets", json={"name": "monthly spend", "amount": 2.0,
                                        "period": "month"})  # fmt: skip
        assert r.status_code == 201, r.text
    clock.set(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))  # flaky's errors are early in the week
    with e.client() as c:
        fired = c.post("/v1/alerts/evaluate").json()["changes"]
        assert "flaky errors" in [x["name"] for x in fired if x["to"] == "firing"], fired
    clock.set(SEND - timedelta(hours=1))
    yield_state = {"server": server, "thread": thread}
    e.yield_state = yield_state  # type: ignore[attr-defined]
    try:
        yield e
    finally:
        stop_server(yield_state["server"], yield_state["thread"])


def _overview(e: Env, start: datetime, end: datetime) -> dict[str, Any]:
    with e.client(e.key) as c:
        r = c.get("/v1/metrics/overview", params={"from": iso(start), "to": iso(end)})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


FIGURE_PATHS = {
    "requests": ("requests",),
    "success_rate": ("success_rate",),
    "latency_p95_ms": ("latency_ms", "p95"),
    "cost_usd": ("cost_usd", "total"),
    "tokens": ("tokens", "total"),
    "active_users": ("active_users",),
}


def _dig(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for k in path:
        d = d[k]
    return d


def test_a_scheduled_week_arrives_once_by_email_webhook_and_file(
    env: Env, smtp: Mailbox, receiver: Receiver
) -> None:
    body = {
        "period": "week", "at": "MON 08:00", "timezone": "Europe/Paris",
        "channels": [{"type": "email", "to": ["team@example.com"]},
                     {"type": "webhook", "url": receiver.url + "/reports", "secret": "k"},
                     {"type": "file", "dir": "weekly"}],
    }  # fmt: skip
    with env.client(env.key) as c:
        r = c.post("/v1/reports/schedules", json=body)
        assert r.status_code == 201, r.text
        sched = r.json()
    assert sched["project"] == PROJECT and sched["next_send_at"] == iso(SEND)
    assert sched["channels"][1]["secret"] == "********"
    time.sleep(0.5)
    assert not smtp.messages, "nothing is due before MON 08:00 Paris"

    env.clock.set(SEND + timedelta(minutes=1))
    mail = smtp.wait_for(1)
    hooks = receiver.wait_for(1)
    assert len(mail) == 1 and len(hooks) == 1
    report = hooks[0].body["report"]
    assert hooks[0].body["event"] == "report"
    assert hooks[0].headers["X-PromptPulse-Signature"].startswith("sha256=")
    assert (report["start"], report["end"]) == (iso(WEEK), iso(WEEK + timedelta(days=7)))
    assert report["project"] == PROJECT and report["timezone"] == "Europe/Paris"

    # Figures equal the API's overview for the same two periods.
    now = _overview(env, WEEK, WEEK + timedelta(days=7))
    before = _overview(env, PREV, WEEK)
    for f in report["figures"]:
        path = FIGURE_PATHS[f["name"]]
        assert f["value"] == pytest.approx(_dig(now, path), rel=1e-12), f
        assert f["previous"] == pytest.approx(_dig(before, path), rel=1e-12), f
    assert now["requests"] == 60 + 60 + 100 + 80 + 80

    # The email: subject, a text part and an HTML part with the same figures.
    msg = mail[0]
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject == "PromptPulse weekly report · shop · 2026-03-09 – 2026-03-15"
    assert msg["To"] == "team@example.com"
    parts = {p.get_content_type(): bytes(p.get_payload(decode=True)).decode() for p in msg.walk()
             if not p.is_multipart()}  # fmt: skip
    cost = value(now["cost_usd"]["total"], "usd")
    for text in (parts["text/plain"], parts["text/html"]):
        assert f"{now['requests']:,}" in text and cost in text
        assert "flaky errors" in text and "monthly spend" in text

    # Recommendations: exactly the prompts built to trigger them.
    kinds = {(x["kind"], x["prompt_id"]) for x in report["recommendations"]}
    assert kinds == {
        ("output_tokens_growth", "verbose"),
        ("rising_error_rate", "flaky"),
        ("cheaper_model", "pricey"),
    }, kinds
    cheaper = next(x for x in report["recommendations"] if x["kind"] == "cheaper_model")
    assert cheaper["model"] == "gpt-4o" and cheaper["numbers"]["alternative"] == "gpt-4o-mini"
    movers = {(m["metric"], m["prompt_id"]) for m in report["movers"]}
    assert ("error_rate", "flaky") in movers
    assert "flaky errors" in [a["name"] for a in report["alerts"]]
    assert report["budgets"][0]["name"] == "monthly spend"
    assert report["forecast"]["projected"] >= report["forecast"]["to_date"] > 0

    # The file channel: Markdown and HTML under the reports directory.
    md = env.reports_dir / "weekly" / "report-shop-week-2026-03-09.md"
    html = md.with_suffix(".html")
    assert md.read_text().startswith("# PromptPulse weekly report · shop")
    assert "<table" in html.read_text() and "flaky errors" in html.read_text()

    # Once per period: more ticks, a manual run, and a restart send nothing more.
    with env.client() as c:
        assert c.post("/v1/reports/schedules/run").json() == {"sent": []}
    state = env.yield_state  # type: ignore[attr-defined]
    stop_server(state["server"], state["thread"])
    env.clock.advance(minutes=5)
    server, thread, live = _start(env.live.settings.data_dir, env.clock, smtp, env.reports_dir)
    state.update(server=server, thread=thread)
    env.live = live
    time.sleep(0.6)
    assert len(smtp.messages) == 1 and len(receiver.items) == 1
    with env.client(env.key) as c:
        got = c.get(f"/v1/reports/schedules/{sched['id']}").json()
    assert got["last_period_end"] == iso(WEEK + timedelta(days=7))
    assert [x["status"] for x in got["last_result"]] == ["sent", "sent", "sent"]


def test_preview_matches_and_the_cli_prints_it(env: Env) -> None:
    as_of = iso(SEND)
    params = {"period": "week", "timezone": "Europe/Paris", "as_of": as_of}
    with env.client(env.key) as c:
        js = c.get("/v1/reports/preview", params=params).json()
        md = c.get("/v1/reports/preview", params={**params, "format": "markdown"})
        other = c.get("/v1/reports/preview", params={**params, "project": "other"})
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# PromptPulse weekly report · shop") and other.status_code == 403
    assert js["start"] == iso(WEEK) and js["figures"][0]["value"] == 380

    from tests.cli.helpers import run

    done = run("report", "--period", "week", "--timezone", "Europe/Paris", "--as-of", as_of,
               "--url", env.live.url, "--api-key", env.key)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "PromptPulse weekly report · shop" in out and "Key figures" in out
    assert "380" in out and "Recommendations" in out and "'verbose'" in out
    done = run("report", "--period", "week", "--timezone", "Europe/Paris", "--as-of", as_of,
               "--url", env.live.url, "--api-key", env.key, "--format", "markdown")  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == md.text.strip()


def test_schedule_crud_and_scoping(env: Env, receiver: Receiver) -> None:
    read = env.live.key(PROJECT, "read")
    body = {"period": "day", "channels": [{"type": "webhook", "url": receiver.url + "/x",
                                          "secret": "s"}]}  # fmt: skip
    with env.client(env.key) as c:
        assert c.post("/v1/reports/schedules", json={**body, "project": "other"}).status_code == 403
        bad = c.post("/v1/reports/schedules", json={**body, "at": "MON 08:00"})
        assert bad.status_code == 422 and "HH:MM" in bad.text
        escape = c.post(
            "/v1/reports/send",
            json={"period": "day", "channels": [{"type": "file", "dir": "../x"}]},
        )
        assert escape.status_code == 422 and "outside the reports directory" in escape.text
        made = c.post("/v1/reports/schedules", json=body).json()
        back = {**body, "channels": made["channels"], "at": "07:30"}
        put = c.put(f"/v1/reports/schedules/{made['id']}", json=back)
        assert put.status_code == 200 and put.json()["at"] == "07:30"
    with env.client(read) as c:
        assert made["id"] in [s["id"] for s in c.get("/v1/reports/schedules").json()["schedules"]]
        assert c.delete(f"/v1/reports/schedules/{made['id']}").status_code == 403
    with env.client(env.key) as c:
        assert c.delete(f"/v1/reports/schedules/{made['id']}").status_code == 204
        assert c.get(f"/v1/reports/schedules/{made['id']}").status_code == 404
