"""The ``ticketops`` command line. Each command lives in its own module; heavy imports happen inside commands."""

import typer

from ticketops.cli import predict, rollout

app = typer.Typer(
    name="ticketops",
    no_args_is_help=True,
    add_completion=False,
    help="Support-ticket classifier lifecycle: train (dvc repro), predict, serve, monitor, roll out.",
)
app.command("predict")(predict.predict)
app.add_typer(rollout.rollout_app, name="rollout")
app.add_typer(rollout.stack_app, name="stack")


@app.callback()
def main() -> None:
    """Support-ticket classifier lifecycle: train (dvc repro), predict, serve, monitor, roll out."""
