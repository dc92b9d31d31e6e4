"""Judging the rules in one round: plan every enabled rule's queries (current window, and the
past windows of change and anomaly rules), run them together, judge each rule and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from promptpulse.alerts import repo
from promptpulse.alerts.anomaly import shifted_windows
from promptpulse.alerts.evaluate import Observation, Verdict, judge
from promptpulse.alerts.fetch import Fetcher, target_of, value_of
from promptpulse.alerts.rules import SCORE_PREFIX, RuleIn
from promptpulse.alerts.state import Subject

BASELINE_STEP = timedelta(minutes=5)  # past windows are anchored to 5-minute marks (cacheable)


@dataclass
class Judged:
    subject: Subject
    verdict: Verdict


def alert_type_of(rule: RuleIn) -> str:
    if rule.operator == "anomaly":
        return "anomaly"
    if rule.operator in ("increase", "decrease"):
        return "change"
    return "threshold"


def judge_rules(
    records: list[repo.RuleRecord],
    fetcher: Fetcher,
    now: datetime,
    open_keys: set[tuple[str, str, str]],
) -> tuple[list[Judged], list[dict[str, str]]]:
    """Plan every rule's queries, run them together, judge each rule and scope."""
    plans = []
    step = BASELINE_STEP.total_seconds()
    anchor = datetime.fromtimestamp(now.timestamp() // step * step, tz=UTC)
    for rec in records:
        rule = rec.rule
        metric = rule.metric or ""
        target = target_of(rule)
        window = rule.window_td
        current = fetcher.want(target, now - window, now, metric)
        past = []
        if rule.operator == "anomaly":
            for s, e in shifted_windows(anchor - window, anchor, rule.baseline_weeks):
                past.append(fetcher.want(target, s, e, metric, cacheable=True))
        elif rule.operator in ("increase", "decrease"):
            shift = window if rule.baseline == "previous" else timedelta(weeks=1)
            past.append(fetcher.want(target, now - window - shift, now - shift, metric))
        plans.append((rec, target, current, past))
    fetcher.run()
    judged: list[Judged] = []
    errors: list[dict[str, str]] = []
    for rec, target, current, past in plans:
        rule = rec.rule
        metric = rule.metric or ""
        bad = fetcher.error(current) or next(
            (fetcher.error(k) for k in past if fetcher.error(k)), None
        )
        if bad:
            errors.append({"rule_id": rec.id, "error": bad})
            continue
        rows = fetcher.rows(current)
        past_rows = [fetcher.rows(k) for k in past]
        if target.grouped:
            groups = {g for g in rows if target.values is None or g in target.values}
            groups |= {_group_from_key(k[2]) for k in open_keys if k[:2] == ("rule", rec.id)}
        else:
            groups = {next(iter(target.values)) if target.values else None}
        for g in sorted(groups, key=lambda x: (x is None, str(x))):
            value, requests = value_of(metric, rows.get(g), rule.window_td)
            past_values = tuple(_past(metric, pr.get(g), rule) for pr in past_rows)
            verdict = judge(rule, Observation(value, requests, past_values))
            judged.append(Judged(_subject(rec, target, g), verdict))
    return judged, errors


def _past(metric: str, row: dict[str, Any] | None, rule: RuleIn) -> float | None:
    """A past window's value; an empty past window is missing history, not a zero."""
    if row is None:
        return None
    value, requests = value_of(metric, row, rule.window_td)
    if not metric.startswith(SCORE_PREFIX) and requests == 0:
        return None
    return value


def _group_from_key(scope_key: str) -> str | None:
    return None if scope_key == "\x00" else scope_key


def _subject(rec: repo.RuleRecord, target: Any, group: str | None) -> Subject:
    rule = rec.rule
    scope: dict[str, Any] = {"filters": rule.filters}
    scope_key = ""
    name = rule.name
    if target.grouped:
        scope_key = "\x00" if group is None else str(group)
        scope["group"] = {rule.group_by: group}
        name = f"{rule.name} ({rule.group_by}={group})"
    return Subject(
        source="rule",
        source_id=rec.id,
        scope_key=scope_key,
        name=name,
        severity=rule.severity,
        alert_type=alert_type_of(rule),
        metric=rule.metric or "",
        for_=rule.for_td,
        renotify=rule.renotify_td,
        project=rule.project,
        scope=scope,
        channels=tuple(rule.channels),
        labels=tuple(sorted(rule.labels.items())),
        runbook_url=rule.runbook_url,
    )
