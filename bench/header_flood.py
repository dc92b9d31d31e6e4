"""Unauthenticated memory: the server's RSS before and after N requests with huge bogus
`Authorization` headers (issue 17, item 1). Run by hand:

    PYTHONPATH=src python -m bench.header_flood --requests 60 --mb 10
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send_huge(port: int, size: int) -> str:
    """One GET with an Authorization header of `size` bytes; the status line, or how it ended."""
    head = b"GET /v1/metrics/overview HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pp_"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(head + b"x" * size + b"\r\n\r\n")
            return s.recv(200).split(b"\r\n")[0].decode() or "closed"
        except OSError as exc:
            return f"closed ({exc.__class__.__name__})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--mb", type=float, default=10)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PROMPTPULSE_DATA_DIR": data, "PROMPTPULSE_PORT": str(port)}
        server = subprocess.Popen(
            [sys.executable, "-m", "promptpulse.cli", "serve", "--log-level", "warning"], env=env
        )
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            before = rss_mb(server.pid)
            answers: dict[str, int] = {}
            started = time.monotonic()
            for _ in range(args.requests):
                answer = send_huge(port, int(args.mb * 1024 * 1024))
                answers[answer] = answers.get(answer, 0) + 1
            took = time.monotonic() - started
            time.sleep(1)
            after = rss_mb(server.pid)
            print(f"{args.requests} x {args.mb} MB headers in {took:.1f} s: {answers}")
            print(f"RSS before {before:.0f} MB, after {after:.0f} MB ({after - before:+.0f} MB)")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
