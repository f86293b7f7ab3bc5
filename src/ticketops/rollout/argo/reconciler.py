"""The registry follows the cluster: MLflow's aliases and the rollout history follow what the Rollout serves.

Argo Rollouts moves traffic; whatever moved it (a step passing, ``promote --full``, ``abort``, ``undo``, a hand
edit of the template), one ``run_once`` reads the Rollout and makes the registry say the same:

- @champion is the stable version (compare-and-set, as the local controller moves it);
- while a canary runs, it is one rollout with a ``started`` event and @challenger on its version; its weight
  changes, pauses and a requested full promotion are events too;
- an abort, or the canary leaving the template (``undo``, a hand edit back to stable, a newer canary), ends it
  ``rolled_back`` and clears @challenger; stable becoming the canary's version ends it ``promoted``.

The history is the registry's rollout tags (history.py), read back at every run: recording is idempotent (a
second run with nothing changed writes nothing) and survives restarts. Each event names the actor Kubernetes
reports for the change (``k8s:<manager>`` from managedFields), or ``reconciler`` for what it did itself.
"""

from __future__ import annotations

import logging

from ticketops.audit import RECONCILER, AuditEvent
from ticketops.rollout.argo.history import (
    ARGO_ID_PREFIX,
    TERMINAL,
    Recorder,
    k8s_actor,
    new_rollout_id,
    open_rollouts,
    registry_history,
)
from ticketops.rollout.argo.rollout_object import ArgoRollout
from ticketops.rollout.argo.status import ABORT, PROMOTE_FULL, STABLE_ANNOTATION, STEP, TEMPLATE, RolloutView
from ticketops.rollout.events import RolloutEvent
from ticketops.settings import CHALLENGER, CHAMPION

log = logging.getLogger(__name__)
PROGRESS = ("started", "step", "paused", "promote_requested")


