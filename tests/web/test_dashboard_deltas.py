"""The overview's headline changes and top issues on a tiny baseline, in a real Chromium: a
previous period of 12 calls reads "n/a" (or "new" where it was 0), never a huge percentage; a
prompt with 2 calls is no top issue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import iso
from tests.web.test_dashboard import Tab, browser

__all__ = ["browser"]


def _event(i: str, t: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": i, "timestamp": iso(t), "model": "m", "latency_ms": 200, "prompt_id": "big",
            "cost_usd": 0.002, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def window(live) -> Iterator[tuple[str, str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(hours=24)
    keys = {p: live.key(p, "ingest,read") for p in ("tiny-base", "big-base")}
    tiny = [_event(f"p{i}", start - timedelta(hours=i + 1), cost_usd=0.0) for i in range(12)]
    tiny += [_event(f"c{i}", end - timedelta(minutes=3 * i + 1),
                    status="error" if i % 5 == 0 else "success") for i in range(300)]  # fmt: skip
    tiny += [_event(f"t{i}", end - timedelta(minutes=i + 2), prompt_id="two-calls",
                    status="error") for i in range(2)]  # fmt: skip
    big = [_event(f"p{i}", start - timedelta(minutes=5 * i + 1)) for i in range(200)]
    big += [_event(f"c{i}", end - timedelta(minutes=3 * i + 1)) for i in range(300)]
    for project, events in (("tiny-base", tiny), ("big-base", big)):
        with live.client(keys[project]) as c:
            r = c.post("/v1/events", json={"events": events})
            assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text[:300]
    yield iso(start), iso(end), keys


def _deltas(page: Any) -> dict[str, list[str]]:
    return dict(
        page.eval_on_selector_all(
            "section.kpi[data-metric]",
            "els => els.map(e => { const d = e.querySelector('.delta');"
            " return [e.dataset.metric, [d.dataset.delta || '', d.textContent, d.className]]; })",
        )
    )


def test_a_tiny_previous_period_reads_na_or_new(browser, live, window) -> None:  # type: ignore[no-untyped-def]
    start, end, keys = window
    tab = Tab(browser, live.url, keys["tiny-base"], viewport={"width": 1400, "height": 900})
    try:
        page = tab.open(f"/?from={start}&to={end}")
        page.wait_for_function(
            "() => document.querySelector('section.kpi[data-metric=requests] .delta')"
            ".dataset.delta !== undefined"
        )
        d = _deltas(page)
        assert d["requests"][0] == "n/a" and "%" not in d["requests"][1], d
        assert "▲" not in d["requests"][1] and "flat" in d["requests"][2], d
        assert d["cost_usd"][0] == "new", d  # the previous calls cost nothing
        assert all("%" not in text for _, text, _ in d.values()), d
        # Top issues: "two-calls" fails every call but has 2; "big" has 302 calls.
        shown = page.eval_on_selector_all(
            "[data-list=worst-error-rate] li .name", "els => els.map(e => e.textContent)"
        )
        assert shown == ["big"], shown
        assert not tab.errors, tab.errors
    finally:
        tab.close()


def test_a_real_baseline_reads_a_percentage(browser, live, window) -> None:  # type: ignore[no-untyped-def]
    start, end, keys = window
    tab = Tab(browser, live.url, keys["big-base"], viewport={"width": 1400, "height": 900})
    try:
        page = tab.open(f"/?from={start}&to={end}")
        d = _deltas(page)
        assert d["requests"][0] == "+50.0%", d
        assert d["requests"][1].startswith("▲ 50.0%"), d
        assert not tab.errors, tab.errors
    finally:
        tab.close()
