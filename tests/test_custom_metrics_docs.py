"""docs/metrics.md, "Custom metrics", run as written against a real server: the curl block, the
YAML block, every example formula (its figures against numpy over random calls and scores) and
every error of the errors table (the message exactly as the page shows it)."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.conftest import LiveServer, iso

SECTION = (
    (Path(__file__).parents[1] / "docs" / "metrics.md").read_text().split("## Custom metrics", 1)[1]
)
MODELS = ("gpt-4o", "gpt-4o-mini")


def table(after: str) -> list[list[str]]:
    """The rows of the first table after the line starting with `after` (cells unquoted)."""
    lines = SECTION.split(after, 1)[1].split("\n\n", 2)[1].splitlines()
    rows = [[c.strip().strip("`") for c in line.strip("|").split("|")] for line in lines[2:]]
    return [r for r in rows if len(r) > 1]


class Calls:
    """Random calls and scores of one project, kept as numpy arrays for the expectations."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = self.n = 500
        self.ids = [f"d{i}" for i in range(n)]
        self.model = np.array([MODELS[i] for i in rng.integers(0, 2, n)])
        self.latency = rng.lognormal(7.3, 0.7, n)
        self.error_type = np.array(
            [("timeout" if rng.random() < 0.5 else "rate_limit") if e else None
             for e in rng.random(n) < 0.2], dtype=object
        )  # fmt: skip
        self.cost = rng.uniform(0, 0.01, n)
        self.cache_hit = rng.random(n) < 0.1
        self.thumbs = np.where(rng.random(n) < 0.6, rng.integers(0, 2, n), -1)  # -1: none
        self.ratings = [list(rng.integers(1, 6, k)) for k in rng.integers(0, 3, n)]

    def events(self, now: datetime) -> list[dict[str, Any]]:
        return [
            {"id": self.ids[i], "timestamp": iso(now - timedelta(seconds=i + 1)),
             "model": str(self.model[i]), "latency_ms": float(self.latency[i]),
             "cost_usd": float(self.cost[i]), "cache_hit": bool(self.cache_hit[i]),
             **({"status": "error", "error_type": self.error_type[i]} if self.error_type[i]
                else {})}
            for i in range(self.n)
        ]  # fmt: skip

    def scores(self) -> list[dict[str, Any]]:
        out = [{"event_id": self.ids[i], "name": "thumbs", "value": float(self.thumbs[i])}
               for i in range(self.n) if self.thumbs[i] >= 0]  # fmt: skip
        out += [{"event_id": self.ids[i], "name": "rating", "value": float(v)}
                for i in range(self.n) for v in self.ratings[i]]  # fmt: skip
        return out


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b else None


EXPECTED: dict[str, Callable[[Calls, np.ndarray], float | None]] = {
    "satisfaction": lambda d, m: _ratio((d.thumbs[m] == 1).sum(), (d.thumbs[m] >= 0).sum()),
    "timeout_rate": lambda d, m: _ratio((d.error_type[m] == "timeout").sum(), m.sum()),
    "fast_share": lambda d, m: _ratio((d.latency[m] < 2000).sum(), m.sum()),
    "mean_rating": lambda d, m: _ratio(
        sum(sum(r) for r, k in zip(d.ratings, m, strict=True) if k),
        sum(len(r) for r, k in zip(d.ratings, m, strict=True) if k),
    ),
    "cost_per_thumbs_up": lambda d, m: _ratio(d.cost[m].sum(), (d.thumbs[m] == 1).sum()),
    "cache_share_pct": lambda d, m: _ratio(100 * d.cache_hit[m].sum(), m.sum()),
    "p95_over_p50": lambda d, m: float(
        np.percentile(d.latency[m], 95) / np.percentile(d.latency[m], 50)
    ),
}


@pytest.fixture(scope="module")
def loaded(live: LiveServer) -> tuple[str, str, Calls]:
    project = f"docs-{uuid.uuid4().hex[:8]}"
    key = live.key(project, "ingest,read,admin")
    data = Calls(17)
    with live.client(key) as c:
        assert c.post("/v1/events", json={"events": data.events(datetime.now(UTC))}).is_success
        assert c.post("/v1/scores", json={"scores": data.scores()}).is_success
    return project, key, data


def test_the_curl_block_runs(live: LiveServer, loaded: tuple[str, str, Calls]) -> None:
    _, key, data = loaded
    block = re.search(r"```sh\n(.*?)```", SECTION, re.S)
    assert block is not None
    env = {**os.environ, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": key}
    out = subprocess.run(["sh", "-c", block.group(1)], env=env, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"satisfaction"' in out.stdout and '"points"' in out.stdout, out.stdout
    with live.client(key) as c:
        rows = c.get("/v1/metrics/breakdown",
                     params={"by": "model", "metrics": "satisfaction"}).json()["rows"]  # fmt: skip
    for row in rows:
        want = EXPECTED["satisfaction"](data, data.model == row["model"])
        assert row["satisfaction"] == pytest.approx(want, rel=1e-9)
    with live.client(key) as c:
        c.delete("/v1/metrics/custom/satisfaction")  # the examples test defines it again


def test_the_yaml_block_applies(tmp_path: Path) -> None:
    from promptpulse.cli.alerts import alerting_engine, apply_document

    block = re.search(r"```yaml\n(.*?)```", SECTION, re.S)
    assert block is not None
    with alerting_engine(tmp_path) as engine:
        result = apply_document(engine, yaml.safe_load(block.group(1)), datetime.now(UTC))
    assert result["created"] == ["custom metric timeout_rate", "rule timeouts"]


def test_every_example_defines_a_metric_with_the_figures_of_numpy(
    live: LiveServer, loaded: tuple[str, str, Calls]
) -> None:
    _, key, data = loaded
    examples = table("Examples (")
    assert {r[0] for r in examples} == set(EXPECTED)  # a new example needs its expectation here
    with live.client(key) as c:
        for name, formula, unit, better in examples:
            body = {"name": name, "formula": formula, "unit": unit,
                    "higher_is_better": {"true": True, "false": False}.get(better)}  # fmt: skip
            r = c.post("/v1/metrics/custom", json=body)
            assert r.status_code == 201, r.text
        got = c.get("/v1/metrics/breakdown",
                    params={"by": "model", "metrics": ",".join(EXPECTED)}).json()  # fmt: skip
    assert {r["model"] for r in got["rows"]} == set(MODELS)
    for row in got["rows"]:
        mask = data.model == row["model"]
        for name, want in EXPECTED.items():
            assert row[name] == pytest.approx(want(data, mask), rel=1e-9), name


def test_every_error_of_the_table_reads_as_documented(
    live: LiveServer, loaded: tuple[str, str, Calls]
) -> None:
    _, key, _ = loaded
    errors = table("A wrong formula")
    assert len(errors) >= 5
    with live.client(key) as c:
        for i, (formula, message) in enumerate(errors):
            r = c.post("/v1/metrics/custom", json={"name": f"bad_{i}", "formula": formula})
            assert r.status_code == 422, r.text
            assert {"field": "formula", "message": message} in r.json()["errors"], r.json()
