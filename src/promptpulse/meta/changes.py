"""Commits on any replica wake the Live views of every replica: PostgreSQL LISTEN/NOTIFY.

Each replica's writer, after a commit, takes the next value of one shared sequence
(`change_sequence`) and sends it on the `promptpulse_changes` channel; every replica listens
there and moves its change feed (web/changes.py) to the highest value heard. So the sequence a
browser holds means the same on every replica, whichever one the load balancer picks next.

Bursts of commits coalesce: the publisher sends one notification for however many commits
happened while it was sending the last one. A lost connection is re-opened, and the sequence
read again, so a replica that missed notifications catches up.

Only with PostgreSQL metadata; with SQLite the one process's own commits are all there is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

log = logging.getLogger("promptpulse.changes")
CHANNEL = "promptpulse_changes"
SEQUENCE = "change_sequence"
RETRY_S = 1.0


def shared(engine: sa.Engine) -> bool:
    """Whether replicas may share this metadata database (and so need the bus)."""
    return engine.dialect.name == "postgresql"


class ChangeBus:
    def __init__(self, engine: sa.Engine, on_sequence: Callable[[int], None]) -> None:
        self.engine = engine
        self.on_sequence = on_sequence
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def current(self) -> int:
        """The sequence's last value (0 before the first commit anywhere)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.text(f"SELECT last_value, is_called FROM {SEQUENCE}")).one()
        return int(row.last_value) if row.is_called else 0

    def start(self) -> int:
        """Start publishing and listening; the sequence's value now."""
        for target, name in ((self._listen, "listen"), (self._publish, "publish")):
            thread = threading.Thread(target=target, name=f"changes-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.current()

    def committed(self, *_: object) -> None:
        """A writer listener: a commit landed here (called on the writer's thread)."""
        self._dirty.set()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _publish(self) -> None:
        while True:
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        sa.text(f"SELECT pg_notify('{CHANNEL}', nextval('{SEQUENCE}')::text)")
                    )
            except sa.exc.SQLAlchemyError as exc:  # the data is committed; Live is just late
                log.warning("could not announce a commit to the other replicas: %s", exc)
                self._stopping.wait(RETRY_S)
                self._dirty.set()

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen_once()
            except Exception as exc:
                log.warning("change feed listener lost PostgreSQL (%s); reconnecting", exc)
                self._stopping.wait(RETRY_S)

    def _listen_once(self) -> None:
        raw = self.engine.raw_connection()
        conn: Any = raw.driver_connection  # psycopg's own connection: LISTEN needs it
        raw.detach()  # held for as long as it listens: not the pool's any more
        try:
            conn.rollback()  # whatever the pool's ping began
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
            self.on_sequence(self.current())  # what was missed while not listening
            while not self._stopping.is_set():
                for note in conn.notifies(timeout=RETRY_S):
                    self.on_sequence(int(note.payload))
        finally:
            raw.close()
