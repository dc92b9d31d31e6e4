"""Assignment: deterministic, sticky, follows the split; Python and JavaScript agree exactly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from promptpulse.sdk.assign import assign, bucket

JS = Path(__file__).resolve().parents[2] / "clients" / "js" / "assign.js"
SPLITS: list[object] = [
    {"control": 50, "treatment": 50},
    [["v1", 0.1], ["v2", 0.3], ["v3", 0.6]],
    ["a", "b", "c", "d", "e", "f", "g"],
    {"off": 0, "on": 1},
    [["only", 3]],
    {"A": 1 / 3, "B": 1 / 3, "C": 1 / 3},
]
UNITS = [f"user-{i}" for i in range(3000)] + [
    "",
    "ünïcödé-🙂",
    "with:colon",
    "a" * 500,
    "42",
    "日本語のユーザー",
    " spaced ",
]


def _python(experiment: str, split: object) -> list[str]:
    pairs = (
        split
        if isinstance(split, dict)
        else [tuple(p) if isinstance(p, list) else p for p in split]
    )  # type: ignore[attr-defined]
    return [assign(experiment, u, pairs) for u in UNITS]  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for the JS client")
def test_python_and_js_agree() -> None:
    script = (
        f"import {{ assign, bucket }} from {json.dumps(JS.as_uri())};\n"
        "let input = '';\n"
        "process.stdin.on('data', (c) => { input += c; });\n"
        "process.stdin.on('end', () => {\n"
        "  const { experiments, splits, units } = JSON.parse(input);\n"
        "  const out = { buckets: units.map((u) => bucket(experiments[0], u)),\n"
        "    assigned: experiments.flatMap((e) => splits.map((s) => units.map((u) =>"
        " assign(e, u, s)))) };\n"
        "  process.stdout.write(JSON.stringify(out));\n"
        "});\n"
    )
    experiments = ["checkout-prompt-v3", "exp:ü", ""]
    payload = json.dumps({"experiments": experiments, "splits": SPLITS, "units": UNITS})
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=payload,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    js = json.loads(done.stdout)
    assert js["buckets"] == [bucket(experiments[0], u) for u in UNITS]  # bit-identical floats
    python = [_python(e, s) for e in experiments for s in SPLITS]
    assert js["assigned"] == python


def test_sticky_and_known_value() -> None:
    split = {"control": 1, "treatment": 1}
    assert assign("e", "u1", split) == assign("e", "u1", dict(split))
    # pinned: a change of algorithm would silently reshuffle every running experiment
    assert bucket("e", "u1") == 0.7351351196017833
    assert assign("e", "u1", split) == "treatment"


def test_split_is_followed_and_experiments_are_independent() -> None:
    units = [f"u{i}" for i in range(20_000)]
    weights = {"v1": 10, "v2": 30, "v3": 60}
    got = [assign("exp-1", u, weights) for u in units]
    observed = [got.count(v) for v in weights]
    expected = [len(units) * w / 100 for w in weights.values()]
    assert sps.chisquare(observed, expected).pvalue > 0.001
    u1 = np.array([bucket("exp-1", u) for u in units])
    u2 = np.array([bucket("exp-2", u) for u in units])
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 0.03
    assert sps.kstest(u1, "uniform").pvalue > 0.001
    assert all(v != "off" for v in (assign("x", u, {"off": 0, "on": 1}) for u in units[:500]))


def test_bad_splits() -> None:
    for bad in ({}, {"a": -1}, {"a": 0}, {"a": float("inf")}):
        with pytest.raises(ValueError):
            assign("e", "u", bad)
