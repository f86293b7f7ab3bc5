"""A cascade's routing metrics: the sliding share of tickets its fast stage passes on, and the reference level.

Why apart from metrics.py: the share is kept per ticket in a bounded window and published at scrape time, a
small piece of state of its own; a single-stage model never touches it.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge

from ticketops.serving.sliding_share import SlidingShare


class CascadeMetrics:
    """``ticketops_slow_stage_share`` and its reference, per model version, with the ``track`` label bound."""

    def __init__(self, track: str, registry: CollectorRegistry, window: int = 1000):
        self.track = track
        self.window = window
        self._routing: dict[str, SlidingShare] = {}
        self._slow_share = Gauge(
            "ticketops_slow_stage_share",
            "Cascade: share of the most recent tickets (TICKETOPS_SLOW_SHARE_WINDOW) the fast stage passed to the "
            "slow stage. It rises when tickets unlike the training data arrive (a drift signal).",
            ["model_version", "track"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self._slow_share_reference = Gauge(
            "ticketops_slow_stage_share_reference",
            "Cascade: share of the model's reference sample (validation tickets) the fast stage passes on, "
            "the level ticketops_slow_stage_share holds without drift.",
            ["model_version", "track"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )

    def observe_routing(self, model_version: str, to_slow: Iterable[bool]) -> None:
        """Cascade routing of each ticket (True: passed to the slow stage), for the sliding slow-stage share."""
        window = self._routing.get(model_version)
        if window is None:
            window = self._routing[model_version] = SlidingShare(self.window)
        window.extend(to_slow)

    def set_reference(self, model_version: str, share: float) -> None:
        self._slow_share_reference.labels(model_version, self.track).set(share)

    def slow_share(self, model_version: str) -> float | None:
        window = self._routing.get(model_version)
        return window.share if window is not None else None

    def publish(self) -> None:
        """Set the gauges from the windows (at scrape time, not per ticket)."""
        for model_version, window in self._routing.items():
            share = window.share
            if share is not None:
                self._slow_share.labels(model_version, self.track).set(share)
