"""The demo's users arrive over the span: the Users page has a cohort every day, and some (not
all, not none) of a cohort come back the next day."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from promptpulse.demo import DemoTraffic

END = datetime(2026, 3, 5, tzinfo=UTC)


def test_users_join_over_the_span_and_some_come_back() -> None:
    start = END - timedelta(days=4)
    days: dict[str, set[str]] = defaultdict(set)
    first: dict[str, str] = {}
    for minute in DemoTraffic(seed=3, base_rpm=6).minutes(start, END):
        for e in minute:
            day = str(e["timestamp"])[:10]
            days[day].add(str(e["user_id"]))
            first[str(e["user_id"])] = min(first.get(str(e["user_id"]), day), day)
    order = sorted(days)
    assert len(order) == 4
    cohorts = {d: {u for u, f in first.items() if f == d} for d in order}
    assert all(len(cohorts[d]) >= 20 for d in order[1:])  # new users every day, not only day 1
    for d, nxt in pairwise(order[1:]):
        back = len(cohorts[d] & days[nxt]) / len(cohorts[d])
        assert 0.1 < back < 0.9, (d, back)  # day-1 retention neither none nor all
    assert len(first) < 3000 and max(len(u) for u in days.values()) < len(first)
