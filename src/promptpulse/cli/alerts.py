"""`promptpulse alerts ...`: rules, budgets and SLOs from a YAML file (idempotent, so they live
in git), and lists. Writes the metadata database directly, like `keys`; works while the server
runs (the evaluator reads rules afresh every round). `ack` and `resolve` go through a running
server's API (`--url`/`--api-key`), so the change is notified as the dashboard's would be."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ValidationError

from promptpulse.cli.ids import resolve
from promptpulse.cli.local import DataDir, metadata, settings_from
from promptpulse.cli.output import Json, console, listing, print_json, when
from promptpulse.cli.remote import DEFAULT_URL, Key, Url, call
from promptpulse.model import CATALOG, fmt

if TYPE_CHECKING:
    import sqlalchemy as sa

alerts_app = typer.Typer(
    help="Alert rules, budgets and SLOs; `apply` a YAML file; `ack`/`resolve` an alert.",
    no_args_is_help=True,
)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
KINDS = ("rules", "budgets", "slos")


@contextmanager
def alerting_engine(data_dir: Path | None) -> Iterator[sa.Engine]:
    """The metadata database; opening it migrates it to head, so every alerting table (rules,
    alerts, budgets, SLOs) exists."""
    settings = settings_from(data_dir)
    with metadata(settings) as meta:
        yield meta.engine


def _expand(value: Any) -> Any:
    """${VAR} in strings comes from the environment, so secrets stay out of git."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in os.environ:
                raise typer.BadParameter(f"environment variable {m.group(1)} is not set")
            return os.environ[m.group(1)]

        return _ENV.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def apply_document(
    engine: Any, doc: dict[str, Any], now: Any, prune: bool = False, dry_run: bool = False
) -> dict[str, list[str]]:
    """Make the database match the document; returns names by what happened to them."""
    from promptpulse.budgets.service import repo as budget_repo
    from promptpulse.cli.custom_metrics import (
        apply_custom,
        check_rule_metrics,
        check_slo_metrics,
        parse_custom,
    )
    from promptpulse.errors import Invalid
    from promptpulse.slos.service import repo as slo_repo

    unknown = set(doc) - {*KINDS, "custom_metrics"}
    if unknown:
        raise Invalid(
            f"unknown top-level key(s) {sorted(unknown)}; use custom_metrics, rules, budgets, slos"
        )
    custom = parse_custom(doc.get("custom_metrics"))
    parsed = _parse(doc)
    check_rule_metrics(engine, custom, parsed["rules"])
    check_slo_metrics(engine, custom, parsed["slos"], prune)
    out: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
    apply_custom(engine, custom, out, now, dry_run, prune)  # first: rules may name them
    _apply_rules(engine, parsed["rules"], out, now, dry_run)
    repos: tuple[tuple[str, Any], ...] = (("budgets", budget_repo), ("slos", slo_repo))
    for kind, spec_repo in repos:
        _apply_specs(engine, kind, spec_repo, parsed[kind], out, now, dry_run)
    if prune:
        _prune_rules(engine, parsed["rules"], out, dry_run)
        for kind, spec_repo in repos:
            _prune_specs(engine, kind, spec_repo, parsed[kind], out, dry_run)
    return out


def _parse(doc: dict[str, Any]) -> dict[str, list[Any]]:
    """Each list of the document validated (${VAR} expanded); the first error names its item."""
    from promptpulse.alerts.rules import RuleIn
    from promptpulse.budgets import BudgetIn
    from promptpulse.errors import Invalid
    from promptpulse.slos import SloIn

    models: tuple[type[BaseModel], ...] = (RuleIn, BudgetIn, SloIn)
    parsed: dict[str, list[Any]] = {}
    for kind, model in zip(KINDS, models, strict=True):
        items = []
        for i, raw in enumerate(doc.get(kind) or []):
            try:
                items.append(model.model_validate(_expand(raw)))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise Invalid(f"{kind}[{i}] {where}: {first['msg']}") from None
        parsed[kind] = items
    return parsed


def _apply_rules(
    engine: Any, specs: list[Any], out: dict[str, list[str]], now: Any, dry_run: bool
) -> None:
    from promptpulse.alerts import repo

    for spec in specs:
        old = repo.find_rule(engine, spec.project, spec.name)
        label = f"rule {spec.name}"
        if old is None:
            out["created"].append(label)
            if not dry_run:
                repo.create_rule(engine, spec, now)
        elif old.rule.model_dump() == spec.model_dump():
            out["unchanged"].append(label)
        else:
            out["updated"].append(label)
            if not dry_run:
                repo.update_rule(engine, old.id, spec, now)


