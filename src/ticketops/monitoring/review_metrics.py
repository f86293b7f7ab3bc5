"""Review backlog gauges for the monitor's ``/metrics``, computed when Prometheus scrapes.

The monitor already reads the prediction log and runs once per deployment, so its gauges count the shared
queue once (every service replica would export the same number). Reading at scrape time keeps the backlog
as fresh as the scrape, not as old as the last drift check (5 minutes by default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ticketops.serving.review_queue import review_backlog

logger = logging.getLogger(__name__)


class ReviewBacklogCollector(Collector):
    """``ticketops_review_backlog`` and ``ticketops_review_oldest_age_seconds`` from the prediction log.

    A failed query exports neither gauge (the panels show a gap, not a stale number) and is logged; it must
    not fail the whole scrape, which carries the drift verdict too.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = review_backlog(self.engine)
        except SQLAlchemyError as exc:
            logger.warning("review backlog not exported: %s", exc)
            return
        yield GaugeMetricFamily(
            "ticketops_review_backlog",
            "Tickets flagged needs_review that no agent has labelled yet (the review queue).",
            value=backlog.pending,
        )
        yield GaugeMetricFamily(
            "ticketops_review_oldest_age_seconds",
            "How long the oldest ticket in the review queue has waited (0 when the queue is empty).",
            value=backlog.oldest_age_s(time.time()),
        )
