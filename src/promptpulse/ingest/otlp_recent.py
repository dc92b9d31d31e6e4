"""LLM spans stored recently, to know a span of the same call arriving in a later export.

Nested spans of one call (OpenInference's around the `anthropic` SDK's own, a framework's around an
SDK instrumentation's) are merged when they arrive together (otlp_calls); the batch span
processor usually exports them together, but a batch boundary can fall between a child and its
parent. This memory closes that gap for direct parent/child LLM spans: a span whose parent LLM
span was stored, or whose child LLM span was stored, recently, is the same call, and is dropped
as a duplicate (the first to arrive is what is stored). Bounded (least recently stored out) and
kept in the server process: it does not survive a restart, and siblings (spans of two scopes
without a response id) are not matched across exports.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from promptpulse.ingest.otlp_calls import CallSpans

_Key = tuple[str, str, str]  # project, trace id, span id


class RecentSpans:
    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._stored: OrderedDict[_Key, str] = OrderedDict()  # LLM span -> its record id
        self._parents: OrderedDict[_Key, str] = OrderedDict()  # parent of a stored LLM span
        self._lock = threading.Lock()

    def stored_as(self, project: str, spans: CallSpans) -> str | None:
        """The record id a span of this call was stored under recently, or None."""
        with self._lock:
            for span_id in spans.span_ids:
                found = self._parents.get((project, spans.trace_id, span_id))
                if found is not None:
                    return found
            for parent_id in spans.parent_ids:
                found = self._stored.get((project, spans.trace_id, parent_id))
                if found is not None:
                    return found
        return None

    def remember(self, project: str, spans: CallSpans, record_id: str) -> None:
        with self._lock:
            for table, ids in ((self._stored, spans.span_ids), (self._parents, spans.parent_ids)):
                for span_id in ids:
                    table[(project, spans.trace_id, span_id)] = record_id
                    table.move_to_end((project, spans.trace_id, span_id))
                while len(table) > self._capacity:
                    table.popitem(last=False)


def drop_stored(
    records: list[dict[str, Any]],
    spans_of: list[CallSpans],
    recent: RecentSpans,
    key_project: str | None,
) -> list[int]:
    """Indexes of the records that are not a call already stored from another export."""
    keep = []
    for i, (record, spans) in enumerate(zip(records, spans_of, strict=True)):
        project = key_project or record.get("project") or ""
        if recent.stored_as(project, spans) is None:
            keep.append(i)
    return keep
