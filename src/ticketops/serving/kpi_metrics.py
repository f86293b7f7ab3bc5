"""The replica's business metrics: the flag-to-label wait, when the model started serving, and what serving
costs (the worker's own CPU counter and the CPU-hour price). Labels per true intent are
``ticketops_feedback_total{true_label}`` (metrics.py), the counter canary analysis reads too.

Kept apart from ServiceMetrics (the serving and canary-analysis contract) and bound to its registry; the
recording rules of monitoring/prometheus/rules/kpi.yml read these names.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, Histogram

from ticketops.serving.cpu import ProcessCpuCollector

# Flag to label: a review queue is worked in minutes to hours; the low buckets keep tests and demos readable.
REVIEW_WAIT_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


class KpiMetrics:
    def __init__(self, track: str, registry: CollectorRegistry, cpu_hour_price: float | None, currency: str):
        self.track = track
        self.model_version = ""
        r = registry
        self._review_wait = Histogram(
            "ticketops_review_wait_seconds",
            "Time from a ticket's flag (needs_review at prediction) to its first agent label.",
            ["model_version", "track"],
            buckets=REVIEW_WAIT_BUCKETS,
            registry=r,
        )
        self._model_loaded = Gauge(
            "ticketops_model_loaded_timestamp_seconds",
            "When this replica started serving its model version (unix seconds).",
            ["model_version", "track"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        if cpu_hour_price is not None:
            Gauge(
                "ticketops_cpu_hour_price",
                "Price of one CPU-hour of this replica (TICKETOPS_CPU_HOUR_PRICE), for cost per 1,000 tickets.",
                ["currency", "track"],
                registry=r,
            ).labels(currency, track).set(cpu_hour_price)
        r.register(ProcessCpuCollector(track, lambda: self.model_version))

    def declare(self, model_version: str) -> None:
        """Every series at 0 when the model loads: increase() misses the first counts of a series born late."""
        self._review_wait.labels(model_version, self.track)

    def set_model(self, model_version: str) -> None:
        self._model_loaded.labels(model_version, self.track).set(time.time())
        self.model_version = model_version

    def observe_review_resolved(self, model_version: str, waited_s: float) -> None:
        """A flagged ticket got its first agent label ``waited_s`` after it was classified."""
        self._review_wait.labels(model_version, self.track).observe(max(0.0, waited_s))
