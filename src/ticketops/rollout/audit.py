"""Rollout decisions in the audit trail, and the check that it holds every event of ``rollout history``.

The controller calls ``RolloutAudit`` right after it appends an event to its own log (the JSON-lines
history and the MLflow tags). Each history event becomes one audit event (``rollout.<event>``, target
``rollout/<id>``) carrying the history event's own time, so the two can be matched one to one; a promotion
and a rollback also record the alias moves they made. An audit write that fails (database down) never
stops a rollout: it is logged, and ``reconcile`` (``ticketops audit --reconcile``) copies what is missing
from the history, as actor ``reconciler``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ticketops.audit import CONTROLLER, RECONCILER, AuditEvent, AuditTrail
from ticketops.rollout.events import RolloutEvent
from ticketops.settings import CHALLENGER, CHAMPION

logger = logging.getLogger(__name__)
HISTORY_KEY = "history_time"  # the history event's own timestamp, in the audit event's details


def audit_events_for(event: RolloutEvent, model_name: str, actor: str = CONTROLLER) -> list[AuditEvent]:
    """The audit events one rollout history event stands for."""
    details = {
        HISTORY_KEY: event.time,
        "rollout_id": event.rollout_id,
        "stable_version": event.stable_version,
        "canary_version": event.canary_version,
        "step": event.step,
        "weight": event.weight,
        "verdict": event.verdict,
        "reason": event.reason,
    }
    if event.measured:
        details["measured"] = event.measured
    events = [
        AuditEvent(actor=actor, action=f"rollout.{event.event}", target=f"rollout/{event.rollout_id}", details=details)
    ]
    version = f"{model_name}@{{alias}}"
    if event.event == "promoted":
        events.append(
            AuditEvent(
                actor=actor,
                action="alias.moved",
                target=version.format(alias=CHAMPION),
                details={"from": event.stable_version, "to": event.canary_version, "rollout_id": event.rollout_id},
            )
        )
    if event.event in ("promoted", "rolled_back"):
        events.append(
            AuditEvent(
                actor=actor,
                action="alias.cleared",
                target=version.format(alias=CHALLENGER),
                details={"was": event.canary_version, "rollout_id": event.rollout_id},
            )
        )
    return events


class RolloutAudit:
    """The controller's ``on_event`` hook: history events into the audit trail, never raising."""

    def __init__(self, trail: AuditTrail, model_name: str):
        self.trail = trail
        self.model_name = model_name

    def __call__(self, event: RolloutEvent) -> None:
        try:
            self.trail.record_all(audit_events_for(event, self.model_name))
        except Exception as exc:  # the rollout goes on; `ticketops audit --reconcile` fills the gap
            logger.error("audit trail: rollout event %s not recorded (%s: %s)", event.event, type(exc).__name__, exc)


def _key(rollout_id: str, action: str, at: float) -> tuple[str, str, int]:
    return rollout_id, action, round(at * 1000)


def missing_from_audit(history: Sequence[RolloutEvent], audit: Sequence[AuditEvent]) -> list[RolloutEvent]:
    """History events with no audit event of the same rollout, kind and time."""
    recorded = {
        _key(e.details.get("rollout_id", ""), e.action, float(e.details[HISTORY_KEY]))
        for e in audit
        if e.action.startswith("rollout.") and HISTORY_KEY in e.details
    }
    return [e for e in history if _key(e.rollout_id, f"rollout.{e.event}", e.time) not in recorded]


def reconcile(history: Sequence[RolloutEvent], trail: AuditTrail, model_name: str) -> list[RolloutEvent]:
    """Record the history events the trail lacks (actor ``reconciler``); returns those it added."""
    audit = trail.events(limit=0, actions=sorted({f"rollout.{e.event}" for e in history}) or ["-"])
    missing = missing_from_audit(history, audit)
    events = [a for e in missing for a in audit_events_for(e, model_name, actor=RECONCILER)]
    if events:
        trail.record_all(events)
    return missing
