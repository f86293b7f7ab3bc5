"""The review queue's size, read from the prediction log: tickets flagged ``needs_review`` no agent has labelled.

One query over the log the service writes, so any reader (the monitor's /metrics, a future ``GET /review``)
sees the same queue whatever replica classified the tickets.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, inspect, select

from ticketops.serving.log_schema import predictions


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_created_at: float | None  # unix seconds; None when nothing waits

    def oldest_age_s(self, now: float) -> float:
        """How long the oldest waiting ticket has waited (0 for an empty queue: nobody is waiting)."""
        return 0.0 if self.oldest_created_at is None else max(0.0, now - self.oldest_created_at)


def review_backlog(engine: Engine) -> Backlog:
    """Count the flagged, unlabelled tickets and find the oldest (an empty queue before the log exists)."""
    if not inspect(engine).has_table(predictions.name):
        return Backlog(0, None)
    c = predictions.c
    query = select(func.count(), func.min(c.created_at)).where(c.needs_review.is_(True), c.true_label.is_(None))
    with engine.connect() as connection:
        pending, oldest = connection.execute(query).one()
    return Backlog(int(pending), None if oldest is None else float(oldest))
