"""Build the rollout controller and its parts from params.yaml and the environment (CLI, demo, benchmarks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ticketops.config import load_params
from ticketops.rollout.backend import BackendError, RolloutBackend
from ticketops.rollout.controller import RolloutController
from ticketops.rollout.events import EventLog
from ticketops.rollout.local.stack import LocalStack
from ticketops.settings import RolloutSettings

if TYPE_CHECKING:
    from ticketops.rollout.argo.backend import ArgoBackend

BACKENDS = ("local", "kubernetes", "argo")


def local_stack(settings: RolloutSettings | None = None) -> LocalStack:
    settings = settings or RolloutSettings()
    return LocalStack(settings.resolved_state_dir(), settings.prometheus_url, settings.splitter_port)


def resolve_backend(name: str | None) -> str:
    """``name``, or ``TICKETOPS_ROLLOUT_BACKEND`` when None."""
    return name or RolloutSettings().rollout_backend


def make_backend(name: str | None) -> RolloutBackend | ArgoBackend:
    """The backend called ``name`` (default: ``TICKETOPS_ROLLOUT_BACKEND``); BackendError for an unknown name.

    ``argo`` is no RolloutBackend for the controller (Argo moves traffic): it gives ``ArgoBackend``, whose
    ``load_state`` serves ``rollout status`` and whose commands the CLI calls directly.
    """
    name = resolve_backend(name)
    if name == "local":
        from ticketops.rollout.local.backend import LocalBackend

        return LocalBackend(local_stack())
    if name == "kubernetes":
        from ticketops.rollout.kubernetes.backend import KubernetesBackend

        return KubernetesBackend.from_settings()
    if name == "argo":
        from ticketops.rollout.argo.backend import ArgoBackend

        return ArgoBackend.from_settings()
    raise BackendError(f"unknown backend {name!r} ({' or '.join(BACKENDS)})")


def event_log() -> EventLog:
    return EventLog(RolloutSettings().resolved_state_dir() / "rollout-events.jsonl")


def make_controller(
    backend_name: str | None, interval: float | None = None, log: Callable[[str], None] | None = None
) -> RolloutController:
    """A controller on the configured backend, Prometheus and registry; ``log`` receives its progress lines."""
    from ticketops.audit import AuditTrail
    from ticketops.registry import store
    from ticketops.rollout.analysis import CanaryAnalysis
    from ticketops.rollout.audit import RolloutAudit
    from ticketops.rollout.promql import PromQL

    if resolve_backend(backend_name) == "argo":
        raise BackendError("the argo backend has no ticketops controller: Argo Rollouts runs the steps and analysis")
    params = load_params()
    rollout = params.rollout
    if interval is not None:
        rollout = rollout.model_copy(update={"analysis_interval_s": interval})
    return RolloutController(
        backend=make_backend(backend_name),
        analysis=CanaryAnalysis(PromQL(RolloutSettings().prometheus_url), rollout.checks),
        mlflow_client=store.client(),
        params=rollout,
        events=event_log(),
        model_name=params.registration.model_name,
        log=log or (lambda _msg: None),
        on_event=RolloutAudit(AuditTrail.from_settings(), params.registration.model_name),
    )
