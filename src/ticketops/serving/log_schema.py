"""The prediction log's table: written by the service, read by the drift monitor and the retraining export.

Only redacted text is ever stored. ``true_label`` arrives later through ``POST /feedback``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(128), nullable=False, index=True),  # caller's id, or a generated one
    Column("text", Text, nullable=False),  # redacted before it gets here
    Column("label", String(128), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("needs_review", Boolean, nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("stage", String(16), nullable=False, default="single"),  # cascade: fast | slow
    Column("latency_ms", Float, nullable=False),
    Column("created_at", Float, nullable=False),  # unix seconds, UTC
    Column("true_label", String(128), nullable=True),
    Column("feedback_at", Float, nullable=True),
    Index("ix_predictions_created_at", "created_at"),
    Index("ix_predictions_feedback", "model_version", "feedback_at"),  # live accuracy: newest labels per version
)
