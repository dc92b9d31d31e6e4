"""Fixtures shared by the web tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from promptpulse.app import create_app
from promptpulse.config import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app in process (lifespan on, DuckDB in a temporary directory), one per module."""
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("web")))
    with TestClient(app) as c:
        yield c
