"""One table of (value, unit) → text, run through model/fmt.py and, with node, through the
dashboard's fmt.js: both implementations of the rule agree."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from promptpulse.model import fmt

FMT_JS = Path(__file__).parents[2] / "src/promptpulse/web/static/js/fmt.js"

VALUES: list[tuple[float | None, str | None, str]] = [
    (None, "count", "—"),
    (0, "count", "0"),
    (7, "count", "7"),
    (2.5, "tokens", "2.5"),
    (1234, "count", "1,234"),
    (9999.4, "count", "9,999"),
    (9999.6, "count", "10k"),
    (10_000, "count", "10k"),
    (16_743, "count", "16.7k"),
    (123_456, "tokens", "123k"),
    (999_950, "count", "1M"),
    (1_234_567, "count", "1.23M"),
    (11444.303499999998, "tokens", "11.4k"),
    (0, "usd", "$0.00"),
    (30.0356, "usd", "$30.04"),
    (1234.5, "usd", "$1,234.50"),
    (1, "usd", "$1.00"),
    (0.9996, "usd", "$1.00"),
    (0.5, "usd", "$0.5"),
    (0.0123456, "usd", "$0.0123"),
    (0.001, "usd", "$0.001"),
    (0.0004, "usd", "$0.0004"),
    (0.000251234, "usd", "$0.000251"),  # a cheap model's cost per request
    (4e-7, "usd", "<$0.000001"),
    (-2.5, "usd", "-$2.50"),
    (0.4, "ms", "0.4 ms"),
    (850.2, "ms", "850 ms"),
    (999.6, "ms", "1 s"),
    (1234, "ms", "1.23 s"),
    (45_600, "ms", "45.6 s"),
    (119_400, "ms", "119 s"),
    (150_000, "ms", "2.5 min"),
    (9_000_000, "ms", "2.5 h"),
    (0, "ratio", "0.0%"),
    (0.123, "ratio", "12.3%"),
    (0.0004, "ratio", "<0.1%"),
    (0.9997, "ratio", ">99.9%"),
    (1, "ratio", "100.0%"),
    (0.5, "requests/min", "0.5/min"),
    (12.345, "requests/min", "12.3/min"),
    (20_000, "requests/min", "20k/min"),
    (6.745e-299, "p", "p < 0.001"),
    (0.0344, "p", "p = 0.034"),
    (0.5, "p", "p = 0.500"),
    (1.67e4, None, "16.7k"),
    (0.000123456, None, "0.000123"),
    (2.345, "x", "2.35"),
]

DELTAS: list[tuple[float | None, float | None, float | None, str | None, str]] = [
    (100, None, None, "count", "—"),
    (120, 100, 5000, "count", "+20.0%"),
    (80, 100, 5000, "count", "-20.0%"),
    (350, 100, 5000, "count", "+250%"),
    (100, 100, 5000, "count", "±0"),
    (100_000, 12, 12, "count", "n/a"),
    (5, 0, 0, "count", "new"),
    (5.0, 0.0, 500, "usd", "new"),
    (0, 0, 0, "count", "±0"),
    (0.12, 0.1, 5000, "ratio", "+2.0 pts"),
    (0.1, 0.12, 5000, "ratio", "-2.0 pts"),
    (0.5, 0.1, 50, "ratio", "n/a"),
    (100.04, 100, 5000, "ms", "+<0.1%"),
    (1200, 1000, None, "ms", "+20.0%"),
]

DIFFERENCES: list[tuple[float | None, str | None, str]] = [
    (None, "ratio", "—"),
    (0, "usd", "±0"),
    (0.02, "ratio", "+2.0 pts"),
    (-0.0001, "ratio", "-<0.1 pts"),
    (0.0123456, "usd", "+$0.0123"),
    (-1234, "ms", "-1.23 s"),
    (-16_743, "tokens", "-16.7k"),
    (0.25, None, "+0.25"),
]


# Chart axis ticks (JS only): the same units, spacing and suffixes as the rule, shortest form.
AXIS: list[tuple[float, str | None, str]] = [
    (0, "ms", "0 ms"),
    (250, "ms", "250 ms"),
    (5000, "ms", "5 s"),
    (150_000, "ms", "2.5 min"),
    (7_200_000, "ms", "2 h"),
    (12_000, "tokens", "12k"),
    (2_500_000, "count", "2.5M"),
    (0.25, "ratio", "25%"),
    (0.5, "usd", "$0.5"),
    (1500, "usd", "$1.5k"),
    (0, "usd", "$0"),
]


@pytest.mark.parametrize(("d", "unit", "text"), DIFFERENCES)
def test_difference(d: float | None, unit: str | None, text: str) -> None:
    assert fmt.difference(d, unit) == text


@pytest.mark.parametrize(("v", "unit", "text"), VALUES)
def test_value(v: float | None, unit: str | None, text: str) -> None:
    assert fmt.value(v, unit) == text


@pytest.mark.parametrize(("cur", "prev", "base", "unit", "text"), DELTAS)
def test_delta(cur: float | None, prev: float | None, base: float | None, unit: str | None,
               text: str) -> None:  # fmt: skip
    assert fmt.delta(cur, prev, base, unit) == text


def test_change_is_none_below_the_minimum_baseline() -> None:
    assert fmt.change(100_000, 12, 12) is None
    assert fmt.change(5, 0, 5000) is None
    assert fmt.change(120, 100, fmt.MIN_BASELINE) == pytest.approx(0.2)
    assert fmt.change(120, 100) == pytest.approx(0.2)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_fmt_js_agrees() -> None:
    cases = {"values": VALUES, "deltas": DELTAS, "differences": DIFFERENCES, "axis": AXIS}
    script = (
        f"import * as f from {json.dumps(FMT_JS.as_uri())};\n"
        f"const c = {json.dumps(cases)};\n"
        "const out = {\n"
        "  values: c.values.map(([v, u]) => f.value(v, u)),\n"
        "  deltas: c.deltas.map(([a, b, n, u]) => f.delta(a, b, n, u)),\n"
        "  differences: c.differences.map(([d, u]) => f.difference(d, u)),\n"
        "  axis: c.axis.map(([v, u]) => f.axis(u)(v)),\n"
        "  changes: [f.change(100000, 12, 12), f.change(5, 0, 5000), f.change(120, 100, 100)],\n"
        "};\n"
        "console.log(JSON.stringify(out));\n"
    )
    run = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    got = json.loads(run.stdout)
    assert got["values"] == [t for _, _, t in VALUES]
    assert got["deltas"] == [t for *_, t in DELTAS]
    assert got["differences"] == [t for *_, t in DIFFERENCES]
    assert got["axis"] == [t for *_, t in AXIS]
    assert got["changes"][:2] == [None, None] and got["changes"][2] == pytest.approx(0.2)
