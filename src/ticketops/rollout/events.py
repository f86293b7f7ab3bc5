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
    actor: str = ""  # who made the change, when not the controller (argo: the manager Kubernetes reports)


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
    if event.actor:
        summary["actor"] = event.actor
    value = json.dumps(summary, separators=(",", ":"))
    while len(value) > MAX_TAG_CHARS and len(summary["reason"]) > 3:  # shorten the reason: the tag stays JSON
        cut = len(value) - MAX_TAG_CHARS + 3
        summary["reason"] = summary["reason"][: max(0, len(summary["reason"]) - cut)] + "..."
        value = json.dumps(summary, separators=(",", ":"))
    key = f"{TAG_PREFIX}.{event.rollout_id}.{int(event.time * 1000)}.{event.event}"
    return key, value[:MAX_TAG_CHARS]


def event_from_registry_tag(key: str, value: str) -> RolloutEvent | None:
    """The event a ``registry_tag`` stands for (its measurements are not in the tag), or None for another tag.

    Why: the registry is the one history every backend writes, readable by anyone with MLflow access.
    """
    prefix, _, rest = key.partition(".")
    if prefix != TAG_PREFIX or rest.count(".") < 2:
        return None
    rollout_id, millis, kind = rest.rsplit(".", 2)
    try:
        summary = json.loads(value)
        at = int(millis) / 1000
    except ValueError:
        return None
    if not isinstance(summary, dict) or summary.get("event") != kind:
        return None
    return RolloutEvent(
        time=at,
        rollout_id=rollout_id,
        event=kind,
        stable_version=str(summary.get("stable", "")),
        canary_version=str(summary.get("canary", "")),
        step=int(summary.get("step", 0)),
        weight=int(summary.get("weight", 0)),
        verdict=str(summary.get("verdict", "")),
        reason=str(summary.get("reason", "")),
        actor=str(summary.get("actor", "")),
    )
