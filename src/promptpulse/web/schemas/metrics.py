"""Answers of /v1/metrics (overview, timeseries, breakdown, catalog), /v1/calls and /v1/compare."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from promptpulse.web.schemas.common import Number, Out

APPROXIMATE = Field(
    None, description="Present (true) only when some value came from rollup sketches (within 1 %)"
)


class Latency(Out):
    p50: Number | None
    p75: Number | None
    p90: Number | None
    p95: Number | None
    p99: Number | None
    max: Number | None
    mean: Number | None


class Ttft(Out):
    p50: Number | None
    p95: Number | None
    p99: Number | None


class Tokens(Out):
    input: int | None
    output: int | None
    cached: int | None
    reasoning: int | None
    cache_write: int | None = None
    total: int | None
    per_request: Number | None


class Cost(Out):
    total: Number | None
    per_request: Number | None
    unpriced_requests: int


class Rpm(Out):
    mean: Number
    peak: int


class ScoreSummary(Out):
    count: int
    mean: Number


class OverviewFigures(Out):
    from_: str = Field(alias="from", description="RFC 3339, inclusive")
    to: str = Field(description="RFC 3339, exclusive")
    requests: int
    successes: int
    errors: int
    success_rate: Number | None
    error_rate: Number | None
    errors_by_type: dict[str, int] = Field(description="Failing calls per error_type, most first")
    latency_ms: Latency
    ttft_ms: Ttft
    tokens: Tokens
    cost_usd: Cost
    cache_hit_rate: Number | None
    rpm: Rpm
    active_users: int | None
    scores: dict[str, ScoreSummary] = Field(description="Per score name, over the calls in range")
    approximate: bool | None = APPROXIMATE


class Overview(OverviewFigures):
    previous: OverviewFigures | None = Field(
        None, description="With compare=previous: the period of equal length just before"
    )


class Point(Out):
    """One bucket: `t` and the value of each metric asked for, by name."""

    t: str = Field(description="Bucket start, RFC 3339 UTC")


class Series(Out):
    group: Any = Field(description="The group_by value (null when not grouped)")
    points: list[Point]


class Timeseries(Out):
    interval: str
    group_by: str | None
    series: list[Series]
    approximate: bool | None = APPROXIMATE


class Breakdown(Out):
    by: str
    sort: str
    order: str
    rows: list[dict[str, Any]] = Field(
        description="Per value: the dimension's value under its name, then each metric by name"
    )
    approximate: bool | None = APPROXIMATE


class MetricInfo(Out):
    name: str
    unit: str
    description: str
    kind: str
    higher_is_better: bool | None
    additive: bool


class Catalog(Out):
    metrics: list[MetricInfo]
    dimensions: list[str]
    filters: list[str]
    intervals: list[str]


class Call(Out):
    id: str
    timestamp: str = Field(description="RFC 3339 UTC")
    project: str
    prompt_id: str | None
    prompt_version: str | None
    model: str | None
    response_model: str | None = None
    provider: str | None
    environment: str | None
    feature: str | None
    user_id: str | None
    session_id: str | None
    service: str | None = None
    status: str
    error_type: str | None
    error_message: str | None
    http_status: int | None
    latency_ms: Number | None
    ttft_ms: Number | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_usd: Number | None
    cache_hit: bool | None
    retries: int | None
    metadata: dict[str, Any] | None = None


class CallsPage(Out):
    from_: str = Field(alias="from")
    to: str
    limit: int
    calls: list[Call]


class Comparison(Out):
    metric: str
    variant: str
    difference: Number | None
    ci_low: Number | None
    ci_high: Number | None
    p_value: Number | None
    p_value_adjusted: Number | None
    test: str
    significant: bool
    ci_level: Number | None = Field(description="The interval's level (Holm's, with several)")
    ci_low_unadjusted: Number | None
    ci_high_unadjusted: Number | None
    also: list[dict[str, Any]] = Field(
        description="Statistics shown alongside; they decide nothing"
    )


class Comparisons(Out):
    by: str
    control: str
    primary: str
    guardrails: list[str]
    variants: list[dict[str, Any]] = Field(
        description="Per variant: value, each figure by metric name, scores"
    )
    comparisons: list[Comparison]
    best: dict[str, Any]
    winner: str | None
    verdict: str
