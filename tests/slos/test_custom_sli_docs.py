"""docs/alerting.md, "An SLO on a custom metric", run as written against a real server: the curl
block (its SLO's status against numpy), every row of the table of formulas (accepted, or refused
with a 422 naming `metric`), and the YAML one-liner through `alerts apply`, with its errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from promptpulse.errors import Invalid
from tests.conftest import LiveServer, iso

SECTION = (
    (Path(__file__).parents[2] / "docs" / "alerting.md")
    .read_text()
    .split("### An SLO on a custom metric", 1)[1]
    .split("\n## ", 1)[0]
)


def _loaded(live: LiveServer, seed: int) -> tuple[str, str, np.ndarray, np.ndarray]:
    """A project of random calls (latency; thumbs, -1 for none) stamped the seconds before now."""
    project = f"sd-{uuid.uuid4().hex[:8]}"
    key = live.key(project, "ingest,read,admin")
    rng = np.random.default_rng(seed)
    n = 400
    latency = rng.lognormal(7.0, 0.7, n)
    thumbs = np.where(rng.random(n) < 0.5, rng.integers(0, 2, n), -1)
    now = datetime.now(UTC)
    events = [
        {"id": f"c{i}", "timestamp": iso(now - timedelta(seconds=i + 1)), "model": "gpt-4o",
         "latency_ms": float(latency[i])}
        for i in range(n)
    ]  # fmt: skip
    scores = [{"event_id": f"c{i}", "name": "thumbs", "value": float(thumbs[i])}
              for i in range(n) if thumbs[i] >= 0]  # fmt: skip
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        assert c.post("/v1/scores", json={"scores": scores}).status_code == 200
    return project, key, latency, thumbs


def _answers(text: str) -> list[dict[str, Any]]:
    """The JSON bodies curl printed one after the other."""
    out, at, decoder = [], 0, json.JSONDecoder()
    while at < len(text.strip()):
        body, at = decoder.raw_decode(text, at)
        out.append(body)
        while at < len(text) and text[at].isspace():
            at += 1
    return out


def test_the_curl_block_makes_an_slo_whose_status_is_numpys(live: LiveServer) -> None:
    _, key, latency, _ = _loaded(live, 21)
    block = re.search(r"```sh\n(.*?)```", SECTION, re.S)
    assert block is not None
    env = {**os.environ, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    out = subprocess.run(["sh", "-c", block.group(1)], env=env, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    metric, slo = _answers(out.stdout)
    assert metric["name"] == "fast_share" and slo["metric"] == "fast_share", out.stdout
    st = slo["status"]
    valid, bad = len(latency), int((latency >= 2000).sum())
    assert (st["requests"], st["bad"]) == (valid, bad)
    assert st["sli"] == pytest.approx(1 - bad / valid, rel=1e-12)
    assert st["error_budget_remaining"] == pytest.approx(1 - bad / (0.01 * valid), rel=1e-9)
    assert st["burn_rate"] == pytest.approx((bad / valid) / 0.01, rel=1e-9)


def _rows() -> list[tuple[str, str]]:
    """(formula, valid events or 'refused') of each row of the table."""
    lines = SECTION.split("| formula of the metric |", 1)[1].split("\n\n", 1)[0].splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return [(c[0].strip("`"), c[1]) for c in cells]


def test_every_formula_of_the_table_is_taken_or_refused_as_documented(live: LiveServer) -> None:
    _, key, latency, thumbs = _loaded(live, 22)
    rows = _rows()
    assert len(rows) >= 8
    with live.client(key) as c:
        for i, (formula, valid) in enumerate(rows):
            name = f"m{i}"
            made = c.post("/v1/metrics/custom", json={"name": name, "formula": formula})
            assert made.status_code == 201, made.text
            r = c.post("/v1/slos", json={"name": name, "sli": "custom", "metric": name,
                                         "objective": 0.9})  # fmt: skip
            if valid.startswith("refused"):
                assert r.status_code == 422, (formula, r.text)
                assert r.json()["errors"][0]["field"] == "metric"
                assert "is not a proportion" in r.json()["errors"][0]["message"]
                continue
            assert r.status_code == 201, (formula, r.text)
            st = r.json()["status"]
            if valid.startswith("calls"):
                assert st["requests"] == len(latency), formula
            else:
                assert st["requests"] == int((thumbs >= 0).sum()), formula
                assert st["bad"] == int((thumbs == 0).sum()), formula


def test_the_yaml_example_applies_and_a_bad_one_writes_nothing(tmp_path: Path) -> None:
    from promptpulse.cli.alerts import alerting_engine, apply_document
    from promptpulse.slos.service import repo

    inline = re.search(r"`slos:\s*(\[.*?\])`", SECTION, re.S)
    assert inline is not None
    slos = yaml.safe_load(inline.group(1))
    custom = [{"project": "shop", "name": "fast_share",
               "formula": "count(latency_ms < 2000) / requests"}]  # fmt: skip
    now = datetime.now(UTC)
    with alerting_engine(tmp_path) as engine:
        summed = [{**custom[0], "formula": "sum(cost_usd)"}]
        for doc, why in (
            ({"slos": slos}, "slos[0] metric: unknown custom metric 'fast_share'"),
            ({"custom_metrics": summed, "slos": slos}, "slos[0] metric: 'fast_share'"),
        ):
            with pytest.raises(Invalid, match=re.escape(why)):
                apply_document(engine, doc, now)
            assert repo.list(engine) == []
        done = apply_document(engine, {"custom_metrics": custom, "slos": slos}, now)
        assert done["created"] == ["custom metric fast_share", "slo fast answers"]
        again = apply_document(engine, {"custom_metrics": custom, "slos": slos}, now)
        assert again["unchanged"] == ["custom metric fast_share", "slo fast answers"]


def test_prune_keeps_no_slo_whose_metric_it_would_delete(tmp_path: Path) -> None:
    from promptpulse.cli.alerts import alerting_engine, apply_document
    from promptpulse.meta.custom_metrics import list_custom

    custom = [{"project": "shop", "name": "fast_share",
               "formula": "count(latency_ms < 2000) / requests"}]  # fmt: skip
    slo = {"name": "fast", "sli": "custom", "metric": "fast_share", "objective": 0.99,
           "filters": {"project": "shop"}}  # fmt: skip
    now = datetime.now(UTC)
    with alerting_engine(tmp_path) as engine:
        apply_document(engine, {"custom_metrics": custom, "slos": [slo]}, now)
        with pytest.raises(Invalid, match=re.escape("slos[0] metric: unknown custom metric")):
            apply_document(engine, {"slos": [slo]}, now, prune=True)  # would delete fast_share
        assert [r.spec.name for r in list_custom(engine, "shop")] == ["fast_share"]
        apply_document(engine, {"slos": [slo]}, now)  # without --prune the stored one serves


def test_a_file_may_not_make_a_stored_slos_metric_a_sum(tmp_path: Path) -> None:
    from promptpulse.cli.alerts import alerting_engine, apply_document
    from promptpulse.meta.custom_metrics import list_custom

    fast = {"project": "shop", "name": "fast_share",
            "formula": "count(latency_ms < 2000) / requests"}  # fmt: skip
    slo = {"name": "fast", "sli": "custom", "metric": "fast_share", "objective": 0.99,
           "filters": {"project": "shop"}}  # fmt: skip
    now = datetime.now(UTC)
    with alerting_engine(tmp_path) as engine:
        apply_document(engine, {"custom_metrics": [fast], "slos": [slo]}, now)
        summed = {**fast, "formula": "sum(cost_usd)"}
        with pytest.raises(Invalid, match=re.escape("stored SLO 'fast' metric: 'fast_share'")):
            apply_document(engine, {"custom_metrics": [summed]}, now)
        (kept,) = list_custom(engine, "shop")
        assert kept.spec.formula == fast["formula"]
