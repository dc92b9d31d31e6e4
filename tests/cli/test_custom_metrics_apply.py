"""`custom_metrics:` in `promptpulse alerts apply` YAML: created before the rules that name them,
idempotent, pruned with --prune, and a bad item refused before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from promptpulse.cli.alerts import alerting_engine, apply_document
from promptpulse.errors import Invalid
from promptpulse.meta.custom_metrics import list_custom

DOC = """
custom_metrics:
  - project: shop
    name: timeout_rate
    formula: count(error_type = "timeout") / requests
    unit: ratio
    higher_is_better: false
rules:
  - name: timeouts
    metric: timeout_rate
    operator: ">"
    threshold: 0.05
    window: 10m
    filters: {project: shop}
"""
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _counts(result: dict[str, list[str]]) -> tuple[int, ...]:
    return tuple(len(result[k]) for k in ("created", "updated", "unchanged", "deleted"))


def test_apply_custom_metrics_then_rules(tmp_path: Path) -> None:
    with alerting_engine(tmp_path) as engine:
        doc = yaml.safe_load(DOC)
        assert _counts(apply_document(engine, doc, NOW)) == (2, 0, 0, 0)
        assert _counts(apply_document(engine, doc, NOW)) == (0, 0, 2, 0)
        [stored] = list_custom(engine, "shop")
        assert stored.spec.formula == 'count(error_type = "timeout") / requests'
        assert stored.spec.higher_is_better is False
        doc["custom_metrics"][0]["formula"] = 'count(error_type = "timeout") / errors'
        assert _counts(apply_document(engine, doc, NOW)) == (0, 1, 1, 0)
        assert list_custom(engine, "shop")[0].spec.formula.endswith("/ errors")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "x", "formula": "errors"}, "custom_metrics[0]: project is required"),
        (
            {"project": "shop", "name": "x", "formula": "erors"},
            'custom_metrics[0] formula: unknown metric "erors" at 1:1; did you mean errors?',
        ),
        ({"project": "shop", "name": "requests", "formula": "errors"}, "is a catalog metric"),
        ({"project": "shop", "name": "x", "formula": "errors", "colour": 1}, "unknown field"),
    ],
)
def test_a_bad_item_writes_nothing(tmp_path: Path, item: dict[str, object], message: str) -> None:
    doc = {
        "custom_metrics": [item],
        "budgets": [{"name": "b", "amount": 5, "filters": {"project": "shop"}}],
    }
    with alerting_engine(tmp_path) as engine:
        with pytest.raises(Invalid) as err:
            apply_document(engine, doc, NOW)
        assert message in str(err.value)
        assert list_custom(engine, None) == []
    with alerting_engine(tmp_path) as engine:  # the budget was not written either
        from promptpulse.budgets.service import repo

        assert repo.list(engine) == []


def test_a_rule_on_an_unknown_custom_metric_writes_nothing(tmp_path: Path) -> None:
    doc = yaml.safe_load(DOC)
    doc["rules"][0]["metric"] = "timeout_ratio"
    with alerting_engine(tmp_path) as engine:
        with pytest.raises(Invalid, match="rules\\[0\\] metric: unknown metric 'timeout_ratio'"):
            apply_document(engine, doc, NOW)
        assert list_custom(engine, None) == []


def test_prune_deletes_custom_metrics_the_file_no_longer_names(tmp_path: Path) -> None:
    with alerting_engine(tmp_path) as engine:
        doc = yaml.safe_load(DOC)
        apply_document(engine, doc, NOW)
        del doc["rules"]
        del doc["custom_metrics"]
        assert _counts(apply_document(engine, doc, NOW, prune=True)) == (0, 0, 0, 2)
        assert list_custom(engine, None) == []
