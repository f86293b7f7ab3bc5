"""What a rollout measured, step by step: the record ``ticketops rollout start --json`` prints at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from ticketops.rollout.state import RolloutState


@dataclass
class StepRecord:
    step: int
    weight: int
    analyses: list[dict] = field(default_factory=list)


@dataclass
class RolloutReport:
    """What ``ticketops rollout start --json`` prints at the end."""

    state: RolloutState
    steps: list[StepRecord]

    def as_dict(self) -> dict:
        return {
            "result": str(self.state.phase),
            "rollout_id": self.state.rollout_id,
            "stable_version": self.state.stable_version,
            "canary_version": self.state.canary_version,
            "reason": self.state.reason,
            "duration_s": round(self.state.updated_at - self.state.started_at, 1),
            "steps": [{"step": s.step, "weight": s.weight, "analyses": s.analyses} for s in self.steps],
        }
