"""Build the rollout controller and its parts from params.yaml and the environment (CLI, demo, benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

from ticketops.config import load_params
from ticketops.rollout.backend import BackendError, RolloutBackend
from ticketops.rollout.controller import RolloutController
from ticketops.rollout.events import EventLog
from ticketops.rollout.local.stack import LocalStack
from ticketops.settings import RolloutSettings

BACKENDS = ("local", "kubernetes")


def local_stack(settings: RolloutSettings | None = None) -> LocalStack:
    settings = settings or RolloutSettings()
    return LocalStack(settings.resolved_state_dir(), settings.prometheus_url, settings.splitter_port)


def make_backend(name: str | None) -> RolloutBackend:
    """The backend called ``name`` (default: ``TICKETOPS_ROLLOUT_BACKEND``); BackendError for an unknown name."""
    name = name or RolloutSettings().rollout_backend
    if name == "local":
        from ticketops.rollout.local.backend import LocalBackend

        return LocalBackend(local_stack())
    if name == "kubernetes":
        from ticketops.rollout.kubernetes.backend import KubernetesBackend

        return KubernetesBackend.from_settings()
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
