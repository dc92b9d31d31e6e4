"""The batching client: delivery to a real server, scores, track, the retry rules, never failing."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from promptpulse.sdk import AsyncClient, Client, classify
from promptpulse.sdk.sender import backoff, parse_retry_after
from tests.conftest import LiveServer, free_port
from tests.sdk.helpers import project_scope, stored

ROOT = Path(__file__).resolve().parents[2]


def test_batches_land_once_each(live: LiveServer, project: str) -> None:
    with Client(live.url, live.key(project), batch_size=50, flush_interval=0.05) as pp:
        ids = [
            pp.record(model="gpt-4o-mini", latency_ms=100 + i, input_tokens=10, output_tokens=5,
                      prompt_id="p", metadata={"i": i})
            for i in range(230)
        ]  # fmt: skip
        assert pp.flush(timeout=30)
        assert (pp.stats.accepted, pp.stats.duplicates, pp.stats.dropped) == (230, 0, 0)
        assert pp.stats.batches >= 5  # 230 / 50, gzip bodies included
    rows = stored(live, project)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert sum(r["latency_ms"] for r in rows) == sum(100 + i for i in range(230))


def test_score_lands(live: LiveServer, project: str) -> None:
    pp = Client(live.url, live.key(project), flush_interval=0.05, max_backoff=0.2)
    event_id = pp.record(model="gpt-4o-mini", latency_ms=5)
    pp.score(event_id, "thumbs_up", True, comment="nice", source="user")
    pp.score(event_id, "relevance", 0.5, source="eval")
    pp.flush(timeout=5)
    pp.close(timeout=0.1)
    assert pp.stats.accepted == 3
    summary = live.ctx.store.score_summary(project_scope(project))
    assert summary["thumbs_up"]["count"] == 1 and summary["thumbs_up"]["mean"] == 1.0
    assert summary["relevance"]["mean"] == 0.5


def test_track_context_manager_decorator_and_errors(live: LiveServer, project: str) -> None:
    pp = Client(live.url, live.key(project), flush_interval=0.05, environment="test")
    with pp.track(prompt_id="cm", model="m-1") as call:
        call.first_token()
        call.set(input_tokens=7, output_tokens=3, user_id="u")
    with pytest.raises(TimeoutError), pp.track(prompt_id="cm-err", model="m-1"):
        raise TimeoutError("took too long")

    @pp.track(prompt_id="deco", model="m-2")
    def answer(x: int) -> int:
        if x < 0:
            raise ConnectionError("down")
        return x * 2

    @pp.track(prompt_id="deco-async", model="m-3")
    async def answer_async() -> str:
        return "ok"

    assert answer(2) == 4
    with pytest.raises(ConnectionError):
        answer(-1)
    assert asyncio.run(answer_async()) == "ok"
    pp.close()
    rows = {(r["prompt_id"], r["status"], r["error_type"]): r for r in stored(live, project)}
    assert set(rows) == {
        ("cm", "success", None), ("cm-err", "error", "timeout"), ("deco", "success", None),
        ("deco", "error", "network"), ("deco-async", "success", None),
    }  # fmt: skip
    cm = rows[("cm", "success", None)]
    assert (cm["input_tokens"], cm["user_id"], cm["environment"]) == (7, "u", "test")
    assert cm["ttft_ms"] is not None and cm["ttft_ms"] <= cm["latency_ms"]
    assert "took too long" in rows[("cm-err", "error", "timeout")]["error_message"]


def test_async_client(live: LiveServer, project: str) -> None:
    async def main() -> int:
        async with AsyncClient(live.url, live.key(project), flush_interval=0.05) as pp:
            async with pp.track(model="m", prompt_id="a") as call:
                call.set(output_tokens=2)
            assert await pp.flush(timeout=30)
            return pp.stats.accepted

    assert asyncio.run(main()) == 1
    assert stored(live, project)[0]["output_tokens"] == 2


def test_invalid_items_are_logged_not_raised(
    live: LiveServer, project: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Client(live.url, live.key(project), flush_interval=0.05) as pp:
        pp.record(model="ok", latency_ms=1)
        pp.record(model="bad", latency_ms=-5)  # the server rejects it (207)
        with caplog.at_level(logging.WARNING, "promptpulse.sdk"):
            assert pp.flush(timeout=30)
        assert (pp.stats.accepted, pp.stats.rejected) == (1, 1)
    assert "rejected 1 of 2 events" in caplog.text


def test_no_key_or_bad_url_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PROMPTPULSE_API_KEY", raising=False)
    with caplog.at_level(logging.WARNING, "promptpulse.sdk"):
        quiet = Client("http://127.0.0.1:9")
        bad = Client("ftp://nowhere", "k")
    assert "no API key" in caplog.text and "disabled" in caplog.text
    for pp in (quiet, bad):
        assert not pp.enabled
        assert pp.record(model="m", latency_ms=1)
        with pp.track(model="m"):
            pass
        assert pp.flush(timeout=1)
        pp.close()


def test_full_queue_drops_counts_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on this port: the sender keeps retrying while the queue fills up.
    pp = Client(f"http://127.0.0.1:{free_port()}", "k", max_queue=10, batch_size=1000,
                flush_interval=60)  # fmt: skip
    with caplog.at_level(logging.WARNING, "promptpulse.sdk"):
        for i in range(25):
            pp.record(model="m", latency_ms=i)
        assert pp.stats.dropped == 15
        pp.close(timeout=0.2)
    assert "queue is full" in caplog.text
    assert pp.stats.failed == 10  # given up at close, and said so
    assert "15 items dropped" in caplog.text


def test_env_configuration(live: LiveServer, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTPULSE_URL", live.url)
    monkeypatch.setenv("PROMPTPULSE_API_KEY", live.key(project))
    with Client(flush_interval=0.05) as pp:
        pp.record(model="env", latency_ms=1)
    assert [r["model"] for r in stored(live, project)] == ["env"]


def test_atexit_flushes(live: LiveServer, project: str) -> None:
    """A script that records and exits at once: the atexit hook delivers the events."""
    code = (
        "from promptpulse.sdk import Client\n"
        "pp = Client(flush_interval=60)\n"
        "for i in range(5): pp.record(model='exit', latency_ms=i)\n"
    )
    env = {**os.environ, "PROMPTPULSE_URL": live.url, "PROMPTPULSE_API_KEY": live.key(project)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert len(stored(live, project)) == 5


def test_sdk_imports_without_server_dependencies() -> None:
    code = (
        "import sys, promptpulse.sdk\n"
        "heavy = {'fastapi', 'duckdb', 'pydantic', 'httpx', 'numpy', 'pyarrow', 'openai',"
        " 'anthropic', 'uvicorn', 'sqlalchemy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the retry rules, against a scripted ingest endpoint -----------------------------------------


class Scripted:
    """An HTTP endpoint answering a scripted list of statuses, then 200; it keeps every body."""

    def __init__(self, statuses: list[tuple[int, dict[str, str]]]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw)
                with owner.lock:
                    owner.bodies.append(body)
                    owner.paths.append(self.path)
                    status, headers = owner.statuses.pop(0) if owner.statuses else (200, {})
                items = body.get("events") or body.get("scores") or []
                reply = {"accepted": len(items), "duplicates": 0, "rejected": []}
                data = json.dumps(reply if status == 200 else {"title": "no"}).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def ids(self) -> list[list[str]]:
        return [[e["id"] for e in b.get("events", [])] for b in self.bodies]


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[Scripted]:
    server = Scripted(request.param)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.mark.parametrize(
    "scripted",
    [[(429, {"Retry-After": "0"}), (503, {"Retry-After": "0"}), (502, {}), (500, {})]],
    indirect=True,
)
def test_retries_resend_the_same_ids(scripted: Scripted) -> None:
    pp = Client(scripted.url, "k", flush_interval=0.01, backoff_base=0.001)
    pp.record(model="m", latency_ms=1)
    pp.record(model="m", latency_ms=2)
    assert pp.flush(timeout=30)
    assert pp.stats.retries == 4 and pp.stats.accepted == 2
    ids = scripted.ids()
    assert len(ids) == 5 and all(batch == ids[0] for batch in ids)  # idempotent retries
    pp.close()


@pytest.mark.parametrize("scripted", [[(401, {}), (400, {})]], indirect=True)
def test_unfixable_answers_are_not_retried(
    scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    pp = Client(scripted.url, "k", flush_interval=0.01, batch_size=1)
    with caplog.at_level(logging.ERROR, "promptpulse.sdk"):
        pp.record(model="m", latency_ms=1)
        pp.record(model="m", latency_ms=2)
        assert pp.flush(timeout=30)
    assert (pp.stats.failed, pp.stats.retries, len(scripted.bodies)) == (2, 0, 2)
    assert "HTTP 401" in caplog.text
    pp.close()


@pytest.mark.parametrize("scripted", [[(413, {}), (413, {})]], indirect=True)
def test_too_large_splits_the_batch(scripted: Scripted) -> None:
    pp = Client(scripted.url, "k", flush_interval=60, batch_size=8)
    for i in range(8):
        pp.record(model="m", latency_ms=i)
    assert pp.flush(timeout=30)
    assert pp.stats.accepted == 8
    assert [len(b) for b in scripted.ids()] == [8, 4, 2, 2, 4]
    pp.close()


@pytest.mark.parametrize("scripted", [[]], indirect=True)
def test_scores_are_sent_to_the_scores_endpoint(scripted: Scripted) -> None:
    with Client(scripted.url, "k", flush_interval=0.01) as pp:
        event_id = pp.record(model="m", latency_ms=1)
        score_id = pp.score(event_id, "thumbs_up", True, comment="nice", source="user")
        assert pp.flush(timeout=30)
    (score,) = next(b["scores"] for b in scripted.bodies if "scores" in b)
    assert score["id"] == score_id and score["event_id"] == event_id
    assert (score["name"], score["value"], score["comment"], score["source"]) == (
        "thumbs_up", 1.0, "nice", "user")  # fmt: skip
    assert scripted.paths == ["/v1/events", "/v1/scores"]


def test_retry_after_and_backoff_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    delays = [backoff(a, 0.5, 30) for a in range(12) for _ in range(20)]
    assert all(0 <= d <= 30 for d in delays) and max(delays) > 4  # grows, capped, jittered


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError(), "timeout"), (ConnectionRefusedError(), "network"),
        (ValueError(), "other"), (MemoryError(), "system"),
    ],
)  # fmt: skip
def test_classify_plain_exceptions(exc: BaseException, expected: str) -> None:
    assert classify(exc)[0] == expected


def test_module_is_importable_from_the_source_tree() -> None:
    assert (ROOT / "src" / "promptpulse" / "sdk" / "__init__.py").exists()
