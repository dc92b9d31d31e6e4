"""A parse worker process: `/v1/events` bodies in on stdin, prepared batches out on stdout.

Started and spoken to by `parse_pool.py`. One request at a time, each a length-prefixed pickle
`(body, keyword arguments of prepare_events)`; each answer a length-prefixed pickle of
`("ok", Prepared)`, `("refused", error class, detail, field errors)` for a body the API refuses
(the same errors a thread would raise), or `("failed", text)` for a bug. It imports only what
parsing needs (not the web app, not the store), and exits when its stdin closes: when the
server stops or dies, its workers go with it.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import traceback
from typing import Any

from promptpulse.errors import PromptPulseError
from promptpulse.ingest.pipeline import prepare_events

FRAME = struct.Struct("<Q")  # the length of the pickle that follows


class WorkerGone(Exception):
    """The other end closed its pipe, or did not answer in time."""


def read_frame(fd: int, timeout_s: float | None = None) -> bytes:
    """One frame from `fd`; WorkerGone on end of file or when nothing comes for `timeout_s`."""
    size = FRAME.unpack(_read_exactly(fd, FRAME.size, timeout_s))[0]
    return _read_exactly(fd, size, timeout_s)


def _read_exactly(fd: int, size: int, timeout_s: float | None) -> bytes:
    # poll, not select: select() refuses a descriptor numbered 1024 or more, which a server
    # holding many connections (or a process running chdb, which keeps three files open per
    # thread) reaches; the ValueError left a worker's answer unread and the next body hung.
    ready = select.poll()
    ready.register(fd, select.POLLIN)
    parts: list[bytes] = []
    left = size
    while left:
        if timeout_s is not None and not ready.poll(timeout_s * 1000):
            raise WorkerGone(f"no answer within {timeout_s:g} s")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise WorkerGone("the pipe was closed")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def write_frame(fd: int, payload: bytes) -> None:
    """The length, then the payload as it is (a body is ~0.5 MB: not copied to prepend 8 bytes)."""
    for part in (FRAME.pack(len(payload)), payload):
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


def answer(frame: bytes) -> tuple[Any, ...]:
    body, kwargs = pickle.loads(frame)
    try:
        return ("ok", prepare_events(body, **kwargs))
    except PromptPulseError as exc:
        return ("refused", type(exc), exc.detail, exc.errors)
    except Exception:  # a bug: the server answers 500, as it would for one in a thread
        return ("failed", traceback.format_exc())


def serve(requests: int, answers: int) -> None:
    while True:
        try:
            frame = read_frame(requests)
        except WorkerGone:
            return  # the server closed our stdin: stop
        write_frame(answers, pickle.dumps(answer(frame), protocol=pickle.HIGHEST_PROTOCOL))


def main() -> None:
    # Ctrl+C in a terminal reaches the whole process group: the server decides when to stop
    # (it closes our stdin), and no worker prints a KeyboardInterrupt on the way out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, never into an answer
    sys.stdout = sys.stderr
    serve(0, answers)


if __name__ == "__main__":
    main()
