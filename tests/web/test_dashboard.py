"""The dashboard in a real Chromium (Debian's, driven by Playwright) over a real server.

One browser per module; pages are reused. Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import iso

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PAGES = {
    "overview": "/",
    "performance": "/performance",
    "prompts": "/prompts",
    "prompt": "/prompts/beta",
    "compare": "/compare",
    "cost": "/cost",
    "errors": "/errors",
    "experiments": "/experiments",
    "experiment": "/experiments/{experiment}",
    "alerts": "/alerts",
    "users": "/users",
    "dashboards": "/dashboards",
    "custom-metrics": "/custom-metrics",
}
OVERVIEW_KPIS = {
    "requests": lambda o: o["requests"],
    "success_rate": lambda o: o["success_rate"],
    "latency_p95_ms": lambda o: o["latency_ms"]["p95"],
    "cost_usd": lambda o: o["cost_usd"]["total"],
    "tokens": lambda o: o["tokens"]["total"],
    "active_users": lambda o: o["active_users"],
}
CHARTLESS = ("prompts", "experiments", "dashboards", "custom-metrics")  # pages of tables alone
DRAWN = """() => [...document.querySelectorAll('[data-chart]')].map(el => {
  const c = el.querySelector('canvas');
  if (!c || !c.width) return [el.dataset.chart, 0];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return [el.dataset.chart, n];
})"""


def _calls(now: datetime) -> list[dict[str, Any]]:
    """A small known world: three prompts on three models, errors with messages, older calls."""
    out: list[dict[str, Any]] = []

    def add(n: int, minutes_ago: float, **f: Any) -> None:
        for i in range(n):
            out.append(
                {
                    "id": f"e{len(out)}",
                    "timestamp": iso(now - timedelta(minutes=minutes_ago + i)),
                    "user_id": f"u{i % 4}",
                    "input_tokens": 100 + i,
                    "output_tokens": 20 + i,
                    **f,
                }
            )

    add(
        30,
        2,
        prompt_id="alpha",
        prompt_version="v1",
        model="m-fast",
        latency_ms=120,
        cost_usd=0.001,
    )
    add(
        20,
        3,
        prompt_id="alpha",
        prompt_version="v2",
        model="m-fast",
        latency_ms=150,
        cost_usd=0.001,
    )
    add(25, 4, prompt_id="beta", prompt_version="v1", model="m-slow", latency_ms=900, cost_usd=0.02)
    add(8, 5, prompt_id="gamma", prompt_version="v1", model="m-mid", latency_ms=400, cost_usd=0.005)
    add(
        2,
        6,
        prompt_id="gamma",
        prompt_version="v1",
        model="m-mid",
        latency_ms=30000,
        cost_usd=0.005,
        status="error",
        error_type="timeout",
        error_message="upstream timed out",
        http_status=504,
    )
    add(
        3,
        7,
        prompt_id="alpha",
        prompt_version="v2",
        model="m-fast",
        latency_ms=80,
        cost_usd=0.001,
        status="error",
        error_type="rate_limit",
        error_message="429 slow down",
        http_status=429,
    )
    add(
        10,
        180,
        prompt_id="alpha",
        prompt_version="v1",
        model="m-fast",
        latency_ms=110,
        cost_usd=0.001,
    )  # older than an hour: 1h and 24h differ
    return out


def seed_ops(live, project: str, now: datetime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Rules, a budget, an SLO and an experiment over the known world, and one evaluation round
    so that alerts are open: gamma's errors and p95 (per prompt), budget thresholds, SLO burn."""
    ops = live.key(project, "read,admin")
    with live.client(ops) as c:
        rules = [
            {"name": "gamma errors", "metric": "error_rate", "operator": ">", "threshold": 0.05,
             "window": "1h", "for": "0s", "min_requests": 5, "severity": "critical",
             "filters": {"prompt_id": "gamma"}, "runbook_url": "https://wiki.example.com/rb"},
            {"name": "p95 slow", "metric": "latency_p95_ms", "operator": ">", "threshold": 5000,
             "window": "1h", "for": "0s", "min_requests": 5, "severity": "warning",
             "group_by": "prompt_id"},
            {"name": "traffic drop", "template": "traffic_drop", "enabled": False},
        ]  # fmt: skip
        for rule in rules:
            r = c.post("/v1/alerts/rules", json=rule)
            assert r.status_code == 201, r.text
        r = c.post("/v1/budgets", json={"name": "dash monthly", "amount": 1.0})
        assert r.status_code == 201, r.text
        r = c.post("/v1/slos", json={"name": "availability", "objective": 0.99, "window": "1d"})
        assert r.status_code == 201, r.text
        r = c.post(
            "/v1/experiments",
            json={
                "name": "alpha v2",
                "hypothesis": "v2 answers as well for less",
                "variants": [{"filter": "prompt_version=v1"}, {"filter": "prompt_version=v2"}],
                "mde": 0.05,
                "start": iso(now - timedelta(days=2)),
            },
        )
        assert r.status_code == 201, r.text
        experiment = r.json()["id"]
    with live.client(live.key(None, "admin")) as a:  # a round for every project, now
        assert a.post("/v1/alerts/evaluate").status_code == 200
    return {"ops_key": ops, "experiment": experiment}


