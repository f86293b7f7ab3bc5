"""``ticketops retrain`` (feedback → new DVC data version → dvc repro → gate) and its Alertmanager webhook."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ticketops.cli.common import console, fail


def _retrain_once(rollout: bool, backend: str | None) -> dict:
    from ticketops.retraining.pipeline import retrain
    from ticketops.settings import RolloutSettings, project_root, service_settings

    root = project_root()
    console.print("exporting feedback labels and running dvc repro ...", highlight=False)
    result = retrain(
        root, service_settings().prediction_log_url, RolloutSettings().resolved_state_dir(), sys.stderr.write
    )
    export = result.export
    summary = {
        "feedback_batch": str(export.path.relative_to(root)) if export.path else None,
        "feedback_rows": export.rows,
        "skipped_known": export.skipped_known,
        "skipped_conflicts": export.skipped_conflicts,
        "skipped_test": export.skipped_test,
        "registration": result.registration,
        "rollout": None,
    }
    gate = result.registration["gate"]
    console.print(
        f"feedback batch: {summary['feedback_batch'] or 'none (no new labels)'} ({export.rows} rows); "
        f"v{result.registration['version']} gate {'passed' if gate['passed'] else 'failed'}: {gate['reason']}",
        highlight=False,
    )
    if rollout and result.challenger:
        from ticketops.cli.rollout import make_controller

        controller = make_controller(backend)
        summary["rollout"] = controller.run(controller.start()).as_dict()
    return summary


def retrain(
    rollout: Annotated[
        bool, typer.Option(help="Start a canary rollout when the gate makes a new @challenger.")
    ] = False,
    backend: Annotated[str | None, typer.Option(help="Rollout backend: local or kubernetes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object on stdout.")] = False,
) -> None:
    """Export new feedback labels as a DVC-tracked batch, retrain with `dvc repro`, and let the gate decide."""
    import subprocess

    try:
        summary = _retrain_once(rollout, backend)
    except subprocess.CalledProcessError as exc:
        fail(f"{' '.join(exc.cmd)} failed:\n{exc.output}")
    if as_json:
        typer.echo(json.dumps(summary))


def retrain_webhook(
    port: Annotated[int, typer.Option(help="Port for Alertmanager's webhook (POST /alerts).")] = 9095,
    host: str = "127.0.0.1",
    rollout: Annotated[bool, typer.Option(help="Roll out a new @challenger after retraining.")] = True,
    backend: Annotated[str | None, typer.Option(help="Rollout backend: local or kubernetes.")] = None,
    alert_pattern: Annotated[str, typer.Option(help="Alert names (regex) that trigger retraining.")] = r".*Drift.*",
) -> None:
    """Receive Alertmanager webhooks; a firing drift alert retrains (one at a time) and rolls out."""
    from aiohttp import web

    from ticketops.retraining.webhook import RetrainTrigger, build_app

    def on_alert(names: list[str]) -> str:
        console.print(f"alert {', '.join(names)} firing: retraining", highlight=False)
        return json.dumps(_retrain_once(rollout, backend))

    console.print(
        f"retrain webhook on http://{host}:{port}/alerts (alerts matching {alert_pattern!r})", highlight=False
    )
    web.run_app(build_app(RetrainTrigger(on_alert, alert_pattern)), host=host, port=port, print=None, access_log=None)
