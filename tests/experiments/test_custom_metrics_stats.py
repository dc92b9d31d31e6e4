"""Statistics of custom metrics, held against independent computations: the delta method against
the textbook variance of a ratio estimator and against a bootstrap, the proportion case against
statsmodels' two-proportion z-test, and /v1/compare on a custom metric end to end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

from promptpulse.experiments.custom_stats import compare_formula, estimate
from promptpulse.model import Term
from promptpulse.model.formula import expand_terms
from promptpulse.model.formula_parse import parse
from tests.conftest import InProcessApp, iso

RATING_SUM = Term("score_sum", "rating").key
RATING_N = Term("score_count", "rating").key


def ratings(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    """Per call: 0-3 ratings, their sum (values 1..5, mean moved by `shift`)."""
    count = rng.integers(0, 4, n).astype(float)
    total = np.array([rng.normal(3 + shift, 1.2, int(k)).sum() for k in count])
    return {RATING_SUM: total, RATING_N: count}


def test_ratio_of_sums_matches_the_textbook_delta_variance() -> None:
    rng = np.random.default_rng(11)
    cols = ratings(rng, 3000, 0.0)
    value, var = estimate(parse("avg(score.rating)"), cols)
    x, y = cols[RATING_SUM], cols[RATING_N]
    n = len(x)
    r = x.sum() / y.sum()
    # Var(R) ≈ (s_x² − 2 R s_xy + R² s_y²) / (n · ȳ²)
    s = np.cov(x, y, ddof=1)
    textbook = (s[0, 0] - 2 * r * s[0, 1] + r * r * s[1, 1]) / (n * y.mean() ** 2)
    assert value == pytest.approx(r, rel=1e-12)
    assert var == pytest.approx(textbook, rel=1e-9)


def test_a_nonlinear_formula_agrees_with_a_bootstrap() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    cols = ratings(rng, n, 0.0)
    latency = rng.lognormal(6, 0.7, n)
    cols[Term("where", "latency_ms", "<", 500.0).key] = (latency < 500).astype(float)
    cols[Term("calls").key] = np.ones(n)
    node = expand_terms(parse("avg(score.rating) * 10 - count(latency_ms < 500) / requests"))
    assert node is not None
    value, var = estimate(node, cols)
    keys = list(cols)

    def f(idx: np.ndarray) -> float:
        s = {k: cols[k][idx].sum() for k in keys}
        return float(
            s[RATING_SUM] / s[RATING_N] * 10
            - s[Term("where", "latency_ms", "<", 500.0).key] / s["count()"]
        )

    assert value == pytest.approx(f(np.arange(n)), rel=1e-12)
    boot = [f(rng.integers(0, n, n)) for _ in range(1500)]
    assert np.sqrt(var) == pytest.approx(np.std(boot, ddof=1), rel=0.1)


def test_difference_p_value_and_interval_of_the_delta_method() -> None:
    rng = np.random.default_rng(3)
    a, b = ratings(rng, 1500, 0.0), ratings(rng, 1500, 0.15)
    node = parse("avg(score.rating)")
    got = compare_formula(node, a, b, alpha=0.05)
    (va, var_a), (vb, var_b) = estimate(node, a), estimate(node, b)
    se = np.sqrt(var_a + var_b)
    z = (vb - va) / se
    assert got.test == "delta_method"
    assert got.difference == pytest.approx(vb - va, rel=1e-12)
    assert got.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-9)
    half = sps.norm.ppf(0.975) * se
    assert (got.ci_low, got.ci_high) == pytest.approx((vb - va - half, vb - va + half))
    assert (got.p_value < 0.05) == (got.ci_low > 0 or got.ci_high < 0)


def test_a_ratio_of_per_call_counts_is_a_proportion() -> None:
    """count(score.thumbs = 1) / count(score.thumbs), one thumbs per call at most: the calls
    that have a thumbs are the trials; the test is statsmodels' pooled two-proportion z."""
    rng = np.random.default_rng(9)
    node = parse("count(score.thumbs = 1) / count(score.thumbs)")
    up, n_key = Term("score_count", "thumbs", "=", 1.0).key, Term("score_count", "thumbs").key

    def variant(n: int, p: float) -> dict[str, np.ndarray]:
        has = (rng.random(n) < 0.6).astype(float)
        return {n_key: has, up: has * (rng.random(n) < p)}

    a, b = variant(2000, 0.55), variant(2000, 0.60)
    got = compare_formula(node, a, b)
    counts = np.array([b[up].sum(), a[up].sum()])
    trials = np.array([b[n_key].sum(), a[n_key].sum()])
    _, p = proportions_ztest(counts, trials)
    assert got.test == "two_proportion_z"
    assert got.difference == pytest.approx(counts[0] / trials[0] - counts[1] / trials[1])
    assert got.p_value == pytest.approx(p, rel=1e-9)
    # two thumbs on one call: no longer a proportion, the delta method takes over
    a[n_key][0], a[up][0] = 2.0, 2.0
    assert compare_formula(node, a, b).test == "delta_method"


