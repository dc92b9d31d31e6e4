"""One provider call, one record, however many spans describe it. Pure.

Several instrumentations often describe the same call: the `anthropic` SDK's own span beside
OpenLLMetry's (a sibling, or in another trace, with the same `gen_ai.response.id`) or as a child of
OpenInference's; a framework's LLM span (Pydantic AI, LangChain) around an SDK instrumentation's.
Spans are one call when one is an LLM-span ancestor of the other in the same trace, when they share
a response id, or (failed calls have no response id) when a span of one instrumentation scope lies
within the time of a span of another scope for the same model and provider, and neither has a
response id (each pairs with the tightest such span; calls of one scope are never paired, so
concurrent calls stay apart).

What is guaranteed:
- spans sharing a response id are one record in any trace and in any export request: the record id
  is made from the response id (`otel-resp-<id>`), so a span arriving later in another request is a
  duplicate of the stored record (the first to arrive is what is stored);
- nested LLM spans of one trace are one record when they arrive in the same export request (the
  batch span processor exports a parent and its child together unless a batch boundary falls
  between them); nested spans without a shared response id that arrive in different requests
  are two records.

The merged record is the outermost span's (its time and latency cover the whole call, retries
included; its status is the call's outcome); each token class comes from the innermost span that
reports it (the provider SDK's own span is nearest the response: OpenLLMetry's Anthropic stream
counts one output token twice), and other fields it lacks from the nearest span that has them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
                "reasoning_tokens")  # fmt: skip
_FILLED = ("provider", "response_model", "ttft_ms", "prompt_id", "prompt_version", "feature",
           "user_id", "session_id", "environment")  # fmt: skip
_READABLE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


@dataclass(frozen=True)
class SpanRef:
    """Enough of a span to name it in an error message."""

    trace_id: str
    span_id: str
    name: str

    def describe(self) -> str:
        name = self.name if len(self.name) <= 80 else self.name[:77] + "..."
        return f"span {self.span_id or '?'} ({name!r})"


@dataclass(frozen=True)
class SpanRejection:
    span: SpanRef
    reason: str

    def describe(self) -> str:
        return f"{self.span.describe()}: {self.reason}"


@dataclass(frozen=True)
class SpanCall:
    """What one LLM span says of a call, and where the span sits."""

    record: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    response_id: str | None = None
    reported_cost: float | None = None
    reported_tokens: frozenset[str] = frozenset()  # the token classes the span named
    ref: SpanRef = SpanRef("", "", "")
    llm_ancestors: tuple[str, ...] = ()  # span ids (hex) of LLM spans above it, nearest first
    scope: str = ""  # the instrumentation scope that made the span
    start: int = 0
    end: int = 0

    def with_place(
        self, ref: SpanRef, llm_ancestors: Iterable[str], scope: str, start: int, end: int
    ) -> SpanCall:
        return replace(
            self, ref=ref, llm_ancestors=tuple(llm_ancestors), scope=scope, start=start, end=end
        )


@dataclass(frozen=True)
class MergedCall:
    record: dict[str, Any]
    ref: SpanRef
    reported_cost: float | None
    folded: int  # spans merged into this record besides its own


def response_record_id(response_id: str) -> str:
    """The record id of a call the provider gave a response id: the same from every span."""
    if _READABLE_ID.fullmatch(response_id):
        return f"otel-resp-{response_id}"
    return f"otel-resp-sha256-{hashlib.sha256(response_id.encode()).hexdigest()[:48]}"


def one_record_per_call(calls: list[SpanCall]) -> list[MergedCall]:
    """Group the spans of each provider call and merge each group into one record."""
    root = list(range(len(calls)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            root[max(a, b)] = min(a, b)

    by_span = {(c.ref.trace_id, c.ref.span_id): i for i, c in enumerate(calls) if c.ref.span_id}
    by_response: dict[str, int] = {}
    for i, call in enumerate(calls):
        for ancestor in call.llm_ancestors:
            j = by_span.get((call.ref.trace_id, ancestor))
            if j is not None:
                union(i, j)
        if call.response_id is not None:
            union(i, by_response.setdefault(call.response_id, i))
    for inner, outer in _same_call_of_two_scopes(calls):
        union(inner, outer)
    groups: dict[int, list[SpanCall]] = {}
    for i, call in enumerate(calls):
        groups.setdefault(find(i), []).append(call)
    return [_merge(group) for group in groups.values()]


def _same_call_of_two_scopes(calls: list[SpanCall]) -> list[tuple[int, int]]:
    """Pairs (inner, outer) of spans without a response id, from different instrumentation
    scopes, for the same model and provider, the inner one within the outer one's time."""
    loose = [i for i, c in enumerate(calls) if c.response_id is None and c.end > c.start]
    pairs: list[tuple[int, int]] = []
    taken: set[int] = set()
    # Shortest first: each span pairs with the tightest span around it that is still free.
    for i in sorted(loose, key=lambda k: calls[k].end - calls[k].start):
        if i in taken:
            continue
        inner = calls[i]
        around = [
            j for j in loose
            if j != i and j not in taken and calls[j].scope != inner.scope
            and calls[j].start <= inner.start and inner.end <= calls[j].end
            and _same_target(inner.record, calls[j].record)
        ]  # fmt: skip
        if around:
            j = min(around, key=lambda k: calls[k].end - calls[k].start)
            pairs.append((i, j))
            taken.update((i, j))
    return pairs


