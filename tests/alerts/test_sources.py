"""Alert sources: budgets and SLOs register with the AlertService (alerts imports neither), and
a source that raises in a round is reported while the rules and the other sources go on."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from promptpulse.alerts import AlertService, SourceRound, Subject, Verdict
from promptpulse.notify import ChannelSpec
from tests.alerts.conftest import T0, AlertServer, event, make_alert_server
from tests.conftest import stop_server

SRC = Path(__file__).resolve().parents[2] / "src" / "promptpulse"


class FakeSource:
    """One object, `<kind>-1`, breached while `on`; raises while `broken`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.on = False
        self.broken = False
        self.rounds = 0

    def evaluate(
        self, engine: sa.Engine, store: Any, now: datetime, project: str | None = None
    ) -> SourceRound:
        self.rounds += 1
        if self.broken:
            raise RuntimeError("boom")
        subject = Subject(
            source=self.kind,
            source_id=f"{self.kind}-1",
            scope_key="",
            name=f"{self.kind} one",
            severity="warning",
            alert_type=self.kind,
            metric="requests",
            for_=timedelta(0),
            renotify=timedelta(0),
            project=None,
            scope={},
        )
        verdict = Verdict(self.on, 1.0 if self.on else 0.0, 0.5, 0, f"{self.kind} says {self.on}")
        return SourceRound([(subject, verdict)], [f"{self.kind}-1"])

    def channels(self, engine: sa.Engine, source_id: str) -> tuple[ChannelSpec, ...]:
        return ()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertServer]:
    server, thread, s = make_alert_server(tmp_path_factory.mktemp("sources"), T0)
    yield s
    stop_server(server, thread)


def _service(srv: AlertServer) -> AlertService:
    return srv.live.app.state.ctx.alerts  # type: ignore[attr-defined,no-any-return]


def test_the_server_registers_budgets_and_slos(srv: AlertServer) -> None:
    service = _service(srv)
    assert list(service._sources)[:2] == ["budget", "slo"]  # as app.alert_service registers
    for kind in ("budget", "rule"):
        with pytest.raises(ValueError, match="already registered"):
            service.register_source(FakeSource(kind))


def test_a_failing_source_does_not_stop_the_others(srv: AlertServer) -> None:
    flaky, after = FakeSource("flaky"), FakeSource("after")
    _service(srv).register_source(flaky)
    _service(srv).register_source(after)
    with srv.client(srv.key) as c:
        rule = c.post(
            "/v1/alerts/rules",
            json={"name": "errors", "template": "error_rate_high", "for": "0s",
                  "filters": {"project": "shop", "prompt_id": "support"}},
        )  # fmt: skip
        assert rule.status_code == 201, rule.text
        budget = c.post("/v1/budgets", json={"name": "tiny", "amount": 0.001,
                                             "filters": {"project": "shop"}})  # fmt: skip
        assert budget.status_code == 201, budget.text
    # Round 1: the flaky source works and opens its alert; nothing else is breached yet.
    flaky.on = True
    srv.clock.advance(minutes=1)
    first = srv.evaluate()
    assert first["errors"] == []
    assert [(c["source"], c["to"]) for c in first["changes"]] == [("flaky", "firing")]
    # Round 2: errors and spend arrive, `after` is breached, and the flaky source raises.
    start = srv.clock()
    srv.ingest([event(start + timedelta(seconds=5 * i), f"e{i}", status="error", project="shop")
                for i in range(30)])  # fmt: skip
    srv.clock.advance(minutes=3)
    flaky.broken, after.on = True, True
    second = srv.evaluate()
    assert second["errors"] == [{"source": "flaky", "error": "RuntimeError: boom"}]
    fired = {(c["source"], c["source_id"]) for c in second["changes"] if c["to"] == "firing"}
    assert ("rule", rule.json()["id"]) in fired, "the rules were judged"
    assert ("budget", budget.json()["id"]) in fired, "the source before it was judged"
    assert ("after", "after-1") in fired, "the source after it was judged"
    assert flaky.rounds == after.rounds == 2
    # The failing source's open alert is kept as it was, not resolved as removed.
    assert not [c for c in second["changes"] if c["source"] == "flaky"]
    with srv.client() as c:
        alerts = c.get("/v1/alerts", params={"state": "firing"}).json()["alerts"]
    assert "flaky-1" in {a["source_id"] for a in alerts}
    # A service without sources leaves their alerts alone: only a source says its object is gone.
    service = _service(srv)
    bare = AlertService(service.engine, service.store, srv.clock, service.settings)
    result, _ = bare.evaluate_round()
    assert result["errors"] == [] and result["changes"] == []


def test_alerts_imports_no_source() -> None:
    for path in sorted((SRC / "alerts").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        bad = {m for m in names if m.startswith(("promptpulse.budgets", "promptpulse.slos"))}
        assert not bad, f"alerts/{path.name} imports {bad}"
