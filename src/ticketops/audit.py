"""The audit trail: one append-only list of every human and machine decision, in the prediction-log database.

``audit_events`` is append-only: triggers refuse UPDATE and DELETE on SQLite and PostgreSQL, so not even a
component holding the database's credentials rewrites history (retention never touches it).

Every component writes through this module (``AuditTrail.record``, or ``insert_events`` inside a transaction
it already holds, so a label and its event are stored together or not at all): agents' labels and admins'
adjudications (the service), category changes (service and CLI), retrain triggers and gate verdicts
(retraining), rollout decisions and alias moves (the rollout controller, through rollout/audit.py).
Readers get events newest first: ``GET /audit`` and ``ticketops audit``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer
from sqlalchemy import DDL, Column, Connection, Engine, Float, Integer, MetaData, String, Table, Text, event, select

# Components that act on their own (users act under their names).
CONTROLLER, MONITOR, RETRAIN_WEBHOOK, RECONCILER, PIPELINE = (
    "controller",
    "monitor",
    "retrain-webhook",
    "reconciler",
    "pipeline",
)
MAX_LIMIT = 1000

audit_metadata = MetaData()
audit_events = Table(
    "audit_events",
    audit_metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),  # unix seconds, UTC
    Column("actor", String(64), nullable=False),  # a user name or a component (controller, monitor, ...)
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(256), nullable=False),
    Column("details", Text, nullable=False, default="{}"),  # JSON object
)

_APPEND_ONLY_SQLITE = [
    DDL(
        f"CREATE TRIGGER IF NOT EXISTS audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    ).execute_if(dialect="sqlite")
    for verb in ("UPDATE", "DELETE")
]
_APPEND_ONLY_POSTGRES = [
    DDL(
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"),
    DDL(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    ).execute_if(dialect="postgresql"),
]
for _ddl in (*_APPEND_ONLY_SQLITE, *_APPEND_ONLY_POSTGRES):
    event.listen(audit_events, "after_create", _ddl)


def create_audit_table(engine: Engine, attempts: int = 3) -> None:
    """Create the table (and its append-only triggers) if this database lacks it; several processes may race."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    for attempt in range(attempts):
        try:
            audit_metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


class AuditEvent(BaseModel):
    """One decision: when, who, what, on what, and the facts that explain it."""

    model_config = ConfigDict(extra="forbid")

    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=64)
    target: str = Field(max_length=256)
    details: dict[str, Any] = Field(default_factory=dict)

    @field_serializer("at")
    def _iso(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.timestamp(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "details": json.dumps(event.details, sort_keys=True, default=str),
    }


def insert_events(conn: Connection, events: Sequence[AuditEvent]) -> None:
    """Append ``events`` within the caller's transaction."""
    if events:
        conn.execute(audit_events.insert(), [to_row(e) for e in events])


def read_events(
    conn: Connection, limit: int = 100, since: datetime | None = None, actions: Iterable[str] | None = None
) -> list[AuditEvent]:
    """Events newest first (at most ``limit``), only those at or after ``since``."""
    c = audit_events.c
    query = select(c.at, c.actor, c.action, c.target, c.details).order_by(c.at.desc(), c.event_id.desc())
    if since is not None:
        query = query.where(c.at >= since.timestamp())
    if actions is not None:
        query = query.where(c.action.in_(list(actions)))
    rows = conn.execute(query.limit(max(1, min(limit, MAX_LIMIT)) if limit else None)).fetchall()
    return [
        AuditEvent(
            at=datetime.fromtimestamp(r.at, UTC),
            actor=r.actor,
            action=r.action,
            target=r.target,
            details=json.loads(r.details),
        )
        for r in rows
    ]


class AuditTrail:
    """The trail in one database (SQLAlchemy URL or engine); creates its table on first use."""

    def __init__(self, url_or_engine: str | Engine):
        from ticketops.data.database import make_engine

        self._owns_engine = isinstance(url_or_engine, str)
        self.engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self._ready = False

    @classmethod
    def from_settings(cls) -> AuditTrail:
        """The trail of this deployment: the prediction-log database (``TICKETOPS_PREDICTION_LOG_URL``)."""
        from ticketops.settings import ServiceSettings

        return cls(ServiceSettings().prediction_log_url)

    def _ensure(self) -> None:
        if not self._ready:
            create_audit_table(self.engine)
            self._ready = True

    def record(self, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> AuditEvent:
        event = AuditEvent(actor=actor, action=action, target=target, details=details or {})
        self.record_all([event])
        return event

    def record_all(self, events: Sequence[AuditEvent]) -> None:
        self._ensure()
        with self.engine.begin() as conn:
            insert_events(conn, events)

    def events(
        self, limit: int = 100, since: datetime | None = None, actions: Iterable[str] | None = None
    ) -> list[AuditEvent]:
        self._ensure()
        with self.engine.connect() as conn:
            return read_events(conn, limit, since, actions)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC); None when absent, ValueError when it is not one.

    A parameter given but empty (``?since=``) is not absent: it is not a time, so it is refused too.
    """
    if value is None:
        return None
    if not value.strip():
        raise ValueError("since is empty: give an ISO 8601 time or leave the parameter out")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now_iso(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))
