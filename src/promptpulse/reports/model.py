"""What a report holds: plain frozen dataclasses, built by `build`, read by the renderers.

`Report.as_dict()` is the JSON of `GET /v1/reports/preview?format=json` and of the webhook;
`Report.from_dict()` reads it back (the CLI renders a server's report locally).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from promptpulse.model import fmt


@dataclass(frozen=True)
class Figure:
    """A key figure (a catalog metric) this period and the one before."""

    name: str  # catalog name
    label: str
    unit: str  # catalog unit: count ratio ms usd tokens
    value: float | None
    previous: float | None
    higher_is_better: bool | None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change(self) -> float | None:
        """Relative change (0.25 = +25 %); None when the previous value is 0 or missing."""
        d = self.delta
        return None if d is None or not self.previous else d / abs(self.previous)

    @property
    def better(self) -> bool | None:
        d = self.delta
        if d is None or d == 0 or self.higher_is_better is None:
            return None
        return (d > 0) == self.higher_is_better


@dataclass(frozen=True)
class Mover:
    """A prompt whose cost, p95 latency or error rate changed most against the previous period."""

    prompt_id: str
    metric: str  # catalog name: cost_usd, latency_p95_ms, error_rate
    unit: str
    value: float
    previous: float
    requests: int
    previous_requests: int

    @property
    def delta(self) -> float:
        return self.value - self.previous

    @property
    def change(self) -> float | None:
        return None if not self.previous else self.delta / abs(self.previous)


@dataclass(frozen=True)
class AlertLine:
    id: str
    name: str
    severity: str
    state: str
    metric: str
    project: str | None
    value: float | None
    threshold: float | None
    reason: str | None
    fired_at: str
    resolved_at: str | None


@dataclass(frozen=True)
class IncidentLine:
    """Incidents opened in the period at one severity, with their MTTA and MTTR (seconds)."""

    severity: str
    incidents: int
    acknowledged: int
    resolved: int
    mtta_s: float | None
    mttr_s: float | None


@dataclass(frozen=True)
class BudgetLine:
    name: str
    metric: str
    period: str
    period_start: str
    period_end: str
    amount: float
    spent: float
    spent_ratio: float
    projected: float
    projected_low: float
    projected_high: float
    will_overrun: bool


@dataclass(frozen=True)
class SpendForecast:
    """Projected spend (cost_usd) of the UTC calendar month, from `promptpulse.forecast`."""

    period_start: str
    period_end: str
    to_date: float
    projected: float
    low: float
    high: float
    method: str


@dataclass(frozen=True)
class Recommendation:
    kind: str  # output_tokens_growth | cheaper_model | rising_error_rate
    title: str
    detail: str  # one sentence with the numbers behind it
    prompt_id: str
    model: str | None = None
    numbers: dict[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    title: str
    project: str | None  # None: every project
    period: str  # day | week | month
    timezone: str
    start: str  # RFC 3339 UTC, inclusive
    end: str  # exclusive
    previous_start: str
    previous_end: str
    generated_at: str
    figures: list[Figure]
    movers: list[Mover]
    alerts: list[AlertLine]
    budgets: list[BudgetLine]
    forecast: SpendForecast | None
    recommendations: list[Recommendation]
    min_requests: int
    approximate: bool = False  # some percentiles came from rollup sketches (within 1 %)
    incidents: list[IncidentLine] = field(default_factory=list)  # by severity

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    @property
    def baseline_requests(self) -> float | None:
        """Calls in the previous period, the baseline of every headline change."""
        f = next((f for f in self.figures if f.name == "requests"), None)
        return None if f is None else (f.previous or 0)

    def as_dict(self) -> dict[str, Any]:
        """The JSON of the webhook and of the preview: the same rule as every renderer, so a
        tiny baseline gives `change: null` and `change_text: "n/a"` (never +825350 %)."""
        out = asdict(self)
        base = self.baseline_requests
        for f, raw in zip(self.figures, out["figures"], strict=True):
            text = fmt.delta(f.value, f.previous, base, f.unit)
            raw.update(
                delta=f.delta,
                change=fmt.change(f.value, f.previous, base),
                change_text=text,
                better=None if text in ("new", "n/a") else f.better,
            )
        for m, raw in zip(self.movers, out["movers"], strict=True):
            raw.update(delta=m.delta, change=m.change)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        def make(kind: type, raw: dict[str, Any]) -> Any:
            names = {f.name for f in fields(kind)}
            return kind(**{k: v for k, v in raw.items() if k in names})

        d = dict(data)
        d["figures"] = [make(Figure, x) for x in d["figures"]]
        d["movers"] = [make(Mover, x) for x in d["movers"]]
        d["alerts"] = [make(AlertLine, x) for x in d["alerts"]]
        d["budgets"] = [make(BudgetLine, x) for x in d["budgets"]]
        d["incidents"] = [make(IncidentLine, x) for x in d.get("incidents", [])]
        d["forecast"] = make(SpendForecast, d["forecast"]) if d.get("forecast") else None
        d["recommendations"] = [make(Recommendation, x) for x in d["recommendations"]]
        return make(cls, d)  # type: ignore[no-any-return]
