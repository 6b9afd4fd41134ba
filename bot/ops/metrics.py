"""The numbers an operator watches, in Prometheus' text format: requests, latency, queue,
upstream errors, and how images were sent."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

# A generation takes 10-60 s, up to the 180 s timeout (and retries beyond it).
_LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)


class Metrics:
    """One registry per process, so that nothing else's metrics mix in."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bot_requests", "Image requests by outcome", ["outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "bot_request_seconds",
            "Time from accepting a request to its outcome",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "bot_upstream_errors", "Upstream failures by kind", ["kind"], registry=self.registry
        )
        self.no_picture = Counter(
            "bot_no_picture",
            "Generations that ended without a picture (free for the user), by reason",
            ["reason"],
            registry=self.registry,
        )
        self.images_sent = Counter(
            "bot_images_sent",
            "Images delivered, as photo or document",
            ["as"],
            registry=self.registry,
        )
        self.shape_mismatches = Counter(
            "bot_shape_mismatches",
            "Results whose real ratio or size tier differs from the one asked for",
            ["model", "protocol", "what"],
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "bot_queue_length", "Requests waiting for a generation slot", registry=self.registry
        )
        self.generations_running = Gauge(
            "bot_generations_running", "Upstream generations in flight", registry=self.registry
        )
        self.last_polling_error = Gauge(
            "bot_telegram_polling_error_timestamp_seconds",
            "When polling Telegram last failed (0: never)",
            registry=self.registry,
        )

        self.polling_failed_at = 0.0

    def polling_failed(self) -> None:
        self.polling_failed_at = time.time()
        self.last_polling_error.set(self.polling_failed_at)

    def watch_queue(self, waiting: Callable[[], float], running: Callable[[], float]) -> None:
        self.queue_length.set_function(waiting)
        self.generations_running.set_function(running)

    def watch_database(self, round_trips: Callable[[], int]) -> None:
        self.registry.register(
            _Read(
                "bot_database_round_trips",
                "Statements sent to the database and waited for",
                round_trips,
            )
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Read(Collector):
    """A counter kept elsewhere, read when scraped."""

    def __init__(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        self._family = (name, documentation)
        self._read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(*self._family, value=self._read())
