"""The rollout controller: canary steps with metric gates, promotion, rollback, resumable state.

Argo Rollouts / Flagger semantics: each step waits, analyses, and only a passing analysis moves traffic
on; a failed analysis counts toward rollback; a missing measurement (inconclusive) waits and never promotes.
The first phase is the shadow (when the backend can mirror): the challenger answers copies of live tickets
that no customer sees. Checks are sequential tests (rollout/sequential.py), so a phase lasts until each
check has decided; a phase still undecided at ``max_step_seconds`` pauses the rollout (``halted``) for an
operator to resume or abort. Promotion needs evidence that the challenger's accuracy holds (the shadow's
paired test, or live accuracy) unless params say ``require_accuracy_evidence: false``.
The MLflow registry is updated at the same moment as traffic: promotion moves @champion,
rollback clears @challenger, and each decision is recorded as a tag and an event.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from ticketops.config import RolloutParams
from ticketops.registry.ref import ModelRef
from ticketops.rollout.admission import RolloutError, admit_challenger
from ticketops.rollout.analysis import CANARY_PHASE, SHADOW, Analysis, CanaryAnalysis, Verdict
from ticketops.rollout.backend import RolloutBackend
from ticketops.rollout.events import EventLog, RolloutEvent, registry_tag
from ticketops.rollout.report import RolloutReport, StepRecord
from ticketops.rollout.state import Phase, RolloutState
from ticketops.settings import CHALLENGER, CHAMPION


class RolloutController:
    def __init__(
        self,
        backend: RolloutBackend,
        analysis: CanaryAnalysis,
        mlflow_client,
        params: RolloutParams,
        events: EventLog,
        model_name: str,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda _message: None,
        on_event: Callable[[RolloutEvent], None] | None = None,
    ):
        self.backend = backend
        self.analysis = analysis
        self.client = mlflow_client
        self.params = params
        self.events = events
        self.model_name = model_name
        self.sleep = sleep
        self.log = log
        self.on_event = on_event  # e.g. rollout/audit.py: every decision into the audit trail
        self.steps: list[StepRecord] = []

    # --- starting and resuming ---------------------------------------------------------------

    def start(self, force_ungated: bool = False) -> RolloutState:
        """Deploy @challenger as a canary beside @champion at the first step's weight.

        A challenger that did not pass the promotion gate is refused unless ``force_ungated`` (an admin's
        decision, recorded in the ``started`` event and so in the audit trail).
        """
        current = self.backend.load_state()
        if current is not None and not current.phase.finished:
            raise RolloutError(
                f"rollout {current.rollout_id} of v{current.canary_version} is still {current.phase}; "
                "resume it (`ticketops rollout start --resume`) or abort it first"
            )
        champion, challenger, forced = admit_challenger(self.client, self.model_name, force_ungated)
        state = RolloutState(
            rollout_id=f"r{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}",
            model_name=self.model_name,
            stable_version=str(champion.version),
            canary_version=str(challenger.version),
            steps=[s for s in self.params.steps if 0 < s <= 100],
        )
        if not state.steps:
            raise RolloutError("rollout.steps in params.yaml has no step between 1 and 100")
        if self.params.shadow.enabled and self.backend.supports_shadow:
            state.steps = [0, *state.steps]
        self.backend.deploy_canary(self._uri(state.canary_version), state.canary_version)
        self._enter_step(state, 0)
        forced_note = "; FORCED past a failed promotion gate by an admin" if forced else ""
        shadow = " (shadow first)" if state.steps[0] == 0 else ""
        self._record(
            state,
            "started",
            reason=f"canary v{state.canary_version} beside stable v{state.stable_version}{shadow}{forced_note}",
        )
        return state

    def resume(self) -> RolloutState:
        state = self.backend.load_state()
        if state is None or state.phase.finished:
            raise RolloutError("no rollout in progress to resume")
        self.log(f"resuming rollout {state.rollout_id} at step {state.step_index + 1} ({state.weight}%)")
        self._apply_traffic(state)  # re-assert traffic as recorded, whatever happened meanwhile
        state.halted = False
        state.step_deadline_at = time.time() + self.params.max_step_seconds  # another maximum time, same data
        self._save(state)
        return state

    # --- the loop ------------------------------------------------------------------------------

    def run(self, state: RolloutState) -> RolloutReport:
        while not state.phase.finished and not state.halted:
            self.sleep(self.params.analysis_interval_s)
            self.tick(state)
        return RolloutReport(state, self.steps)

    def tick(self, state: RolloutState) -> None:
        """One analysis of the current step and the decision it leads to."""
        if state.phase.finished:
            return
        if not self.backend.canary_ready():
            self.rollback(state, "canary not ready: process down or failing its readiness probe")
            return
        now = time.time()
        window = now - state.step_started_at
        phase = SHADOW if state.weight == 0 else CANARY_PHASE
        analysis = self.analysis.run(
            int(window), state.canary_version, state.stable_version, phase, optional=self._optional(state)
        )
        self._step_record(state).analyses.append({"time": now, **analysis.as_dict()})
        self.log(
            f"step {state.step_index + 1}/{len(state.steps)} {self._describe(state)}: {analysis.verdict} "
            f"({analysis.reason})"
        )
        for name in ("shadow_accuracy", "live_accuracy"):
            if not state.accuracy_evidence and analysis.passed(name):
                state.accuracy_evidence = f"{name} at step {state.step_index + 1}"
        if analysis.verdict == Verdict.FAIL:
            state.failures += 1
            state.inconclusive = 0
            state.phase = Phase.RUNNING  # measured (and failing): no longer waiting for data
            self._record(state, "analysis", analysis)
            if state.failures >= self.params.max_failures:
                self.rollback(state, f"{state.failures} failed analyses: {analysis.reason}", analysis)
                return
        elif analysis.verdict == Verdict.INCONCLUSIVE or window < self.params.min_step_seconds:
            state.inconclusive += 1
            if state.phase != Phase.PAUSED and analysis.verdict == Verdict.INCONCLUSIVE:
                state.phase = Phase.PAUSED
                self._record(state, "paused", analysis)
            self._halt_if_due(state, now, window, analysis, analysis.reason)
        elif self._last_step(state) and self.params.require_accuracy_evidence and not state.accuracy_evidence:
            state.phase = Phase.PAUSED  # every check passed, but nothing has shown the accuracy holds yet
            state.reason = "waiting for accuracy evidence (shadow_accuracy or live_accuracy must pass)"
            self._halt_if_due(state, now, window, analysis, state.reason)
        else:
            state.failures = 0
            state.inconclusive = 0
            state.phase = Phase.RUNNING
            self._record(state, "analysis", analysis)
            self._advance(state)
            return
        self._save(state)

    def _halt_if_due(self, state: RolloutState, now: float, window: float, analysis: Analysis, why: str) -> None:
        if state.step_deadline_at and now >= state.step_deadline_at:
            state.halted = True
            state.reason = (
                f"inconclusive after {window:.0f}s (max_step_seconds {self.params.max_step_seconds:g}): "
                f"{why}; resume to collect more, or abort"
            )
            self._record(state, "halted", analysis, reason=state.reason)

    @staticmethod
    def _last_step(state: RolloutState) -> bool:
        following = state.step_index + 1
        return following >= len(state.steps) or state.steps[following] >= 100

    def _optional(self, state: RolloutState) -> frozenset[str]:
        """Live accuracy guards canary steps (it may fail them) but only holds the last one, and only while no
        accuracy evidence exists: at 10% of traffic it rarely has its sample, the shadow's paired test has."""
        if self._last_step(state) and self.params.require_accuracy_evidence and not state.accuracy_evidence:
            return frozenset()
        return frozenset({"live_accuracy"})

    @staticmethod
    def _describe(state: RolloutState) -> str:
        return "shadow (mirrored)" if state.weight == 0 else f"at {state.weight}%"

    def _apply_traffic(self, state: RolloutState) -> None:
        if state.weight == 0:
            self.backend.set_shadow()
        else:
            self.backend.set_weight(state.weight)

    def _advance(self, state: RolloutState) -> None:
        following = state.step_index + 1
        if following >= len(state.steps) or state.steps[following] >= 100:
            evidence = f"; accuracy evidence: {state.accuracy_evidence}" if state.accuracy_evidence else ""
            self.promote(state, f"all {following} analysed step(s) passed{evidence}")
        else:
            self._enter_step(state, following)
            self._record(state, "step", reason=f"traffic to canary now {state.weight}%")

    def _enter_step(self, state: RolloutState, index: int) -> None:
        state.step_index = index
        state.weight = state.steps[index]
        state.failures = state.inconclusive = 0
        state.phase = Phase.RUNNING
        self._apply_traffic(state)
        state.step_started_at = time.time()
        state.step_deadline_at = state.step_started_at + self.params.max_step_seconds
        self._save(state)

    # --- decisions -----------------------------------------------------------------------------

    def promote(self, state: RolloutState, reason: str) -> None:
        from ticketops.registry.store import move_alias_if

        self.backend.promote(self._uri(state.canary_version), state.canary_version)
        reason += self._left(
            CHAMPION, move_alias_if(self.client, self.model_name, CHAMPION, state.stable_version, state.canary_version)
        )
        reason += self._left(
            CHALLENGER, move_alias_if(self.client, self.model_name, CHALLENGER, state.canary_version, None)
        )
        state.weight, state.phase, state.reason = 100, Phase.PROMOTED, reason
        self._record(
            state, "promoted", reason=f"@{CHAMPION} v{state.stable_version} → v{state.canary_version}: {reason}"
        )
        self._save(state)

    def rollback(self, state: RolloutState, reason: str, analysis: Analysis | None = None) -> None:
        from ticketops.registry.store import move_alias_if

        self.backend.rollback()
        reason += self._left(
            CHALLENGER, move_alias_if(self.client, self.model_name, CHALLENGER, state.canary_version, None)
        )
        state.weight, state.phase, state.reason = 0, Phase.ROLLED_BACK, reason
        self._record(state, "rolled_back", analysis, reason=f"all traffic back on v{state.stable_version}: {reason}")
        self._save(state)

    @staticmethod
    def _left(alias: str, holds: str | None) -> str:
        """A note for the record when an alias was not this rollout's to move (compare-and-set refused)."""
        if holds is None:
            return ""
        now = "unset" if holds == "none" else f"on v{holds}"
        return f"; @{alias} left {now} (not this rollout's version)"

    def abort(self, reason: str = "aborted by operator") -> RolloutState:
        state = self.backend.load_state()
        if state is None or state.phase.finished:
            raise RolloutError("no rollout in progress to abort")
        self.rollback(state, reason)
        return state

    def force_promote(self, reason: str = "promoted by operator") -> RolloutState:
        state = self.backend.load_state()
        if state is None or state.phase.finished:
            raise RolloutError("no rollout in progress to promote")
        self.promote(state, reason)
        return state

    # --- bookkeeping ---------------------------------------------------------------------------

    def _uri(self, version: str) -> str:
        """What a track serves: one pinned version (``models:/NAME/VERSION``), never an alias that may move."""
        return str(ModelRef.version_of(self.model_name, version))

    def _step_record(self, state: RolloutState) -> StepRecord:
        if not self.steps or self.steps[-1].step != state.step_index + 1:
            self.steps.append(StepRecord(state.step_index + 1, state.weight))
        return self.steps[-1]

    def _save(self, state: RolloutState) -> None:
        state.updated_at = time.time()
        self.backend.save_state(state)

    def _record(self, state: RolloutState, kind: str, analysis: Analysis | None = None, reason: str = "") -> None:
        from ticketops.registry.store import tag_version

        event = RolloutEvent(
            rollout_id=state.rollout_id,
            event=kind,
            stable_version=state.stable_version,
            canary_version=state.canary_version,
            step=state.step_index + 1,
            weight=state.weight,
            verdict=str(analysis.verdict) if analysis else "",
            reason=reason or (analysis.reason if analysis else ""),
            measured=analysis.as_dict() if analysis else {},
        )
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        key, value = registry_tag(event)
        tag_version(self.client, self.model_name, state.canary_version, {key: value})
        if kind in ("promoted", "rolled_back"):
            tag_version(
                self.client,
                self.model_name,
                state.canary_version,
                {"rollout_result": kind, "rollout_reason": event.reason},
            )
