"""The rollout event log: every decision with time, versions, step, measured values, verdict and reason.

Kept twice on purpose: a JSON-lines file for ``ticketops rollout history`` and compact tags on the canary's
model version in MLflow, so the registry itself answers "what served when, and why".
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

TAG_PREFIX = "rollout"
MAX_TAG_CHARS = 4900  # MLflow's limit on a tag value is 5000


class RolloutEvent(BaseModel):
    time: float = Field(default_factory=time.time)
    rollout_id: str
    event: str  # started | analysis | step | paused | halted | promoted | rolled_back | aborted
    stable_version: str
    canary_version: str
    step: int
    weight: int
    verdict: str = ""
    reason: str = ""
    measured: dict[str, Any] = Field(default_factory=dict)


class EventLog:
    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, event: RolloutEvent) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(event.model_dump_json() + "\n")

    def read(self, rollout_id: str | None = None) -> list[RolloutEvent]:
        if not self.path.exists():
            return []
        events = [RolloutEvent.model_validate_json(line) for line in self.path.read_text().splitlines() if line.strip()]
        return [e for e in events if rollout_id is None or e.rollout_id == rollout_id]


def registry_tag(event: RolloutEvent) -> tuple[str, str]:
    """A model-version tag for a decision: key ``rollout.<id>.<seq>``, value a compact JSON summary."""
    summary = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.time)),
        "event": event.event,
        "stable": event.stable_version,
        "canary": event.canary_version,
        "step": event.step,
        "weight": event.weight,
        "verdict": event.verdict,
        "reason": event.reason,
    }
    value = json.dumps(summary, separators=(",", ":"))
    key = f"{TAG_PREFIX}.{event.rollout_id}.{int(event.time * 1000)}.{event.event}"
    return key, value[:MAX_TAG_CHARS]
