"""The Users pages in a real Chromium over a real server: what they show is the API's answer for
the same range (the API itself is checked against pandas in test_users_api.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlparse

import numpy as np
import pytest

from tests.conftest import iso
from tests.web.test_dashboard import ARTIFACTS, CHROMIUM, Tab, browser  # noqa: F401 (fixture)

PROJECT = "users-page"
ODD = "ada/lovelace ?&#é"  # a user id every link must carry URL-encoded
SERIES = """id => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`))
  .getOption().series.filter(s => !s.partialOf)
  .map(s => [s.name, s.data.map(d => d && typeof d === 'object' ? d.value : d)])"""


def _events(now: datetime) -> list[dict[str, Any]]:
    """Users first seen across the last 40 days, coming back on random later days."""
    rng = np.random.default_rng(5)
    out: list[dict[str, Any]] = []
    for u in [f"user-{i:02d}" for i in range(40)] + [ODD]:
        first = int(rng.integers(0, 40))
        days = [first] + [d for d in range(first) if rng.random() < 0.3]  # days ago
        for d in days:
            for _ in range(int(rng.integers(1, 4))):
                t = now - timedelta(days=d, seconds=int(rng.integers(60, 86_000)))
                error = rng.random() < 0.1
                out.append(
                    {
                        "id": f"up{len(out)}",
                        "timestamp": iso(t),
                        "user_id": u,
                        "prompt_id": ("support", "search")[int(rng.integers(0, 2))],
                        "model": ("m-fast", "m-slow")[int(rng.integers(0, 2))],
                        "latency_ms": float(rng.integers(50, 2000)),
                        "cost_usd": round(float(rng.uniform(0, 0.02)), 6),
                        "status": "error" if error else "success",
                        **({"error_type": "timeout"} if error else {}),
                    }
                )
    return out


@pytest.fixture(scope="module")
def seeded(live) -> str:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/ensure-chromium (make test does)")
    key = live.key(PROJECT, "ingest,read")
    with live.client(key) as c:
        r = c.post("/v1/events", json={"events": _events(datetime.now(UTC))})
        assert r.status_code == 200 and not r.json()["rejected"], r.text
    return str(key)


@pytest.fixture(scope="module")
def tab(browser, live, seeded) -> Iterator[Tab]:  # type: ignore[no-untyped-def]  # noqa: F811
    t = Tab(browser, live.url, seeded, viewport={"width": 1400, "height": 1000})
    yield t
    t.close()


def _range(tab: Tab) -> dict[str, str]:
    main = tab.page.locator("main")
    return {"from": main.get_attribute("data-from"), "to": main.get_attribute("data-to")}


def _api(live, key: str, path: str, **params: Any) -> Any:  # type: ignore[no-untyped-def]
    with live.client(key) as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _count(text: str) -> int:
    return int(text.replace(",", "").replace("\u202f", "").strip())


def test_users_page_shows_the_apis_figures(tab, live, seeded) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/users?range=30d")
    assert page.locator("nav a[data-nav='/users'].active").count() == 1
    scope = _range(tab)
    act = _api(live, seeded, "/v1/users/activity", interval="day", **scope)
    ret = _api(live, seeded, "/v1/users/retention", **scope)
    top = _api(live, seeded, "/v1/users/top", sort="requests", limit=20, **scope)
    last = act["points"][-1]
    kpis = tab.kpis()
    for k in ("dau", "wau", "mau", "new_users"):
        assert int(kpis[k]) == last[k], k
    assert last["mau"] > last["wau"] > 0  # a page with something on it
    active = dict(page.evaluate(SERIES, "users-active"))
    assert active == {k.upper(): [p[k] for p in act["points"]] for k in ("dau", "wau", "mau")}
    mix = dict(page.evaluate(SERIES, "users-new-returning"))
    assert mix["New"] == [p["new_users"] for p in act["points"]]
    assert mix["Returning"] == [p["returning_users"] for p in act["points"]]
    assert sum(mix["New"]) > 0 and sum(mix["Returning"]) > 0
    # retention: one row per cohort, each cell the API's rate (empty while not known)
    rows = page.eval_on_selector_all(
        "table[data-table=retention] tr[data-cohort]",
        """trs => trs.map(tr => [tr.dataset.cohort,
             +tr.querySelector('td[data-key=users]').dataset.value,
             [...tr.querySelectorAll('td[data-day]')]
               .map(td => [+td.dataset.day, td.dataset.value])])""",
    )
    want = [
        [
            c["cohort"],
            c["users"],
            [[d["day"], "" if d["rate"] is None else d["rate"]] for d in c["days"]],
        ]
        for c in ret["cohorts"]
    ]
    got = [[c, n, [[d, v if v == "" else float(v)] for d, v in days]] for c, n, days in rows]
    assert got == want and len(got) >= 10
    assert any(v != "" for _, _, days in got for _, v in days)
    # top users: the API's order and figures
    shown = page.eval_on_selector_all(
        "table[data-table=top-users] tbody tr",
        """trs => trs.map(tr => [tr.querySelector('a[data-user]').dataset.user,
             tr.querySelector('td[data-key=requests]').textContent])""",
    )
    assert [(u, _count(n)) for u, n in shown] == [
        (r["user_id"], r["requests"]) for r in top["rows"]
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "users.png"), full_page=True)
    assert tab.errors == []


def test_rank_users_by_errors(tab, live, seeded) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/users?range=30d")
    n = tab.updates()
    page.select_option("select[name=user-sort]", "errors")
    tab.wait_update(n)
    assert tab.query()["user_sort"] == ["errors"]
    top = _api(live, seeded, "/v1/users/top", sort="errors", limit=20, **_range(tab))
    shown = page.eval_on_selector_all(
        "table[data-table=top-users] a[data-user]", "as => as.map(a => a.dataset.user)"
    )
    assert shown == [r["user_id"] for r in top["rows"]]
    assert tab.errors == []


def test_one_users_page(tab, live, seeded) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/users?range=30d")
    n = tab.updates()
    page.click(f"table[data-table=top-users] a[data-user='{ODD}']")
    tab.wait_update(n)
    path = urlparse(page.url).path
    assert path == "/users/" + quote(ODD, safe="") and unquote(path[len("/users/") :]) == ODD
    assert page.locator("[data-user-title]").text_content() == ODD
    scope = _range(tab)
    u = _api(live, seeded, f"/v1/users/{quote(ODD, safe='')}", **scope)
    kpis = tab.kpis()
    for metric in ("requests", "errors", "error_rate", "tokens", "cost_usd", "latency_p95_ms"):
        value = u["kpis"][metric]
        assert (kpis[metric] == "") if value is None else float(kpis[metric]) == value, metric
    seen = page.locator("[data-user-seen]")
    assert seen.get_attribute("data-first-seen") == u["first_seen"]
    assert seen.get_attribute("data-last-seen") == u["last_seen"]
    calls = _api(live, seeded, "/v1/calls", user_id=ODD, limit=20, **scope)["calls"]
    assert page.locator("table[data-table=user-calls] tbody tr").count() == len(calls) > 0
    prompts = page.eval_on_selector_all(
        "table[data-table=user-prompts] tbody tr",
        "trs => trs.map(tr => tr.querySelector('td[data-key=requests]').textContent)",
    )
    assert [_count(t) for t in prompts] == [r["requests"] for r in u["prompts"]]
    bars = dict(page.evaluate(SERIES, "user-calls"))
    assert sum(v or 0 for v in bars["Requests"]) == u["kpis"]["requests"]
    # reload: the URL alone reproduces the page
    tab.open(path + "?range=30d")
    assert page.locator("[data-user-title]").text_content() == ODD
    page.screenshot(path=str(ARTIFACTS / "user.png"), full_page=True)
    assert tab.errors == []


def test_user_filter_in_the_filter_bar(tab, live, seeded) -> None:  # type: ignore[no-untyped-def]
    page = tab.open("/users?range=30d")
    n = tab.updates()
    page.select_option("select[name=filter-dim]", "user_id")
    page.wait_for_selector("select[name=filter-value] option[value='user-03']", state="attached")
    page.select_option("select[name=filter-value]", "user-03")
    tab.wait_update(n)
    assert tab.query()["user_id"] == ["user-03"]
    act = _api(live, seeded, "/v1/users/activity", interval="day", user_id="user-03", **_range(tab))
    assert int(tab.kpis()["mau"]) == act["points"][-1]["mau"] == 1
    assert tab.errors == []
