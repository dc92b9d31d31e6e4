"""The audit trail of repricing (table `price_reprices`): a row per reprice that writes costs,
`queued` (automatic ones wait for the leader), `running`, then `done` or `failed`. A `running`
row left by a process that died is resumed by that replica when it starts again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from promptpulse.errors import NotFound
from promptpulse.meta import MetaDB, price_reprices
from promptpulse.prices.plan import DayRow


@dataclass(frozen=True)
class RepriceRequest:
    start: datetime
    end: datetime
    project: str | None = None
    model: str | None = None
    dry_run: bool = True
    unpriced_only: bool = False  # only calls without a cost (the automatic reprices)
    actor: str = "cli"
    automatic: bool = False


def queue(db: MetaDB, req: RepriceRequest, status: str = "queued", owner: str = "") -> int:
    """A new audit row for `req` (not for dry runs: those change nothing)."""
    values = {
        "requested_at": datetime.now(UTC),
        "actor": _actor(req, owner),
        "automatic": req.automatic,
        "project": req.project,
        "model": req.model,
        "unpriced_only": req.unpriced_only,
        "range_from": req.start,
        "range_to": req.end,
        "status": status,
        "calls": 0,
        "repriced": 0,
        "cost_before": 0.0,
        "cost_after": 0.0,
    }
    with db.engine.begin() as conn:
        found = conn.execute(
            price_reprices.insert().values(**values).returning(price_reprices.c.id)
        )
        return int(found.scalar_one())


def _actor(req: RepriceRequest, owner: str) -> str:
    # The owner (replica and process) rides along so a restarted replica knows its own rows.
    return f"{req.actor}@{owner}"


def _name(actor: str) -> str:
    return actor.rsplit("@", 1)[0]


def _owner(actor: str) -> str:
    return actor.rsplit("@", 1)[-1]


def claim(db: MetaDB, reprice_id: int, owner: str) -> bool:
    """Mark a queued row running by this process; False if another got it first."""
    t = price_reprices.c
    with db.engine.begin() as conn:
        row = conn.execute(sa.select(t.actor).where(t.id == reprice_id)).first()
        actor = (_name(row.actor) if row else "") + f"@{owner}"
        done = conn.execute(
            price_reprices.update()
            .where(t.id == reprice_id, t.status == "queued")
            .values(status="running", actor=actor)
        ).rowcount
    return bool(done)


def finish(
    db: MetaDB,
    reprice_id: int,
    rows: Sequence[DayRow],
    totals: dict[str, Any],
    status: str = "done",
    error: str | None = None,
) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            price_reprices.update()
            .where(price_reprices.c.id == reprice_id)
            .values(
                status=status,
                finished_at=datetime.now(UTC),
                calls=int(totals.get("calls", 0)),
                repriced=int(totals.get("repriced", 0)),
                cost_before=float(totals.get("cost_before", 0.0)),
                cost_after=float(totals.get("cost_after", 0.0)),
                per_day=json.dumps([r.as_dict() for r in rows]),
                error=error,
            )
        )


def request_of(row: sa.Row) -> RepriceRequest:  # type: ignore[type-arg]
    return RepriceRequest(
        row.range_from, row.range_to, row.project, row.model, False, row.unpriced_only,
        _name(row.actor), row.automatic,
    )  # fmt: skip


def pending(db: MetaDB, owner: str) -> list[sa.Row]:  # type: ignore[type-arg]
    """Queued rows, and running rows of other processes (the caller decides which of those
    were left by a crash: see RepriceService.run_pending)."""
    t = price_reprices.c
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(price_reprices).where(t.status.in_(("queued", "running"))).order_by(t.id)
        ).all()
    return [r for r in rows if r.status == "queued" or _owner(r.actor) != owner]


def as_dict(row: sa.Row) -> dict[str, Any]:  # type: ignore[type-arg]
    return {
        "id": row.id,
        "requested_at": _iso(row.requested_at),
        "finished_at": _iso(row.finished_at),
        "actor": _name(row.actor),
        "automatic": row.automatic,
        "project": row.project,
        "model": row.model,
        "unpriced_only": row.unpriced_only,
        "from": _iso(row.range_from),
        "to": _iso(row.range_to),
        "status": row.status,
        "calls": row.calls,
        "repriced": row.repriced,
        "cost_before": row.cost_before,
        "cost_after": row.cost_after,
        "delta": row.cost_after - row.cost_before,
        "per_day": json.loads(row.per_day) if row.per_day else [],
        "error": row.error,
    }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def list_reprices(db: MetaDB, project: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first; a project key sees its project's rows only."""
    t = price_reprices.c
    query = sa.select(price_reprices).order_by(t.id.desc()).limit(limit)
    if project is not None:
        query = query.where(t.project == project)
    with db.engine.connect() as conn:
        return [as_dict(r) for r in conn.execute(query)]


def get_reprice(db: MetaDB, reprice_id: int, project: str | None = None) -> dict[str, Any]:
    t = price_reprices.c
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(price_reprices).where(t.id == reprice_id)).first()
    if row is None or (project is not None and row.project != project):
        raise NotFound(f"no reprice {reprice_id}")
    return as_dict(row)
