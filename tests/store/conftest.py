"""Fixtures of the store contract suite: every backend this machine can run, one seeded dataset.

The suite talks to a store only through its door (`promptpulse.store.open_store`) and the floor
(`promptpulse.model`); data goes in through the real single writer. The dataset is also handed
back as plain Arrow/numpy (no pandas) so every expected figure is computed independently of any
store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from promptpulse.config import Settings
from promptpulse.ingest.writer import Writer
from promptpulse.model import CALL_SCHEMA, SCORE_SCHEMA
from promptpulse.store import Store, open_store

# Every backend the contract runs against: DuckDB, and ClickHouse through chdb (its engine
# embedded in the process; skipped where chdb is not installed).
BACKENDS: list[str] = ["duckdb", "chdb"]

# rollup_min_calls that keeps every query on raw calls (rollups never hold that many).
RAW_ONLY = 10**18

# The data: three UTC days starting on a Sunday, so the range crosses an ISO week (Monday
# 2025-03-31) and a month (2025-04-01).
T0 = datetime(2025, 3, 30, tzinfo=UTC)
END = T0 + timedelta(days=3)
EDGE = T0 + timedelta(days=1, hours=12)  # an hour boundary with calls exactly on it
ODD_EDGE = T0 + timedelta(days=1, hours=7, minutes=13, seconds=5, microseconds=500_000)
BURSTS = (  # (minute, project, calls): peaks per minute
    (T0 + timedelta(days=1, hours=5, minutes=17), "alpha", 40),
    (T0 + timedelta(days=2, hours=9, minutes=2), "beta", 25),
    (T0 + timedelta(hours=3, minutes=59), "gamma", 9),
)

PROJECTS = ("alpha", "beta", "gamma")
MODELS = {  # model -> (provider, priced)
    "gpt-4o": ("openai", True),
    "gpt-4o-mini": ("openai", True),
    "claude-3-5-sonnet": ("anthropic", True),
    "inhouse-7b": ("self", False),  # no price: cost always null
}
PROMPTS = ("support", "search", "summarise", None)
ENVIRONMENTS = ("prod", "staging", None)
FEATURES = ("f0", "f1", "f2", None)
SERVICES = ("api", "worker", None)
ERROR_TYPES = ("timeout", "rate_limit", "llm_error")
TAGS = ("vip", "canary", "beta-test")
METADATA: tuple[dict[str, str | int | None] | None, ...] = (
    {"tier": "gold"},
    {"tier": "free", "region": "eu"},
    {"region": "us", "attempt": 2},  # a number: its JSON text ("2") is its value
    {"tier": "gold", "app.version": "1.2"},  # a key with a dot: one key, not a path
    {"tier": None, "region": "eu"},  # JSON null: no value, like an absent key
    {"tier": "free", "attempt": 10, "ring 0/1:x": "a"},  # every character a key may have
    None,
)
SCORE_NAMES = ("helpfulness", "thumbs")


@dataclass
class Dataset:
    """What the store holds, as written (duplicates removed: the first of each key wins)."""

    calls: pa.Table  # CALL_SCHEMA
    scores: pa.Table  # SCORE_SCHEMA
    sent_duplicates: int  # calls re-sent with an id already stored (not stored again)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)  # derived views, computed once

    @property
    def n(self) -> int:
        return self.calls.num_rows

    def col(self, name: str) -> np.ndarray:
        """One call column: strings as an object array (None for null), numbers as float64 with
        NaN for null, timestamps as datetime64[us] (naive UTC), tags as an object array of sets,
        metadata as an object array of dicts ({} for none)."""
        if ("col", name) not in self.cache:
            compute = DERIVED.get(name)
            self.cache[("col", name)] = compute(self) if compute else _column(self.calls, name)
        return self.cache[("col", name)]

    def dim(self, name: str) -> np.ndarray:
        """The value of a dimension (a column or `metadata.<key>`) per call; None when null."""
        if name.startswith("metadata."):
            return self.meta(name.removeprefix("metadata."))
        return self.col(name)

    def meta(self, key: str) -> np.ndarray:
        """The value of one metadata key per call: a string as is, another JSON value as its
        JSON text, None when absent or null."""
        values = (m.get(key) for m in self.col("metadata"))
        return np.array(
            [v if v is None or isinstance(v, str) else json.dumps(v) for v in values], dtype=object
        )


def _generation(data: Dataset) -> np.ndarray:
    """latency - ttft, for calls with a TTFT not above their latency (docs/metrics.md)."""
    latency, ttft = data.col("latency_ms"), data.col("ttft_ms")
    with np.errstate(invalid="ignore"):
        return np.where(ttft <= latency, latency - ttft, np.nan)


def _tpot(data: Dataset) -> np.ndarray:
    """(latency - ttft) / (output_tokens - 1), for those calls with at least 2 output tokens."""
    out = data.col("output_tokens")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(out > 1, _generation(data) / (out - 1), np.nan)


def _output_tps(data: Dataset) -> np.ndarray:
    """output_tokens / (latency / 1000), for calls with output tokens and a latency above 0."""
    out, latency = data.col("output_tokens"), data.col("latency_ms")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((out > 0) & (latency > 0), out / (latency / 1000), np.nan)


# The per-call streaming figures a store derives (model/derived.py), defined here again in numpy.
DERIVED: dict[str, Callable[[Dataset], np.ndarray]] = {
    "generation_ms": _generation,
    "tpot_ms": _tpot,
    "output_tps": _output_tps,
}


def _column(table: pa.Table, name: str) -> np.ndarray:
    values = table.column(name).to_pylist()
    kind = table.schema.field(name).type
    if name in ("metadata", "tags"):
        out = np.empty(len(values), dtype=object)  # one dict or set per call
        for i, v in enumerate(values):
            out[i] = (json.loads(v) if v else {}) if name == "metadata" else set(v or ())
        return out
    if pa.types.is_timestamp(kind):
        return np.array(values, dtype="datetime64[us]")
    if pa.types.is_string(kind):
        return np.array(values, dtype=object)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _timestamps(rng: np.random.Generator, n: int) -> list[datetime]:
    """Spread over the three days (microsecond resolution), plus bursts and exact edges."""
    span_us = int((END - T0).total_seconds() * 1e6)
    ts = [T0 + timedelta(microseconds=int(u)) for u in rng.integers(0, span_us, n)]
    for minute, _, count in BURSTS:
        ts += [minute + timedelta(microseconds=int(u)) for u in rng.integers(0, 60_000_000, count)]
    ts += [EDGE] * 3 + [EDGE - timedelta(microseconds=1)] * 2 + [ODD_EDGE] * 3
    ts += [T0] * 2 + [END - timedelta(microseconds=1)] * 2
    return ts


def make_calls(rng: np.random.Generator, n: int, id_prefix: str = "c") -> pa.Table:
    """About n random calls (plus bursts and edge calls) over [T0, END)."""
    ts = _timestamps(rng, n)
    n = len(ts)
    burst_project = {m: p for m, p, _ in BURSTS}
    projects = [
        burst_project.get(t.replace(second=0, microsecond=0))
        or PROJECTS[int(rng.choice(3, p=[0.6, 0.3, 0.1]))]
        for t in ts
    ]
    edges = [i for i, t in enumerate(ts) if t in (EDGE, ODD_EDGE)]
    for k, i in enumerate(edges):  # every project has calls exactly on the edges
        projects[i] = PROJECTS[k % len(PROJECTS)]
    models = [list(MODELS)[i] for i in rng.integers(0, len(MODELS), n)]
    status = rng.choice(["success", "error"], n, p=[0.88, 0.12])
    latency = rng.lognormal(6.3, 0.9, n)
    latency[rng.random(n) < 0.03] = 0.0  # served from a cache
    ttft = np.where(rng.random(n) < 0.65, latency * rng.uniform(0.05, 0.6, n), np.nan)
    priced = np.array([MODELS[m][1] for m in models]) & (rng.random(n) > 0.05)
    cost = np.where(priced, rng.uniform(0, 0.03, n), np.nan)
    inp = rng.integers(0, 5000, n)
    out = rng.integers(0, 900, n)

    def pick(options: tuple[Any, ...]) -> list[Any]:
        return [options[i] for i in rng.integers(0, len(options), n)]

    def opt_float(x: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in x]

    metadata = [json.dumps(m, separators=(",", ":")) if m else None for m in pick(METADATA)]
    cols = {
        "project": projects,
        "id": [f"{id_prefix}{i:06d}-{rng.integers(1 << 30):08x}" for i in range(n)],
        "timestamp": [naive(t) for t in ts],
        "prompt_id": pick(PROMPTS),
        "prompt_version": [f"v{i}" for i in rng.integers(1, 3, n)],
        "model": models,
        "response_model": [None if m is None else f"{m}-2026-01-01" for m in models],
        "provider": [MODELS[m][0] for m in models],
        "environment": pick(ENVIRONMENTS),
        "feature": pick(FEATURES),
        # u0..u119 in every project: the same name in two projects is two users.
        "user_id": [None if rng.random() < 0.15 else f"u{i}" for i in rng.integers(0, 120, n)],
        "session_id": [None if rng.random() < 0.3 else f"s{i}" for i in rng.integers(0, 400, n)],
        "service": pick(SERVICES),
        "tags": [
            sorted(str(t) for t in rng.choice(TAGS, int(k), replace=False))
            for k in rng.integers(0, 3, n)
        ],
        "metadata": metadata,
        "status": list(status),
        "error_type": [
            ERROR_TYPES[i] if s == "error" else None
            for i, s in zip(rng.integers(0, 3, n), status, strict=True)
        ],
        "error_message": [f"failed: {i}" if s == "error" else None for i, s in enumerate(status)],
        "http_status": [
            (429 if rng.random() < 0.3 else 500) if s == "error" else (200 if i % 4 else None)
            for i, s in enumerate(status)
        ],
        "latency_ms": latency,
        "ttft_ms": opt_float(ttft),
        "queue_ms": opt_float(np.where(rng.random(n) < 0.5, rng.uniform(0, 50, n), np.nan)),
        "input_tokens": inp,
        "output_tokens": out,
        "cached_tokens": inp // rng.integers(2, 6, n),
        "reasoning_tokens": out // rng.integers(3, 9, n),
        "cache_write_tokens": inp // rng.integers(7, 12, n),
        "cost_usd": opt_float(cost),
        "cache_hit": list(rng.random(n) < 0.06),
        "retries": rng.integers(0, 3, n).astype(np.int32),
        "received_at": [naive(END + timedelta(minutes=5))] * n,
        "price_ref": ["client" if c == c else None for c in cost],  # (NaN: unpriced)
    }
    return pa.table(cols, schema=CALL_SCHEMA)


def make_scores(rng: np.random.Generator, calls: pa.Table, n: int) -> pa.Table:
    """Scores of random calls, plus orphans: an unknown event id, and a known id under another
    project (scores join calls on (project, id))."""
    pick = rng.integers(0, calls.num_rows, n)
    projects = [calls.column("project")[int(i)].as_py() for i in pick]
    events = [calls.column("id")[int(i)].as_py() for i in pick]
    projects += ["alpha"] * 5 + [{"alpha": "beta"}.get(p, "alpha") for p in projects[:5]]
    events += [f"missing-{i}" for i in range(5)] + events[:5]
    m = len(events)
    names = [SCORE_NAMES[i] for i in rng.integers(0, 2, m)]
    values = [
        float(rng.integers(0, 2)) if name == "thumbs" else float(rng.uniform(0, 1))
        for name in names
    ]
    stamp = naive(END)
    return pa.table(
        {
            "project": projects,
            "id": [f"s{i:05d}" for i in range(m)],
            "event_id": events,
            "name": names,
            "value": values,
            "comment": [None] * m,
            "source": ["eval"] * m,
            "timestamp": [stamp] * m,
            "received_at": [stamp] * m,
        },
        schema=SCORE_SCHEMA,
    )


def write_shuffled(
    store: Store, calls: pa.Table, seed: int, after_first_half: Callable[[pa.Table], None]
) -> pa.Table:
    """Writes `calls` in a random order in two halves (`after_first_half` gets the first half once
    it is stored: the moment to ask before older calls arrive), then 40 of them again
    (duplicates: nothing changes). Returns the calls in the order written."""
    shuffled = calls.take(pa.array(np.random.default_rng(seed).permutation(calls.num_rows)))
    half = shuffled.num_rows // 2
    write(store, "events", shuffled.slice(0, half))
    after_first_half(shuffled.slice(0, half))
    write(store, "events", shuffled.slice(half))
    write(store, "events", shuffled.slice(0, 40))
    return shuffled


def write(store: Store, kind: str, table: pa.Table, batch: int = 1000) -> tuple[int, int]:
    """Through the real single writer (its own thread, group commits, dedupe); returns
    (accepted, duplicates)."""
    writer = Writer(store)
    writer.start()
    accepted = duplicates = 0
    try:
        for i in range(0, table.num_rows, batch):
            result = writer.write_sync(kind, table.slice(i, batch))
            accepted += result.accepted
            duplicates += result.duplicates
    finally:
        writer.stop()
    return accepted, duplicates


def build_dataset(seed: int = 20250330, n: int = 4000) -> tuple[Dataset, list[pa.Table]]:
    """The dataset and the batches to send for it: every call once, then re-sends of stored ids
    with other values (they must not be stored again) and an id repeated inside one batch (its
    first occurrence wins)."""
    rng = np.random.default_rng(seed)
    calls = make_calls(rng, n)
    scores = make_scores(rng, calls, 900)
    resend = calls.take(pa.array(np.sort(rng.choice(calls.num_rows, 150, replace=False))))
    resend = resend.set_column(
        resend.schema.get_field_index("latency_ms"),
        "latency_ms",
        pa.array(np.full(resend.num_rows, 123456.0)),
    )
    head, tail = calls.slice(0, calls.num_rows - 300), calls.slice(calls.num_rows - 300)
    # The tail's first row again, altered, later in the same batch: not stored.
    repeat = tail.slice(0, 1).set_column(
        tail.schema.get_field_index("model"), "model", pa.array(["gpt-4o"], pa.string())
    )
    batches = [head, pa.concat_tables([tail, repeat]), resend]
    return Dataset(calls, scores, resend.num_rows + 1), batches


def backend_settings(backend: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings that make `open_store` open this backend in a fresh data directory."""
    if backend == "duckdb":
        return Settings(data_dir=data_dir, **overrides)
    if backend == "chdb":
        pytest.importorskip("chdb")
        # chdb runs one engine path per process: every store of the session is a database in
        # one engine under the session's temporary root.
        engine = data_dir.parent / "chdb-engine"
        url = f"chdb:///{engine}?database={data_dir.name}"
        return Settings(data_dir=data_dir, store_url=url, **overrides)
    raise ValueError(f"unknown backend {backend!r}")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def dataset_batches() -> tuple[Dataset, list[pa.Table]]:
    return build_dataset()


