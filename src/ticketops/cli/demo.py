"""``ticketops demo``: the whole loop locally, with progress; ``--json`` ends with one summary line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ticketops.cli.common import console


def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="End with one JSON line: scenarios and failed_requests.")
    ] = False,
    workspace: Annotated[Path | None, typer.Option(help="Scratch workspace (default: .ticketops/demo).")] = None,
    keep_running: Annotated[bool, typer.Option(help="Leave the services up afterwards to explore the links.")] = True,
) -> None:
    """Train, serve, drift, alert, retrain on feedback, promote a canary, roll back a bad one."""
    from ticketops.demo.run import Demo
    from ticketops.settings import project_root

    source = project_root()
    demo_run = Demo(
        source,
        (workspace or source / ".ticketops" / "demo").resolve(),
        lambda m: console.print(m, highlight=False),
        keep_running=keep_running,
    )
    try:
        result = demo_run.run()
    finally:
        demo_run.shutdown()
    console.print("\n[bold]summary[/]")
    for scenario in result.scenarios:
        console.print(
            f"  {scenario['name']}: [bold]{scenario['result']}[/] — {scenario.get('reason', '')}", highlight=False
        )
    console.print(f"  failed requests over the whole demo: {result.failed_requests}", highlight=False)
    people, audit = result.extra.get("people"), result.extra.get("audit")
    if people:
        console.print(
            f"  review queue {people['queue_before']} → {people['queue_after']}; labels per agent "
            f"{people['labels_per_agent']}; categories added: {', '.join(people['categories_added'])}",
            highlight=False,
        )
    if audit:
        console.print(
            f"  audit trail: {audit['events']} events; rollout history events missing from it: "
            f"{audit['missing_vs_rollout_history']} (see `ticketops audit`)",
            highlight=False,
        )
    for name, url in result.links.items():
        console.print(f"  {name:<12} {url}", highlight=False)
    if keep_running:
        console.print(
            f"  services keep running; stop them with: TICKETOPS_STATE_DIR={demo_run.ws / '.ticketops'} "
            "ticketops stack down",
            highlight=False,
        )
    if as_json:
        typer.echo(result.line())
