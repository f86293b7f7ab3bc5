"""The review queue and agents' labels over the prediction-log database.

* The queue: predictions the model flagged ``needs_review`` that nobody has labelled, oldest first.
* A label (``POST /feedback``) is joined on the ticket id to the newest logged prediction with that id; the
  whole request is refused (nothing written) when an id was never logged, when the text sent with a label is
  not the text that was classified, or when a label is outside the catalogue.
* Labels are kept per agent (``review_labels``); the prediction's ``true_label`` (what training uses) is set
  while the agents agree and cleared when they do not: the ticket then waits in the admin's adjudication list.
  An admin's label on a disputed ticket settles it. Every label is an audit event, written in the same
  transaction.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, and_, exists, func, select, update

from ticketops.audit import AuditEvent, insert_events
from ticketops.schemas import FeedbackItem
from ticketops.serving.auth import User
from ticketops.serving.errors import ApiError, FieldProblem
from ticketops.serving.log_schema import predictions, review_labels
from ticketops.serving.redaction import redact

LABELLED, AGREED, DISPUTED, ADJUDICATED, RELABELLED = "labelled", "agreed", "disputed", "adjudicated", "relabelled"


@dataclass(frozen=True)
class LabelOutcome:
    """What one label did; ``true_label`` is what training may now use for the ticket (None while disputed)."""

    ticket_id: str
    row_id: int
    predicted: str
    model_version: str
    label: str
    status: str
    true_label: str | None
    needs_review: bool = False
    # seconds from the prediction to the label that first settled it (None otherwise): a flagged ticket's wait
    waited_s: float | None = None

    @property
    def correct(self) -> bool:
        return self.predicted == self.label


@dataclass
class QueueItem:
    id: str
    text: str
    label: str
    confidence: float
    model_version: str
    received_at: float
    reasons: dict = field(default_factory=dict)


def awaiting_review():
    """The queue's one definition: flagged, not settled, and labelled by no one (a disputed ticket waits for an
    admin in the adjudication list instead). ``GET /review`` and the monitor's backlog gauges both use it."""
    c = predictions.c
    labelled = exists().where(review_labels.c.row_id == c.row_id)
    return and_(c.needs_review.is_(True), c.true_label.is_(None), ~labelled)


def pending_queue(engine: Engine, limit: int) -> tuple[int, list[QueueItem]]:
    """(how many wait, the ``limit`` oldest of them)."""
    c = predictions.c
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(predictions).where(awaiting_review())).scalar_one()
        rows = conn.execute(
            select(c.ticket_id, c.text, c.label, c.confidence, c.model_version, c.created_at)
            .where(awaiting_review())
            .order_by(c.created_at, c.row_id)
            .limit(limit)
        ).fetchall()
    items = [QueueItem(r.ticket_id, r.text, r.label, r.confidence, r.model_version, r.created_at) for r in rows]
    return int(total), items


def _problem(position: int, name: str, message: str, kind: str) -> FieldProblem:
    return FieldProblem(f"items.{position}.{name}", message, kind)


def check_items(items: Sequence[FeedbackItem], catalogue: Collection[str]) -> None:
    """Refuse (ApiError) labels outside the catalogue and an id sent twice, before touching the database."""
    unknown = [
        _problem(i, "label", "not a label of the catalogue", "unknown_label")
        for i, item in enumerate(items)
        if item.label not in catalogue
    ]
    if unknown:
        raise ApiError(400, "unknown_label", "feedback names labels that are not in the label catalogue", unknown)
    seen: dict[str, int] = {}
    twice = []
    for i, item in enumerate(items):
        if item.id in seen:
            twice.append(_problem(i, "id", f"same id as items.{seen[item.id]}", "duplicate"))
        seen.setdefault(item.id, i)
    if twice:
        raise ApiError(400, "duplicate_id", "one label per ticket per request", twice)


def _newest_rows(conn: Connection, ids: Sequence[str]) -> dict:
    c = predictions.c
    newest = (
        select(func.max(c.row_id).label("row_id")).where(c.ticket_id.in_(list(ids))).group_by(c.ticket_id).subquery()
    )
    rows = conn.execute(
        select(
            c.row_id, c.ticket_id, c.text, c.label, c.model_version, c.true_label, c.needs_review, c.created_at
        ).join(newest, newest.c.row_id == c.row_id)
    ).fetchall()
    return {r.ticket_id: r for r in rows}


def find_rows(engine: Engine, items: Sequence[FeedbackItem]) -> dict:
    """The newest logged prediction per id; ApiError 404 when one was never logged, 409 when its text differs."""
    with engine.connect() as conn:
        rows = _newest_rows(conn, [item.id for item in items])
    missing = [
        _problem(i, "id", "no logged prediction has this id", "unknown_id")
        for i, it in enumerate(items)
        if it.id not in rows
    ]
    if missing:
        raise ApiError(
            404, "unknown_id", "feedback for tickets that were never classified; nothing was stored", missing
        )
    differs = [
        _problem(i, "text", "not the text that was classified with this id", "text_mismatch")
        for i, item in enumerate(items)
        if item.text is not None and redact(item.text) != rows[item.id].text
    ]
    if differs:
        raise ApiError(
            409, "text_mismatch", "a label only counts for the text it was given for; nothing stored", differs
        )
    return rows


