"""Rollout decisions reach the audit trail one to one with ``rollout history``, and a gap is reconciled."""

from __future__ import annotations

from tests.unit.rollout.test_controller import MemoryBackend, controller, module_registry, registry  # noqa: F401
from ticketops.audit import AuditTrail
from ticketops.rollout.analysis import Verdict
from ticketops.rollout.audit import RolloutAudit, missing_from_audit, reconcile
from ticketops.rollout.events import EventLog


def test_every_history_event_and_alias_move_is_an_audit_event(registry, tmp_path) -> None:  # noqa: F811
    trail = AuditTrail(f"sqlite:///{tmp_path / 'log.db'}")
    promoted = controller(MemoryBackend(), [Verdict.PASS] * 3, tmp_path)  # shadow, 10, 50
    promoted.on_event = RolloutAudit(trail, "ticket-classifier")
    promoted.run(promoted.start())
    registry_client = promoted.client
    registry_client.set_registered_model_alias("ticket-classifier", "champion", "1")
    registry_client.set_registered_model_alias("ticket-classifier", "challenger", "2")
    failed = controller(MemoryBackend(), [Verdict.FAIL, Verdict.FAIL], tmp_path)
    failed.on_event = RolloutAudit(trail, "ticket-classifier")
    failed.run(failed.start())
    history = EventLog(tmp_path / "events.jsonl").read()
    events = trail.events(limit=0)
    assert len(history) >= 8 and missing_from_audit(history, events) == []
    assert {e.actor for e in events} == {"controller"}
    actions = [e.action for e in reversed(events)]
    assert actions.count("rollout.promoted") == 1 and actions.count("rollout.rolled_back") == 1
    moved = [e for e in events if e.action == "alias.moved"]
    assert [(e.target, e.details["from"], e.details["to"]) for e in moved] == [("ticket-classifier@champion", "1", "2")]
    assert [e.target for e in events if e.action == "alias.cleared"] == ["ticket-classifier@challenger"] * 2


def test_a_failed_audit_write_never_stops_the_rollout_and_is_reconciled(registry, tmp_path) -> None:  # noqa: F811
    db = tmp_path / "log.db"
    broken = AuditTrail(f"sqlite:///{tmp_path / 'missing-dir' / 'x' / 'log.db'}")
    broken.record_all = lambda events: (_ for _ in ()).throw(OSError("database is down"))
    ctl = controller(MemoryBackend(), [Verdict.PASS] * 3, tmp_path)  # shadow, 10, 50
    ctl.on_event = RolloutAudit(broken, "ticket-classifier")
    assert ctl.run(ctl.start()).state.phase == "promoted"
    history = EventLog(tmp_path / "events.jsonl").read()
    trail = AuditTrail(f"sqlite:///{db}")
    assert missing_from_audit(history, trail.events(limit=0)) == history
    added = reconcile(history, trail, "ticket-classifier")
    assert added == history
    events = trail.events(limit=0)
    assert missing_from_audit(history, events) == [] and {e.actor for e in events} == {"reconciler"}
    assert reconcile(history, trail, "ticket-classifier") == []  # nothing twice
