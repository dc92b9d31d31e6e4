"""Delivering alert notifications: one asyncio task per delivery, retried by
`promptpulse.notify` (exponential backoff on the wall clock, not on the evaluator's injected
clock), and a delivery log row updated after every attempt."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from promptpulse.alerts import tables as t
from promptpulse.alerts.repo import new_id
from promptpulse.notify import (
    ChannelSpec,
    Notification,
    SendResult,
    attempts,
    outgoing_client,
    send,
)

log = logging.getLogger("promptpulse.alerts.delivery")
MAX_BACKOFF_S = 300.0


class Dispatcher:
    def __init__(
        self,
        engine: sa.Engine,
        max_attempts: int = 5,
        retry_base_s: float = 2.0,
        smtp_url: str | None = None,
        smtp_from: str = "promptpulse@localhost",
        allowed_hosts: str | None = None,
    ) -> None:
        self.engine = engine
        self.allowed_hosts = allowed_hosts
        self.max_attempts = max(1, max_attempts)
        self.retry_base_s = retry_base_s
        self.smtp_url = smtp_url
        self.smtp_from = smtp_from
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = outgoing_client(self.allowed_hosts, timeout=10)
        return self._http

    def submit(self, channel: ChannelSpec, n: Notification, project: str | None) -> str:
        """Log the delivery as pending and start sending it; returns the delivery id."""
        did = new_id("dlv")
        with self.engine.begin() as conn:
            conn.execute(
                t.deliveries.insert().values(
                    id=did,
                    alert_id=None if n.event == "test" else n.alert_id,
                    project=project,
                    channel=channel.type,
                    target=channel.target()[:300],
                    event=n.event,
                    status="pending",
                    attempts=0,
                    created_at=t.naive(datetime.now(UTC)),
                )
            )
        task = asyncio.create_task(self._deliver(did, channel, n), name=f"deliver {did}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return did

    async def send_now(self, channel: ChannelSpec, n: Notification, project: str | None) -> dict:
        """A test send: one delivery, awaited, its log row returned."""
        did = self.submit(channel, n, project)
        await asyncio.gather(*[x for x in self._tasks if x.get_name() == f"deliver {did}"])
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.deliveries).where(t.deliveries.c.id == did)).one()
        return {
            "id": did,
            "status": row.status,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "response_status": row.response_status,
        }

    async def _deliver(self, did: str, channel: ChannelSpec, n: Notification) -> None:
        async def once() -> SendResult:
            return await send(channel, n, self._client(), self.smtp_url, self.smtp_from)

        async for a in attempts(once, self.max_attempts, self.retry_base_s, MAX_BACKOFF_S):
            self._record(did, a.number, a.status, a.error, a.result.status if a.result else None)
            if a.status == "failed":
                log.warning("delivery %s to %s failed: %s", did, channel.type, a.error)

    def _record(
        self, did: str, attempt: int, status: str, error: str | None, code: int | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.deliveries.update()
                .where(t.deliveries.c.id == did)
                .values(
                    status=status,
                    attempts=attempt,
                    last_error=error,
                    response_status=code,
                    sent_at=t.naive(datetime.now(UTC)) if status == "sent" else None,
                )
            )

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait a little for deliveries in flight, then cancel the rest (at shutdown)."""
        pending = list(self._tasks)
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout_s)
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def in_flight(self) -> int:
        return len(self._tasks)
