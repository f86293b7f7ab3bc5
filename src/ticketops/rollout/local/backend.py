"""LocalBackend: the rollout backend on one machine (two ``bentoml serve`` processes + the splitter)."""

from __future__ import annotations

import httpx

from ticketops.fileio import write_json
from ticketops.rollout.backend import CANARY, STABLE, BackendError
from ticketops.rollout.local.splitter import Split
from ticketops.rollout.local.stack import LocalStack
from ticketops.rollout.state import RolloutState


class LocalBackend:
    name = "local"
    supports_shadow = True

    def __init__(self, stack: LocalStack):
        self.stack = stack

    @property
    def state_path(self):
        return self.stack.dir / "rollout.json"

    def _stable(self):
        stable = self.stack.record(STABLE)
        if stable is None:
            raise BackendError("the local stack has no stable process: run `ticketops stack up` first")
        return stable

    def deploy_canary(self, model_uri: str, version: str) -> None:
        stable = self._stable()
        self.stack.stop(CANARY)
        canary = self.stack.start_service(CANARY, model_uri, version, CANARY)
        self.stack.write_targets()
        self.stack.set_split(Split(stable=stable.url, canary=canary.url, weight=0))

    def set_weight(self, canary_percent: int) -> None:
        canary = self.stack.record(CANARY)
        split = Split(
            stable=self._stable().url, canary=canary.url if canary else None, weight=canary_percent if canary else 0
        )
        self.stack.set_split(split)

    def set_shadow(self) -> None:
        canary = self.stack.record(CANARY)
        if canary is None:
            raise BackendError("no canary process to mirror traffic to")
        self.stack.set_split(Split(stable=self._stable().url, canary=canary.url, weight=0, mirror=True))

    def promote(self, model_uri: str, version: str) -> None:
        """Start a fresh stable on the new model, move all traffic to it, then retire the old processes."""
        canary = self.stack.record(CANARY)
        if canary is not None:  # keep serving from the canary while the new stable loads
            self.stack.set_split(Split(stable=canary.url))
        self.stack.rename(STABLE, "stable-retiring")
        new_stable = self.stack.start_service(STABLE, model_uri, version, STABLE)
        self.stack.set_split(Split(stable=new_stable.url))
        self.stack.write_targets()
        self.stack.stop("stable-retiring")
        self.stack.stop(CANARY)
        self.stack.write_targets()

    def rollback(self) -> None:
        """All traffic to stable first (one request to the splitter), then stop the canary."""
        self.stack.set_split(Split(stable=self._stable().url))
        self.stack.stop(CANARY)
        self.stack.write_targets()

    def canary_ready(self) -> bool:
        canary = self.stack.record(CANARY)
        if canary is None:
            return False
        try:
            return httpx.get(f"{canary.url}/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def load_state(self) -> RolloutState | None:
        if not self.state_path.exists():
            return None
        return RolloutState.model_validate_json(self.state_path.read_text())

    def save_state(self, state: RolloutState) -> None:
        write_json(self.state_path, state.model_dump(mode="json"))
