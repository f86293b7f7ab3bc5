"""What the controller needs from a place that runs models: two tracks, a traffic split, durable state."""

from __future__ import annotations

from typing import Protocol

from ticketops.rollout.state import RolloutState

STABLE, CANARY = "stable", "canary"


class BackendError(RuntimeError):
    """The backend cannot do what the controller asked (no stable track, cluster unreachable, timeout)."""


class RolloutBackend(Protocol):
    """Implemented by ``LocalBackend`` (two ``bentoml serve`` processes + a weighted splitter) and
    ``KubernetesBackend`` (two Deployments behind one Service, or Gateway API HTTPRoute weights)."""

    name: str
    supports_shadow: bool  # can mirror live tickets to the canary (the shadow phase); Kubernetes: issue 12

    def deploy_canary(self, model_uri: str, version: str) -> None:
        """Start the canary track serving ``model_uri`` (``models:/ticket-classifier/<version>``) at 0% traffic."""

    def set_weight(self, canary_percent: int) -> None:
        """Send ``canary_percent`` of traffic to the canary, the rest to stable (and stop any mirroring)."""

    def set_shadow(self) -> None:
        """All traffic answered by stable; every classify request also mirrored to the canary, answer discarded."""

    def promote(self, model_uri: str, version: str) -> None:
        """Make the canary's model the stable track's model and send it all traffic; remove the canary."""

    def rollback(self) -> None:
        """All traffic back to stable at once; remove the canary."""

    def canary_ready(self) -> bool:
        """The canary answers its readiness probe (a dead canary is a failed check, not an inconclusive one)."""

    def load_state(self) -> RolloutState | None:
        """The persisted state of the current or last rollout, if any."""

    def save_state(self, state: RolloutState) -> None:
        """Persist ``state`` so a restarted controller resumes where it stopped."""