BASE = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def test_compare_api_on_custom_metrics(app: InProcessApp) -> None:
    """Two prompt versions; satisfaction (a proportion) decides, mean rating (delta method) is a
    guardrail; both against numpy/statsmodels over the generated calls."""
    rng = np.random.default_rng(21)
    project = f"cmp-{uuid.uuid4().hex[:8]}"
    n = 1600
    version = np.where(rng.random(n) < 0.5, "v1", "v2")
    ids = [f"c{i}" for i in range(n)]
    events, scores = [], []
    thumbs = np.full(n, np.nan)
    rating_sum, rating_n = np.zeros(n), np.zeros(n)
    for i in range(n):
        events.append(
            {
                "id": ids[i],
                "timestamp": iso(BASE + timedelta(seconds=i)),
                "model": "gpt-4o",
                "prompt_id": "p",
                "prompt_version": version[i],
                "latency_ms": 100.0,
            }
        )
        if rng.random() < 0.7:
            thumbs[i] = float(rng.random() < (0.5 if version[i] == "v1" else 0.6))
            scores.append({"event_id": ids[i], "name": "thumbs", "value": thumbs[i]})
        for _ in range(int(rng.integers(0, 3))):
            v = float(rng.integers(1, 6))
            rating_sum[i] += v
            rating_n[i] += 1
            scores.append({"event_id": ids[i], "name": "rating", "value": v})
    key = app.key(project, "ingest,read,admin")
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).json()["accepted"] == n
        assert c.post("/v1/scores", json={"scores": scores}).status_code == 200
        for name, formula in (
            ("satisfaction", "count(score.thumbs = 1) / count(score.thumbs)"),
            ("mean_rating", "avg(score.rating)"),
            ("slow_p95", "latency_p95_ms * 2"),
        ):
            r = c.post(
                "/v1/metrics/custom",
                json={"name": name, "formula": formula, "higher_is_better": True},
            )
            assert r.status_code == 201, r.text
        params: dict[str, Any] = {
            "from": iso(BASE),
            "to": iso(BASE + timedelta(hours=1)),
            "by": "prompt_version",
            "values": "v1,v2",
            "primary": "satisfaction",
            "guardrails": "mean_rating",
        }
        got = c.get("/v1/compare", params=params).json()
        bad = c.get("/v1/compare", params={**params, "guardrails": "slow_p95"})
    assert bad.status_code == 422 and "slow_p95 cannot be tested" in bad.text
    rows = {(x["metric"], x["variant"]): x for x in got["comparisons"]}
    sat = rows[("satisfaction", "v2")]
    has = ~np.isnan(thumbs)
    x = [np.nansum(thumbs[(version == v) & has]) for v in ("v2", "v1")]
    m = [((version == v) & has).sum() for v in ("v2", "v1")]
    _, p = proportions_ztest(np.array(x), np.array(m))
    assert sat["test"] == "two_proportion_z"
    assert sat["difference"] == pytest.approx(x[0] / m[0] - x[1] / m[1], rel=1e-9)
    assert sat["p_value"] == pytest.approx(p, rel=1e-6)
    variants = {v["value"]: v for v in got["variants"]}
    assert variants["v2"]["satisfaction"] == pytest.approx(x[0] / m[0], rel=1e-9)
    # mean rating: the textbook ratio variance per variant, then a z-test
    est = {}
    for v in ("v1", "v2"):
        sx, sy = rating_sum[version == v], rating_n[version == v]
        r = sx.sum() / sy.sum()
        cov = np.cov(sx, sy, ddof=1)
        est[v] = (
            r,
            (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (len(sx) * sy.mean() ** 2),
        )
    d = est["v2"][0] - est["v1"][0]
    z = d / np.sqrt(est["v1"][1] + est["v2"][1])
    mr = rows[("mean_rating", "v2")]
    assert mr["test"] == "delta_method"
    assert mr["difference"] == pytest.approx(d, rel=1e-9)
    assert mr["p_value"] == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-6)