def _latest_per_actor(conn: Connection, row_ids: Sequence[int]) -> dict[int, dict[str, tuple[str, str]]]:
    """Per prediction row: actor → (role, label) of that actor's latest label."""
    r = review_labels.c
    found: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    rows = conn.execute(
        select(r.row_id, r.actor, r.role, r.label).where(r.row_id.in_(list(row_ids))).order_by(r.label_id)
    ).fetchall()
    for row in rows:
        found[row.row_id][row.actor] = (row.role, row.label)
    return found


def settle(previous: dict[str, tuple[str, str]], user: User, label: str) -> tuple[str, str | None]:
    """(status, the label training may use) after ``user`` labels a ticket others labelled as ``previous``."""
    adjudicated = [lab for actor, (role, lab) in previous.items() if role == "admin-adjudication"]
    others = {
        actor: lab for actor, (role, lab) in previous.items() if actor != user.name and role != "admin-adjudication"
    }
    disputed = len(set(others.values())) > 1
    if user.role == "admin" and (disputed or (others and any(lab != label for lab in others.values()))):
        return ADJUDICATED, label
    if adjudicated:
        return LABELLED, adjudicated[-1]  # settled by an admin: a later label is recorded, not counted
    opinions = {**others, user.name: label}
    if len(set(opinions.values())) > 1:
        return DISPUTED, None
    if user.name in previous:
        return RELABELLED, label
    return (AGREED if others else LABELLED), label


def apply_labels(
    engine: Engine, items: Sequence[FeedbackItem], user: User, rows: dict, now: float | None = None
) -> list[LabelOutcome]:
    """Store each label, settle its ticket and append the audit events, in one transaction."""
    now = time.time() if now is None else now
    outcomes: list[LabelOutcome] = []
    events: list[AuditEvent] = []
    with engine.begin() as conn:
        previous = _latest_per_actor(conn, [rows[item.id].row_id for item in items])
        for item in items:
            row = rows[item.id]
            status, true_label = settle(previous.get(row.row_id, {}), user, item.label)
            role = "admin-adjudication" if status == ADJUDICATED else user.role
            conn.execute(
                review_labels.insert().values(
                    row_id=row.row_id, ticket_id=item.id, actor=user.name, role=role, label=item.label, at=now
                )
            )
            conn.execute(
                update(predictions)
                .where(predictions.c.row_id == row.row_id)
                .values(true_label=true_label, feedback_at=now if true_label is not None else None)
            )
            first = row.true_label is None and true_label is not None
            outcomes.append(
                LabelOutcome(
                    item.id,
                    row.row_id,
                    row.label,
                    row.model_version,
                    item.label,
                    status,
                    true_label,
                    bool(row.needs_review),
                    now - row.created_at if first else None,
                )
            )
            action = {ADJUDICATED: "label.adjudicated", DISPUTED: "label.disputed"}.get(status, "label.given")
            details = {
                "label": item.label,
                "predicted": row.label,
                "model_version": row.model_version,
                "status": status,
            }
            if status in (ADJUDICATED, DISPUTED):
                details["labels"] = {a: lab for a, (_, lab) in previous.get(row.row_id, {}).items()} | {
                    user.name: item.label
                }
            events.append(AuditEvent(actor=user.name, action=action, target=f"ticket/{item.id}", details=details))
        insert_events(conn, events)
    return outcomes


def adjudication_list(engine: Engine, limit: int) -> list[dict]:
    """Tickets whose agents disagree and no admin has settled: text, the model's label, each agent's label."""
    c, r = predictions.c, review_labels.c
    with engine.connect() as conn:
        disputed = conn.execute(
            select(c.row_id, c.ticket_id, c.text, c.label, c.model_version, c.created_at)
            .where(c.true_label.is_(None), exists().where(r.row_id == c.row_id))
            .order_by(c.created_at)
            .limit(limit)
        ).fetchall()
        opinions = _latest_per_actor(conn, [d.row_id for d in disputed])
    return [
        {
            "id": d.ticket_id,
            "text": d.text,
            "label": d.label,
            "model_version": d.model_version,
            "received_at": d.created_at,
            "labels": [{"actor": actor, "label": label} for actor, (_, label) in sorted(opinions[d.row_id].items())],
        }
        for d in disputed
        if len({label for _, label in opinions[d.row_id].values()}) > 1
    ]


def labels_today(engine: Engine, actor: str, now: float | None = None) -> int:
    """Labels ``actor`` gave since midnight UTC."""
    now = time.time() if now is None else now
    midnight = now - now % 86_400
    r = review_labels.c
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(r.actor == actor, r.at >= midnight)).scalar_one())
