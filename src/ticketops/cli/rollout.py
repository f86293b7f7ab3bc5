"""``ticketops rollout start|status|promote|abort|history`` and ``ticketops stack up|down|status``."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from ticketops.cli.common import console, fail, print_rollout_report
from ticketops.settings import DEFAULT_MODEL_URI

rollout_app = typer.Typer(no_args_is_help=True, help="Canary rollouts of @challenger beside @champion.")
stack_app = typer.Typer(no_args_is_help=True, help="The local stack: Prometheus, stable/canary services, splitter.")

BackendOption = Annotated[
    str | None, typer.Option("--backend", help="local, kubernetes or argo (default: $TICKETOPS_ROLLOUT_BACKEND).")
]


def _argo(backend: str | None) -> bool:
    from ticketops.rollout.factory import resolve_backend

    return resolve_backend(backend) == "argo"


def _log(message: str) -> None:
    console.print(message, highlight=False)


def make_backend(name: str | None):
    from ticketops.rollout.backend import BackendError
    from ticketops.rollout.factory import make_backend as build

    try:
        return build(name)
    except BackendError as exc:
        fail(str(exc))


def make_controller(backend_name: str | None, interval: float | None = None):
    from ticketops.rollout.backend import BackendError
    from ticketops.rollout.factory import make_controller as build

    try:
        return build(backend_name, interval, log=_log)
    except BackendError as exc:
        fail(str(exc))


@rollout_app.command("start")
def start(
    backend: BackendOption = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the rollout in progress (after a controller restart).")
    ] = False,
    interval: Annotated[float | None, typer.Option(help="Seconds between analyses (default: params.yaml).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object on stdout.")] = False,
    force_ungated: Annotated[
        bool, typer.Option(help="Admin only: roll out a @challenger that did not pass the gate (audited).")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="argo: follow the Rollout until promoted or rolled back (other backends always do).")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(help="argo --wait: give up after this many seconds (default $TICKETOPS_ARGO_WAIT_TIMEOUT_S)."),
    ] = None,
) -> None:
    """Deploy @challenger as a canary and move traffic step by step while the analysis passes.

    With ``--backend argo`` the Rollout's template is pinned to @challenger's version and Argo Rollouts runs
    the steps and analysis (``--interval`` is then the seconds between two looks at the Rollout).
    """
    from ticketops.rollout.backend import BackendError
    from ticketops.rollout.controller import RolloutError

    if _argo(backend):
        from ticketops.cli import rollout_argo

        if resume:
            fail("--resume: Argo Rollouts resumes by itself (`ticketops rollout start --backend argo --wait` follows)")
        rollout_argo.start(force_ungated=force_ungated, wait=wait, poll_s=interval, timeout_s=timeout, as_json=as_json)
        return

    try:
        controller = make_controller(backend, interval)
        state = controller.resume() if resume else controller.start(force_ungated=force_ungated)
        console.print(
            f"rollout {state.rollout_id}: canary v{state.canary_version} beside stable v{state.stable_version}, "
            f"steps {state.steps}",
            highlight=False,
        )
        report = controller.run(state)
    except (RolloutError, BackendError) as exc:
        fail(str(exc))
    print_rollout_report(report, as_json)


@rollout_app.command("status")
def status(backend: BackendOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The current (or last) rollout: phase, step, weight, versions."""
    state = make_backend(backend).load_state()
    if state is None:
        fail("no rollout has run with this backend", code=1)
    if as_json:
        typer.echo(state.model_dump_json())
        return
    console.print(
        f"{state.rollout_id}: {state.phase} — canary v{state.canary_version} at {state.weight}% "
        f"(step {state.step_index + 1}/{len(state.steps)}) beside stable v{state.stable_version}"
        + (f"\n  reason: {state.reason}" if state.reason else ""),
        highlight=False,
    )


