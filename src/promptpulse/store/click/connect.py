"""One clickhouse-connect client for a store target: a server over HTTP(S), or chdb (the engine
embedded in this process; imported only here, when a chdb URL is chosen: it costs ~240 MB)."""

from __future__ import annotations

from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from promptpulse.config import Settings
from promptpulse.errors import StoreUnavailable
from promptpulse.store.url import StoreTarget


def connect(target: StoreTarget, settings: Settings) -> Client:
    try:
        if target.engine == "chdb":
            assert target.path is not None
            path = target.path.resolve()
            path.mkdir(parents=True, exist_ok=True)
            dsn = f"chdb://{path}"
            if target.database != "default":
                bootstrap = clickhouse_connect.get_client(dsn=dsn)
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{target.database}`")
                bootstrap.close()  # the engine stays up while a client uses it
            return clickhouse_connect.get_client(dsn=dsn, database=target.database)
        return _server(target, settings)
    except ClickHouseError as exc:
        raise StoreUnavailable(f"cannot open {target.describe()}: {exc}") from exc


def _server(target: StoreTarget, settings: Settings) -> Client:
    common: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "username": target.user,
        "password": target.password,
        "secure": target.secure,
        "connect_timeout": settings.clickhouse_connect_timeout_s,
        "send_receive_timeout": settings.query_timeout_s + 5,
        # No session: one client serves every thread, and a session allows one query at once.
        "autogenerate_session_id": False,
        # Parameters in the body: a batch's keys (looked up before each insert) outgrow a URL.
        "form_encode_query_params": True,
        "settings": {"max_execution_time": int(settings.query_timeout_s) or 1},
    }
    if target.database != "default":
        bootstrap = clickhouse_connect.get_client(database="default", **common)
        try:
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{target.database}`")
        finally:
            bootstrap.close()
    return clickhouse_connect.get_client(database=target.database, **common)
