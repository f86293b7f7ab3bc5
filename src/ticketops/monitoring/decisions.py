"""The monitor's decisions in the audit trail: when drift starts and when it ends (not every quiet window).

A window that changes the verdict (quiet → drift, drift → quiet) is one event by actor ``monitor``, with the
signals that fired and the window it judged; the windows in between are in the monitor's own state folder.
"""

from __future__ import annotations

import logging
from typing import Any

from ticketops.audit import MONITOR, AuditTrail

logger = logging.getLogger(__name__)


def transition(previous: bool | None, verdict: Any) -> str | None:
    """``drift.detected`` / ``drift.cleared`` when the verdict changed, else None (a first quiet window: None)."""
    if not verdict.window.get("size"):
        return None
    if verdict.drift_detected and previous is not True:
        return "drift.detected"
    if not verdict.drift_detected and previous is True:
        return "drift.cleared"
    return None


class DriftAudit:
    """Remembers the last verdict and records the changes; a failed write is logged, never raised."""

    def __init__(self, trail: AuditTrail):
        self.trail = trail
        self.drifting: bool | None = None

    def observe(self, verdict: Any) -> str | None:
        action = transition(self.drifting, verdict)
        if verdict.window.get("size"):
            self.drifting = verdict.drift_detected
        if action is None:
            return None
        version = verdict.window.get("model_version", "any")
        details = {"signals": verdict.drifted, "window": {k: verdict.window.get(k) for k in ("size", "start", "end")}}
        try:
            self.trail.record(MONITOR, action, f"model/{version}", details)
        except Exception as exc:
            logger.error("audit trail: %s not recorded (%s)", action, type(exc).__name__)
        return action
