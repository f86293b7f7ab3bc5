"""The history of Argo rollouts lives in the MLflow registry, the one place every backend writes and every
person with MLflow access reads: each event is a ``rollout.<id>.<ms>.<event>`` tag on its canary's model
version (rollout/events.py ``registry_tag``), the same tags the local controller writes, and a copy goes to
the audit trail with its actor. There is no file on one machine to lose: ``ticketops rollout history
--backend argo`` reads the tags back from anywhere, and the reconciler reads them to know what it recorded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence

from ticketops.audit import RECONCILER, AuditEvent
from ticketops.rollout.audit import audit_events_for
from ticketops.rollout.events import RolloutEvent, event_from_registry_tag, registry_tag

log = logging.getLogger(__name__)

ARGO_ID_PREFIX = "argo-"  # rollouts the cluster ran (the local controller's ids start with "r")
TERMINAL = ("promoted", "rolled_back")
K8S_ACTOR_PREFIX = "k8s:"


def new_rollout_id() -> str:
    return f"{ARGO_ID_PREFIX}{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def k8s_actor(manager: str | None) -> str:
    """An audit actor for a manager Kubernetes reported (``k8s:kubectl-argo-rollouts``)."""
    return f"{K8S_ACTOR_PREFIX}{manager or 'unknown'}"[:64]


def events_of_versions(versions: Iterable) -> list[RolloutEvent]:
    """The rollout events tagged on ``versions`` (MLflow ModelVersion objects), oldest first."""
    events = []
    for version in versions:
        for key, value in (version.tags or {}).items():
            event = event_from_registry_tag(key, value)
            if event is not None:
                events.append(event)
    return sorted(events, key=lambda e: (e.time, e.rollout_id))


def registry_history(
    mlflow_client, model_name: str, rollout_id: str | None = None, prefix: str | None = None
) -> list[RolloutEvent]:
    """Every rollout event of ``model_name`` in the registry (of one rollout, or of ids starting with ``prefix``)."""
    versions = mlflow_client.search_model_versions(f"name='{model_name}'")
    return [
        e
        for e in events_of_versions(versions)
        if (rollout_id is None or e.rollout_id == rollout_id) and (prefix is None or e.rollout_id.startswith(prefix))
    ]


def by_rollout(events: Iterable[RolloutEvent]) -> dict[str, list[RolloutEvent]]:
    out: dict[str, list[RolloutEvent]] = {}
    for event in events:
        out.setdefault(event.rollout_id, []).append(event)
    return out


def open_rollouts(events: Iterable[RolloutEvent]) -> list[list[RolloutEvent]]:
    """The rollouts (each its events, oldest first) that started and have no promoted / rolled_back event yet."""
    grouped = by_rollout(events).values()
    return [e for e in grouped if e[0].event == "started" and not any(x.event in TERMINAL for x in e)]


class Recorder:
    """Writes one rollout event where history lives: the registry tag (and result tags), then the audit trail.

    An audit write that fails never stops the reconciliation (logged; ``ticketops audit`` shows the gap).
    """

    def __init__(self, mlflow_client, model_name: str, trail=None) -> None:
        self.client = mlflow_client
        self.model_name = model_name
        self.trail = trail
        self._last_ms = 0

    def already_recorded(self, event: RolloutEvent) -> bool:
        """The registry holds an event of the same rollout and kind (re-read just before writing: two
        reconcilers racing, e.g. the cluster's and a ``--wait``, write it once in all but a one-call window)."""
        version = self.client.get_model_version(self.model_name, event.canary_version)
        return any(
            e.rollout_id == event.rollout_id and e.event == event.event and e.weight == event.weight
            for e in events_of_versions([version])
        )

    def record(self, event: RolloutEvent, once: bool = True, extra_audit: Sequence[AuditEvent] = ()) -> bool:
        """Record ``event`` (with ``extra_audit``); False when ``once`` and the registry already has it."""
        from ticketops.registry.store import tag_version

        if once and self.already_recorded(event):
            return False
        millis = max(int(event.time * 1000), self._last_ms + 1)  # events of one run keep their order in the keys
        event.time, self._last_ms = millis / 1000, millis
        key, value = registry_tag(event)
        tag_version(self.client, self.model_name, event.canary_version, {key: value})
        if event.event in TERMINAL:
            tags = {"rollout_result": event.event, "rollout_reason": event.reason}
            tag_version(self.client, self.model_name, event.canary_version, tags)
        if self.trail is not None:
            try:
                actor = event.actor or RECONCILER
                self.trail.record_all([*audit_events_for(event, self.model_name, actor=actor), *extra_audit])
            except Exception as exc:  # the registry holds the event; the trail's gap is logged
                log.error("audit trail: rollout event %s not recorded (%s: %s)", event.event, type(exc).__name__, exc)
        log.info("rollout %s: %s (%s) by %s", event.rollout_id, event.event, event.reason, event.actor)
        return True