@pytest.fixture(scope="module")
def world(live) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    project = "dash"
    key = live.key(project, "ingest,read")
    now = datetime.now(UTC)
    with live.client(key) as c:
        r = c.post("/v1/events", json={"events": _calls(now)})
        assert r.status_code == 200, r.text
        catalog = {m["name"]: m for m in c.get("/v1/metrics/catalog").json()["metrics"]}
    ops = seed_ops(live, project, now)
    return {"key": key, "project": project, "catalog": catalog, **ops}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Tab:
    """One signed-in tab that records console errors."""

    def __init__(self, browser: Any, url: str, key: str | None, **context: Any) -> None:
        self.url = url
        self.context = browser.new_context(**context)
        if key:
            self.context.add_init_script(f"sessionStorage.setItem('pp-key', {key!r})")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str) -> Any:
        self.page.goto(self.url + path)
        self.page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        return self.page

    def updates(self) -> int:
        return int(self.page.evaluate("+(document.body.dataset.updates || 0)"))

    def wait_update(self, after: int) -> None:
        self.page.wait_for_function(
            "n => document.body.dataset.state === 'ready' && +document.body.dataset.updates > n",
            arg=after,
            timeout=30_000,
        )

    def kpis(self) -> dict[str, str]:
        return dict(
            self.page.eval_on_selector_all(
                "[data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value])"
            )
        )

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlparse(self.page.url).query)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def tab(browser, live, world) -> Iterator[Tab]:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, world["key"], viewport={"width": 1400, "height": 900})
    yield t
    t.close()


def _same(shown: str, expected: float | None) -> bool:
    if expected is None:
        return shown == ""
    return math.isclose(float(shown), expected, rel_tol=0, abs_tol=0) or float(shown) == expected


