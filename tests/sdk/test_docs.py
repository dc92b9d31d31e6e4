"""The snippets in docs/send-data.md and docs/sdk.md run as written against a live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.fakes import start_fake_anthropic, start_fake_openai
from tests.sdk.helpers import stored

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r'^```python title="([^"]+)"\n(.*?)^```', re.S | re.M)


def snippets() -> list[tuple[str, str]]:
    found = []
    for page in ("send-data.md", "sdk.md"):
        found += BLOCK.findall((DOCS / page).read_text())
    return found


def test_the_pages_have_snippets() -> None:
    titles = [t for t, _ in snippets()]
    assert {"sdk-openai.py", "sdk-anthropic.py", "sdk-track.py", "rest.py", "sdk-client.py"} <= set(
        titles
    )


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, str]]:
    with start_fake_openai() as oai, start_fake_anthropic() as anth:
        yield {
            "OPENAI_BASE_URL": oai.url + "/v1",
            "OPENAI_API_KEY": "test",
            "ANTHROPIC_BASE_URL": anth.url,
            "ANTHROPIC_API_KEY": "test",
        }


EXPECTED = {
    "sdk-openai.py": {"support-answer": 2},
    "sdk-anthropic.py": {"ticket-triage": 1},
    "sdk-track.py": {"summarize": 1, "extract": 1},
    "rest.py": {"order-bot": 1},
    "sdk-client.py": {"upsell": 2},
    "sdk-budget.py": {"upsell-gate": 1},
}


@pytest.mark.parametrize(("title", "code"), snippets(), ids=[t for t, _ in snippets()])
def test_snippet_runs_and_its_calls_land(
    live: LiveServer, project: str, fakes: dict[str, str], title: str, code: str, tmp_path: Path
) -> None:
    env = {**os.environ, **fakes, "PROMPTPULSE_URL": live.url,
           "PROMPTPULSE_API_KEY": live.key(project)}  # fmt: skip
    script = tmp_path / title
    script.write_text(code)
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    counts = Counter(r["prompt_id"] for r in stored(live, project))
    assert dict(counts) == EXPECTED[title]