def _apply_specs(
    engine: Any,
    kind: str,
    spec_repo: Any,
    specs: list[Any],
    out: dict[str, list[str]],
    now: Any,
    dry_run: bool,
) -> None:
    existing = {(r.spec.project, r.spec.name): r for r in spec_repo.list(engine)}
    for spec in specs:
        label = f"{kind[:-1]} {spec.name}"
        found = existing.get((spec.project, spec.name))
        if found is None:
            out["created"].append(label)
            if not dry_run:
                spec_repo.create(engine, spec, now)
        elif found.spec.model_dump() == spec.model_dump():
            out["unchanged"].append(label)
        else:
            out["updated"].append(label)
            if not dry_run:
                spec_repo.update(engine, found.id, spec, now)


def _prune_rules(engine: Any, specs: list[Any], out: dict[str, list[str]], dry_run: bool) -> None:
    from promptpulse.alerts import repo

    wanted = {(s.project, s.name) for s in specs}
    for rec in repo.list_rules(engine):
        if (rec.rule.project, rec.rule.name) not in wanted:
            out["deleted"].append(f"rule {rec.rule.name}")
            if not dry_run:
                repo.delete_rule(engine, rec.id)


def _prune_specs(
    engine: Any, kind: str, spec_repo: Any, specs: list[Any], out: dict[str, list[str]],
    dry_run: bool,
) -> None:  # fmt: skip
    wanted = {(s.project, s.name) for s in specs}
    for r in spec_repo.list(engine):
        if (r.spec.project, r.spec.name) not in wanted:
            out["deleted"].append(f"{kind[:-1]} {r.spec.name}")
            if not dry_run:
                spec_repo.delete(engine, r.id)


@alerts_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="YAML with rules:, budgets:, slos: lists")],
    prune: Annotated[
        bool, typer.Option(help="Delete rules, budgets and SLOs not in the file")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Say what would change, and backtest each object; change nothing")
    ] = False,
    backtest_days: Annotated[
        int, typer.Option(min=0, max=31, help="--dry-run: backtest over these days (0: none)")
    ] = 30,
    data_dir: DataDir = None,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
) -> None:
    """Create or update rules, budgets and SLOs by name; running it twice changes nothing.

    With --dry-run, also what each would have fired over the last --backtest-days (through the
    server when --api-key is given, else on the data directory's store, its server stopped)."""
    import yaml

    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist")
    doc = yaml.safe_load(file.read_text()) or {}
    if not isinstance(doc, dict):
        raise typer.BadParameter("the file must be a mapping with rules:, budgets:, slos:")
    with alerting_engine(data_dir) as engine:
        result = apply_document(engine, doc, datetime.now(UTC), prune, dry_run)
        ratios = _slo_ratios(engine, doc) if dry_run and backtest_days and not api_key else {}
    for what, names in result.items():
        for name in names:
            console.print(f"{'would be ' if dry_run else ''}{what}: {name}")
    console.print(", ".join(f"{len(v)} {k}" for k, v in result.items()))
    if dry_run and backtest_days:
        from promptpulse.cli.backtest import show_backtests

        show_backtests(_parse(doc), backtest_days, data_dir, url, api_key, ratios)


def _slo_ratios(engine: Any, doc: dict[str, Any]) -> dict[tuple[str | None, str], Any]:
    """Custom SLIs' terms for local backtests (their metric may be defined in the file only)."""
    from promptpulse.cli.custom_metrics import check_slo_metrics, parse_custom

    return check_slo_metrics(engine, parse_custom(doc.get("custom_metrics")), _parse(doc)["slos"])


