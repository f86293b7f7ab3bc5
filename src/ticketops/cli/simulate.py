"""``ticketops simulate``: real tickets to the running service under a traffic scenario, plus agents' feedback."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from ticketops.cli.common import console, fail
from ticketops.simulation.scenarios import SCENARIOS


def simulate(
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "steady",
    rate: Annotated[
        float, typer.Option(min=0.0, help="Tickets per second (0: as fast as the service answers).")
    ] = 20.0,
    count: Annotated[int, typer.Option(min=1, help="Tickets to send.")] = 500,
    url: Annotated[str, typer.Option(help="Base URL of the service.")] = "http://127.0.0.1:3000",
    feedback_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of tickets agents label.")] = 0.3,
    mixture: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of scenario tickets (default: scenarios.mixture).")
    ] = None,
    pool: Annotated[
        Path | None,
        typer.Option(help="CSV (text, label) to draw from (default: seed tickets outside train and validation)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Tickets per request.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same tickets).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Send scenario traffic: steady, surge (a few intents flood in), new-intent, noisy-text."""
    from ticketops.config import load_params
    from ticketops.fileio import read_csv
    from ticketops.settings import project_root
    from ticketops.simulation.scenarios import missing_labels
    from ticketops.simulation.traffic import send_traffic, simulation_pool

    if scenario not in SCENARIOS:
        fail(f"unknown scenario {scenario!r} (choose from {', '.join(SCENARIOS)})")
    params = load_params()
    if pool is not None:
        if not pool.exists():
            fail(f"{pool} does not exist")
        tickets = read_csv(pool)
        if not {"text", "label"} <= set(tickets.columns):
            fail(f"{pool} needs `text` and `label` columns")
    else:
        tickets = simulation_pool(project_root(), params)
    wanted = {"surge": params.scenarios.surge_labels, "new-intent": params.scenarios.new_intent_labels}.get(scenario)
    if wanted and len(missing_labels(tickets, wanted)) == len(wanted):
        fail(f"the pool has no tickets of the {scenario} intents ({', '.join(wanted)})")
    summary = send_traffic(
        url,
        tickets,
        scenario,
        count,
        rate,
        params.scenarios,
        feedback_rate=feedback_rate,
        mixture=mixture,
        batch_size=batch_size,
        seed=seed,
        token=os.environ.get("TICKETOPS_API_TOKEN"),
    )
    if as_json:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        console.print(summary.to_dict())
    if summary.classified == 0:
        raise typer.Exit(1)
