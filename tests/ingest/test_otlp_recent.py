"""ingest/otlp_recent.py: the receiver's memory of recently stored LLM spans."""

from __future__ import annotations

from promptpulse.ingest.otlp_calls import CallSpans
from promptpulse.ingest.otlp_recent import RecentSpans, drop_stored


def test_parent_or_child_of_a_stored_span_is_known_siblings_and_projects_are_not() -> None:
    recent = RecentSpans()
    recent.remember("p", CallSpans("t1", ("child",), ("parent",)), "rec-1")
    assert recent.stored_as("p", CallSpans("t1", ("parent",), ("app",))) == "rec-1"
    assert recent.stored_as("p", CallSpans("t1", ("grandchild",), ("child",))) == "rec-1"
    assert recent.stored_as("p", CallSpans("t1", ("sibling",), ("parent",))) is None
    assert recent.stored_as("q", CallSpans("t1", ("parent",), ())) is None  # another project
    assert recent.stored_as("p", CallSpans("t2", ("parent",), ())) is None  # another trace


def test_memory_is_bounded_oldest_out() -> None:
    recent = RecentSpans(capacity=3)
    for n in range(5):
        recent.remember("p", CallSpans("t", (f"s{n}",), (f"up{n}",)), f"rec-{n}")
    known = [recent.stored_as("p", CallSpans("t", (f"up{n}",), ())) for n in range(5)]
    assert known == [None, None, "rec-2", "rec-3", "rec-4"]


def test_drop_stored_keeps_new_calls_in_order() -> None:
    recent = RecentSpans()
    recent.remember("p", CallSpans("t", ("a",), ("root",)), "rec-a")
    records = [{"id": "x"}, {"id": "y", "project": "p"}, {"id": "z"}]
    spans = [CallSpans("t", ("root",), ()), CallSpans("t", ("b",), ("root",)),
             CallSpans("t", ("c",), ("a",))]  # fmt: skip
    assert drop_stored(records, spans, recent, "p") == [1]
