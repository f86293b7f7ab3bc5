"""The prediction log's tables: exactly-once inserts, retention, live accuracy, the schema (and its upgrades),
the spool's place.

Why apart from prediction_log.py: these are plain functions over an engine that the writer thread, the
replay of the spool and tests share; the log itself is the queue, the thread and the spool around them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, case, delete, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from ticketops.audit import create_audit_table
from ticketops.serving.log_schema import metadata, predictions
from ticketops.settings import project_root


def insert_once(engine: Engine, rows: Sequence[dict]) -> None:
    """Insert ``rows``; a row whose ``row_key`` is stored already is skipped (replays and retries)."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(predictions).on_conflict_do_nothing(index_elements=["row_key"])
    elif dialect == "sqlite":
        statement = sqlite.insert(predictions).on_conflict_do_nothing(index_elements=["row_key"])
    else:  # other databases: plain insert (the unique index still refuses a duplicate)
        statement = predictions.insert()
    with engine.begin() as conn:
        conn.execute(statement, list(rows))


def ensure_schema(engine: Engine) -> None:
    """Create the tables (the audit trail's too); an older ``predictions`` table gets ``row_key`` and the
    indexes added since it was created."""
    metadata.create_all(engine)
    columns = {column["name"] for column in inspect(engine).get_columns("predictions")}
    if "row_key" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE predictions ADD COLUMN row_key VARCHAR(32)"))
    for index in predictions.indexes:
        index.create(engine, checkfirst=True)
    create_audit_table(engine)


def default_spool_dir(url: str) -> Path:
    """One spool per database: rows must only ever replay into the database they were meant for."""
    key = hashlib.sha256(make_url(url).render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return project_root() / ".ticketops" / "prediction-spool" / key


def prune_rows(engine: Engine, retention_rows: int, retention_days: float, now: float) -> int:
    """Delete rows older than ``retention_days`` and beyond the newest ``retention_rows``; rows removed."""
    cutoff = now - retention_days * 86_400
    with engine.begin() as conn:
        removed = conn.execute(delete(predictions).where(predictions.c.created_at < cutoff)).rowcount or 0
        newest = conn.execute(select(func.max(predictions.c.row_id))).scalar()
        if newest is not None and newest > retention_rows:
            keep_from = newest - retention_rows
            removed += conn.execute(delete(predictions).where(predictions.c.row_id <= keep_from)).rowcount or 0
    return removed


def live_accuracy(engine: Engine, model_version: str, window: int) -> float | None:
    """Accuracy over the ``window`` most recently labelled predictions of ``model_version`` (None if none)."""
    c = predictions.c
    recent = (
        select(case((c.label == c.true_label, 1), else_=0).label("correct"))
        .where(c.model_version == model_version, c.true_label.is_not(None))
        .order_by(c.feedback_at.desc())
        .limit(window)
        .subquery()
    )
    with engine.connect() as conn:
        total, correct = conn.execute(select(func.count(), func.sum(recent.c.correct))).one()
    return None if not total else float(correct) / total
