"""A custom SLI: a project's custom metric that is a proportion of events (good / valid), read as
the two per-call counts an error budget needs.

An error budget counts events: valid ones, and bad ones among them. A custom metric gives them
when its formula, with catalog metrics expanded into terms (`model.formula.expand_terms`), is

    good / valid        count(latency_ms < 2000) / requests
                        count(score.thumbs = 1) / count(score.thumbs)
    1 - bad / valid     1 - count(error_type = "timeout") / requests

where every valid event is a call (`requests`) and good (or bad) ones are those of a
condition, or the valid events are the scores of one name and good ones those of that name whose
value compares true. Then good <= valid on every call, so bad = valid - good is a count too. A
sum, a percentile, a ratio of unrelated counts (two conditions) is no proportion: no budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptpulse.errors import invalid
from promptpulse.meta import project_metrics
from promptpulse.model import Kind, Metric, Term
from promptpulse.model.formula import Bin, Node, Num, TermRef, expand_terms

if TYPE_CHECKING:
    import sqlalchemy as sa

EXAMPLE = "e.g. count(latency_ms < 2000) / requests"


@dataclass(frozen=True)
class Proportion:
    """Valid events, and the good (or the bad) ones among them: each a term summed over calls."""

    valid: Term
    part: Term
    part_is_good: bool = True

    @property
    def terms(self) -> list[Term]:
        return [self.part, self.valid]

    def counts(self, sums: dict[str, float]) -> tuple[int, int]:
        """(valid, bad) from the terms' sums (a missing term summed nothing)."""
        valid = round(float(sums.get(self.valid.key) or 0))
        part = round(float(sums.get(self.part.key) or 0))
        return valid, (valid - part if self.part_is_good else part)


def _within(part: Term, valid: Term) -> bool:
    """Whether every event the part counts is one the valid term counts (per call)."""
    if valid.kind == "calls":
        return part.kind == "where"
    return (
        valid.kind == "score_count"
        and not valid.op
        and part.kind == "score_count"
        and part.column == valid.column
        and bool(part.op)
    )


def _ratio(node: Node) -> tuple[Term, Term] | None:
    if (
        isinstance(node, Bin)
        and node.op == "/"
        and isinstance(node.left, TermRef)
        and isinstance(node.right, TermRef)
        and _within(node.left.term, node.right.term)
    ):
        return node.left.term, node.right.term
    return None


def proportion_of(metric: Metric) -> Proportion | None:
    """The metric as good / valid events, or None when it is no proportion (see the module)."""
    if metric.kind is not Kind.CUSTOM:
        return None
    node = expand_terms(metric.formula)
    if node is None:
        return None
    direct = _ratio(node)
    if direct is not None:
        return Proportion(direct[1], direct[0])
    if isinstance(node, Bin) and node.op == "-" and node.left == Num(1.0):
        complement = _ratio(node.right)
        if complement is not None:
            return Proportion(complement[1], complement[0], part_is_good=False)
    return None


def check_proportion(name: str, metric: Metric | None, project: str) -> Proportion:
    """The proportion of a project's custom metric, or a 422 naming `metric`."""
    if metric is None:
        raise invalid(
            "metric",
            f"unknown custom metric '{name}' in project '{project}'; see /v1/metrics/custom",
        )
    found = proportion_of(metric)
    if found is None:
        raise invalid(
            "metric",
            f"'{name}' ({metric.source}) is not a proportion of calls: an SLO needs good / "
            f"valid events, {EXAMPLE}, or count(score.thumbs = 1) / count(score.thumbs)",
        )
    return found


def resolve(engine: sa.Engine, project: str | None, name: str | None) -> Proportion:
    """The SLI of a custom SLO from the project's custom metrics, or a 422 naming the field."""
    if project is None:
        raise invalid("filters.project", "a custom SLI needs an SLO of one project")
    if not name:
        raise invalid("metric", f"a custom SLI names a custom metric ({EXAMPLE})")
    return check_proportion(name, project_metrics(engine, project).get(name), project)
