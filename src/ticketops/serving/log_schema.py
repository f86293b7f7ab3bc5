"""The prediction-log database's service tables: predictions and agents' review labels (the audit trail's table
is ticketops/audit.py's, in the same database).

Only redacted text is ever stored. ``true_label`` is the label training may use: set by an agent's label
through ``POST /feedback``, cleared while two agents disagree, set again by an admin's adjudication; every
individual label stays in ``review_labels``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()
ROW_KEY_INDEX = "ux_predictions_row_key"

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
    # One per logged row (a UUID made when the ticket is answered): a replayed or retried batch is stored once.
    Column("row_key", String(32), nullable=True),
    Index(ROW_KEY_INDEX, "row_key", unique=True),
    Index("ix_predictions_created_at", "created_at"),
    Index("ix_predictions_feedback", "model_version", "feedback_at"),  # live accuracy: newest labels per version
    Index("ix_predictions_review", "needs_review", "true_label", "created_at"),  # the review queue, oldest first
)

review_labels = Table(
    "review_labels",
    metadata,
    Column("label_id", Integer, primary_key=True, autoincrement=True),
    Column("row_id", Integer, nullable=False, index=True),  # the prediction the label judges
    Column("ticket_id", String(128), nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("label", String(128), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_review_labels_actor_at", "actor", "at"),
)