def _same_target(a: dict[str, Any], b: dict[str, Any]) -> bool:
    provider_a, provider_b = a.get("provider"), b.get("provider")
    same_provider = provider_a is None or provider_b is None or provider_a == provider_b
    return bool(a["model"] == b["model"] and same_provider)


def _merge(group: list[SpanCall]) -> MergedCall:
    # Outermost first: fewest LLM ancestors, then the longest (it covers the others).
    ordered = sorted(group, key=lambda c: (len(c.llm_ancestors), -c.record["latency_ms"]))
    base = ordered[0]
    record = dict(base.record)
    response_ids = sorted({c.response_id for c in group if c.response_id is not None})
    if response_ids:
        record["id"] = response_record_id(response_ids[0])
    if len(group) > 1:
        innermost = sorted(group, key=lambda c: (-len(c.llm_ancestors), c.record["latency_ms"]))
        _merge_tokens(record, innermost)
        _merge_fields(record, [c.record for c in ordered[1:]])
        record["metadata"] = {**record.get("metadata", {}), "spans": len(group)}
    cost = next((c.reported_cost for c in ordered if c.reported_cost is not None), None)
    return MergedCall(record, base.ref, cost, len(group) - 1)


def _merge_tokens(record: dict[str, Any], innermost_first: list[SpanCall]) -> None:
    for key in TOKEN_FIELDS:
        record[key] = next((c.record[key] for c in innermost_first if key in c.reported_tokens), 0)
    if record["cached_tokens"] + record["cache_write_tokens"] > record["input_tokens"]:
        record["input_tokens"] = record["cached_tokens"] + record["cache_write_tokens"]
    record["output_tokens"] = max(record["output_tokens"], record["reasoning_tokens"])


def _merge_fields(record: dict[str, Any], others: list[dict[str, Any]]) -> None:
    everyone = [record, *others]
    for key in _FILLED:
        if key not in record:
            found = next((r[key] for r in others if key in r), None)
            if found is not None:
                record[key] = found
    if record.get("status") != "error":
        return
    # The same failure seen from further in: the SDK's span knows the status and its type.
    failed = [r for r in everyone if r.get("status") == "error"]
    if "http_status" not in record:
        status = next((r["http_status"] for r in failed if "http_status" in r), None)
        if status is not None:
            record["http_status"] = status
    if record.get("error_type") == "other":
        kind = next((r["error_type"] for r in failed if r.get("error_type") != "other"), None)
        if kind is not None:
            record["error_type"] = kind
