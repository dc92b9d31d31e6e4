"""`PROMPTPULSE_STORE_URL`, parsed: which engine holds the calls, and where. Pure (no driver):
`open_store` reads it to import only the chosen backend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

SETTING = "PROMPTPULSE_STORE_URL"
ENGINES = ("duckdb", "clickhouse", "chdb")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class StoreTarget:
    """Where the event store is: a file or directory (duckdb, chdb) or a server (clickhouse)."""

    engine: str
    path: Path | None = None
    host: str = ""
    port: int = 8123
    user: str = "default"
    password: str = ""
    database: str = "default"
    secure: bool = False

    def describe(self) -> str:
        """The URL without its password, for logs and errors."""
        if self.engine == "clickhouse":
            scheme = "https" if self.secure else "http"
            return f"clickhouse://{self.user}@{self.host}:{self.port}/{self.database} ({scheme})"
        if self.engine == "chdb":
            return f"chdb://{self.path} (database {self.database})"
        return f"{self.engine}://{self.path}"


def _bad(url: str, reason: str) -> ValueError:
    # The error goes to logs and terminals: the URL's password never does.
    shown = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
    return ValueError(f"{SETTING}={shown!r}: {reason}")


def _path(url: str, rest: str) -> Path:
    """SQLAlchemy's convention: `engine:///rel/path`, `engine:////abs/path`."""
    if not rest.startswith("/"):
        raise _bad(url, "a file URL starts with three slashes (engine:///relative/path)")
    path = rest[1:]
    if not path or path == "/":
        raise _bad(url, "no path after the scheme")
    return Path(path)


def parse_store_url(url: str | None, default_duckdb: Path) -> StoreTarget:
    """The target a store URL names; None means the DuckDB file in the data directory."""
    if url is None or not url.strip():
        return StoreTarget("duckdb", default_duckdb)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ENGINES:
        raise _bad(url, f"the scheme must be one of {', '.join(s + '://' for s in ENGINES)}")
    if scheme == "duckdb":
        return StoreTarget(scheme, _path(url, rest))
    if scheme == "chdb":
        # One engine path per process (chdb's rule); stores beside each other are databases.
        rest, _, query = rest.partition("?")
        options = _options(url, query, {"database": "default"})
        return StoreTarget(scheme, _path(url, rest), database=_database(url, options["database"]))
    return _server(url)


def _options(url: str, query: str, allowed: dict[str, str]) -> dict[str, str]:
    out = dict(allowed)
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in allowed:
            raise _bad(url, f"unknown option {key!r} (known: {', '.join(allowed)})")
        out[key] = values[-1]
    return out


def _database(url: str, name: str) -> str:
    if not name or not name.replace("_", "").isalnum():
        raise _bad(url, f"the database name {name!r} must be letters, digits and _")
    return name


def _server(url: str) -> StoreTarget:
    try:
        parts = urlsplit(url)
        port = parts.port or 8123
    except ValueError as exc:  # a port that is not a number
        raise _bad(url, str(exc)) from exc
    if not parts.hostname:
        raise _bad(url, "no host (clickhouse://user:pass@host:8123/db)")
    database = _database(url, parts.path.strip("/") or "default")
    secure = _options(url, parts.query, {"secure": "false"})["secure"].lower()
    if secure not in TRUE + FALSE:
        raise _bad(url, f"secure must be true or false, not {secure!r}")
    return StoreTarget(
        "clickhouse",
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        database=database,
        secure=secure in TRUE,
    )
