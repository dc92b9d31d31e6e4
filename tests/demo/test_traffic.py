"""The demo's traffic generator and its seeding, without a server."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from rich.console import Console

from promptpulse.alerts import repo as alerts_repo
from promptpulse.budgets.service import repo as budgets_repo
from promptpulse.config import Settings
from promptpulse.demo import PROJECT, DemoTraffic, seed
from promptpulse.demo.scenario import heading_for_overrun
from promptpulse.demo.traffic import AB_CONTROL, AB_PROMPT, AB_TREATMENT
from promptpulse.experiments import repo as experiments_repo
from promptpulse.ingest.pipeline import prepare_events
from promptpulse.meta import MetaDB, list_prices
from promptpulse.meta.custom_metrics import list_custom
from promptpulse.slos.service import repo as slos_repo
from promptpulse.store import open_store

END = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)


def _events(traffic: DemoTraffic, days: float) -> list[dict[str, object]]:
    return [e for m in traffic.minutes(END - timedelta(days=days), END) for e in m]


def test_same_seed_same_events_and_all_of_them_valid() -> None:
    first = _events(DemoTraffic(seed=3, base_rpm=2), 5)
    assert first == _events(DemoTraffic(seed=3, base_rpm=2), 5)
    assert first != _events(DemoTraffic(seed=4, base_rpm=2), 5)
    prepared = prepare_events(
        orjson.dumps({"events": first}),
        key_project=PROJECT,
        overrides=lambda project, model, day: None,
        now=END,
        max_events=len(first),
    )
    assert prepared.rejected == [] and prepared.table.num_rows == len(first)
    # The second incident: gpt-4o-mini rate-limited for about an hour, four days before END.
    spike = [
        e
        for e in first
        if e["model"] == "gpt-4o-mini"
        and 4.02
        < (END - datetime.fromisoformat(str(e["timestamp"]))).total_seconds() / 86400
        < 4.06
    ]
    assert sum(e.get("error_type") == "rate_limit" for e in spike) > len(spike) / 10


def test_seed_writes_history_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    out = io.StringIO()
    console = Console(file=out, width=200)
    total = seed(settings, 1, 3.0, console)
    assert total > 500 and f"seeded {total:,} calls over 1 days" in out.getvalue()
    store = open_store(settings)
    try:
        assert store.row_counts()["calls"] == total
    finally:
        store.close()
    assert seed(settings, 1, 3.0, console) == 0
    assert "already stored; not seeding again" in out.getvalue()
    meta = MetaDB(settings.metadata_db_url)
    try:
        [(_, price)] = list_prices(meta, PROJECT)
        assert price.model == "llama-3.1-70b-selfhosted"
        # The demo's objects, once: a restart duplicates none of them.
        assert len(experiments_repo.list_all(meta, PROJECT)) == 1
        assert len(budgets_repo.list(meta.engine, PROJECT)) == 1
        assert len(slos_repo.list(meta.engine, PROJECT)) == 2
        assert len(alerts_repo.list_rules(meta.engine, PROJECT)) == 3
        [custom] = list_custom(meta.engine, PROJECT)
        assert custom.spec.name == "timeout_rate"
        alerts = alerts_repo.list_alerts(meta.engine, PROJECT, [], [], None, 100)
        assert [a["state"] for a in alerts].count("acknowledged") == 1
    finally:
        meta.close()
    assert out.getvalue().count("demo objects") == 1


def test_a_budget_heading_for_overrun_sits_between_spend_and_projection() -> None:
    assert heading_for_overrun(54, 1180) == 940
    for spent, projected in ((54, 1180), (900, 1000), (0.01, 0.02), (99.99, 100), (0, 3.3)):
        assert spent < heading_for_overrun(spent, projected) < projected


def test_the_ab_test_splits_evenly_and_the_treatment_fails_less() -> None:
    """rag-answer v4 against v5, half and half per call all along: v5 fails less often and
    answers more briefly (the experiment the demo seeds has a real winner)."""
    calls = [e for e in _events(DemoTraffic(seed=5, base_rpm=20), 3) if e["prompt_id"] == AB_PROMPT]
    arms = {v: [e for e in calls if e["prompt_version"] == v] for v in (AB_CONTROL, AB_TREATMENT)}
    control, treatment = arms[AB_CONTROL], arms[AB_TREATMENT]
    assert len(control) + len(treatment) == len(calls) > 2000
    assert abs(len(control) - len(treatment)) < 4 * (len(calls) ** 0.5)  # no sample-ratio skew

    def failed(arm: list[dict[str, object]]) -> float:
        return sum(e["status"] == "error" for e in arm) / len(arm)

    def output(arm: list[dict[str, object]]) -> float:
        return sum(int(str(e["output_tokens"])) for e in arm) / len(arm)

    assert failed(control) > failed(treatment) + 0.015
    assert output(treatment) < output(control)


def test_the_ab_arms_never_drift_apart_whenever_the_demo_is_seeded() -> None:
    """The arms go in pairs of calls. With a coin per call, the demo seeded on 2026-12-05 at
    11:49 UTC (2 days at 30 calls a minute) split rag-answer 2,336 to 2,094, and its Experiments
    page showed a sample ratio mismatch (chi-square p < 0.001) instead of a result."""
    for end in (datetime(2026, 12, 5, 11, 49, tzinfo=UTC), END + timedelta(minutes=13)):
        traffic = DemoTraffic(base_rpm=30)
        versions = [
            e["prompt_version"]
            for m in traffic.minutes(end - timedelta(days=2), end)
            for e in m
            if e["prompt_id"] == AB_PROMPT
        ]
        control, treatment = versions.count(AB_CONTROL), versions.count(AB_TREATMENT)
        assert control + treatment == len(versions) > 4000
        assert abs(control - treatment) <= 1, (control, treatment)
        # and the pairs' order is still random: each arm opens about half of them
        openers = versions[::2]
        assert 0.45 < openers.count(AB_CONTROL) / len(openers) < 0.55
