"""The server's own Prometheus metrics: one registry per app, so tests can build many apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Figures = Callable[[], dict[str, tuple[float, str]]]


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "promptpulse_ingest_items_total",
            "Items received by ingest endpoints",
            ["kind", "result"],
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "promptpulse_writer_commit_seconds",
            "Time of one group commit",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.commit_rows = Counter(
            "promptpulse_writer_rows_total",
            "Rows handed to the writer and committed",
            registry=self.registry,
        )
        self.query_seconds = Histogram(
            "promptpulse_query_seconds",
            "Time of a metrics query",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "promptpulse_writer_queue_events",
            "Events waiting for the writer",
            registry=self.registry,
        )

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(lambda: float(depth()))

    def watch_store(self, load: Figures) -> None:
        """The store's own figures (Store.load) as `promptpulse_store_*`, read at each scrape."""
        self.registry.register(_StoreFigures(load))

    def on_commit(self, seconds: float, rows: int) -> None:
        self.commit_seconds.observe(seconds)
        self.commit_rows.inc(rows)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreFigures(Collector):
    def __init__(self, load: Figures) -> None:
        self._load = load

    def collect(self) -> Iterator[Metric]:
        for name, (value, about) in self._load().items():
            if name.endswith("_total"):
                yield CounterMetricFamily(
                    f"promptpulse_store_{name[: -len('_total')]}", about, value
                )
            else:
                yield GaugeMetricFamily(f"promptpulse_store_{name}", about, value)
