"""`promptpulse alerts ...`: rules, budgets and SLOs from a YAML file (idempotent, so they live
in git), and lists. Writes the metadata database directly, like `keys`; works while the server
runs (the evaluator reads rules afresh every round)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

alerts_app = typer.Typer(
    help="Alert rules, budgets and SLOs; `apply` a YAML file.", no_args_is_help=True
)
console = Console()
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env PROMPTPULSE_DATA_DIR)")
]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _engine(data_dir: Path | None) -> Any:
    from promptpulse.alerts.tables import metadata
    from promptpulse.budgets import create_tables as budget_tables
    from promptpulse.cli import settings_from
    from promptpulse.meta import MetaDB
    from promptpulse.slos import create_tables as slo_tables

    engine = MetaDB(settings_from(data_dir).metadata_db_url).engine
    metadata.create_all(engine)
    budget_tables(engine)
    slo_tables(engine)
    return engine


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
    from promptpulse.alerts import repo
    from promptpulse.alerts.rules import RuleIn
    from promptpulse.budgets import BudgetIn
    from promptpulse.budgets.service import repo as budget_repo
    from promptpulse.errors import Invalid
    from promptpulse.slos import SloIn
    from promptpulse.slos.service import repo as slo_repo

    unknown = set(doc) - {"rules", "budgets", "slos"}
    if unknown:
        raise Invalid(f"unknown top-level key(s) {sorted(unknown)}; use rules, budgets, slos")
    out: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
    parsed: dict[str, list[Any]] = {}
    for kind, model in (("rules", RuleIn), ("budgets", BudgetIn), ("slos", SloIn)):
        items = []
        for i, raw in enumerate(doc.get(kind) or []):
            try:
                items.append(model.model_validate(_expand(raw)))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise Invalid(f"{kind}[{i}] {where}: {first['msg']}") from None
        parsed[kind] = items
    for spec in parsed["rules"]:
        assert isinstance(spec, RuleIn)
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
    for kind, spec_repo in (("budgets", budget_repo), ("slos", slo_repo)):  # type: ignore[assignment]
        _apply_specs(engine, kind, spec_repo, parsed[kind], out, now, dry_run)
    if prune:
        wanted = {(s.project, s.name) for s in parsed["rules"]}  # type: ignore[attr-defined]
        for rec in repo.list_rules(engine):
            if (rec.rule.project, rec.rule.name) not in wanted:
                out["deleted"].append(f"rule {rec.rule.name}")
                if not dry_run:
                    repo.delete_rule(engine, rec.id)
        repos: tuple[tuple[str, Any], ...] = (("budgets", budget_repo), ("slos", slo_repo))
        for kind, any_repo in repos:
            wanted = {(s.project, s.name) for s in parsed[kind]}  # type: ignore[attr-defined]
            for r in any_repo.list(engine):
                if (r.spec.project, r.spec.name) not in wanted:
                    out["deleted"].append(f"{kind[:-1]} {r.spec.name}")
                    if not dry_run:
                        any_repo.delete(engine, r.id)
    return out


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


@alerts_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="YAML with rules:, budgets:, slos: lists")],
    prune: Annotated[
        bool, typer.Option(help="Delete rules, budgets and SLOs not in the file")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would change, change nothing")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create or update rules, budgets and SLOs by name; running it twice changes nothing."""
    from datetime import UTC, datetime

    import yaml

    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist")
    doc = yaml.safe_load(file.read_text()) or {}
    if not isinstance(doc, dict):
        raise typer.BadParameter("the file must be a mapping with rules:, budgets:, slos:")
    result = apply_document(_engine(data_dir), doc, datetime.now(UTC), prune, dry_run)
    for what, names in result.items():
        for name in names:
            console.print(f"{'would be ' if dry_run else ''}{what}: {name}")
    console.print(", ".join(f"{len(v)} {k}" for k, v in result.items()))


@alerts_app.command("rules")
def list_rules(
    project: Annotated[str | None, typer.Option()] = None, data_dir: DataDir = None
) -> None:
    """List alert rules (secrets never shown)."""
    from promptpulse.alerts import repo

    table = Table(
        "id", "project", "name", "metric", "condition", "window", "for", "severity", "enabled"
    )
    for rec in repo.list_rules(_engine(data_dir), project):
        r = rec.rule
        cond = (
            f"anomaly ({r.sensitivity})"
            if r.operator == "anomaly"
            else f"{r.operator} {r.threshold:g}"
        )
        table.add_row(
            rec.id,
            r.project or "*",
            r.name,
            r.metric,
            cond,
            r.window,
            r.for_,
            r.severity,
            "yes" if r.enabled else "no",
        )
    console.print(table)


@alerts_app.command("list")
def list_alerts(
    state: Annotated[
        str | None, typer.Option(help="pending, firing, acknowledged, resolved")
    ] = None,
    project: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
) -> None:
    """List alerts, newest first."""
    from promptpulse.alerts import repo

    table = Table("id", "state", "severity", "name", "value", "threshold", "started")
    rows = repo.list_alerts(_engine(data_dir), project, [state] if state else [], [], None, 100)
    for a in rows:
        table.add_row(
            a["id"],
            a["state"],
            a["severity"],
            a["name"],
            "" if a["value"] is None else f"{a['value']:.4g}",
            "" if a["threshold"] is None else f"{a['threshold']:.4g}",
            str(a["started_at"])[:19],
        )
    console.print(table)


@alerts_app.command("templates")
def templates() -> None:
    """Built-in rule templates (use `template: NAME` in a rule)."""
    from promptpulse.alerts import TEMPLATES

    table = Table("template", "metric", "condition", "window", "for", "what")
    for name, t in TEMPLATES.items():
        cond = (
            f"anomaly {t.get('direction', '')} ≥{t.get('min_ratio', '')}x"
            if t["operator"] == "anomaly"
            else f"{t['operator']} {t['threshold']}"
        )
        table.add_row(name, t["metric"], cond, t["window"], t["for"], t["description"])
    console.print(table)
