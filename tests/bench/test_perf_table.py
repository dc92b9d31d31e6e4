"""bench.perf's table: RESULT lines parsed, medians taken, rows laid out, targets judged.
Canned figures only: nothing here is timed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench._perf_table import build_rows, format_table, medians, parse_result, table_json

QUERY_OUTPUT = """10,000,000 events; median of 5 warm runs over HTTP
  overview, all 30 days      171.0 ms      90.0 ms (rollups, approximate percentiles)
RESULT {"overview_exact_ms": 999}
  server RSS now 600 MB, peak 700 MB
RESULT {"overview_exact_ms": 171.0, "hourly_exact_ms": 165.5, "peak_rss_mb": 700.0}
"""


def test_parse_result_reads_the_last_result_line() -> None:
    assert parse_result(QUERY_OUTPUT) == {
        "overview_exact_ms": 171.0,
        "hourly_exact_ms": 165.5,
        "peak_rss_mb": 700.0,
    }


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [("no result here\n", "no RESULT line"), ("RESULT [1, 2]\n", "not hold a JSON object")],
)
def test_parse_result_refuses_output_without_a_result_object(stdout: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_result(stdout)


def test_medians_match_numpy_on_random_runs_with_gaps() -> None:
    rng = np.random.default_rng(12)
    runs = [{"a": float(x), "b": float(y), "note": "text"} for x, y in rng.random((7, 2))]
    del runs[3]["b"]  # a run that did not report b: b's median is over the other six
    m = medians(runs)
    assert m["a"] == pytest.approx(np.median([r["a"] for r in runs]))
    assert m["b"] == pytest.approx(np.median([r["b"] for r in runs if "b" in r]))
    assert "note" not in m


FIGURES = {
    "stick.events_per_s": 184_000.0,
    "ours.events_per_s": 36_800.0,  # 0.20 of the stick
    "ours.ack_p99_ms": 470.0,
    "stick.ack_p99_ms": 500.0,
    "stick.ack_open_p99_ms": 373.0,
    "ours.ack_open_p99_ms": 440.0,  # 1.18x the stick's, over 250: not met
    "ours.ack_open_p50_ms": 31.0,
    "ours.ack_open_rate": 30_000.0,
    "stick.overview_ms": 560.0,
    "ours.overview_exact_ms": 80.0,  # 7.0x faster
    "stick.hourly_ms": 327.0,
    "ours.hourly_exact_ms": 165.0,  # 2.0x faster
    "ours.breakdown_column_exact_ms": 200.0,
    "ours.breakdown_metadata_exact_ms": 250.0,  # 1.25x a column
    "ours.peak_rss_mb": 480.0,
    "ours.idle_rss_mb": 160.0,  # idle over 150: not met
}


def test_ratios_are_medians_of_each_rounds_own_ratio() -> None:
    rng = np.random.default_rng(3)
    load = rng.uniform(1, 4, 5)  # each round slowed by the machine's load of the moment
    rounds = [
        {"row": "query", "stick.overview_ms": 560.0 * f, "ours.overview_exact_ms": 90.0 * f * g}
        for f, g in zip(load, rng.uniform(0.9, 1.1, 5), strict=True)
    ]
    m = medians(rounds)
    per_round = [r["stick.overview_ms"] / r["ours.overview_exact_ms"] for r in rounds]
    assert m["pair.overview"] == pytest.approx(np.median(per_round))
    row = next(r for r in build_rows(m) if r.work.startswith("overview"))
    assert row.ratio == f"{np.median(per_round):.1f}× faster"
    assert row.met == bool(np.median(per_round) >= 6)
    assert "pair.hourly" not in m  # no round had both of its figures


def test_rows_carry_ratios_and_judge_each_target() -> None:
    rows = {r.work.split(",")[0]: r for r in build_rows(medians([FIGURES]))}
    ingest = rows["HTTP ingest"]
    assert ingest.ratio == "0.20" and ingest.met is False
    assert "36,800 events/s" in ingest.ours
    assert ingest.stick == "184,000 events/s, p99 ack 500 ms"
    ack = rows["ack at a fixed load below the ceiling (open loop"]
    assert ack.ratio == f"{440 / 373:.2f}× the stick's p99" and ack.met is False
    assert ack.stick == "p99 373 ms" and ack.ours == "p99 440 ms (p50 31 ms) at 30,000 events/s"
    assert rows["overview"].ratio == "7.0× faster" and rows["overview"].met is True
    assert rows["hourly series"].ratio == "2.0× faster" and rows["hourly series"].met is False
    breakdown = rows["breakdown by metadata.<key>"]
    assert breakdown.ratio == "1.25× a column" and breakdown.met is True
    assert rows["server RSS serving the store (peak; idle after start)"].met is False


def test_rows_not_measured_say_so() -> None:
    rows = build_rows({"ours.live_median_ms": 80.0})
    live = next(r for r in rows if r.work.startswith("Live"))
    assert live.met is True and live.ours == "80 ms median"
    overview = next(r for r in rows if r.work.startswith("overview"))
    assert overview.met is None and overview.ours == "not run"


def test_table_as_markdown_and_json() -> None:
    machine = {"CPU": "AMD EPYC", "cores": "2"}
    rows = build_rows(medians([FIGURES]))
    text = format_table(rows, machine)
    lines = text.splitlines()
    assert lines[:2] == ["CPU: AMD EPYC", "cores: 2"]
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(rows)
    assert all(line.count("|") == 7 for line in table)
    assert "| 7.0× faster | ≥ 6× faster | yes |" in text
    data = json.loads(table_json(rows, machine, FIGURES))
    assert data["machine"] == machine and data["medians"] == FIGURES
    assert [r["work"] for r in data["rows"]] == [r.work for r in rows]
