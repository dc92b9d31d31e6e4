"""The demo's objects, seeded once through the same repositories and services as the API, so
that the Experiments and Alerts pages have something to show: a running experiment with a real
winner (rag-answer v4 against v5, the A/B test of `traffic`), a budget heading for overrun, two
SLOs (availability burns its error budget), alert rules, a custom dashboard (demo/dashboard.py),
and one round of the alert evaluator after which one alert is acknowledged. Each object is
created only when none of its name is there yet: a restart duplicates nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from promptpulse.alerts import AlertService, RuleIn
from promptpulse.alerts import repo as alerts_repo
from promptpulse.app import alert_service
from promptpulse.budgets import BudgetIn, budget_status
from promptpulse.budgets.service import repo as budgets_repo
from promptpulse.config import Settings
from promptpulse.demo.dashboard import seed_dashboard
from promptpulse.demo.traffic import AB_CONTROL, AB_PROMPT, AB_TREATMENT
from promptpulse.errors import NotFound
from promptpulse.experiments import repo as experiments_repo
from promptpulse.markers import AnnotationSpec, create, list_in
from promptpulse.meta import MetaDB
from promptpulse.meta.custom_metrics import CustomSpec, create_custom, list_custom
from promptpulse.slos import SloIn
from promptpulse.slos.service import repo as slos_repo
from promptpulse.store import Store

PROJECT = "demo"
EXPERIMENT_KEY = f"{AB_PROMPT}-{AB_TREATMENT}"
BUDGET = "demo: monthly spend"
ACKNOWLEDGED_BY = "demo"
ONLY_DEMO = {"project": [PROJECT]}

SLOS: tuple[dict[str, Any], ...] = (
    {
        # 2.5 % of calls fail: 2.5x the 1 % allowed, so the 3-day burn alert fires.
        "name": "demo: availability",
        "sli": "success_rate",
        "objective": 0.99,
        "window": "7d",
        "filters": ONLY_DEMO,
        "labels": {"team": "platform"},
    },
    {
        # Healthy: about 1 % of answers take longer (timeouts and the longest v3 answers).
        "name": "support-answer: answers under 15 s",
        "sli": "latency",
        "latency_threshold_ms": 15_000,
        "objective": 0.95,
        "window": "7d",
        "filters": {**ONLY_DEMO, "prompt_id": ["support-answer"]},
        "labels": {"team": "support"},
    },
)
# A custom metric (docs/metrics.md): the timeouts' share of calls, offered by the dashboard's
# metric pickers and usable in compare and alert rules like a catalog metric.
CUSTOM_METRIC = CustomSpec(
    "timeout_rate",
    'count(error_type = "timeout") / requests',
    "ratio",
    False,
    "Calls that timed out / requests",
)
RULES: tuple[dict[str, Any], ...] = (
    {
        # Quiet: 2.5 % of calls fail, and a quarter of an hour holds enough of them.
        "name": "demo: error rate above 10 %",
        "template": "error_rate_high",
        "threshold": 0.1,
        "window": "15m",
        "filters": ONLY_DEMO,
        "labels": {"team": "platform"},
    },
    {
        "name": "demo: latency spike",
        "template": "latency_spike",
        "filters": ONLY_DEMO,
        "labels": {"team": "platform"},
    },
    {
        # o3-mini reasons before it answers: its p95 sits near 5 s, so this one fires.
        "name": "sql-generator: p95 latency above 3.5 s",
        "metric": "latency_p95_ms",
        "operator": ">",
        "threshold": 3500,
        "window": "6h",
        "for": "0s",
        "severity": "warning",
        "filters": {**ONLY_DEMO, "prompt_id": ["sql-generator"]},
        "labels": {"team": "data"},
        "runbook_url": "https://example.com/runbooks/sql-generator-latency",
    },
)


def seed_objects(
    settings: Settings, store: Store, meta: MetaDB, start: datetime, console: Console
) -> list[str]:
    """Create whichever demo object is missing (the experiment starts at `start`, when the
    seeded history does); after any was created, run one alert round and acknowledge one
    firing alert. The names of the objects created."""
    now = datetime.now(UTC)
    created = [
        *_experiment(meta, start, now),
        *_budget(meta, store, now),
        *_specs(meta, now),
        *seed_dashboard(meta, PROJECT, now),
        *_custom_metric(meta, now),
        *_annotations(meta, now),
    ]
    if not created:
        return []
    service = alert_service(meta, store, lambda: datetime.now(UTC), settings)
    service.evaluate_round()  # the demo's objects have no channels: nothing to deliver
    acknowledged = _acknowledge_one(service)
    console.print(
        f"seeded {len(created)} demo objects (experiment, budget, SLOs, alert rules, dashboard)"
        + (f"; acknowledged alert: {acknowledged}" if acknowledged else "")
    )
    return created


def _custom_metric(meta: MetaDB, now: datetime) -> list[str]:
    if any(r.spec.name == CUSTOM_METRIC.name for r in list_custom(meta.engine, PROJECT)):
        return []
    create_custom(meta.engine, PROJECT, CUSTOM_METRIC, now)
    return [CUSTOM_METRIC.name]


# Changes just before the two incidents of the traffic (demo/traffic.py), so the charts' change
# markers and the alerts' likely causes have something to show: (days ago, kind, title).
ANNOTATIONS = (
    (2.0, "config", "Anthropic traffic moved to a new region"),
    (4.07, "deploy", "gateway 4.2: retries off for gpt-4o-mini"),
)


def _annotations(meta: MetaDB, now: datetime) -> list[str]:
    recorded = list_in(meta.engine, [PROJECT], now - timedelta(days=8), now + timedelta(days=1))
    if recorded:
        return []
    for days_ago, kind, title in ANNOTATIONS:
        spec = AnnotationSpec(now - timedelta(days=days_ago), kind, title)
        create(meta.engine, PROJECT, spec, now)
    return [title for _, _, title in ANNOTATIONS]


def _experiment(meta: MetaDB, start: datetime, now: datetime) -> list[str]:
    try:
        experiments_repo.get(meta, EXPERIMENT_KEY, PROJECT)
        return []
    except NotFound:
        pass
    v = experiments_repo.Variant
    exp = experiments_repo.Experiment(
        id="",
        project=PROJECT,
        key=EXPERIMENT_KEY,
        name=f"{AB_PROMPT} {AB_TREATMENT}: stricter output format",
        hypothesis=(
            f"{AB_TREATMENT}'s stricter output format fails validation less often than "
            f"{AB_CONTROL}, without slower or dearer answers"
        ),
        dimension="prompt_version",
        variants=(v(AB_CONTROL, AB_CONTROL, 1.0), v(AB_TREATMENT, AB_TREATMENT, 1.0)),
        primary_metric="success_rate",
        mde=0.01,
        start=min(start, now - timedelta(hours=1)),
        created_at=now,
    )
    return [experiments_repo.create(meta, exp).name]


def _budget(meta: MetaDB, store: Store, now: datetime) -> list[str]:
    """This month's spend, with an amount between the spend so far and the projection: not
    yet spent, but heading for overrun."""
    if any(r.spec.name == BUDGET for r in budgets_repo.list(meta.engine, PROJECT)):
        return []
    body: dict[str, Any] = {"name": BUDGET, "period": "month", "filters": ONLY_DEMO}
    status = budget_status(store, BudgetIn(**body, amount=1.0), now)
    amount = heading_for_overrun(status["spent"], status["projected"])
    budgets_repo.create(meta.engine, BudgetIn(**body, amount=amount), now)
    return [BUDGET]


def heading_for_overrun(spent: float, projected: float) -> float:
    """An amount the projection overruns by about a quarter and the spend has not reached,
    rounded to two significant digits when that keeps it between the two."""
    if projected <= 0:
        return 1.0
    amount = max(projected / 1.25, spent + (projected - spent) / 2) if spent < projected else 0.0
    if amount <= 0:  # nothing left to project (the period's last moment): a nominal amount
        return round(projected * 0.8, 2) or 0.01
    rounded = float(f"{amount:.2g}")
    return rounded if spent < rounded < projected else round(amount, 4)


def _specs(meta: MetaDB, now: datetime) -> list[str]:
    engine = meta.engine
    created = []
    slos = {r.spec.name for r in slos_repo.list(engine, PROJECT)}
    for slo in SLOS:
        if slo["name"] not in slos:
            created.append(slos_repo.create(engine, SloIn.model_validate(slo), now).spec.name)
    for body in RULES:
        if alerts_repo.find_rule(engine, PROJECT, str(body["name"])) is None:
            rule = alerts_repo.create_rule(engine, RuleIn.model_validate(body), now)
            created.append(rule.rule.name)
    return created


def _acknowledge_one(service: AlertService) -> str | None:
    """Acknowledge the availability SLO's firing alert (another firing one if it is not)."""
    if _alerts(service, "acknowledged"):
        return None
    firing = _alerts(service, "firing")
    firing.sort(key=lambda a: (a["source"] != "slo", a["name"]))
    if not firing:
        return None
    alert = firing[0]
    service.change_by_hand(
        alert["id"], "acknowledge", ACKNOWLEDGED_BY, "looking into it (seeded by the demo)", PROJECT
    )
    return str(alert["name"])


def _alerts(service: AlertService, state: str) -> list[dict[str, Any]]:
    return alerts_repo.list_alerts(service.engine, PROJECT, [state], [], None, 100)