def test_an_experiment_with_a_custom_primary_metric(app: InProcessApp) -> None:
    """Primary: a custom share of fast calls (a proportion over all calls), guardrail: a custom
    ratio of sums; the comparison against statsmodels, the daily figures against numpy, and
    a primary metric the project does not have is a 422."""
    rng = np.random.default_rng(33)
    project = f"exp-{uuid.uuid4().hex[:8]}"
    n = 1200
    version = np.where(rng.random(n) < 0.5, "v1", "v2")
    latency = np.where(version == "v1", rng.lognormal(7.0, 0.6, n), rng.lognormal(6.8, 0.6, n))
    tokens = rng.integers(10, 500, n)
    stamps = [BASE + timedelta(minutes=3 * i) for i in range(n)]  # 2.5 days
    events = [{"id": f"e{i}", "timestamp": iso(stamps[i]), "model": "gpt-4o", "prompt_id": "p",
               "prompt_version": version[i], "latency_ms": float(latency[i]),
               "output_tokens": int(tokens[i])} for i in range(n)]  # fmt: skip
    key = app.key(project, "ingest,read,admin")
    body: dict[str, Any] = {
        "name": "fast answers", "key": "fast",
        "variants": [{"filter": "prompt_version=v1"}, {"filter": "prompt_version=v2"}],
        "primary_metric": "fast_share", "guardrails": ["ms_per_token"],
        "start": iso(BASE), "end": iso(BASE + timedelta(days=3)),
    }  # fmt: skip
    with app.client(key) as c:
        assert c.post("/v1/events", json={"events": events}).json()["accepted"] == n
        missing = c.post("/v1/experiments", json=body)
        assert missing.status_code == 422 and "unknown metric fast_share" in missing.text
        for name, formula, up in (
            ("fast_share", "count(latency_ms < 1000) / requests", True),
            ("ms_per_token", "sum(latency_ms) / output_tokens", False),
        ):
            r = c.post(
                "/v1/metrics/custom",
                json={"name": name, "formula": formula, "higher_is_better": up},
            )
            assert r.status_code == 201, r.text
        created = c.post("/v1/experiments", json=body)
        assert created.status_code == 201, created.text
        res = c.get(f"/v1/experiments/{created.json()['id']}/results").json()
    rows = {(x["metric"], x["variant"]): x for x in res["comparisons"]}
    fast = rows[("fast_share", "v2")]
    x = np.array([(latency[version == v] < 1000).sum() for v in ("v2", "v1")])
    m = np.array([(version == v).sum() for v in ("v2", "v1")])
    _, p = proportions_ztest(x, m)
    assert fast["test"] == "two_proportion_z"
    assert fast["difference"] == pytest.approx(x[0] / m[0] - x[1] / m[1], rel=1e-9)
    assert fast["p_value"] == pytest.approx(p, rel=1e-6)
    rail = rows[("ms_per_token", "v2")]
    assert rail["test"] == "delta_method"
    want = [latency[version == v].sum() / tokens[version == v].sum() for v in ("v1", "v2")]
    assert rail["difference"] == pytest.approx(want[1] - want[0], rel=1e-9)
    day = np.array([s.date() for s in stamps])
    for point in res["daily"]:
        t = datetime.fromisoformat(point["t"].replace("Z", "+00:00")).date()
        mask = (day == t) & (version == point["variant"])
        assert point["fast_share"] == pytest.approx((latency[mask] < 1000).mean(), rel=1e-9)
    assert res["decision"]  # the sequential test ran on the custom metrics
    assert {t["metric"] for t in res["sequential"]["tests"]} == {"fast_share", "ms_per_token"}
