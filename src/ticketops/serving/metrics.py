"""The service's Prometheus metrics: one registry per service instance, names fixed for rules and canary analysis.

Every metric carries ``track`` (``TICKETOPS_TRACK``: stable | canary) so two replicas on different versions
can be compared even when scraped under the same job; per-prediction metrics also carry ``model_version``.
The names and labels below are a contract with monitoring/ rules and rollout/analysis.py: add, never rename.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ticketops.serving.cascade_metrics import CascadeMetrics
from ticketops.serving.kpi_metrics import KpiMetrics
from ticketops.settings import ServiceSettings

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
AUTH_REJECTIONS = frozenset({401, 403})  # decided by serving/auth.py before any route runs
LOG_DROP_REASONS = ("spool_full", "spool_error")


class ServiceMetrics:
    """All ticketops_* metrics of one service instance, with the ``track`` label bound once."""

    def __init__(
        self,
        track: str,
        registry: CollectorRegistry | None = None,
        slow_share_window: int = 1000,
        cpu_hour_price: float | None = None,
        currency: str = "USD",
    ):
        self.track = track
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "ticketops_requests_total",
            "HTTP requests that passed authentication, by route and status (what canary analysis judges).",
            ["route", "status", "track"],
            registry=r,
        )
        self._rejected = Counter(
            "ticketops_auth_rejected_total",
            "HTTP requests refused by authentication or roles (401/403): kept apart so cheap refusals cannot "
            "make up a canary's traffic, dilute its error rate or lower its p99.",
            ["route", "status", "track"],
            registry=r,
        )
        self._request_latency = Histogram(
            "ticketops_request_latency_seconds",
            "HTTP request latency, from the first byte in to the response out.",
            ["route", "track"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._batch_size = Histogram(
            "ticketops_batch_size",
            "Tickets per model call (adaptive batching).",
            ["track"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self._stage_latency = Histogram(
            "ticketops_stage_latency_seconds",
            "Model time per call and stage (single: the whole model per batch; a cascade's fast stage per request, "
            "in the request path; its slow stage per batch).",
            ["stage", "track"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._predictions = Counter(
            "ticketops_predictions_total",
            "Classified tickets by predicted label.",
            ["label", "model_version", "stage", "track"],
            registry=r,
        )
        self._confidence = Histogram(
            "ticketops_prediction_confidence",
            "Confidence of the predicted label.",
            ["model_version", "track"],
            buckets=CONFIDENCE_BUCKETS,
            registry=r,
        )
        self._needs_review = Counter(
            "ticketops_needs_review_total",
            "Tickets routed to a person (confidence below the review threshold).",
            ["model_version", "track"],
            registry=r,
        )
        self._feedback = Counter(
            "ticketops_feedback_total",
            "Agent labels joined to a logged prediction, by the version that answered, whether it was right and the "
            "true label (so canary analysis compares versions on the intents both can predict).",
            ["model_version", "correct", "true_label", "track"],
            registry=r,
        )
        self._feedback_unmatched = Counter(
            "ticketops_feedback_unmatched_total",
            "Agent labels whose ticket id is not in the prediction log (never logged, dropped or expired).",
            ["track"],
            registry=r,
        )
        self._live_accuracy = Gauge(
            "ticketops_live_accuracy",
            "Accuracy over the most recent labelled predictions of a model version.",
            ["model_version", "track"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._model_info = Gauge(
            "ticketops_model_info",
            "The served model (value 1): registry version, alias, training data hash, family.",
            ["model_version", "alias", "data_md5", "family", "track"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._ready = Gauge(
            "ticketops_ready",
            "1 once the model is verified, loaded and warm; 0 while loading or after a failed load.",
            ["track"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._load_failures = Counter(
            "ticketops_model_load_failures_total",
            "Failed model loads by reason (ModelNotFound, ChecksumMismatch, ...).",
            ["reason", "track"],
            registry=r,
        )
        self._log_dropped = Counter(
            "ticketops_prediction_log_dropped_total",
            "Prediction-log rows lost: the on-disk spool was full or unwritable; the response is never slowed down.",
            ["reason", "track"],
            registry=r,
        )
        self._log_backlog = Gauge(
            "ticketops_prediction_log_spool_rows",
            "Prediction-log rows spooled on disk waiting for the database (0 when it keeps up).",
            ["track"],
            registry=r,
        )
        self.kpi = KpiMetrics(track, r, cpu_hour_price, currency)
        self.cascade = CascadeMetrics(track, r, slow_share_window)
        self._ready.labels(track).set(0)
        self._request_children: dict[tuple[str, int], tuple] = {}
        self._prediction_children: dict[tuple[str, str, str], Counter] = {}
        self._per_version: dict[str, tuple] = {}
        for reason in LOG_DROP_REASONS:  # start every alertable counter at 0 so rate() sees the first drop
            self._log_dropped.labels(reason, track)
        self._log_backlog.labels(track).set(0)
        self._feedback_unmatched.labels(track)

    @classmethod
    def for_settings(cls, settings: ServiceSettings) -> ServiceMetrics:
        return cls(settings.track, None, settings.slow_share_window, settings.cpu_hour_price, settings.currency)

    # --- requests ----------------------------------------------------------------------------

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        if status in AUTH_REJECTIONS:
            self._rejected.labels(route, str(status), self.track).inc()
            return
        key = (route, status)
        children = self._request_children.get(key)
        if children is None:  # label lookups cost more than the update: resolve each combination once
            children = (
                self._requests.labels(route, str(status), self.track),
                self._request_latency.labels(route, self.track),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    # --- model calls and predictions -----------------------------------------------------------

    def observe_batch(self, size: int, stage: str, seconds: float) -> None:
        self._batch_size.labels(self.track).observe(size)
        self._stage_latency.labels(stage, self.track).observe(seconds)

    def observe_stage(self, stage: str, seconds: float) -> None:
        """Model time of a stage that runs outside the batcher (a cascade's fast stage, per request)."""
        self._stage_latency.labels(stage, self.track).observe(seconds)

    def observe_predictions(
        self,
        model_version: str,
        stages: Iterable[str],
        labels: Iterable[str],
        confidences: Iterable[float],
        needs_review: Iterable[bool],
    ) -> None:
        confidence, review = self._version_children(model_version)
        predictions = self._prediction_children
        for stage, label, conf, flag in zip(stages, labels, confidences, needs_review, strict=True):
            key = (label, model_version, stage)
            counter = predictions.get(key)
            if counter is None:
                counter = predictions[key] = self._predictions.labels(label, model_version, stage, self.track)
            counter.inc()
            confidence.observe(conf)
            if flag:
                review.inc()

    def declare_labels(self, model_version: str, labels: Iterable[str], stages: Iterable[str]) -> None:
        """Create every (label, stage) series of ``ticketops_predictions_total`` at 0 when the model loads.

        The series then say which intents this replica can predict at all: canary analysis tells a canary that
        learnt new intents (the stable track has no series for them) from one that merely predicts differently.
        The needs-review counter is created with them: the review rate divides one by the other, and canary
        analysis counts a series that already existed differently from one born inside its window
        (rollout/analysis.py, window_increase), so numerator and denominator must be born together. The
        feedback counter (per true intent) and the review-wait histogram start at 0 for the same reason (KPI
        rules and the live-accuracy check).
        """
        labels = list(labels)
        self._version_children(model_version)
        for label in labels:
            for correct in ("true", "false"):
                self._feedback.labels(model_version, correct, label, self.track)
        self.kpi.declare(model_version)
        for stage in stages:
            for label in labels:
                key = (label, model_version, stage)
                if key not in self._prediction_children:
                    self._prediction_children[key] = self._predictions.labels(label, model_version, stage, self.track)

    def _version_children(self, model_version: str):
        children = self._per_version.get(model_version)
        if children is None:
            children = (
                self._confidence.labels(model_version, self.track),
                self._needs_review.labels(model_version, self.track),
            )
            self._per_version[model_version] = children
        return children

    # --- feedback ------------------------------------------------------------------------------

    def observe_feedback(self, model_version: str, correct: bool, true_label: str) -> None:
        self._feedback.labels(model_version, "true" if correct else "false", true_label, self.track).inc()

    def observe_unmatched_feedback(self, count: int) -> None:
        if count:
            self._feedback_unmatched.labels(self.track).inc(count)

    def set_live_accuracy(self, model_version: str, accuracy: float) -> None:
        self._live_accuracy.labels(model_version, self.track).set(accuracy)

    # --- model state ---------------------------------------------------------------------------

    def set_model(self, model_version: str, alias: str, data_md5: str, family: str) -> None:
        """Called once per process: a replica serves one version for its whole life (rollouts start new ones)."""
        self._model_info.labels(model_version, alias, data_md5, family, self.track).set(1)
        self.kpi.set_model(model_version)
        self._ready.labels(self.track).set(1)

    def set_not_ready(self) -> None:
        self._ready.labels(self.track).set(0)

    def observe_load_failure(self, reason: str) -> None:
        self._load_failures.labels(reason, self.track).inc()

    # --- prediction log ------------------------------------------------------------------------

    def observe_log_dropped(self, count: int, reason: str) -> None:
        if count:
            self._log_dropped.labels(reason, self.track).inc(count)

    # --- exposition ----------------------------------------------------------------------------

    def set_log_backlog(self, rows: int) -> None:
        self._log_backlog.labels(self.track).set(rows)

    def render(self) -> bytes:
        """The text exposition format of this instance's registry (sliding shares are read now, not per ticket)."""
        self.cascade.publish()
        return generate_latest(self.registry)
