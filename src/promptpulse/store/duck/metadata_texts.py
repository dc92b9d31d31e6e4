"""The distinct metadata texts of each project, kept in memory: the list a `metadata.<key>`
grouping looks calls up in (metadata_keys.py), without a scan of every call's text first.

Finding them in the range took two reads before the grouping could start (a 1 % sample, then a
DISTINCT over every call's text: ~12 ms at 10 M calls on a quiet machine, ~35 ms on a busy one).
Kept, they are known at once. A project's texts are kept until it has more than MAX_TEXTS; past that
it is marked as having too many (the per-call parse is cheaper there) and nothing more is held.

A superset is as good as the exact list: a text no call in range carries makes no group. So
deletions need not shrink it; they throw it away like every kept summary (kept.py), and the next
grouping scans again.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from promptpulse.store.duck.kept import KeptSummary

MAX_TEXTS = 256  # distinct texts a lookup holds (found by linear search per call)
TOO_MANY = None  # a project's mark once it has more than MAX_TEXTS texts
PerProject = dict[str, set[str] | None]  # project -> its texts, or TOO_MANY


class MetadataTexts(KeptSummary[PerProject, PerProject]):
    """Distinct non-null metadata texts per project (or TOO_MANY)."""

    columns = ("project", "metadata")

    def summarise(self, calls: pa.Table) -> PerProject:
        known = calls.filter(pc.is_valid(calls["metadata"]))
        pairs = known.group_by(["project", "metadata"]).aggregate([])
        out: PerProject = {}
        for row in pairs.to_pylist():
            _add(out, row["project"], {row["metadata"]})
        return out

    def fold(self, into: PerProject, batch: PerProject) -> None:
        for project, texts in batch.items():
            _add(into, project, texts)


def _add(into: PerProject, project: str, texts: set[str] | None) -> None:
    """A project's `texts` into its kept ones, marking it once they pass MAX_TEXTS."""
    mine = into.setdefault(project, set())
    if mine is TOO_MANY:
        return
    if texts is not TOO_MANY:
        mine |= texts
    if texts is TOO_MANY or len(mine) > MAX_TEXTS:
        into[project] = TOO_MANY


def texts_of(kept: PerProject, projects: tuple[str, ...] | None) -> list[str] | None:
    """The texts of these projects (every project: None) in a stable order, or None when one of
    them has too many or they have too many together."""
    found: set[str] = set()
    for project, texts in kept.items():
        if projects is not None and project not in projects:
            continue
        if texts is TOO_MANY:
            return None
        found |= texts
        if len(found) > MAX_TEXTS:
            return None
    return sorted(found)


def scan_texts(cur: duckdb.DuckDBPyConnection) -> PerProject:
    """Every project's texts from the stored calls. An estimate of each project's distinct texts
    first (bounded memory): a project of unique texts (ids inside metadata) is marked without
    the exact DISTINCT over millions of texts."""
    estimates = cur.execute(
        "SELECT project, approx_count_distinct(metadata) FROM events GROUP BY project"
    ).fetchall()
    out: PerProject = {}
    few = []
    for project, estimate in estimates:
        if estimate > 2 * MAX_TEXTS:  # HyperLogLog is within a few %: surely too many
            out[project] = TOO_MANY
        else:
            few.append(project)
    if few:
        rows = cur.execute(
            "SELECT DISTINCT project, metadata FROM events "
            "WHERE metadata IS NOT NULL AND list_contains(?::VARCHAR[], project)",
            [few],
        ).fetchall()
        for project in few:
            out[project] = set()
        for project, text in rows:
            _add(out, project, {text})
    return out
