"""The ``ticketops`` command line. Each command lives in its own module; heavy imports happen inside commands."""

import typer

from ticketops.cli import (
    argo_services,
    audit,
    dashboard,
    demo,
    drift,
    labels,
    monitor,
    predict,
    retrain,
    rollout,
    serve,
    simulate,
)

app = typer.Typer(
    name="ticketops",
    no_args_is_help=True,
    add_completion=False,
    help="Support-ticket classifier lifecycle: train (dvc repro), predict, serve, monitor, roll out.",
)
app.command("demo")(demo.demo)
app.command("predict")(predict.predict)
app.command("serve")(serve.serve)
rollout.rollout_app.command("analysis-service")(argo_services.analysis_service)
rollout.rollout_app.command("shadow-mirror")(argo_services.shadow_mirror)
app.add_typer(rollout.rollout_app, name="rollout")
app.command("retrain")(retrain.retrain)
app.command("retrain-webhook")(retrain.retrain_webhook)
app.add_typer(rollout.stack_app, name="stack")

app.command("drift")(drift.drift)
app.command("monitor")(monitor.monitor)
app.command("dashboard")(dashboard.dashboard)
app.command("simulate")(simulate.simulate)
app.command("audit")(audit.audit)
app.add_typer(labels.labels_app, name="labels")


@app.callback()
def main() -> None:
    """Support-ticket classifier lifecycle: train (dvc repro), predict, serve, monitor, roll out."""
