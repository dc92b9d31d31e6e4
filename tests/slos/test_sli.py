"""Which custom metrics are a proportion of events (good / valid), as an SLO needs: pure."""

from __future__ import annotations

import pytest

from promptpulse.model import Term, custom_metric
from promptpulse.slos import Proportion, proportion_of

CALLS = Term("calls")
FAST = Term("where", "latency_ms", "<", 2000.0)
THUMBS = Term("score_count", "thumbs")
UP = Term("score_count", "thumbs", "=", 1.0)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("count(latency_ms < 2000) / requests", Proportion(CALLS, FAST)),
        ("count(score.thumbs = 1) / count(score.thumbs)", Proportion(THUMBS, UP)),
        ("success_rate", Proportion(CALLS, Term("where", "status", "=", "success"))),
        ("1 - error_rate", Proportion(CALLS, Term("where", "status", "=", "error"), False)),
        ('1 - count(error_type = "timeout") / requests',
         Proportion(CALLS, Term("where", "error_type", "=", "timeout"), False)),
        ("count(score.thumbs = 1) / count(score.rating)", None),  # another score's events
        ("count(score.thumbs = 1) / count(score.thumbs = 0)", None),
        ('count(latency_ms < 2000) / count(status = "success")', None),  # two conditions
        ("requests / count(latency_ms < 2000)", None),  # upside down
        ("2 - count(latency_ms < 2000) / requests", None),
        ("count(latency_ms < 2000) / requests * 100", None),  # a percentage is no share
        ("sum(cost_usd)", None),
        ("latency_p95_ms", None),
        ("avg(score.thumbs)", None),
        ("cost_usd / requests", None),
    ],
)  # fmt: skip
def test_proportions(formula: str, expected: Proportion | None) -> None:
    assert proportion_of(custom_metric("m", formula)) == expected


def test_counts_of_a_proportion() -> None:
    good = Proportion(CALLS, FAST)
    assert good.counts({CALLS.key: 10.0, FAST.key: 7.0}) == (10, 3)
    bad = Proportion(CALLS, FAST, part_is_good=False)
    assert bad.counts({CALLS.key: 10.0, FAST.key: 7.0}) == (10, 7)
    assert good.counts({}) == (0, 0)
