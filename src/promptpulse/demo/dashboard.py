"""The demo's custom dashboard: one page of the kinds of widgets a team builds for itself,
checked and stored through the same code as `POST /v1/dashboards` (see docs/dashboard.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from promptpulse.dashboards import metric_names, parse, repo
from promptpulse.meta import MetaDB

NAME = "demo: support and RAG"


def _at(x: int, y: int, w: int, h: int) -> dict[str, int]:
    return {"x": x, "y": y, "w": w, "h": h}


DASHBOARD: dict[str, Any] = {
    "version": 1,
    "name": NAME,
    "description": "Seeded by the demo: edit it, export it, or build your own",
    "range": "7d",
    "filters": {},
    "widgets": [
        {"id": "calls", "type": "number", "title": "Calls", "metric": "requests",
         "position": _at(0, 0, 3, 2)},
        {"id": "success", "type": "number", "title": "Success rate", "metric": "success_rate",
         "position": _at(3, 0, 3, 2)},
        {"id": "p95", "type": "number", "title": "p95 latency", "metric": "latency_p95_ms",
         "position": _at(6, 0, 3, 2)},
        {"id": "spend", "type": "number", "title": "Spend", "metric": "cost_usd",
         "position": _at(9, 0, 3, 2)},
        {"id": "latency", "type": "line", "title": "Latency",
         "metrics": ["latency_p50_ms", "latency_p95_ms"], "position": _at(0, 2, 8, 4)},
        {"id": "models", "type": "donut", "title": "Spend by model", "metric": "cost_usd",
         "dimension": "model", "position": _at(8, 2, 4, 4)},
        {"id": "versions", "type": "stacked", "title": "RAG answers by version",
         "metric": "requests", "dimension": "prompt_version",
         "filters": {"prompt_id": ["rag-answer"]}, "position": _at(0, 6, 6, 4)},
        {"id": "prompts", "type": "table", "title": "Prompts",
         "metrics": ["requests", "error_rate", "latency_p95_ms", "cost_usd"],
         "dimension": "prompt_id", "limit": 12, "position": _at(6, 6, 6, 6)},
        {"id": "errors", "type": "bar", "title": "Errors", "metric": "errors",
         "position": _at(0, 10, 6, 3)},
    ],
}  # fmt: skip


def seed_dashboard(meta: MetaDB, project: str, now: datetime) -> list[str]:
    """The demo dashboard unless the project has one of that name."""
    if any(d.spec.name == NAME for d in repo.list_all(meta.engine, project)):
        return []
    spec = parse(DASHBOARD, metric_names(meta.engine, project), project)
    return [repo.create(meta.engine, project, spec, None, now).spec.name]
