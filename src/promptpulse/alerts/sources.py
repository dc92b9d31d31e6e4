"""Alert sources: whatever raises alerts besides rules (budgets, SLOs) registers with the
`AlertService` as an `AlertSource`; alerts imports none of them.

Each round the service asks every source, in the order they registered, for its subjects and
verdicts; the alert state machine, dedupe, silences and notifications are the service's, the
same for every source. A source that raises is logged and reported in the round's `errors`,
its open alerts are kept as they are, and the other sources and the rules go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from promptpulse.alerts.evaluate import Verdict
from promptpulse.alerts.specs import SpecRepo
from promptpulse.alerts.state import Subject
from promptpulse.notify import ChannelSpec

log = logging.getLogger("promptpulse.alerts")


@contextmanager
def isolated(kind: str, source_id: str) -> Iterator[None]:
    """Judge one object: an error is logged and swallowed so that one broken budget or SLO (in
    any project) never stops the others' evaluation; its open alerts stay as they are."""
    try:
        yield
    except Exception:
        log.exception("%s %s could not be evaluated; the others go on", kind, source_id)


@dataclass(frozen=True)
class SourceRound:
    """What one source said in one round."""

    verdicts: list[tuple[Subject, Verdict]]  # every subject (`source` = the source's kind)
    live_ids: list[str]  # its enabled objects: an open alert of any other id is resolved


class AlertSource(Protocol):
    """A kind of object that raises alerts, e.g. budgets ("budget") or SLOs ("slo")."""

    @property
    def kind(self) -> str:
        """The alerts' `source`: unique per service, never "rule"."""
        ...

    def evaluate(
        self, engine: sa.Engine, store: Any, now: datetime, project: str | None = None
    ) -> SourceRound:
        """Judge every enabled object at `now` (only `project`'s when one is given, for a
        project's own round): one verdict per subject, and the live ids."""
        ...

    def channels(self, engine: sa.Engine, source_id: str) -> tuple[ChannelSpec, ...]:
        """Where an object's alerts go (for acknowledge/resolve by hand); () once it is gone."""
        ...


Judge = Callable[
    [sa.Engine, Any, datetime, str | None], tuple[list[tuple[Subject, Verdict]], list[str]]
]


@dataclass(frozen=True)
class SpecSource:
    """An `AlertSource` over specs kept in a `SpecRepo` (budgets, SLOs): `judge` gives the
    verdicts and live ids of a round, the repo gives an object's channels."""

    kind: str
    judge: Judge
    repo: SpecRepo[Any]

    def evaluate(
        self, engine: sa.Engine, store: Any, now: datetime, project: str | None = None
    ) -> SourceRound:
        verdicts, live_ids = self.judge(engine, store, now, project)
        return SourceRound(verdicts, live_ids)

    def channels(self, engine: sa.Engine, source_id: str) -> tuple[ChannelSpec, ...]:
        return self.repo.channels(engine, source_id)


@dataclass
class SourcesRound:
    """Every source's verdicts in one round, the (kind, id) pairs still alive, and errors."""

    verdicts: list[tuple[Subject, Verdict]] = field(default_factory=list)
    live: set[tuple[str, str]] = field(default_factory=set)
    errors: list[dict[str, str]] = field(default_factory=list)


def judge_sources(
    sources: Iterable[AlertSource],
    engine: sa.Engine,
    store: Any,
    now: datetime,
    open_keys: Collection[tuple[str, str, str]],
    project: str | None = None,
) -> SourcesRound:
    """Ask each source in turn (about `project`'s objects only, when one is given); one that
    raises is logged and reported, and its open alerts stay live (a failing source does not
    resolve them), then the next one is asked."""
    out = SourcesRound()
    for source in sources:
        try:
            answer = source.evaluate(engine, store, now, project)
        except Exception as exc:
            log.exception("%s evaluation failed", source.kind)
            out.errors.append({"source": source.kind, "error": f"{type(exc).__name__}: {exc}"})
            out.live |= {k[:2] for k in open_keys if k[0] == source.kind}
            continue
        out.verdicts.extend(answer.verdicts)
        out.live |= {(source.kind, i) for i in answer.live_ids}
    return out
