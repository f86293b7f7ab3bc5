"""``ticketops rollout --backend argo``: Argo Rollouts moves the traffic, ticketops admits, pins and records.

``start`` admits @challenger (the promotion gate, an admin's recorded override) and pins the Rollout's template
to its version (``models:/ticket-classifier/<N>``, never an alias), so the Rollout's revision history is the
model history; Argo then runs the steps and the analysis. ``promote`` / ``abort`` patch the Rollout as the
kubectl plugin does. The registry follows through the Reconciler (in the analysis service, and here after every
command and while ``--wait`` follows a rollout). No RolloutController runs: the decisions are Argo's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ticketops.registry.ref import ModelRef
from ticketops.rollout.admission import RolloutError, admit_challenger
from ticketops.rollout.argo.history import (
    ARGO_ID_PREFIX,
    TERMINAL,
    by_rollout,
    k8s_actor,
    new_rollout_id,
    open_rollouts,
    registry_history,
)
from ticketops.rollout.argo.reconciler import Reconciler
from ticketops.rollout.argo.rollout_object import ArgoRollout
from ticketops.rollout.argo.status import RolloutView
from ticketops.rollout.events import RolloutEvent
from ticketops.rollout.report import RolloutReport, StepRecord
from ticketops.rollout.state import Phase, RolloutState


class ArgoBackend:
    name = "argo"

    def __init__(self, rollout: ArgoRollout, reconciler: Reconciler, sleep: Callable[[float], None] = time.sleep):
        self.rollout = rollout
        self.reconciler = reconciler
        self.client = reconciler.client
        self.model_name = reconciler.model_name
        self.recorder = reconciler.recorder
        self.sleep = sleep

    @classmethod
    def from_settings(cls) -> ArgoBackend:
        from ticketops.settings import ArgoSettings

        rollout = ArgoRollout(ArgoSettings())
        return cls(rollout, Reconciler.from_settings(rollout.api_client))

    # --- commands ------------------------------------------------------------------------------------------

    def start(self, force_ungated: bool = False) -> RolloutEvent:
        """Pin the Rollout to @challenger's version beside the stable one; the ``started`` event."""
        self.reconciler.run_once()  # the registry first says what the cluster serves now
        view = self.rollout.view()
        if not view.observed:
            raise RolloutError(f"Argo has not acted on the Rollout {view.name}'s last change yet: try again shortly")
        if view.running:
            raise RolloutError(
                f"the Rollout {view.name} runs canary v{view.canary_version} ({view.phase}, {view.canary_weight}%): "
                "promote or abort it first"
            )
        _champion, challenger, forced = admit_challenger(self.client, self.model_name, force_ungated)
        version = str(challenger.version)
        stable = view.stable_version or view.template_version
        if view.template_version == version:
            raise RolloutError(
                f"the Rollout's template names v{version} already ({'aborted' if view.aborted else view.phase}): "
                f"`kubectl argo rollouts retry rollout {view.name}` runs it again"
            )
        self.rollout.pin(version, str(ModelRef.version_of(self.model_name, version)), stable)
        adopted = [e for e in open_rollouts(self.history()) if e[0].canary_version == version]
        if adopted:  # the cluster's reconciler saw the new template first
            return adopted[-1][0]
        forced_note = "; FORCED past a failed promotion gate by an admin" if forced else ""
        event = RolloutEvent(
            rollout_id=new_rollout_id(),
            event="started",
            stable_version=str(stable),
            canary_version=version,
            step=0,
            weight=0,
            reason=f"Rollout {view.name} pinned to v{version} beside stable v{stable}; Argo runs the steps"
            + forced_note,
            actor=k8s_actor(self.rollout.field_manager),
        )
        self.recorder.record(event, once=False)
        return event

    def promote(self, full: bool = False) -> list[RolloutEvent]:
        """``kubectl argo rollouts promote [--full]``; the events the registry recorded right after."""
        self._require_canary("promote")
        self.rollout.promote(full)
        return self.reconciler.run_once()

    def abort(self) -> list[RolloutEvent]:
        """``kubectl argo rollouts abort``; the events the registry recorded right after."""
        self._require_canary("abort")
        self.rollout.abort()
        return self.reconciler.run_once()

    def _require_canary(self, what: str) -> RolloutView:
        view = self.rollout.view()
        if not view.running:
            raise RolloutError(
                f"no canary in progress to {what} (the Rollout {view.name} serves v{view.stable_version})"
            )
        return view

    # --- reading -------------------------------------------------------------------------------------------

    def history(self, rollout_id: str | None = None) -> list[RolloutEvent]:
        return registry_history(self.client, self.model_name, rollout_id, prefix=ARGO_ID_PREFIX)

    def load_state(self) -> RolloutState | None:
        """The last rollout (`ticketops rollout status`): its events in the registry, live weight from the Rollout."""
        rollouts = [e for e in by_rollout(self.history()).values() if e[0].event == "started"]
        if not rollouts:
            return None
        events = max(rollouts, key=lambda e: e[0].time)
        view = self.rollout.view()
        state = self._state(events, view.weights)
        if not state.phase.finished and view.canary_version == state.canary_version:
            state.weight = view.canary_weight
            state.phase = Phase.PAUSED if view.phase == "Paused" else Phase.RUNNING
        return state

    def _state(self, events: list[RolloutEvent], weights: list[int]) -> RolloutState:
        first, last = events[0], events[-1]
        phase = Phase(last.event) if last.event in TERMINAL else Phase.RUNNING
        weight = last.weight
        return RolloutState(
            rollout_id=first.rollout_id,
            model_name=self.model_name,
            stable_version=first.stable_version,
            canary_version=first.canary_version,
            steps=list(weights),
            step_index=max([i for i, w in enumerate(weights) if w <= weight] or [0]),
            weight=weight,
            phase=phase,
            started_at=first.time,
            updated_at=last.time,
            reason=last.reason,
        )

    def report(self, events: list[RolloutEvent]) -> RolloutReport:
        """What ``start --wait --json`` prints: the local backend's shape, steps from the recorded weights."""
        steps: list[StepRecord] = []
        for event in events:
            if not steps or (event.event == "step" and event.weight != steps[-1].weight):
                steps.append(StepRecord(len(steps) + 1, event.weight))
            entry = {"time": event.time, "event": event.event, "verdict": event.verdict, "reason": event.reason}
            steps[-1].analyses.append({**entry, "actor": event.actor, **event.measured})
        return RolloutReport(self._state(events, self.rollout.view().weights), steps)

    def wait(
        self,
        rollout_id: str,
        poll_s: float,
        timeout_s: float = 0.0,
        log: Callable[[str], None] = lambda _message: None,
    ) -> RolloutReport:
        """Follow the Rollout until the rollout is promoted or rolled back, reconciling at every look."""
        deadline = time.monotonic() + timeout_s if timeout_s else None
        seen, errors = 0, set()
        while True:
            try:
                self.reconciler.run_once()
            except Exception as exc:  # the cluster or registry unreachable for a moment: look again
                message = f"{type(exc).__name__}: {exc}"
                if message not in errors:
                    log(f"reconciling failed ({message}); retrying every {poll_s:g}s")
                errors.add(message)
            events = self.history(rollout_id)
            for event in events[seen:]:
                log(f"{event.event} ({event.actor}): {event.reason}")
            seen = len(events)
            if events and events[-1].event in TERMINAL:
                return self.report(events)
            if deadline is not None and time.monotonic() >= deadline:
                raise RolloutError(
                    f"rollout {rollout_id} still undecided after {timeout_s:g}s; it goes on in the cluster "
                    f"(kubectl argo rollouts get rollout {self.rollout.name} --watch)"
                )
            self.sleep(poll_s)
