"""What the auth check remembers between requests: hashes of *known* keys for about a second,
and how often each client address failed. Neither ever holds a raw secret, and a failed
guess is never cached, so bogus `Authorization` headers cannot grow the server's memory."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from promptpulse.meta import ApiKey


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class KeyCache:
    """SHA-256 of a secret -> its live key, trusted for `ttl_s`: a key revoked by any process
    that shares the metadata database stops working here within that time (the entry is
    re-validated against the database once it is older)."""

    ttl_s: float = 1.0
    max_entries: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[bytes, tuple[float, ApiKey]] = field(default_factory=OrderedDict)

    def get(self, secret: str) -> ApiKey | None:
        """The cached live key, or None: then ask the metadata database."""
        hit = self._entries.get(digest(secret))
        if hit is None or hit[0] < self.clock():
            return None
        return hit[1]

    def stale(self, secret: str, max_age_s: float) -> ApiKey | None:
        """The key last verified at most `max_age_s` ago, expired or not: what requests go on
        with while the metadata database cannot be reached."""
        hit = self._entries.get(digest(secret))
        if hit is None or hit[0] - self.ttl_s + max_age_s < self.clock():
            return None
        return hit[1]

    def remember(self, secret: str, key: ApiKey) -> None:
        entry = digest(secret)
        self._entries[entry] = (self.clock() + self.ttl_s, key)
        self._entries.move_to_end(entry)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class FailureThrottle:
    """A token bucket of failed authentications per client address: `burst` failures at once,
    then `per_s` a second; past that the address is answered 429 without checking its key."""

    burst: int = 100
    per_s: float = 10.0
    max_addresses: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def _tokens(self, address: str, now: float) -> float:
        tokens, since = self._buckets.get(address, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - since) * self.per_s)

    def retry_after(self, address: str) -> int:
        """0 when this address may try a key now; else the seconds until it may."""
        if self.burst <= 0:
            return 0
        tokens = self._tokens(address, self.clock())
        if tokens >= 1:
            return 0
        return max(1, math.ceil((1 - tokens) / self.per_s)) if self.per_s > 0 else 60

    def failed(self, address: str) -> None:
        now = self.clock()
        self._buckets[address] = (max(0.0, self._tokens(address, now) - 1), now)
        self._buckets.move_to_end(address)
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
