"""Rollout state: what a restarted controller needs to resume, stored by the backend.

The local backend keeps it in a JSON file; the Kubernetes backend in an annotation on the stable Deployment
(which outlives every canary).
"""

from __future__ import annotations

import time
from enum import StrEnum

from pydantic import BaseModel, Field


class Phase(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # inconclusive analysis: waits and retries, never promotes on it
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"

    @property
    def finished(self) -> bool:
        return self in (Phase.PROMOTED, Phase.ROLLED_BACK)


class RolloutState(BaseModel):
    """One rollout of ``canary_version`` beside ``stable_version``, stepping through ``steps`` (canary %)."""

    rollout_id: str
    model_name: str
    stable_version: str
    canary_version: str
    steps: list[int]  # canary percent per step; 0 first is the shadow phase (mirrored, no customer sees it)
    step_index: int = 0
    weight: int = 0  # canary share of traffic right now, percent
    phase: Phase = Phase.RUNNING
    failures: int = 0  # consecutive failed analyses at this step
    inconclusive: int = 0  # consecutive inconclusive analyses at this step
    accuracy_evidence: str = ""  # the check that showed the challenger's accuracy holds (shadow or live)
    halted: bool = False  # paused for good: a phase reached its maximum time undecided (resume to go on)
    step_started_at: float = Field(default_factory=time.time)
    step_deadline_at: float = 0.0  # undecided at this time: inconclusive, the rollout pauses
    started_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    reason: str = ""