def _check_overview_kpis(tab: Tab, live, key: str, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with live.client(key) as c:
        o = c.get("/v1/metrics/overview", params=params).json()
    shown = tab.kpis()
    assert set(OVERVIEW_KPIS) <= set(shown)
    for metric, pick in OVERVIEW_KPIS.items():
        assert _same(shown[metric], pick(o)), (metric, shown[metric], pick(o))
    return o


def test_no_data_without_signing_in(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, None, viewport={"width": 1200, "height": 800})
    try:
        requests: list[str] = []
        t.page.on("request", lambda r: requests.append(r.url))
        t.page.goto(live.url + "/cost")
        t.page.wait_for_selector("input[name=api_key]")
        assert not [u for u in requests if "/v1/" in u]
        assert t.page.locator("[data-metric]").count() == 0
        t.page.fill("input[name=api_key]", "pp_not-a-key")
        t.page.click("button[type=submit]")
        t.page.wait_for_selector("text=unknown or revoked")
        t.errors.clear()  # the browser logs the refused request; that one is expected
        t.page.fill("input[name=api_key]", world["key"])
        t.page.click("button[type=submit]")
        t.page.wait_for_selector("body[data-state=ready]")
        assert t.page.evaluate("sessionStorage.getItem('pp-key')") == world["key"]
        assert t.page.locator("[data-metric=cost_usd]").count() == 1
        t.page.click("[data-action=signout]")
        t.page.wait_for_selector("input[name=api_key]")
        assert t.page.evaluate("sessionStorage.getItem('pp-key')") is None
        assert t.errors == []
    finally:
        t.close()


def test_kpis_are_the_apis_figures_for_the_same_range(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    window = {"from": iso(now - timedelta(hours=2)), "to": iso(now + timedelta(minutes=1))}
    tab.open(f"/?from={window['from']}&to={window['to']}")
    o = _check_overview_kpis(tab, live, world["key"], window)
    assert o["requests"] == 88
    # a preset: the page says which range it resolved, and the figures are the API's for it
    tab.open("/?range=24h")
    main = tab.page.locator("main")
    resolved = {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}
    o = _check_overview_kpis(tab, live, world["key"], resolved)
    assert o["requests"] == 98
    assert tab.errors == []


def test_range_and_filter_change_url_cards_and_charts(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    volume = (
        "echarts.getInstanceByDom(document.querySelector('[data-chart=requests]'))"
        ".getOption().series[0].data.map(d => d && typeof d === 'object' ? d.value : d)"
    )
    before_cards, before_chart = tab.kpis(), page.evaluate(volume)
    n = tab.updates()
    page.click("[data-range='1h']")
    tab.wait_update(n)
    assert tab.query()["range"] == ["1h"]
    after_cards, after_chart = tab.kpis(), page.evaluate(volume)
    assert float(after_cards["requests"]) == 88 and float(before_cards["requests"]) == 98
    assert after_chart != before_chart and len(after_chart) != len(before_chart)
    main = page.locator("main")
    resolved = {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}
    _check_overview_kpis(tab, live, world["key"], resolved)

    n = tab.updates()
    page.select_option("select[name=filter-dim]", "prompt_id")
    page.wait_for_selector("select[name=filter-value] option[value=beta]", state="attached")
    page.select_option("select[name=filter-value]", "beta")
    tab.wait_update(n)
    assert tab.query()["prompt_id"] == ["beta"]
    assert page.locator("[data-filter=prompt_id][data-filter-value=beta]").count() == 1
    filtered = tab.kpis()
    assert float(filtered["requests"]) == 25
    assert sum(page.evaluate(volume)) == 25
    resolved = {
        "from": main.get_attribute("data-from"),
        "to": main.get_attribute("data-to"),
        "prompt_id": "beta",
    }
    _check_overview_kpis(tab, live, world["key"], resolved)
    # the URL alone reproduces the view
    link = page.url
    tab.open(urlparse(link).path + "?" + urlparse(link).query)
    assert float(tab.kpis()["requests"]) == 25
    n = tab.updates()
    page.click("[data-action=clear-filters]")
    tab.wait_update(n)
    assert "prompt_id" not in tab.query()
    assert tab.errors == []


def test_live_mode_shows_a_new_call_within_5_seconds(browser, live) -> None:  # type: ignore[no-untyped-def]
    key = live.key("dash-live", "ingest,read")
    t = Tab(browser, live.url, key, viewport={"width": 1200, "height": 800})
    try:
        t.open("/?range=1h")
        t.page.click("[data-action=live]")
        t.page.wait_for_selector("[data-action=live][aria-pressed=true]")
        assert t.query()["live"] == ["1"]
        t.page.wait_for_selector("[data-metric=requests][data-value='0']")
        with live.client(key) as c:
            r = c.post(
                "/v1/events",
                json={
                    "events": [
                        {
                            "timestamp": iso(datetime.now(UTC) - timedelta(seconds=1)),
                            "model": "m-live",
                            "latency_ms": 42,
                            "prompt_id": "live-one",
                        }
                    ]
                },
            )
            assert r.status_code == 200
        # seen within 5 s of the ingest call returning
        t.page.wait_for_selector("[data-metric=requests][data-value='1']", timeout=5_000)
        assert t.errors == []
    finally:
        t.close()


COMPARE_CELLS = """els => els.map(e => ({
  metric: e.closest('tr').dataset.metric, item: e.dataset.item, value: e.dataset.value,
  diff: e.dataset.diff, low: e.dataset.ciLow, high: e.dataset.ciHigh, p: e.dataset.p,
  significant: e.dataset.significant, best: e.dataset.best === 'true'}))"""


def _num(shown: str | None) -> float | None:
    return None if shown in (None, "") else float(shown)


def _check_comparison(page: Any, table: str, answer: dict[str, Any]) -> dict[str, str]:
    """The table shows the API's figures, differences, CIs and p-values; ★ exactly where the
    API's `best` names a variant. Returns {metric: marked variant}."""
    cells = page.eval_on_selector_all(f"table[data-table={table}] td[data-item]", COMPARE_CELLS)
    variants = {v["value"]: v for v in answer["variants"]}
    tests = {(c["metric"], c["variant"]): c for c in answer["comparisons"]}
    assert cells
    for cell in cells:
        assert _num(cell["value"]) == variants[cell["item"]][cell["metric"]], cell
        c = tests.get((cell["metric"], cell["item"]))
        if c is not None:
            assert _num(cell["diff"]) == c["difference"], cell
            assert _num(cell["low"]) == c["ci_low"] and _num(cell["high"]) == c["ci_high"], cell
            assert _num(cell["p"]) == c["p_value_adjusted"], cell
            assert cell["significant"] == str(c["significant"]).lower(), cell
    marked = {c["metric"]: c["item"] for c in cells if c["best"]}
    assert len(marked) == sum(c["best"] for c in cells)  # at most one ★ per row
    assert marked == {m: v for m, v in answer["best"].items() if v is not None}
    return marked


def test_compare_marks_what_the_api_finds_significant(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/compare?range=24h&cmp_by=model&cmp=m-slow&cmp=m-fast&cmp=m-mid")
    main = page.locator("main")
    params = {
        "from": main.get_attribute("data-from"),
        "to": main.get_attribute("data-to"),
        "by": "model",
        "values": "m-slow,m-fast,m-mid",
    }
    with live.client(world["key"]) as c:
        answer = c.get("/v1/compare", params=params).json()
    marked = _check_comparison(page, "compare", answer)
    # the known world: m-fast is significantly faster and cheaper than the control m-slow; no
    # success rate differs significantly at these counts, so that row has no ★ and no winner
    assert marked["latency_p95_ms"] == "m-fast"
    assert marked["cost_per_request_usd"] == "m-fast"
    assert "success_rate" not in marked and "requests" not in marked
    box = page.locator("[data-verdict]")
    assert box.get_attribute("data-winner") == "" and answer["winner"] is None
    assert box.get_attribute("data-verdict") == answer["verdict"]
    shown = page.eval_on_selector_all(
        "table[data-table=compare] thead th[data-item]", "els => els.map(e => e.dataset.item)"
    )
    assert shown == ["m-slow", "m-fast", "m-mid"]
    drawn = dict(page.evaluate(DRAWN))
    assert len(drawn) == 4 and all(v > 0 for v in drawn.values()), drawn

    # deciding by p95 latency: m-fast is better and no guardrail is worse, so it wins
    n = tab.updates()
    page.select_option("select[name=primary]", "latency_p95_ms")
    tab.wait_update(n)
    assert tab.query()["primary"] == ["latency_p95_ms"]
    params = {
        "from": main.get_attribute("data-from"),
        "to": main.get_attribute("data-to"),
        "by": "model",
        "values": "m-slow,m-fast,m-mid",
        "primary": "latency_p95_ms",
    }
    with live.client(world["key"]) as c:
        answer = c.get("/v1/compare", params=params).json()
    _check_comparison(page, "compare", answer)
    assert answer["winner"] == "m-fast"
    assert box.get_attribute("data-winner") == "m-fast"
    assert box.get_attribute("data-verdict") == answer["verdict"]
    assert page.locator("tr.primary-row").get_attribute("data-metric") == "latency_p95_ms"
    assert tab.errors == []


def test_experiment_page_shows_srm_decision_and_plan(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/experiments")
    n = tab.updates()
    page.click(f"a[data-experiment='{world['experiment']}']")
    tab.wait_update(n)
    assert urlparse(page.url).path == f"/experiments/{world['experiment']}"
    with live.client(world["key"]) as c:
        res = c.get(f"/v1/experiments/{world['experiment']}/results").json()
    # v1 got 75 calls, v2 23 against an intended 50/50: the mismatch is flagged first and loudly
    assert res["srm"]["mismatch"] is True
    banner = page.locator("[data-srm]")
    assert banner.get_attribute("data-srm") == "mismatch"
    assert "do not trust" in banner.inner_text().lower()
    assert page.locator("[data-decision]").first.get_attribute("data-decision") == res["decision"]
    plan = dict(
        page.eval_on_selector_all(
            "[data-plan]", "els => els.map(e => [e.dataset.plan, e.dataset.value])"
        )
    )
    assert _num(plan["per_variant"]) == res["plan"]["per_variant"]
    assert _num(plan["calls_so_far"]) == res["plan"]["calls_so_far"]
    # a running experiment's rate moves with the clock between the two reads
    assert _num(plan["days_to_go"]) == pytest.approx(res["plan"]["days_to_go"], rel=0.01)
    _check_comparison(page, "experiment", res)
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == res["verdict"]
    rows = page.locator("table[data-table=sequential] tbody tr").count()
    assert rows == len(res["sequential"]["tests"])
    drawn = dict(page.evaluate(DRAWN))
    assert set(drawn) == {"experiment-daily-calls", "experiment-daily-primary"}
    assert all(v > 0 for v in drawn.values()), drawn
    last = len(page.evaluate(OPTION, "experiment-daily-calls")["xAxis"][0]["data"]) - 1
    for chart in drawn:  # running: today's UTC day is still filling
        assert page.get_attribute(f"[data-chart={chart}]", "data-partial") == str(last)
    assert tab.errors == []


def _alert_states(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "table[data-table=open-alerts] tbody tr[data-alert]",
            "rows => rows.map(r => [r.dataset.alert, r.dataset.state])",
        )
    )


def test_alerts_page_with_a_read_key(tab, live, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/alerts")
    with live.client(world["key"]) as c:
        open_ = c.get("/v1/alerts", params={"state": "open", "limit": 200}).json()["alerts"]
        budgets = c.get("/v1/budgets").json()["budgets"]
        slos = c.get("/v1/slos").json()["slos"]
        rules = c.get("/v1/alerts/rules").json()["rules"]
    assert _alert_states(page) == {a["id"]: a["state"] for a in open_}
    assert {a["name"] for a in open_} >= {"gamma errors", "p95 slow (prompt_id=gamma)"}
    firing = page.locator("[data-count=firing]").get_attribute("data-value")
    assert _num(firing) == sum(a["state"] == "firing" for a in open_)
    # a read key sees the buttons disabled, with a hint why
    assert page.locator("[data-hint=admin]").count() == 1
    buttons = page.locator("button[data-action=acknowledge], button[data-action=resolve]")
    assert buttons.count() == 2 * len(open_)
    assert all(buttons.nth(i).is_disabled() for i in range(buttons.count()))
    shown_rules = page.eval_on_selector_all("[data-rule]", "els => els.map(e => e.dataset.rule)")
    assert sorted(shown_rules) == sorted(r["id"] for r in rules)
    (budget,) = budgets
    gauge = page.locator(f"[data-budget='{budget['id']}']")
    assert _num(gauge.get_attribute("data-spent")) == budget["status"]["spent"]
    assert _num(gauge.get_attribute("data-amount")) == budget["status"]["amount"] == 1.0
    (slo,) = slos
    left = page.locator(f"[data-slo='{slo['id']}'] [data-slo-remaining]")
    assert _num(left.get_attribute("data-slo-remaining")) == slo["status"]["error_budget_remaining"]
    drawn = dict(page.evaluate(DRAWN))
    assert set(drawn) == {f"budget-{budget['id']}", f"slo-{slo['id']}"}
    assert all(v > 0 for v in drawn.values()), drawn
    assert tab.errors == []


def test_alerts_acknowledge_and_resolve_with_an_admin_key(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, world["ops_key"], viewport={"width": 1300, "height": 900})
    try:
        page = t.open("/alerts")
        assert page.locator("[data-hint=admin]").count() == 0
        with live.client(world["key"]) as c:
            (gamma,) = [
                a
                for a in c.get("/v1/alerts", params={"state": "open"}).json()["alerts"]
                if a["name"] == "gamma errors"
            ]
        assert _alert_states(page)[gamma["id"]] == "firing"
        n = t.updates()
        page.click(f"button[data-action=acknowledge][data-alert='{gamma['id']}']")
        t.wait_update(n)
        assert _alert_states(page)[gamma["id"]] == "acknowledged"
        with live.client(world["key"]) as c:
            after = c.get(f"/v1/alerts/{gamma['id']}").json()
        assert after["state"] == "acknowledged" and after["ack_note"]
        ack = page.locator(f"button[data-action=acknowledge][data-alert='{gamma['id']}']")
        assert ack.is_disabled()  # already acknowledged
        n = t.updates()
        page.click(f"button[data-action=resolve][data-alert='{gamma['id']}']")
        t.wait_update(n)
        assert gamma["id"] not in _alert_states(page)
        with live.client(world["key"]) as c:
            assert c.get(f"/v1/alerts/{gamma['id']}").json()["state"] == "resolved"
        resolved = page.eval_on_selector_all(
            "table[data-table=resolved-alerts] tbody td[data-key=name]",
            "els => els.map(e => e.textContent)",
        )
        assert any("gamma errors" in r for r in resolved)
        assert t.errors == []
    finally:
        t.close()


def test_errors_page_lists_failing_calls_with_messages(tab, world) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/errors?range=24h")
    messages = page.eval_on_selector_all(
        "table[data-table=recent-errors] td[data-key=error_message]",
        "els => els.map(e => e.textContent)",
    )
    assert sorted(messages) == ["429 slow down"] * 3 + ["upstream timed out"] * 2
    cells = dict(
        page.eval_on_selector_all(
            "table[data-table=prompt-error-matrix] tbody tr",
            "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])",
        )
    )
    assert cells == {"alpha": "3", "gamma": "2"}
    assert tab.errors == []


def test_chart_exports_csv_and_png(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    card = page.locator("[data-card=requests]")
    with page.expect_download() as got:
        card.locator("[data-export=csv]").click()
    text = Path(got.value.path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0] == "t,requests"
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == 98
    with page.expect_download() as got:
        card.locator("[data-export=png]").click()
    assert Path(got.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tab.errors == []


def test_prompts_table_sorts_searches_and_opens_a_prompt(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/prompts?range=24h")
    names = "els => els.map(e => e.textContent)"
    first = page.eval_on_selector_all("table[data-table=prompts] a[data-prompt]", names)
    assert first == ["alpha", "beta", "gamma"]  # by requests, most first
    page.click("table[data-table=prompts] th[data-key=latency_p95_ms]")
    assert (
        page.eval_on_selector_all("table[data-table=prompts] a[data-prompt]", names)[0] == "gamma"
    )
    page.fill("input[name=q]", "et")
    assert page.eval_on_selector_all("table[data-table=prompts] a[data-prompt]", names) == ["beta"]
    n = tab.updates()
    page.click("a[data-prompt=beta]")
    tab.wait_update(n)
    assert urlparse(page.url).path == "/prompts/beta"
    assert page.locator("[data-metric=requests]").get_attribute("data-value") == "25"
    versions = page.eval_on_selector_all(
        "table[data-table=versions] tbody tr td:first-child", names
    )
    assert versions == ["v1"]
    assert tab.errors == []


OPTION = "id => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`)).getOption()"


def test_the_last_bucket_is_drawn_partial(tab) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/?range=24h")
    volume = page.evaluate(OPTION, "requests")
    last = len(volume["xAxis"][0]["data"]) - 1
    assert page.get_attribute("[data-chart=requests]", "data-partial") == str(last)
    bars = volume["series"][0]["data"]
    assert bars[last]["partial"] and bars[last]["itemStyle"]["opacity"] < 1
    assert all(not isinstance(b, dict) for b in bars[:last])  # full buckets are drawn as usual
    latency = page.evaluate(OPTION, "latency")
    dashed = [s for s in latency["series"] if s["lineStyle"].get("type") == "dashed"]
    assert {s["name"] for s in dashed} == {"p50", "p95", "p99"}
    for s in dashed:  # only the last segment, from the bucket before to the partial one
        assert [j for j, d in enumerate(s["data"]) if d is not None] == [last - 1, last]
    solid = [s for s in latency["series"] if s["lineStyle"].get("type") != "dashed"]
    assert all(s["data"][last] is None for s in solid)
    tip = page.locator("[data-chart=latency] [data-partial]")
    for attempt in range(10):  # a refresh redrawing the chart may hide a tip shown before it
        # ... and may move the partial bucket (a new hour began): find it again each time
        latency = page.evaluate(OPTION, "latency")
        last = len(latency["xAxis"][0]["data"]) - 1
        overlay = next(
            j for j, s in enumerate(latency["series"]) if s["lineStyle"].get("type") == "dashed"
        )
        page.evaluate(
            """([s, i]) => echarts.getInstanceByDom(document.querySelector('[data-chart=latency]'))
                 .dispatchAction({type: 'showTip', seriesIndex: s, dataIndex: i})""",
            [overlay, last],
        )
        try:
            tip.wait_for(state="attached", timeout=3000)
            break
        except playwright_api.TimeoutError:
            assert attempt < 9, "the partial bucket's tooltip never showed"
    assert "partial: up to now" in tip.inner_text()
    assert tab.errors == []


def test_the_interval_follows_the_range(tab) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    tab.page.on("request", lambda r: "/v1/metrics/timeseries" in r.url and seen.append(r.url))
    for preset, interval in (("1h", "minute"), ("24h", "hour"), ("7d", "day"), ("30d", "day")):
        for path in ("/", "/errors", "/prompts/beta", "/compare?cmp_by=model&cmp=m-fast"):
            seen.clear()
            tab.open(f"{path}{'&' if '?' in path else '?'}range={preset}")
            assert seen, path
            assert {parse_qs(urlparse(u).query)["interval"][0] for u in seen} == {interval}
    seen.clear()
    now = datetime.now(UTC)
    tab.open(f"/cost?from={iso(now - timedelta(days=90))}&to={iso(now)}")
    intervals = [parse_qs(urlparse(u).query)["interval"][0] for u in seen]
    assert "week" in intervals  # the spend chart; the weekday × hour heatmap stays hourly
    assert tab.errors == []


def test_a_series_keeps_its_colour_across_pages_and_ranges(tab) -> None:  # type: ignore[no-untyped-def]
    def donut(preset: str) -> dict[str, str]:
        page = tab.open(f"/?range={preset}")
        data = page.evaluate(OPTION, "models")["series"][0]["data"]
        return {d["name"]: d["itemStyle"]["color"] for d in data}

    day, week = donut("24h"), donut("7d")
    assert day == week and len(set(day.values())) == len(day) == 3
    page = tab.open("/compare?range=24h&cmp_by=model&cmp=m-slow&cmp=m-fast&cmp=m-mid")
    for chart in ("compare-requests", "compare-p95"):
        series = page.evaluate(OPTION, chart)["series"]
        assert {s["name"]: s["color"] for s in series} == day, chart
    assert tab.errors == []


# Counts every chart's resize() from page load on: `window.echarts` is wrapped on first use
# (the vendored UMD build fills the object after assigning it, so a setter would see no init).
COUNT_RESIZES = """(() => {
  window.__resizes = 0;
  let lib;
  Object.defineProperty(window, "echarts", { configurable: true,
    set(v) { lib = v; },
    get() {
      if (lib && lib.init && !lib.__counted) {
        const init = lib.init;
        lib.init = (...args) => {
          const chart = init(...args), resize = chart.resize.bind(chart);
          chart.resize = (...a) => { window.__resizes += 1; return resize(...a); };
          return chart;
        };
        lib.__counted = true;
      }
      return lib;
    } });
})()"""
BOXES = """() => [...document.querySelectorAll('[data-chart]')].filter(el => el.offsetParent)
  .map(el => [el.dataset.chart, echarts.getInstanceByDom(el).getWidth(),
              el.getBoundingClientRect().width])"""


def test_charts_draw_once_and_follow_their_box(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    """A page load renders each chart once (not again when the resize observer first reports
    the box it was drawn in); a box that changes size has its chart redrawn to fit it."""
    t = Tab(browser, live.url, world["key"], viewport={"width": 1400, "height": 900})
    try:
        t.context.add_init_script(COUNT_RESIZES)
        page = t.open("/?range=24h")
        page.wait_for_timeout(300)  # a few frames: the observer reports after layout
        assert page.evaluate("window.__resizes") == 0
        wide = page.evaluate(BOXES)
        assert len(wide) >= 7 and all(abs(c - b) < 1 for _, c, b in wide), wide
        page.set_viewport_size({"width": 900, "height": 900})
        page.wait_for_function("() => window.__resizes > 0")
        page.wait_for_timeout(300)
        narrow = page.evaluate(BOXES)
        assert all(abs(c - b) < 1 for _, c, b in narrow), narrow  # every chart fits its box
        after = {name: chart for name, chart, _ in narrow}
        moved = {name for name, before, _ in wide if after[name] != before}
        assert {"requests", "latency", "cost"} <= moved, (wide, narrow)  # the grid reflowed
        assert t.errors == []
    finally:
        t.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True}
LAYOUT = """id => {
  const chart = echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`));
  const view = chart.getViewOfComponentModel(chart.getModel().getComponent('legend'));
  const r = view.group.getBoundingRect();
  const pie = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(0);
  return {legend: {x: r.x + view.group.x, y: r.y + view.group.y, w: r.width, h: r.height},
          pie: {cx: pie.cx, cy: pie.cy, r: pie.r},
          width: chart.getWidth(), height: chart.getHeight()};
}"""


def _luminance(css: str) -> float:
    if css.startswith("#"):
        rgb = [int(css[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        rgb = [int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    lin = [
        (c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb
    ]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_phone_nav_donut_compare_and_wide_tables(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, world["key"], **PHONE)
    try:
        page = t.open("/?range=24h")
        for path in ("/", "/alerts"):  # every nav icon on screen, Alerts last
            box = page.locator(f"nav a[data-nav='{path}']").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (path, box)
        layout = page.evaluate(LAYOUT, "models")
        legend, pie = layout["legend"], layout["pie"]
        nearest_x = min(max(pie["cx"], legend["x"]), legend["x"] + legend["w"])
        nearest_y = min(max(pie["cy"], legend["y"]), legend["y"] + legend["h"])
        assert math.hypot(nearest_x - pie["cx"], nearest_y - pie["cy"]) > pie["r"], layout
        assert legend["y"] + legend["h"] <= layout["height"] and legend["x"] >= 0, layout

        page = t.open("/compare?range=24h&cmp=alpha&cmp=beta&cmp=gamma")
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('td.cmp, td.cmp *')]
                 .filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
                 .map(e => e.textContent)"""
        )
        assert clipped == []
        for el in page.locator(".toolbar label").all():
            box = el.bounding_box()
            assert box and box["x"] + box["width"] <= 390, box

        page = t.open("/prompts?range=24h")
        wrap = page.locator(".table-wrap:has(table[data-table=prompts])")
        assert wrap.get_attribute("data-overflow") == "right"  # more columns to the right
        after = page.evaluate(
            """() => { const s = document.querySelector(
                          '.table-wrap:has(table[data-table=prompts]) .table-scroll');
                        s.scrollLeft = s.scrollWidth; s.dispatchEvent(new Event('scroll'));
                        return s.parentElement.dataset.overflow; }"""
        )
        assert after == "left"
        page.wait_for_function(  # the shadow on the side with hidden columns
            """() => getComputedStyle(document.querySelector('.table-wrap[data-overflow]'),
                                      '::before').opacity === '1'"""
        )
        assert t.errors == []
    finally:
        t.close()


def test_dark_mode_chart_text_contrast_and_heatmap_scale(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    t = Tab(
        browser,
        live.url,
        world["key"],
        viewport={"width": 1400, "height": 900},
        color_scheme="dark",
    )
    try:
        page = t.open("/?range=24h")
        panel = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-card=latency]')).backgroundColor"
        )
        colors = page.evaluate(
            """() => { const el = document.querySelector('[data-chart=latency]');
                 const m = echarts.getInstanceByDom(el).getModel();
                 return [m.getComponent('xAxis').get(['axisLabel', 'color']),
                         m.getComponent('yAxis').get(['axisLabel', 'color']),
                         m.getComponent('legend').get(['textStyle', 'color'])]; }"""
        )
        for color in colors:
            assert _contrast(color, panel) >= 4.5, (color, panel)
        page = t.open("/cost?range=24h")
        heat = page.evaluate(
            """() => { const el = document.querySelector('[data-chart=spend-heatmap]');
                 const m = echarts.getInstanceByDom(el).getModel();
                 const v = m.getComponent('visualMap');
                 return {text: v.get('text'), colors: v.get(['inRange', 'color']),
                         label: v.get(['textStyle', 'color'])}; }"""
        )
        assert heat["text"] and all(x.startswith("$") for x in heat["text"])  # values on the scale
        assert _luminance(heat["colors"][0]) < 0.05  # the empty end is dark, not white
        assert _contrast(heat["label"], panel) >= 4.5
        assert t.errors == []
    finally:
        t.close()


def test_time_zone_setting_for_axis_labels_and_range_inputs(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    t = Tab(browser, live.url, world["key"], viewport={"width": 1400, "height": 900})
    try:
        page = t.open("/?range=24h")
        assert page.input_value("select[name=tz]") == "UTC"  # the default
        assert page.get_attribute("input[name=from]", "aria-label") == "From (UTC)"
        assert page.inner_text("[data-range-label]").endswith("UTC")
        n = t.updates()
        kolkata = page.evaluate(  # UTC+05:30 all year; older ICU calls it Asia/Calcutta
            """() => [...document.querySelectorAll('select[name=tz] option')].map(o => o.value)
                 .find(v => v === 'Asia/Kolkata' || v === 'Asia/Calcutta')"""
        )
        page.select_option("select[name=tz]", kolkata)
        t.wait_update(n)
        assert page.evaluate("localStorage.getItem('pp-tz')") == kolkata
        labels = page.evaluate(OPTION, "requests")["xAxis"][0]["data"]
        assert labels and all(x.endswith(":30") for x in labels), labels  # hours at :30
        assert page.inner_text("[data-range-label]").endswith(kolkata)
        assert page.inner_text("[data-tz-label]") == kolkata
        n = t.updates()
        page.click("[data-range=custom]")
        page.fill("input[name=from]", "2026-01-01T05:30")
        page.fill("input[name=to]", "2026-01-01T11:30")
        page.click("[data-form=custom-range] button[type=submit]")
        t.wait_update(n)
        assert t.query()["from"] == ["2026-01-01T00:00:00Z"]
        assert t.query()["to"] == ["2026-01-01T06:00:00Z"]
        assert page.input_value("input[name=from]") == "2026-01-01T05:30"
        page = t.open("/?range=24h")  # remembered
        assert page.input_value("select[name=tz]") == kolkata
        assert t.errors == []
    finally:
        t.close()


def test_the_key_survives_a_new_tab_and_sign_out_clears_every_tab(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        first = context.new_page()
        first.goto(live.url + "/")
        first.wait_for_selector("body[data-state=signin]")
        first.fill("input[name=api_key]", world["key"])
        first.click("button[type=submit]")
        first.wait_for_selector("body[data-state=ready]")
        assert first.evaluate("localStorage.getItem('pp-key')") is None  # not remembered
        second = context.new_page()  # a new tab of the same session
        second.goto(live.url + "/cost")
        second.wait_for_selector("body[data-state=ready]", timeout=30_000)
        second.click("[data-action=signout]")
        second.wait_for_selector("body[data-state=signin]")
        first.wait_for_selector("body[data-state=signin]")  # signed out there too
        assert first.evaluate("sessionStorage.getItem('pp-key')") is None
        third = context.new_page()
        third.goto(live.url + "/")
        third.wait_for_selector("body[data-state=signin]")
        # remembered on this device: a tab opened after every other one closed still has it
        third.fill("input[name=api_key]", world["key"])
        third.check("input[name=remember]")
        third.click("button[type=submit]")
        third.wait_for_selector("body[data-state=ready]")
        for p in (first, second, third):
            p.close()
        fourth = context.new_page()
        fourth.goto(live.url + "/")
        fourth.wait_for_selector("body[data-state=ready]", timeout=30_000)
        fourth.click("[data-action=signout]")
        fourth.wait_for_selector("body[data-state=signin]")
        assert fourth.evaluate("localStorage.getItem('pp-key')") is None
    finally:
        context.close()


@pytest.mark.slow
def test_every_page_draws_without_errors_light_dark_desktop_phone(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    devices = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
    for theme in ("light", "dark"):
        for device, viewport in devices.items():
            t = Tab(
                browser,
                live.url,
                world["key"],
                viewport=viewport,
                color_scheme=theme,
                is_mobile=device == "phone",
            )
            try:
                for name, path in PAGES.items():
                    path = path.format(experiment=world["experiment"])
                    page = t.open(path + ("&" if "?" in path else "?") + "range=24h")
                    assert page.evaluate("document.documentElement.dataset.theme") == theme
                    drawn = dict(page.evaluate(DRAWN))
                    assert drawn or name in CHARTLESS, name
                    assert all(v > 0 for v in drawn.values()), (
                        name,
                        [k for k, v in drawn.items() if not v],
                    )
                    if device == "phone":  # nothing wider than the screen
                        assert (
                            page.evaluate("document.documentElement.scrollWidth")
                            <= viewport["width"] + 1
                        ), name
                    page.screenshot(
                        path=str(ARTIFACTS / f"{name}-{theme}-{device}.png"), full_page=True
                    )
                assert t.errors == [], (theme, device, t.errors)
            finally:
                t.close()
    shots = {p.name for p in ARTIFACTS.glob("*.png")}  # other modules add their own shots
    assert {f"{n}-{t}-{d}.png" for n in PAGES for t in ("light", "dark") for d in devices} <= shots


def test_alerts_page_backtests_a_rule(browser, live, world) -> None:  # type: ignore[no-untyped-def]
    """The Backtest panel posts the rule, says what the API says, and draws the firings."""
    tab = Tab(browser, live.url, world["key"], viewport={"width": 1400, "height": 900})
    page = tab.open("/alerts")
    rule = {"name": "gamma errors", "metric": "error_rate", "operator": ">", "threshold": 0.05,
            "window": "1h", "min_requests": 5, "filters": {"prompt_id": "gamma"}}  # fmt: skip
    page.fill("[data-backtest-body]", json.dumps(rule))
    page.select_option("[data-backtest-days]", "1")
    page.click("[data-backtest-run]")
    summary = page.locator("[data-backtest-summary][data-count]")
    summary.wait_for(timeout=30_000)
    with live.client(world["key"]) as c:
        params = {
            "from": summary.get_attribute("data-from"),
            "to": summary.get_attribute("data-to"),
        }
        want = c.post("/v1/alerts/rules/backtest", params=params, json=rule).json()
    assert want["count"] >= 1
    assert int(summary.get_attribute("data-count") or -1) == want["count"]
    assert f"fired {want['count']} time" in summary.inner_text()
    assert page.locator("[data-card=backtest]").get_attribute("data-firings") == str(want["count"])
    page.wait_for_function("() => document.querySelector('[data-chart=backtest] canvas')")
    assert dict(page.evaluate(DRAWN))["backtest"] > 0
    page.fill("[data-backtest-body]", json.dumps({**rule, "window": "0m"}))  # a 422, said
    page.click("[data-backtest-run]")
    page.wait_for_function("() => !document.querySelector('[data-backtest-summary]').dataset.count")
    assert "window" in page.locator("[data-backtest-summary]").inner_text()
    assert [e for e in tab.errors if "status of 422" not in e] == []  # the browser logs the 422
    tab.close()
