"""``ticketops rollout start|promote|abort --backend argo``: Argo Rollouts moves traffic, ticketops pins and records."""

from __future__ import annotations

import json

import typer

from ticketops.cli.common import console, fail, print_rollout_report


def _backend():
    from ticketops.rollout.argo.backend import ArgoBackend
    from ticketops.rollout.backend import BackendError

    try:
        return ArgoBackend.from_settings()
    except BackendError as exc:
        fail(str(exc))


def _errors():
    from kubernetes.client.exceptions import ApiException

    from ticketops.rollout.admission import RolloutError
    from ticketops.rollout.backend import BackendError

    return RolloutError, BackendError, ApiException


def _say(message: str) -> None:
    console.print(message, highlight=False)


def _events(events) -> None:
    for event in events:
        _say(f"recorded {event.event} ({event.actor}): {event.reason}")


def start(*, force_ungated: bool, wait: bool, poll_s: float | None, timeout_s: float | None, as_json: bool) -> None:
    """Pin the Rollout to @challenger's version; with ``wait``, follow it to promoted / rolled back."""
    from ticketops.settings import ArgoSettings

    backend = _backend()
    try:
        started = backend.start(force_ungated=force_ungated)
        _say(f"rollout {started.rollout_id}: {started.reason}")
        if not wait:
            _say(f"follow it with `kubectl argo rollouts get rollout {backend.rollout.name} --watch`")
            if as_json:
                typer.echo(json.dumps(started.model_dump()))
            return
        settings = ArgoSettings()
        report = backend.wait(
            started.rollout_id,
            poll_s=poll_s or settings.poll_s,
            timeout_s=settings.wait_timeout_s if timeout_s is None else timeout_s,
            log=_say,
        )
    except _errors() as exc:
        fail(str(exc))
    print_rollout_report(report, as_json)


def promote(full: bool) -> None:
    backend = _backend()
    try:
        events = backend.promote(full=full)
    except _errors() as exc:
        fail(str(exc))
    _say(f"rollout '{backend.rollout.name}' {'fully promoted' if full else 'promoted'}")
    _events(events)


def abort() -> None:
    backend = _backend()
    try:
        events = backend.abort()
    except _errors() as exc:
        fail(str(exc))
    _say(f"rollout '{backend.rollout.name}' aborted: all traffic back on stable")
    _events(events)


def history(rollout_id: str | None):
    """The argo rollouts' events, read back from the registry's tags: MLflow access is all it needs."""
    from ticketops.config import load_params
    from ticketops.registry import store
    from ticketops.rollout.argo.history import ARGO_ID_PREFIX, registry_history

    model_name = load_params().registration.model_name
    return registry_history(store.client(), model_name, rollout_id, prefix=ARGO_ID_PREFIX)
