"""The register stage's decisions in the audit trail: the gate's verdict and the aliases it moved."""

from __future__ import annotations

import logging

from ticketops.audit import PIPELINE, AuditEvent, AuditTrail

logger = logging.getLogger(__name__)


def registration_events(summary: dict, model_name: str, actor: str = PIPELINE) -> list[AuditEvent]:
    """``gate.verdict`` for the new version, and one ``alias.moved`` per alias the gate gave it."""
    version = str(summary["version"])
    gate = summary.get("gate", {})
    events = [
        AuditEvent(
            actor=actor,
            action="gate.verdict",
            target=f"{model_name}/{version}",
            details={
                "passed": bool(gate.get("passed")),
                "reason": gate.get("reason", ""),
                "champion_before": summary.get("champion_before"),
            },
        )
    ]
    for alias in summary.get("aliases", []):
        events.append(
            AuditEvent(
                actor=actor,
                action="alias.moved",
                target=f"{model_name}@{alias}",
                details={"to": version, "from": summary.get("champion_before") if alias == "champion" else None},
            )
        )
    return events


def record_registration(summary: dict, model_name: str) -> bool:
    """Append the events to this deployment's trail; False (logged) when its database is unavailable."""
    trail = AuditTrail.from_settings()
    try:
        trail.record_all(registration_events(summary, model_name))
        return True
    except Exception as exc:  # a registered version stays registered; the trail's gap is logged
        logger.error("audit trail: gate verdict of v%s not recorded (%s)", summary.get("version"), type(exc).__name__)
        return False
    finally:
        trail.close()
