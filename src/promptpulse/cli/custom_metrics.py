"""`custom_metrics:` in `promptpulse alerts apply` YAML: a project's custom metrics by name, applied
before the rules (which may name them). Every item is validated before anything is written."""

from __future__ import annotations

from typing import Any

FIELDS = ("project", "name", "formula", "unit", "higher_is_better", "description")


def parse_custom(items: Any) -> list[tuple[str, Any]]:
    """(project, CustomSpec) per item; Invalid naming the item and field of the first error."""
    from promptpulse.errors import Invalid
    from promptpulse.meta.custom_metrics import CustomSpec, validate

    out = []
    for i, raw in enumerate(items or []):
        where = f"custom_metrics[{i}]"
        if not isinstance(raw, dict):
            raise Invalid(f"{where}: a mapping with project, name, formula")
        unknown = sorted(set(raw) - set(FIELDS))
        missing = [f for f in ("project", "name", "formula") if not raw.get(f)]
        if unknown or missing:
            what = f"unknown field {unknown[0]}" if unknown else f"{missing[0]} is required"
            raise Invalid(f"{where}: {what}")
        direction = raw.get("higher_is_better")
        if direction is not None and not isinstance(direction, bool):
            raise Invalid(f"{where} higher_is_better: true, false or absent")
        spec = CustomSpec(
            str(raw["name"]),
            str(raw["formula"]),
            str(raw.get("unit") or ""),
            direction,
            str(raw.get("description") or ""),
        )
        try:
            validate(spec)  # score names are not checked here: the store may be in use
        except Invalid as exc:
            raise Invalid(f"{where} {exc.detail}", exc.errors) from None
        out.append((str(raw["project"]), spec))
    return out


def apply_custom(
    engine: Any,
    items: list[tuple[str, Any]],
    out: dict[str, list[str]],
    now: Any,
    dry_run: bool,
    prune: bool,
) -> None:
    from promptpulse.meta.custom_metrics import (
        create_custom,
        delete_custom,
        list_custom,
        update_custom,
    )

    existing = {(r.project, r.spec.name): r for r in list_custom(engine, None)}
    for project, spec in items:
        label = f"custom metric {spec.name}"
        found = existing.get((project, spec.name))
        if found is None:
            out["created"].append(label)
            if not dry_run:
                create_custom(engine, project, spec, now)
        elif found.spec == spec:
            out["unchanged"].append(label)
        else:
            out["updated"].append(label)
            if not dry_run:
                update_custom(engine, project, spec.name, spec, now, None)
    if prune:
        keep = {(p, s.name) for p, s in items}
        for (project, name), _ in existing.items():
            if (project, name) not in keep:
                out["deleted"].append(f"custom metric {name}")
                if not dry_run:
                    delete_custom(engine, project, name)


def check_rule_metrics(engine: Any, items: list[tuple[str, Any]], rules: list[Any]) -> None:
    """Before anything is written: a rule's metric that is neither the catalog's nor a score is
    a custom metric of its project, in this file or already stored."""
    from promptpulse.errors import Invalid
    from promptpulse.meta.custom_metrics import list_custom
    from promptpulse.model import CATALOG

    known = {(p, s.name) for p, s in items}
    known |= {(r.project, r.spec.name) for r in list_custom(engine, None)}
    for i, rule in enumerate(rules):
        name = rule.metric or ""
        if name in CATALOG or name.startswith("score.") or (rule.project, name) in known:
            continue
        raise Invalid(
            f"rules[{i}] metric: unknown metric '{name}'"
            + (f" in project '{rule.project}'" if rule.project else "")
            + "; see /v1/metrics/catalog, custom_metrics:, or score.<name>"
        )


def check_slo_metrics(
    engine: Any, items: list[tuple[str, Any]], slos: list[Any], prune: bool = False
) -> dict[tuple[str | None, str], Any]:
    """Before anything is written: a custom SLI's metric is a proportion metric of its SLO's
    project, defined in this file (as written there) or already stored (and not pruned).
    Returns each custom SLO's `Proportion` by (project, name), for --dry-run's backtests."""
    from promptpulse.errors import Invalid
    from promptpulse.meta.custom_metrics import project_metrics, validate
    from promptpulse.slos import check_proportion

    out = {}
    for i, slo in enumerate([*slos, *_kept_slos(engine, slos, prune)]):
        if slo.sli != "custom":
            continue
        if slo.project is None:
            raise Invalid(f"slos[{i}] filters.project: a custom SLI needs an SLO of one project")
        here = {s.name: validate(s) for p, s in items if p == slo.project}
        known = {**({} if prune else project_metrics(engine, slo.project)), **here}
        try:
            found = check_proportion(slo.metric, known.get(slo.metric), slo.project)
        except Invalid as exc:
            where = f"slos[{i}]" if i < len(slos) else f"stored SLO '{slo.name}'"
            raise Invalid(f"{where} {exc.detail}", exc.errors) from None
        out[(slo.project, slo.name)] = found
    return out


def _kept_slos(engine: Any, slos: list[Any], prune: bool) -> list[Any]:
    """The stored SLOs the file leaves as they are (none with --prune, which deletes them): a
    metric the file changes must stay a proportion for them too."""
    from promptpulse.slos.service import repo

    if prune:
        return []
    named = {(s.project, s.name) for s in slos}
    return [r.spec for r in repo.list(engine) if (r.spec.project, r.spec.name) not in named]