@contextmanager
def opener(backend: str, tmp: pytest.TempPathFactory) -> Iterator[Callable[..., Store]]:
    """A function that opens new, empty stores of the backend; all closed on exit."""
    opened: list[Store] = []

    def make(rollup_min_calls: int = RAW_ONLY) -> Store:
        settings = backend_settings(backend, tmp.mktemp(backend), rollup_min_calls=rollup_min_calls)
        opened.append(open_store(settings))
        return opened[-1]

    try:
        yield make
    finally:
        for s in opened:
            s.close()


@pytest.fixture(scope="module")
def open_fresh(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Store]]:
    """Opens new stores for the module's shared fixtures; closed at the end of the module."""
    with opener(backend, tmp_path_factory) as make:
        yield make


@pytest.fixture
def fresh(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Store]]:
    """Opens new stores for one test (one that changes what it stores); closed after it."""
    with opener(backend, tmp_path_factory) as make:
        yield make


def load(store: Store, dataset_batches: tuple[Dataset, list[pa.Table]]) -> Dataset:
    """Write the dataset through the writer (calls in batches with duplicates, then scores)."""
    data, batches = dataset_batches
    accepted = duplicates = 0
    for b in batches:
        a, d = write(store, "events", b)
        accepted, duplicates = accepted + a, duplicates + d
    assert (accepted, duplicates) == (data.n, data.sent_duplicates)
    write(store, "scores", data.scores)
    return data


@pytest.fixture(scope="module")
def store(open_fresh: Callable[..., Store]) -> Store:
    """The module's shared, read-only store, where only raw calls answer; the `dataset` fixture
    writes the data into it, so a test asks for both."""
    return open_fresh(RAW_ONLY)


@pytest.fixture(scope="module")
def dataset(store: Store, dataset_batches: tuple[Dataset, list[pa.Table]]) -> Dataset:
    """The seeded dataset, written into `store` through the real writer."""
    return load(store, dataset_batches)


@pytest.fixture(scope="module")
def rollup_store(
    open_fresh: Callable[..., Store], dataset_batches: tuple[Dataset, list[pa.Table]]
) -> Store:
    """The same dataset in a store that answers from rollups whenever it can
    (rollup_min_calls=0). Read-only too."""
    s = open_fresh(0)
    load(s, dataset_batches)
    return s
