"""Read the current window from the prediction log the service writes (any SQLAlchemy URL).

The window is the most recent tickets, at most ``size`` of them and none older than ``max_age_s``; with a
model version given, only the tickets that version classified (a canary's tickets are not the champion's).
"""

from __future__ import annotations

import time

import pandas as pd
from sqlalchemy import inspect, select

from ticketops.monitoring.windows import Window, make_window

COLUMNS = ("text", "label", "confidence", "needs_review", "true_label", "model_version", "created_at", "stage")


def read_log_window(
    url: str, size: int, max_age_s: float, model_version: str | None = None, now: float | None = None
) -> Window:
    """The newest ``size`` logged tickets (oldest first); an empty window when the log has none yet."""
    from ticketops.serving.log_schema import predictions
    from ticketops.serving.prediction_log import make_engine

    now = time.time() if now is None else now
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(predictions.name):
            return _empty()
        c = predictions.c
        query = select(*(getattr(c, name) for name in COLUMNS)).where(c.created_at >= now - max_age_s)
        if model_version is not None:
            query = query.where(c.model_version == model_version)
        query = query.order_by(c.created_at.desc(), c.row_id.desc()).limit(size)
        with engine.connect() as connection:
            rows = pd.DataFrame(connection.execute(query).fetchall(), columns=list(COLUMNS))
    finally:
        engine.dispose()
    if rows.empty:
        return _empty()
    rows = rows.iloc[::-1].reset_index(drop=True)
    return make_window(
        rows["text"],
        rows["label"],
        rows["confidence"],
        rows["needs_review"].astype(bool),
        rows["true_label"],
        rows["model_version"].astype(str),
        rows["created_at"],
        rows["stage"],
    )


def _empty() -> Window:
    return make_window([], [], [], [], [], [], [], [])


def window_span(window: Window) -> dict[str, float | None]:
    """First and last ``created_at`` of a window (unix seconds), for the verdict and the dashboards."""
    created = window.frame["created_at"].dropna()
    if created.empty:
        return {"start": None, "end": None}
    return {"start": float(created.min()), "end": float(created.max())}
