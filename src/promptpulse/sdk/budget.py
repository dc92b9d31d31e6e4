"""`budget_ok(...)`: ask the server, before a call, whether it would be over budget.

    if not pp.budget_ok(prompt_id="support", user_id=user.id):
        return "This feature is paused for today."

Answers are cached per set of attributes for `ttl` seconds (default 5), so a hot path asks the
server at most once per TTL. A miss waits at most `timeout` seconds (default 0.25) for
`GET /v1/budgets/check`; when the server cannot answer in time (down, slow, a 5xx, no key) the
answer is `True` (fail open: a monitoring outage never stops the app) unless `fail_closed=True`,
and the failure itself is cached for a second so an outage never adds the timeout to every call.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("promptpulse.sdk")

# The call attributes a budget can filter on (the server's filter dimensions).
CALL_ATTRIBUTES = frozenset({
    "project", "prompt_id", "prompt_version", "model", "provider", "environment", "feature",
    "user_id", "session_id", "service", "status", "error_type", "tag",
})  # fmt: skip
FAILURE_TTL = 1.0


class BudgetGate:
    """The cache and the HTTP call behind `Client.budget_ok`; thread-safe."""

    def __init__(
        self, url: str, api_key: str | None, ttl: float = 5.0, timeout: float = 0.25
    ) -> None:
        self.url = urllib.parse.urlsplit(url)
        self.api_key = api_key
        self.ttl = ttl
        self.timeout = timeout
        self._cache: dict[tuple[Any, ...], tuple[float, bool | None]] = {}
        self._lock = threading.Lock()
        self.requests = 0  # made to the server (for tests and curiosity)

    def ok(
        self,
        attributes: Mapping[str, Any],
        mode: str = "spent",
        fail_closed: bool = False,
        timeout: float | None = None,
    ) -> bool:
        """True when no matching budget is over (`mode="projected"`: nor projected to be)."""
        params = _params(attributes, mode)
        key = tuple(params)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return (not fail_closed) if hit[1] is None else hit[1]
        allowed = self._ask(params, self.timeout if timeout is None else timeout)
        ttl = self.ttl if allowed is not None else FAILURE_TTL
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + ttl, allowed)
        return (not fail_closed) if allowed is None else allowed

    def _ask(self, params: list[tuple[str, str]], timeout: float) -> bool | None:
        """The server's `allowed`, or None when it could not answer in time."""
        if not self.api_key:
            return None
        self.requests += 1
        u = self.url
        conn_type = (
            http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_type(u.hostname or "127.0.0.1", u.port, timeout=timeout)
        path = (u.path.rstrip("/") or "") + "/v1/budgets/check?" + urllib.parse.urlencode(params)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.api_key}"})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                log.warning("PromptPulse budget check answered %s: %s", resp.status, body[:200])
                return None
            return bool(json.loads(body)["allowed"])
        except Exception as exc:  # down, slow, garbled: the caller decides (fail open/closed)
            log.warning("PromptPulse budget check failed: %s", exc)
            return None
        finally:
            conn.close()


def _params(attributes: Mapping[str, Any], mode: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    flat = dict(attributes)
    meta = flat.pop("metadata", None)
    if isinstance(meta, Mapping):  # metadata={"tier": "gold"} is metadata.tier=gold
        flat.update({f"metadata.{k}": v for k, v in meta.items()})
    for name, value in sorted(flat.items()):
        if value is None:
            continue
        if name == "tags":
            name = "tag"
        if name not in CALL_ATTRIBUTES and not name.startswith("metadata."):
            continue  # not something a budget filters on (latency, tokens...)
        values = value if isinstance(value, list | tuple) else [value]
        out += [(name, str(v)) for v in values]
    if mode != "spent":
        out.append(("mode", mode))
    return out
