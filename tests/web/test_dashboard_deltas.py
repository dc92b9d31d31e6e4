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


def _errors(n: int) -> int:
    """Failed calls of prompt-n: rates not in the order of the prompts' volumes."""
    return 2 * (5 * n % 7) + 1


@pytest.fixture(scope="module")
def window(live) -> Iterator[tuple[str, str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(hours=24)
    keys = {p: live.key(p, "ingest,read") for p in ("tiny-base", "big-base", "ranked")}
    tiny = [_event(f"p{i}", start - timedelta(hours=i + 1), cost_usd=0.0) for i in range(12)]
    tiny += [_event(f"c{i}", end - timedelta(minutes=3 * i + 1),
                    status="error" if i % 5 == 0 else "success") for i in range(300)]  # fmt: skip
    tiny += [_event(f"t{i}", end - timedelta(minutes=i + 2), prompt_id="two-calls",
                    status="error") for i in range(2)]  # fmt: skip
    big = [_event(f"p{i}", start - timedelta(minutes=5 * i + 1)) for i in range(200)]
    big += [_event(f"c{i}", end - timedelta(minutes=3 * i + 1)) for i in range(300)]
    # Seven prompts of 20-80 calls, each with its own error rate and a constant latency (so its
    # p95 is that latency under any definition), and a 2-call prompt failing every call.
    ranked = [
        _event(f"r{n}-{i}", end - timedelta(minutes=i + 1), prompt_id=f"prompt-{n}",
               latency_ms=100 * (1 + (3 * n) % 7), status="error" if i < _errors(n) else "success")
        for n in range(7) for i in range(20 + 10 * n)
    ]  # fmt: skip
    ranked += [_event(f"x{i}", end - timedelta(minutes=1), prompt_id="two-calls", status="error",
                      latency_ms=9000) for i in range(2)]  # fmt: skip
    for project, events in (("tiny-base", tiny), ("big-base", big), ("ranked", ranked)):
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


def test_top_issues_rank_the_prompts_with_enough_calls(browser, live, window) -> None:  # type: ignore[no-untyped-def]
    start, end, keys = window
    rate = {f"prompt-{n}": _errors(n) / (20 + 10 * n) for n in range(7)}
    p95 = {f"prompt-{n}": 100 * (1 + (3 * n) % 7) for n in range(7)}
    tab = Tab(browser, live.url, keys["ranked"], viewport={"width": 1400, "height": 900})
    try:
        page = tab.open(f"/?from={start}&to={end}")
        for list_name, truth in (("worst-error-rate", rate), ("worst-p95", p95)):
            shown = page.eval_on_selector_all(
                f"[data-list={list_name}] li .name", "els => els.map(e => e.textContent)"
            )
            assert shown == sorted(truth, key=lambda k: -truth[k])[:5], (list_name, shown)
        assert not tab.errors, tab.errors
    finally:
        tab.close()
