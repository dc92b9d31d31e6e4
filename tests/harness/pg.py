"""A real PostgreSQL for the tests: `initdb` + `pg_ctl start` on a free port in a temporary
directory (~0.6 s), one fresh database per test (`CREATE DATABASE`), stopped at the end.

Debian's server binaries are at /usr/lib/postgresql/<major>/bin (`scripts/ensure-postgres`
installs them; `make test` runs it). PostgreSQL refuses to run as root, so under root the
cluster belongs to the `postgres` system user the Debian package creates.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

BIN_ROOT = Path("/usr/lib/postgresql")


def find_bindir() -> Path | None:
    """The newest installed server's bin directory (initdb, pg_ctl), or None."""
    explicit = os.environ.get("PROMPTPULSE_PG_BINDIR")
    if explicit:
        return Path(explicit)
    found = sorted(BIN_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unprivileged_user() -> tuple[int, int] | None:
    """PostgreSQL will not run as root: its processes then run as the `postgres` user."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")
    return user.pw_uid, user.pw_gid


class PostgresServer:
    """One cluster on 127.0.0.1:<port>, trust authentication, superuser `postgres`."""

    def __init__(self, bindir: Path | None = None, durable: bool = False) -> None:
        """`durable`: keep fsync and synchronous commits (a test that crashes the server and
        counts what survived); off by default, which is faster and enough for the rest."""
        self.durable = durable
        found = bindir or find_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed: run scripts/ensure-postgres")
        self.bindir = found
        self.root = Path(tempfile.mkdtemp(prefix="pp-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        self.port = _free_port()
        self._user = _unprivileged_user()
        self.sockdir.mkdir()
        if self._user is not None:
            os.chmod(self.root, 0o755)
            os.chown(self.root, *self._user)
            os.chown(self.sockdir, *self._user)
        self._run("initdb", "-D", str(self.datadir), "--auth=trust", "-U", "postgres", "-E", "UTF8")
        self._run(*self._ctl_start())

    def _ctl_start(self) -> tuple[str, ...]:
        options = f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
        options += "-c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = str(self.root / "server.log")
        return ("pg_ctl", "-D", str(self.datadir), "-l", log, "-w", "-o", options, "start")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bindir / program), *args],
            check=True,
            capture_output=True,
            user=self._user[0] if self._user else None,
            group=self._user[1] if self._user else None,
        )

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def create_database(self, name: str | None = None, exist_ok: bool = False) -> str:
        """A new empty database (or, with `exist_ok`, the one of that name); its URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None or not exist_ok:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def halt(self) -> None:
        """Stop the server as a crash would (its data kept): `resume()` starts it again."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        self._run(*self._ctl_start())

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


_shared: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """One server for this process, started on first use and stopped when it exits: the
    `postgres` fixture, and the app fixtures under PROMPTPULSE_TEST_METADATA=postgresql."""
    global _shared
    if _shared is None:
        _shared = PostgresServer()
        atexit.register(_shared.stop)
    return _shared


def metadata_url_for_tests(data_dir: Path) -> str | None:
    """A fresh PostgreSQL database for an app fixture when the suite runs with
    PROMPTPULSE_TEST_METADATA=postgresql (every feature's tests on PostgreSQL metadata);
    None otherwise (SQLite in the data directory, the default)."""
    wanted = os.environ.get("PROMPTPULSE_TEST_METADATA", "sqlite")
    if wanted == "sqlite":
        return None
    if wanted != "postgresql":
        raise ValueError(f"PROMPTPULSE_TEST_METADATA={wanted}: sqlite or postgresql")
    # One database per data directory: a test that restarts a server on its data directory
    # finds its keys and objects again, as it would in the SQLite file there.
    name = "d_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:24]
    return shared_server().create_database(name, exist_ok=True)


if __name__ == "__main__":  # a server to poke at by hand: python -m tests.harness.pg
    server = PostgresServer()
    print(server.url(), flush=True)
    try:
        input("PostgreSQL is running; press Enter to stop it\n")
    finally:
        server.stop()
