"""The review queue's size and age, read from the prediction log, for the monitor's backlog gauges.

One query over the log the service writes, with the queue's one definition (``review.awaiting_review``), so the
monitor's /metrics and ``GET /review`` count the same tickets whatever replica classified them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, inspect, select

from ticketops.serving.log_schema import predictions, review_labels
from ticketops.serving.review import awaiting_review


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_created_at: float | None  # unix seconds; None when nothing waits

    def oldest_age_s(self, now: float) -> float:
        """How long the oldest waiting ticket has waited (0 for an empty queue: nobody is waiting)."""
        return 0.0 if self.oldest_created_at is None else max(0.0, now - self.oldest_created_at)


def review_backlog(engine: Engine) -> Backlog:
    """Count the tickets waiting for review and find the oldest (an empty queue before the log exists)."""
    tables = inspect(engine)
    if not (tables.has_table(predictions.name) and tables.has_table(review_labels.name)):
        return Backlog(0, None)
    query = select(func.count(), func.min(predictions.c.created_at)).where(awaiting_review())
    with engine.connect() as connection:
        pending, oldest = connection.execute(query).one()
    return Backlog(int(pending), None if oldest is None else float(oldest))
