"""ClickHouse stores on chdb for this backend's own tests: every store of the process is a
database in one engine (chdb runs one engine path per process), as in the contract suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from promptpulse.store import open_store
from promptpulse.store.click import ClickStore
from tests.store.conftest import backend_settings

pytest.importorskip("chdb")


@pytest.fixture
def click_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ClickStore]]:
    """Opens ClickHouse stores; `database` names one to open it twice (two replicas)."""
    opened: list[ClickStore] = []
    fresh = tmp_path_factory.mktemp("click")

    def make(database: str | None = None, **overrides: Any) -> ClickStore:
        data_dir = fresh.parent / database if database else tmp_path_factory.mktemp("click")
        store = open_store(backend_settings("chdb", data_dir, **overrides))
        assert isinstance(store, ClickStore)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for s in opened:
            s.close()
