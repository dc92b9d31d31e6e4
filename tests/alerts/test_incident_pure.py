"""The pure parts of incidents: which prompts and models an alert is about, escalation steps
(validation and which are due), and MTTA / MTTR against numpy on random data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from promptpulse.alerts.escalation import EscalationStep, check_policy, due_steps
from promptpulse.alerts.incident_views import Timing, mtta_mttr
from promptpulse.alerts.incidents import related_keys

T = datetime(2026, 3, 2, tzinfo=UTC)
HOOK = {"type": "webhook", "url": "https://hooks.example.com/x"}


def _steps(*afters: str) -> list[EscalationStep]:
    return [EscalationStep.model_validate({"after": a, "channels": [HOOK]}) for a in afters]


def test_related_keys_come_from_filters_and_the_group() -> None:
    scope = {"filters": {"prompt_id": ["a", "b"], "project": ["shop"]}, "group": {"model": "m1"}}
    assert related_keys(scope) == ({"a", "b"}, {"m1"})
    assert related_keys({"filters": {}, "group": {"prompt_id": None}}) == (set(), set())


def test_due_steps_in_order_once_each() -> None:
    steps = _steps("10m", "30m", "2h")
    assert due_steps(steps, 0, T, T + timedelta(minutes=9)) == []
    assert due_steps(steps, 0, T, T + timedelta(minutes=10)) == [0]
    assert due_steps(steps, 0, T, T + timedelta(minutes=45)) == [0, 1]
    assert due_steps(steps, 2, T, T + timedelta(minutes=45)) == []
    assert due_steps(steps, 3, T, T + timedelta(days=9)) == []


@pytest.mark.parametrize("afters", [("10m", "10m"), ("1h", "30m"), ("5m", "10m", "7m")])
def test_a_policy_that_does_not_move_forward_is_refused(afters: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"escalation\[\d\]\.after"):
        check_policy(_steps(*afters))


def test_mtta_mttr_equal_numpy_on_random_incidents() -> None:
    rng = np.random.default_rng(3)
    items, keys = [], ["a", "b", None]
    for _ in range(300):
        opened = T + timedelta(seconds=float(rng.uniform(0, 86400)))
        ack = float(rng.exponential(600)) if rng.random() < 0.8 else None
        res = float(rng.exponential(3600)) + (ack or 0) if rng.random() < 0.6 else None
        key = keys[int(rng.integers(0, 3))]
        items.append(
            Timing(
                key,
                opened,
                opened + timedelta(seconds=ack) if ack is not None else None,
                opened + timedelta(seconds=res) if res is not None else None,
            )
        )
    rows = {r["key"]: r for r in mtta_mttr(items)}
    assert list(rows) == ["a", "b", None]
    for key in keys:
        mine = [x for x in items if x.key == key]
        acks = np.array([(x.acknowledged_at - x.opened_at).total_seconds() for x in mine
                         if x.acknowledged_at])  # fmt: skip
        res = np.array([(x.resolved_at - x.opened_at).total_seconds() for x in mine
                        if x.resolved_at])  # fmt: skip
        assert rows[key]["incidents"] == len(mine)
        assert rows[key]["acknowledged"] == acks.size and rows[key]["resolved"] == res.size
        assert rows[key]["mtta_s"] == pytest.approx(acks.mean(), rel=1e-12)
        assert rows[key]["mttr_s"] == pytest.approx(res.mean(), rel=1e-12)
    assert mtta_mttr([Timing("x", T, None, None)])[0]["mtta_s"] is None
