"""Checkpoints off the acknowledgement path.

DuckDB checkpoints (writes the WAL's changes into the database file) inside the commit that
takes the WAL past its `checkpoint_threshold`: that commit, and so every ingest request of its
group and every one queued behind it, waits 0.4–1 s, which made the ingest acknowledgements'
p95 and p99 (docs/performance.md). Here a thread checkpoints from a cursor of its own as soon as
the WAL passes the configured threshold; DuckDB lets the writer's commits and the readers go on
meanwhile, though a commit that comes as the checkpoint finishes still waits for its end. In
the server (`bench.ingest`, 600 bodies, three alternating pairs) the acks' p95 went from
476–493 ms to 262–304; p99 stayed at 0.65–0.9 s, one or two groups a checkpoint. DuckDB's own
threshold stays as a backstop, at four times the configured one, for a checkpointer that
cannot keep up.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import duckdb

from promptpulse.config import size_bytes

log = logging.getLogger("promptpulse.store")

BACKSTOP_FACTOR = 4


def backstop(threshold: str) -> str:
    """DuckDB's own checkpoint_threshold while a Checkpointer watches at `threshold`."""
    return f"{size_bytes(threshold) * BACKSTOP_FACTOR}B"


class Checkpointer:
    """Checkpoints the database whenever its WAL holds more than `threshold` (a size: 128MB)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, wal: Path, threshold: str, poll_s: float = 0.05
    ) -> None:
        self._cursor = con.cursor()
        self._wal = wal
        self._threshold = size_bytes(threshold)
        self._poll_s = poll_s
        self._stop = threading.Event()
        self.checkpoints = 0
        self._thread = threading.Thread(
            target=self._run, name="promptpulse-checkpoint", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                size = self._wal.stat().st_size
            except FileNotFoundError:
                continue  # no WAL: nothing written since the last checkpoint
            if size <= self._threshold:
                continue
            try:
                self._cursor.execute("CHECKPOINT")
                self.checkpoints += 1
            except duckdb.Error as exc:  # a full disk, say: the backstop is DuckDB's own
                log.warning("background checkpoint failed (%s); retrying in 5 s", exc)
                self._stop.wait(5)

    def close(self) -> None:
        """Stop (before the connection closes; its own close checkpoints last)."""
        self._stop.set()
        self._thread.join()
        self._cursor.close()
