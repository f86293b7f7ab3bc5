"""The monitor's Prometheus metrics: the latest verdict as gauges, plus when and how the last check ran.

Alert rules (monitoring/prometheus/rules/drift.yml) and the Grafana dashboard read these names.
A signal without enough data exports no score (its series disappear) and ``ticketops_drift_detected`` 0.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, push_to_gateway

from ticketops.monitoring.signals import CASCADE_SIGNALS, SIGNALS, DriftVerdict

OVERALL = "overall"
PUSH_JOB = "ticketops-monitor"


class MonitorMetrics:
    """Gauges for one monitor process, in their own registry (never the global one)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.score = Gauge(
            "ticketops_drift_score", "Latest drift score per signal (method units).", ["signal"], registry=r
        )
        self.threshold = Gauge(
            "ticketops_drift_threshold", "Threshold the latest score was judged against.", ["signal"], registry=r
        )
        self.detected = Gauge(
            "ticketops_drift_detected",
            "1 when the latest check found drift in this signal (signal=overall: in any signal).",
            ["signal"],
            registry=r,
        )
        self.enough = Gauge(
            "ticketops_drift_enough_data",
            "1 when the signal had enough data to judge the latest window.",
            ["signal"],
            registry=r,
        )
        self.value = Gauge(
            "ticketops_drift_value",
            "Plain quantity behind a signal (review rate, accuracy, mean confidence) in the window or reference.",
            ["signal", "sample"],
            registry=r,
        )
        self.window_size = Gauge("ticketops_drift_window_size", "Tickets in the latest window.", registry=r)
        self.window_labelled = Gauge(
            "ticketops_drift_window_labelled", "Feedback-labelled tickets in the latest window.", registry=r
        )
        self.last_run = Gauge(
            "ticketops_monitor_last_run_timestamp_seconds", "When the latest check finished (any outcome).", registry=r
        )
        self.last_success = Gauge(
            "ticketops_monitor_last_success_timestamp_seconds", "When the latest check produced a verdict.", registry=r
        )
        self.runs = Counter(
            "ticketops_monitor_runs_total", "Checks by outcome (verdict, no_data, error).", ["result"], registry=r
        )
        self.duration = Histogram(
            "ticketops_monitor_check_duration_seconds",
            "Time per check, embeddings included.",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120),
            registry=r,
        )
        self.model_info = Gauge(
            "ticketops_monitor_reference_info",
            "The model whose reference sample the windows are compared with (value 1).",
            ["model_version", "model_uri"],
            registry=r,
        )
        for result in ("verdict", "no_data", "error"):
            self.runs.labels(result)
        for signal in (*SIGNALS, *CASCADE_SIGNALS, OVERALL):
            self.detected.labels(signal).set(0)

    def record(self, verdict: DriftVerdict) -> None:
        """Export one verdict (replacing the previous one's series)."""
        for gauge in (self.score, self.threshold, self.value):
            gauge.clear()
        for name, result in verdict.signals.items():
            self.detected.labels(name).set(1 if result.drift_detected else 0)
            self.enough.labels(name).set(1 if result.enough_data else 0)
            if result.score is not None:
                self.score.labels(name).set(result.score)
            if result.threshold is not None:
                self.threshold.labels(name).set(result.threshold)
            if result.current_value is not None:
                self.value.labels(name, "current").set(result.current_value)
            if result.reference_value is not None:
                self.value.labels(name, "reference").set(result.reference_value)
        for name in CASCADE_SIGNALS:  # a champion that is no cascade any more leaves no stale alarm behind
            if name not in verdict.signals:
                self.detected.labels(name).set(0)
        self.detected.labels(OVERALL).set(1 if verdict.drift_detected else 0)
        self.window_size.set(verdict.window.get("size", 0))
        self.window_labelled.set(verdict.window.get("labelled", 0))

    def set_reference(self, model_version: str, model_uri: str) -> None:
        self.model_info.clear()
        self.model_info.labels(model_version, model_uri).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def push(self, gateway_url: str, job: str = PUSH_JOB, timeout_s: float = 10.0) -> None:
        """Replace this job's group on a Prometheus Pushgateway with the current values.

        For ``monitor --once`` under a CronJob, which exits before any scrape: the gateway keeps the last
        verdict and ``ticketops_monitor_last_success_timestamp_seconds`` until the next run replaces them.
        """
        push_to_gateway(gateway_url, job=job, registry=self.registry, timeout=timeout_s)