@alerts_app.command("rules")
def list_rules(
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List alert rules (secrets never shown)."""
    from promptpulse.alerts import repo
    from promptpulse.notify import PRIORITY

    with alerting_engine(data_dir) as engine:
        records = repo.list_rules(engine, project)
    if as_json:
        return print_json({"rules": [rec.public() for rec in records]})
    rows = []
    for rec in records:
        r = rec.rule
        cond = (
            f"anomaly ({r.sensitivity})"
            if r.operator == "anomaly"
            else f"{r.operator} {_threshold(r.operator, r.threshold, r.metric)}"
        )
        on = "yes" if r.enabled else "no"
        rows.append((rec.id, r.project or "*", r.name, str(r.metric), cond, r.window, r.for_,
                     PRIORITY.get(r.severity, r.severity), on))  # fmt: skip
    columns = ("id", "project", "name", "metric", "condition", "window", "for", "P", "enabled")
    console.print(listing(columns, rows, optional=("project", "for", "enabled", "window")))


@alerts_app.command("list")
def list_alerts(
    state: Annotated[
        str | None, typer.Option(help="pending, firing, acknowledged, resolved")
    ] = None,
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List alerts, newest first."""
    from promptpulse.alerts import repo

    with alerting_engine(data_dir) as engine:
        alerts = repo.list_alerts(engine, project, [state] if state else [], [], None, 100)
    if as_json:
        return print_json({"alerts": alerts})
    rows = [
        (
            a["id"],
            a["state"],
            a["priority"],
            f"{_value(a['value'], a['metric'])} / {_value(a['threshold'], a['metric'])}",
            _since(a["started_at"]),
            a["name"],
        )
        for a in alerts
    ]
    columns = ("id", "state", "P", "value / threshold", "since (UTC)", "name")
    console.print(listing(columns, rows, optional=("since (UTC)", "P")))


def _since(at: Any) -> str:
    """A time as a person reads it in a listing: month-day hour:minute (the year is --json's)."""
    return when(at)[5:]


@alerts_app.command("budgets")
def list_budgets(
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List budgets (their status is in the API and the dashboard)."""
    from promptpulse.budgets.service import repo as budget_repo

    with alerting_engine(data_dir) as engine:
        records = budget_repo.list(engine, project)
    if as_json:
        return print_json({"budgets": [rec.public() for rec in records]})
    rows = [
        (rec.id, b.project or "*", b.name, f"{b.amount:g} {b.metric}", b.period,
         "yes" if b.enabled else "no")
        for rec in records
        for b in [rec.spec]
    ]  # fmt: skip
    columns = ("id", "project", "name", "amount", "period", "enabled")
    console.print(listing(columns, rows, optional=("project", "enabled")))


@alerts_app.command("slos")
def list_slos(
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List SLOs (their burn rates are in the API and the dashboard)."""
    from promptpulse.slos.service import repo as slo_repo

    with alerting_engine(data_dir) as engine:
        records = slo_repo.list(engine, project)
    if as_json:
        return print_json({"slos": [rec.public() for rec in records]})
    rows = [
        (rec.id, s.project or "*", s.name, s.sli, f"{s.objective:g}", s.window,
         "yes" if s.enabled else "no")
        for rec in records
        for s in [rec.spec]
    ]  # fmt: skip
    columns = ("id", "project", "name", "sli", "objective", "window", "enabled")
    console.print(listing(columns, rows, optional=("project", "enabled", "window")))


@alerts_app.command("templates")
def templates(as_json: Json = False) -> None:
    """Built-in rule templates (use `template: NAME` in a rule)."""
    from promptpulse.alerts import TEMPLATES

    if as_json:
        return print_json({"templates": [{"name": n, **t} for n, t in TEMPLATES.items()]})
    rows = []
    for name, t in TEMPLATES.items():
        cond = (
            f"anomaly {t.get('direction', '')} ≥{t.get('min_ratio', '')}x"
            if t["operator"] == "anomaly"
            else f"{t['operator']} {t['threshold']}"
        )
        rows.append((name, t["metric"], cond, t["window"], t["for"], t["description"]))
    columns = ("template", "metric", "condition", "window", "for", "what")
    console.print(listing(columns, rows, wrap=("what",), optional=("for", "window")))


AlertId = Annotated[str, typer.Argument(help="The alert's id, or a unique start of it")]
Note = Annotated[str | None, typer.Option(help="A note kept in the alert's history")]
By = Annotated[str | None, typer.Option(help="Who (default: the key's name)")]


def _by_hand(action: str, typed: str, note: str | None, by: str | None, url: str, key: str) -> Any:
    """POST /v1/alerts/{id}/{action} through the API (an admin key); a unique start of an open
    alert's id is enough. What is not an open alert's start goes as typed: the server says why."""
    from promptpulse.errors import NotFound

    open_ = call(url, key, "GET", "/v1/alerts", params={"state": "open", "limit": 1000})
    try:
        alert_id = resolve(typed, (a["id"] for a in open_["alerts"]), "open alert")
    except NotFound:
        alert_id = typed
    body = {k: v for k, v in (("note", note), ("by", by)) if v is not None}
    return call(url, key, "POST", f"/v1/alerts/{alert_id}/{action}", json=body)


@alerts_app.command("ack")
def ack(
    alert_id: AlertId,
    note: Note = None,
    by: By = None,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    as_json: Json = False,
) -> None:
    """Acknowledge a firing alert on a running server (stops its reminders)."""
    a = _by_hand("acknowledge", alert_id, note, by, url, api_key)
    if as_json:
        return print_json(a)
    console.print(f"acknowledged {a['id']} ({a['name']})", highlight=False, markup=False)


@alerts_app.command("resolve")
def resolve_cmd(
    alert_id: AlertId,
    note: Note = None,
    by: By = None,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    as_json: Json = False,
) -> None:
    """Resolve an alert by hand on a running server."""
    a = _by_hand("resolve", alert_id, note, by, url, api_key)
    if as_json:
        return print_json(a)
    console.print(f"resolved {a['id']} ({a['name']})", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _value(v: float | None, metric: str | None) -> str:
    """A value in its metric's catalog unit, by the one rule of `model.fmt`."""
    m = CATALOG.get(metric or "")
    return "" if v is None else fmt.value(v, m.unit if m is not None else None)


def _threshold(operator: str | None, threshold: float | None, metric: str | None) -> str:
    """increase/decrease thresholds are relative (a percentage); others in the metric's unit."""
    if operator in ("increase", "decrease"):
        return fmt.pct(threshold)
    return _value(threshold, metric)
