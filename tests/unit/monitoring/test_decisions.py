"""The monitor writes drift starting and ending to the audit trail, once each, not every window."""

from __future__ import annotations

from dataclasses import dataclass, field

from ticketops.audit import AuditTrail
from ticketops.monitoring.decisions import DriftAudit


@dataclass
class Verdict:
    drifted: list[str]
    window: dict = field(default_factory=lambda: {"size": 500, "model_version": "3", "start": 1.0, "end": 2.0})

    @property
    def drift_detected(self) -> bool:
        return bool(self.drifted)


def test_only_changes_of_the_verdict_are_events(tmp_path) -> None:
    trail = AuditTrail(f"sqlite:///{tmp_path / 'log.db'}")
    audit = DriftAudit(trail)
    windows = [[], [], ["text", "prediction"], ["text"], [], []]
    actions = [audit.observe(Verdict(d)) for d in windows]
    assert actions == [None, None, "drift.detected", None, "drift.cleared", None]
    assert audit.observe(Verdict(["text"], window={})) is None  # an empty window judges nothing
    events = list(reversed(trail.events(limit=0)))
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("monitor", "drift.detected", "model/3"),
        ("monitor", "drift.cleared", "model/3"),
    ]
    assert events[0].details["signals"] == ["text", "prediction"]
