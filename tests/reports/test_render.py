"""A report and a CLI table rendered from real data read by the one rule of `model.fmt`: no
exponent, no more decimals than the rule allows, and no huge percentage on a tiny baseline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from tests.alerts.conftest import event
from tests.conftest import InProcessApp, iso

WEEK = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
PREV = WEEK - timedelta(days=7)
AS_OF = WEEK + timedelta(days=7, hours=1)

EXPONENT = re.compile(r"\d[eE][+-]\d")
# from $1 exactly 2 decimals; below, at most 3 significant digits
MONEY_TOO_PRECISE = re.compile(r"\$[1-9][\d,]*\.(\d{3,}|\d(?!\d))|\$0\.0*[1-9]\d{3,}")
TOO_MANY_DECIMALS = re.compile(r"\d\.0*[1-9]\d{3,}")  # 4+ significant decimals
PCT_TOO_PRECISE = re.compile(r"\d\.\d{2,}\s?%")


def _traffic(project: str) -> list[dict[str, Any]]:
    out = []
    for i in range(12):  # a tiny previous week, every call free
        out.append(event(PREV + timedelta(hours=3 * i + 1), f"{project}-p{i}", cost=0.0,
                         project=project))  # fmt: skip
    for i in range(400):
        out.append(
            event(WEEK + timedelta(minutes=25 * i + 1), f"{project}-c{i}",
                  latency=11444.303499999998 if i % 9 == 0 else 203.17 + i * 0.013,
                  cost=0.0300356 + i * 1e-7, status="error" if i % 37 == 0 else "success",
                  prompt=f"prompt-{i % 3}", project=project)
        )  # fmt: skip
    return out


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")


def _assert_readable(text: str) -> None:
    text = ISO_TIME.sub("<time>", text)  # timestamps are not figures
    assert not EXPONENT.search(text), EXPONENT.search(text)
    assert not MONEY_TOO_PRECISE.search(text), MONEY_TOO_PRECISE.search(text)
    assert not TOO_MANY_DECIMALS.search(text), TOO_MANY_DECIMALS.search(text)
    assert not PCT_TOO_PRECISE.search(text), PCT_TOO_PRECISE.search(text)


def test_a_report_and_a_cli_table_read_by_the_rule(app: InProcessApp, project: str) -> None:
    key = app.key(project, "ingest,read,admin")
    with app.client(key) as c:
        r = c.post("/v1/events", json={"events": _traffic(project)})
        assert r.status_code == 200 and r.json()["accepted"] == 412, r.text[:300]
        params = {"period": "week", "as_of": iso(AS_OF)}
        texts = {
            f: c.get("/v1/reports/preview", params={**params, "format": f}).text
            for f in ("text", "markdown", "html")
        }
        as_json = c.get("/v1/reports/preview", params={**params, "format": "json"}).json()
        span = {"from": iso(WEEK), "to": iso(WEEK + timedelta(days=7))}
        overview = c.get("/v1/metrics/overview", params=span).json()
    md = texts["markdown"]
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    # 12 calls before: the requests change is "n/a", not +3,233%; cost was 0: "new".
    assert "| n/a |" in rows["Requests"] and "%" not in rows["Requests"].split("|")[4]
    assert "| new |" in rows["Cost"]
    assert "▲" not in rows["Requests"] and "▼" not in rows["Requests"]
    assert "| 400 |" in rows["Requests"] and "$12.02" in rows["Cost"]
    assert "11.4 s" in rows["p95 latency"]
    for text in texts.values():
        _assert_readable(text)
    # The webhook's JSON says the same: no raw +3,233 % on a 12-call baseline.
    figures = {f["name"]: f for f in as_json["figures"]}
    assert figures["requests"]["change"] is None and figures["requests"]["change_text"] == "n/a"
    assert figures["requests"]["better"] is None and figures["requests"]["delta"] == 388
    assert figures["cost_usd"]["change_text"] == "new" and figures["cost_usd"]["change"] is None

    from promptpulse.cli import query as cli_query

    recorded = Console(record=True, width=200)
    cli_query.console = recorded  # type: ignore[attr-defined]
    try:
        cli_query._print_overview(overview)
    finally:
        from promptpulse.cli.output import console

        cli_query.console = console  # type: ignore[attr-defined]
    table = recorded.export_text()
    _assert_readable(table)
    assert "11.4 s" in table and "$12.02" in table and "400" in table