class Reconciler:
    def __init__(self, rollout: ArgoRollout, mlflow_client, model_name: str, trail=None) -> None:
        self.rollout = rollout
        self.client = mlflow_client
        self.model_name = model_name
        self.recorder = Recorder(mlflow_client, model_name, trail)

    @classmethod
    def from_settings(cls, api_client=None) -> Reconciler:
        """For the cluster's settings (``TICKETOPS_K8S_*``, ``TICKETOPS_ARGO_*``), registry and audit trail."""
        from ticketops.audit import AuditTrail
        from ticketops.config import load_params
        from ticketops.registry import store
        from ticketops.settings import ArgoSettings

        argo = ArgoSettings()
        rollout = ArgoRollout(argo, api_client=api_client, field_manager=argo.reconciler_field_manager)
        return cls(rollout, store.client(), load_params().registration.model_name, AuditTrail.from_settings())

    def run_once(self) -> list[RolloutEvent]:
        """One reconciliation: the events it recorded (none when the registry already says what serves)."""
        view = self.rollout.view()
        if not view.observed or view.stable_version is None:
            return []  # Argo has not acted on the latest spec yet (or nothing is stable): the next interval will
        history = registry_history(self.client, self.model_name, prefix=ARGO_ID_PREFIX)
        opened = open_rollouts(history)
        if view.canary_version is not None:
            recorded = self._canary(view, opened, history)
        else:
            recorded = self._settled(view, opened)
        recorded += self._align_champion(view)
        if view.stable_annotation != view.stable_version:
            self.rollout.annotate({STABLE_ANNOTATION: view.stable_version})
            log.info("Rollout %s: %s set to %s", view.name, STABLE_ANNOTATION, view.stable_version)
        return recorded

    # --- a canary in the template --------------------------------------------------------------------------

    def _canary(self, view: RolloutView, opened: list[list[RolloutEvent]], history: list[RolloutEvent]):
        canary = view.canary_version
        mine = [events for events in opened if events[0].canary_version == canary]
        current = mine[-1] if mine else None
        template_actor = k8s_actor(view.actor(TEMPLATE))
        recorded = []
        for events in opened:
            if events is not current:
                why = f"replaced: the template now serves canary v{canary} (set by {template_actor})"
                recorded += self._close(events, "rolled_back", view, why, template_actor)
        if current is None:
            if view.aborted and self._last_result(history, canary) == "rolled_back":
                return recorded  # this abort is recorded already
            current = [self._start(view, template_actor)]
            recorded.append(current[0])
        if view.aborted:
            why = f"aborted: all traffic back on stable v{view.stable_version} ({view.message or 'status.abort'})"
            return recorded + self._close(current, "rolled_back", view, why, k8s_actor(view.actor(ABORT)))
        return recorded + self._progress(view, current)

    @staticmethod
    def _last_result(history: list[RolloutEvent], canary: str) -> str | None:
        ends = [e for e in history if e.canary_version == canary and e.event in TERMINAL]
        return ends[-1].event if ends else None

    def _start(self, view: RolloutView, actor: str) -> RolloutEvent:
        """A canary ticketops did not start (a hand edit, an ``undo`` to an older version): a rollout of its own."""
        from ticketops.registry.store import alias_version, move_alias_if

        canary, rollout_id = str(view.canary_version), new_rollout_id()
        reason = f"canary v{canary} beside stable v{view.stable_version}: the template was set to v{canary} by {actor}"
        held = alias_version(self.client, self.model_name, CHALLENGER)
        before = None if held is None else str(held.version)
        extra = []
        if before != canary:
            left = move_alias_if(self.client, self.model_name, CHALLENGER, before, canary)
            reason += (
                f"; @{CHALLENGER} {_v(before)} → v{canary}" if left is None else f"; @{CHALLENGER} left {_v(left)}"
            )
            if left is None:
                target = f"{self.model_name}@{CHALLENGER}"
                details = {"from": before, "to": canary, "rollout_id": rollout_id}
                extra.append(AuditEvent(actor=actor, action="alias.moved", target=target, details=details))
        event = self._event(view, rollout_id, "started", view.stable_version, canary, reason, actor)
        self.recorder.record(event, once=False, extra_audit=extra)
        return event

    def _progress(self, view: RolloutView, events: list[RolloutEvent]) -> list[RolloutEvent]:
        first, recorded = events[0], []
        weights = [e.weight for e in events if e.event in PROGRESS]
        if view.canary_weight != weights[-1]:
            actor = k8s_actor(view.actor(STEP) or view.controller)
            why = f"traffic to canary now {view.canary_weight}%"
            recorded.append(self._event(view, first.rollout_id, "step", None, None, why, actor))
        if view.promote_full and not any(e.event == "promote_requested" for e in events):
            actor = k8s_actor(view.actor(PROMOTE_FULL))
            why = f"full promotion requested by {actor}: Argo skips the remaining steps, pauses and analysis"
            recorded.append(self._event(view, first.rollout_id, "promote_requested", None, None, why, actor))
        last = [*events, *recorded][-1]
        if view.phase == "Paused" and last.event != "paused":
            why = f"paused by Argo: {view.message or 'waiting at a pause step'}"
            run = view.analysis.get("currentStepAnalysisRunStatus") or {}
            event = self._event(view, first.rollout_id, "paused", None, None, why, k8s_actor(view.controller))
            event.verdict = "inconclusive" if run.get("status") == "Inconclusive" else ""
            recorded.append(event)
        for event in recorded:
            event.stable_version, event.canary_version = first.stable_version, first.canary_version
        return [e for e in recorded if self.recorder.record(e)]

    # --- no canary: stable serves everything ---------------------------------------------------------------

    def _settled(self, view: RolloutView, opened: list[list[RolloutEvent]]) -> list[RolloutEvent]:
        recorded = []
        for events in opened:
            first = events[0]
            if first.canary_version == view.stable_version:
                requested = [e for e in events if e.event == "promote_requested"]
                if requested:
                    actor = requested[-1].actor
                    why = f"stable now serves v{first.canary_version}: promote --full by {actor}"
                else:
                    actor = k8s_actor(view.controller)
                    why = f"stable now serves v{first.canary_version}: every step passed ({actor})"
                recorded += self._close(events, "promoted", view, why, actor)
            else:
                actor = k8s_actor(view.actor(TEMPLATE))
                why = (
                    f"the template was set back to stable v{view.stable_version} by {actor}: "
                    f"canary v{first.canary_version} removed"
                )
                recorded += self._close(events, "rolled_back", view, why, actor)
        return recorded

    def _close(self, events: list[RolloutEvent], kind: str, view: RolloutView, reason: str, actor: str):
        """End a rollout: @challenger cleared if it still names the canary, @champion moved on a promotion."""
        from ticketops.registry.store import alias_version, move_alias_if

        first = events[0]
        canary = first.canary_version
        if kind == "promoted":
            held = alias_version(self.client, self.model_name, CHAMPION)
            before = None if held is None else str(held.version)
            if before != canary:
                left = move_alias_if(self.client, self.model_name, CHAMPION, before, canary)
                reason += (
                    f"; @{CHAMPION} {_v(before)} → v{canary}" if left is None else f"; @{CHAMPION} left {_v(left)}"
                )
        left = move_alias_if(self.client, self.model_name, CHALLENGER, canary, None)
        if left is not None:
            reason += f"; @{CHALLENGER} left {_v(left)} (not this rollout's version)"
        event = self._event(view, first.rollout_id, kind, first.stable_version, canary, reason, actor)
        event.weight = 100 if kind == "promoted" else 0
        return [event] if self.recorder.record(event) else []

    def _align_champion(self, view: RolloutView) -> list[RolloutEvent]:
        """@champion to the stable version when nothing else moved it there (e.g. first reconciliation)."""
        from ticketops.registry.store import alias_version, move_alias_if

        stable = str(view.stable_version)
        held = alias_version(self.client, self.model_name, CHAMPION)
        before = None if held is None else str(held.version)
        if before == stable or move_alias_if(self.client, self.model_name, CHAMPION, before, stable) is not None:
            return []
        rollout_id = new_rollout_id()
        reason = f"@{CHAMPION} {_v(before)} → v{stable}: the Rollout's stable ReplicaSet serves v{stable}"
        event = self._event(view, rollout_id, "aligned", before or "none", stable, reason, RECONCILER)
        details = {"from": before, "to": stable, "rollout_id": rollout_id}
        extra = [
            AuditEvent(actor=RECONCILER, action="alias.moved", target=f"{self.model_name}@{CHAMPION}", details=details)
        ]
        self.recorder.record(event, once=False, extra_audit=extra)
        return [event]

    @staticmethod
    def _event(view, rollout_id, kind, stable, canary, reason, actor) -> RolloutEvent:
        return RolloutEvent(
            rollout_id=rollout_id,
            event=kind,
            stable_version=str(stable or view.stable_version),
            canary_version=str(canary or view.canary_version),
            step=min(view.step_index + 1, max(view.step_count, 1)),
            weight=view.canary_weight,
            reason=reason,
            actor=actor,
            measured={"argo_phase": view.phase, "argo_message": view.message, **view.analysis},
        )


def _v(version: str | None) -> str:
    return "unset" if version in (None, "none") else f"v{version}"
