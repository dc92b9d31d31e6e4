"""Answers of /v1/metrics/histogram and /v1/metrics/heatmap."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from promptpulse.web.schemas.common import Number, Out


class Bin(Out):
    lo: Number = Field(description="Inclusive lower edge")
    hi: Number | None = Field(description="Exclusive upper edge; null for the last, open bin")
    count: int


class Marks(Out):
    p50: Number | None
    p95: Number | None
    p99: Number | None


class Histogram(Out):
    field: str
    unit: str
    bins: list[Bin] = Field(description="Equal widths from 0; the last bin is open upward")
    count: int = Field(description="Calls that have the figure (the sum of the bins)")
    width: Number | None = Field(None, description="Bin width (absent when no call has it)")
    percentiles: Marks = Field(description="Exact, numpy's linear interpolation")


class Scale(Out):
    min: Number | None
    max: Number | None
    unit: str


class Heatmap(Out):
    tz: str
    metrics: list[str]
    cells: list[dict[str, Any]] = Field(
        description="168 cells: weekday (Monday=0), hour (0-23) in tz, each metric by name"
    )
    scale: dict[str, Scale] = Field(description="Per metric: smallest and largest cell value")