@rollout_app.command("promote")
def promote(
    backend: BackendOption = None,
    reason: str = "promoted by operator",
    full: Annotated[
        bool, typer.Option(help="argo: skip every remaining step (`kubectl argo rollouts promote --full`).")
    ] = False,
) -> None:
    """Promote the canary now, skipping the remaining analysis (recorded as a manual decision).

    With ``--backend argo`` this is ``kubectl argo rollouts promote``: the next step, or with ``--full`` all of
    them; the registry records it with the actor Kubernetes reports.
    """
    from ticketops.rollout.backend import BackendError
    from ticketops.rollout.controller import RolloutError

    if _argo(backend):
        from ticketops.cli import rollout_argo

        rollout_argo.promote(full)
        return

    try:
        state = make_controller(backend).force_promote(reason)
    except (RolloutError, BackendError) as exc:
        fail(str(exc))
    console.print(f"promoted v{state.canary_version} to @champion", highlight=False)


@rollout_app.command("abort")
def abort(backend: BackendOption = None, reason: str = "aborted by operator") -> None:
    """Send all traffic back to stable and clear @challenger (argo: `kubectl argo rollouts abort`)."""
    from ticketops.rollout.backend import BackendError
    from ticketops.rollout.controller import RolloutError

    if _argo(backend):
        from ticketops.cli import rollout_argo

        rollout_argo.abort()
        return

    try:
        state = make_controller(backend).abort(reason)
    except (RolloutError, BackendError) as exc:
        fail(str(exc))
    console.print(f"rolled back: all traffic on v{state.stable_version}", highlight=False)


@rollout_app.command("history")
def history(
    backend: BackendOption = None,
    rollout_id: Annotated[str | None, typer.Option("--rollout", help="Only this rollout.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every rollout decision: what served when, who changed it, and why (argo: read from the registry's tags)."""
    from rich.table import Table

    from ticketops.rollout.factory import event_log

    if _argo(backend):
        from ticketops.cli import rollout_argo

        events = rollout_argo.history(rollout_id)
    else:
        events = event_log().read(rollout_id)
    if as_json:
        typer.echo(json.dumps([e.model_dump() for e in events]))
        return
    if not events:
        console.print("no rollout events yet")
        return
    table = Table("time (UTC)", "rollout", "event", "stable", "canary", "step", "weight", "verdict", "actor", "reason")
    for e in events:
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.time)),
            e.rollout_id,
            e.event,
            f"v{e.stable_version}",
            f"v{e.canary_version}",
            str(e.step),
            f"{e.weight}%",
            e.verdict,
            e.actor or "controller",
            e.reason,
        )
    console.print(table)


@stack_app.command("up")
def stack_up(
    model_uri: Annotated[str, typer.Option(help="What stable serves (resolved to a version).")] = DEFAULT_MODEL_URI,
) -> None:
    """Start Prometheus, the stable service and the splitter on loopback (what runs already is kept)."""
    from ticketops.registry import store
    from ticketops.registry.ref import ModelNotFound, ModelRef, parse_model_uri

    client = store.client()
    try:
        version = store.get_version(client, parse_model_uri(model_uri))
    except (ModelNotFound, ValueError) as exc:
        fail(str(exc))
    from ticketops.rollout.factory import local_stack

    stack = local_stack()
    pinned = str(ModelRef.version_of(version.name, version.version))
    console.print(f"starting the local stack with {pinned} as stable ...", highlight=False)
    stack.up(pinned, str(version.version))
    console.print(f"service (via splitter): {stack.splitter_url}   Prometheus: {stack.prometheus_url}", highlight=False)


@stack_app.command("down")
def stack_down() -> None:
    """Stop every process of the local stack."""
    from ticketops.rollout.factory import local_stack

    local_stack().down()
    console.print("local stack stopped")


@stack_app.command("status")
def stack_status() -> None:
    from ticketops.rollout.factory import local_stack

    typer.echo(json.dumps(local_stack().status(), indent=2))
