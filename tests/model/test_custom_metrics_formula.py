"""The formula language of custom metrics, pure: what parses to what, every error naming the part
and its line:column, evaluation against Python's own arithmetic on random formulas, and the
gradient (the delta method's) against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from promptpulse.model import CATALOG, Kind, Term, custom_metric
from promptpulse.model.formula import (
    FormulaError,
    evaluate,
    expand_terms,
    gradient,
    metric_names,
    terms,
)
from promptpulse.model.formula_parse import check_name, parse


def test_terms_and_metrics_of_a_formula() -> None:
    node = parse('count(score.thumbs = 1) / count(score.thumbs) + count(error_type = "timeout")'
                 " / requests - avg(score.rating) * latency_p95_ms + sum(cost_usd)")  # fmt: skip
    assert metric_names(node) == ["requests", "latency_p95_ms"]
    assert [t.key for t in terms(node)] == [
        "count(score.thumbs = 1.0)",
        "count(score.thumbs)",
        "count(error_type = 'timeout')",
        "sum(score.rating)",
        "count(score.rating)",
        "sum(cost_usd)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latncy_p95_ms", 'unknown metric "latncy_p95_ms" at 1:1; did you mean latency_p95_ms?'),
        ("errors +\n  reqests", 'unknown metric "reqests" at 2:3; did you mean requests?'),
        ("count(score.thumbz)", 'unknown score "thumbz" at 1:13; did you mean thumbs?'),
        ("count(score.nps)", 'unknown score "nps" at 1:13 (the project has received no scores'),
        ("count(score.thumbs = 'up')", "a score compares with a number, found 'up' at 1:22"),
        ("avg(score.thumbs > 0)", "only count(...) takes a condition, not avg(...) at 1:1"),
        ("count(latency_ms)", "count(latency_ms) needs a condition"),
        ("count(status < 'x')", "text compares with = or != only, not < at 1:16"),
        ("count(cache_hit > true)", "cache_hit > true is not a valid condition at 1:19"),
        ("sum(model)", 'sum(...) needs a numeric column, not "model" at 1:5'),
        ("avg(latency_ms)", "avg(...) takes score.<name>"),
        ("count(tags = 'x')", 'unknown column "tags" at 1:7'),
        ("median(latency_ms)", 'unknown function "median" at 1:1'),
        ("errors // 2", 'expected a number, a metric or a function, found "/" at 1:9'),
        ("errors ** 2", 'expected a number, a metric or a function, found "*" at 1:9'),
        ("errors $ 2", 'unexpected "$" at 1:8'),
        ("(errors", 'expected a closing ")", found the end at 1:8'),
        ("errors)", 'unexpected ")" at 1:7'),
        ("", "is empty"),
        ("   ", "is empty"),
        ("rpm_peak / 2", 'metric "rpm_peak" cannot be used in a formula at 1:1'),
        ("__import__('os').system('x')", 'unknown function "__import__" at 1:1'),
        ("errors.real", 'unexpected "." at 1:7'),
        ("(" * 50 + "1" + ")" * 50, "nested deeper than 40"),
        ("1+" * 600 + "1", "longer than 1000 characters"),
        ("errors * 1e999", "number 1e999 is too large at 1:10"),
    ],
)
def test_errors_name_the_part_and_where(text: str, message: str) -> None:
    with pytest.raises(FormulaError) as err:
        parse(text, scores={"thumbs", "rating"})
    assert message in str(err.value)


def test_names() -> None:
    assert check_name("satisfaction") is None and check_name("a" * 63) is None
    assert "catalog metric" in str(check_name("error_rate"))
    for bad in ("", "Sat", "1x", "a-b", "a" * 64, "ä"):
        assert "must match" in str(check_name(bad))
    m = custom_metric("sat", "count(score.t = 1) / count(score.t)", "ratio", True)
    assert m.kind is Kind.CUSTOM and m.as_dict()["custom"] is True
    assert m.as_dict()["formula"] == "count(score.t = 1) / count(score.t)"


def _random_formula(rng: np.random.Generator, depth: int = 0) -> str:
    """Numbers and the leaves a, b (bound to catalog names) under + - * / and unary minus."""
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(["requests", "errors", f"{rng.uniform(0.5, 9):.3f}"])
    op = rng.choice(["+", "-", "*", "/", "neg", "paren"])
    if op == "neg":
        return f"-{_random_formula(rng, depth + 1)}"
    if op == "paren":
        return f"({_random_formula(rng, depth + 1)})"
    return f"{_random_formula(rng, depth + 1)} {op} {_random_formula(rng, depth + 1)}"


def test_evaluation_follows_pythons_arithmetic_on_random_formulas() -> None:
    rng = np.random.default_rng(1)
    for _ in range(400):
        text = _random_formula(rng)
        values = {"requests": float(rng.integers(1, 100)), "errors": float(rng.integers(1, 50))}
        try:
            want = eval(text, {"__builtins__": {}}, dict(values))  # the test's oracle only
        except ZeroDivisionError:
            want = None
        got = evaluate(parse(text), values)
        if want is None:
            assert got is None, text
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), text
    assert evaluate(parse("errors / (requests - requests)"), {"errors": 1, "requests": 3}) is None
    assert evaluate(parse("latency_p95_ms * 2"), {"latency_p95_ms": None}) is None
    assert evaluate(parse("6 × 2 ÷ 4 − 1"), {}) == 2.0
    assert evaluate(parse("1e300 * 1e300"), {}) is None  # an overflow is no figure


def test_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(2)
    node = expand_terms(parse("(count(latency_ms < 2000) + 2 * sum(score.r)) / requests"
                              " - count(score.r) * cost_per_request_usd / 3"))  # fmt: skip
    assert node is not None
    keys = [t.key for t in terms(node)]
    assert set(keys) == {
        "count(latency_ms < 2000.0)", "sum(score.r)", "count()", "count(score.r)",
        "sum(cost_usd)",
    }  # fmt: skip
    for _ in range(20):
        at = {k: float(rng.uniform(1, 50)) for k in keys}
        value, grad = gradient(node, at)
        assert value == pytest.approx(evaluate(node, at), rel=1e-12)
        for k in keys:
            h = 1e-6 * at[k]
            up, down = dict(at), dict(at)
            up[k] += h
            down[k] -= h
            numeric = (evaluate(node, up) - evaluate(node, down)) / (2 * h)  # type: ignore[operator]
            assert grad.get(k, 0.0) == pytest.approx(numeric, rel=1e-5, abs=1e-9), k


def test_catalog_metrics_as_terms() -> None:
    """Counts, sums and their ratios expand into terms; percentiles, maxima, distinct do not."""
    for name, metric in CATALOG.items():
        node = expand_terms(parse(name)) if metric.kind in (Kind.AGGREGATE, Kind.QUANTILE) else None
        decomposable = metric.kind is Kind.AGGREGATE and name not in (
            "latency_max_ms", "active_users", "unpriced_requests",
        )  # fmt: skip
        assert (node is not None) == decomposable, name
    node = expand_terms(parse("error_rate"))
    assert node is not None
    assert [t.key for t in terms(node)] == ["count(status = 'error')", "count()"]
    assert evaluate(node, {"count(status = 'error')": 3, "count()": 12}) == 0.25
    assert Term("calls").key == "count()"
