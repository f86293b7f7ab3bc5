"""What every command shares: error reporting, the console, a rollout's end."""

from __future__ import annotations

import json
from typing import NoReturn

import typer
from rich.console import Console

console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error (never a traceback) and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_rollout_report(report, as_json: bool) -> None:
    """A rollout's end, the same on every backend: the phase and why, the JSON contract, exit 1 unless promoted."""
    colour = "green" if report.state.phase == "promoted" else "red"
    console.print(f"[{colour}]{report.state.phase}[/]: {report.state.reason}", highlight=False)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    if report.state.phase != "promoted":
        raise typer.Exit(1)
