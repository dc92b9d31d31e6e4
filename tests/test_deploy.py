"""The scale-out deployment files say what docs/deploy-scale.md says: the compose file runs
ClickHouse with Keeper, PostgreSQL, two replicas built from the repository's Dockerfile and a
load balancer in front of both, with settings PromptPulse has. Docker does not run here: the
files are parsed and cross-checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptpulse.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOC = (ROOT / "docs" / "deploy-scale.md").read_text()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text()))


def _replicas(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if n.startswith("replica-")}


def test_it_has_every_part_the_docs_name(compose: dict[str, Any]) -> None:
    images = {n: s.get("image", "") for n, s in compose["services"].items()}
    assert images["clickhouse"].startswith("clickhouse/clickhouse-server:")
    assert images["keeper"].startswith("clickhouse/clickhouse-keeper:")
    assert images["postgres"].startswith("postgres:") and int(images["postgres"][9:11]) >= 15
    assert images["lb"].startswith("nginx:")
    for image in (images["clickhouse"], images["keeper"], images["postgres"], images["lb"]):
        assert image.split(":")[0] in DOC, image
    assert len(_replicas(compose)) == 2


def test_the_replicas_are_built_from_the_dockerfile_and_share_both_stores(
    compose: dict[str, Any],
) -> None:
    names = set()
    for service in _replicas(compose).values():
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
        env = service["environment"]
        assert env["PROMPTPULSE_STORE_URL"].startswith("clickhouse://")
        assert "@clickhouse:8123/" in env["PROMPTPULSE_STORE_URL"]
        assert env["PROMPTPULSE_METADATA_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in env["PROMPTPULSE_METADATA_URL"]
        names.add(env["PROMPTPULSE_REPLICA_ID"])
        assert {"clickhouse", "postgres"} <= set(service["depends_on"])
    assert len(names) == 2  # each replica its own name in the lease


def test_every_setting_is_real_and_documented(compose: dict[str, Any]) -> None:
    known = {f"PROMPTPULSE_{n.upper()}" for n in Settings.model_fields}
    used = {k for s in _replicas(compose).values() for k in s["environment"]}
    assert used <= known, used - known
    assert all(f"`{k}`" in DOC for k in used), [k for k in used if f"`{k}`" not in DOC]


def test_the_load_balancer_sends_to_every_replica(compose: dict[str, Any]) -> None:
    lb = compose["services"]["lb"]
    mounted = {v.split(":")[0]: v.split(":")[1] for v in lb["volumes"]}
    conf = (DEPLOY / "nginx.conf").read_text()
    assert mounted["./nginx.conf"].startswith("/etc/nginx/")
    upstream = set(re.findall(r"server\s+([\w-]+):8000", conf))
    assert upstream == set(_replicas(compose))
    timeout = re.search(r"proxy_read_timeout\s+(\d+)s", conf)
    assert timeout is not None and int(timeout.group(1)) > 9  # the longest Live long-poll


def test_clickhouse_has_the_cluster_the_replicas_name(compose: dict[str, Any]) -> None:
    cluster = (DEPLOY / "clickhouse" / "cluster.xml").read_text()
    for service in _replicas(compose).values():
        name = service["environment"]["PROMPTPULSE_CLICKHOUSE_CLUSTER"]
        assert f"<{name}>" in cluster and "<zookeeper>" in cluster
    mounted = [v.split(":")[0] for v in compose["services"]["clickhouse"]["volumes"]]
    assert "./clickhouse/cluster.xml" in mounted and (DEPLOY / "clickhouse/keeper.xml").exists()


def test_the_dockerfile_serves_on_every_interface() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    assert "PROMPTPULSE_HOST=0.0.0.0" in text and "pip install ." in text
    assert 'CMD ["promptpulse", "serve"]' in text and "/readyz" in text
    assert "Production uses a real ClickHouse server" in DOC.replace("**", "")
