"""``ticketops retrain`` (feedback → new DVC data version → dvc repro → gate) and its Alertmanager webhook."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ticketops.cli.common import console, fail


def _retrain_once(rollout: bool, backend: str | None, publish: bool | None = None) -> dict:
    from dataclasses import asdict

    from ticketops.retraining.pipeline import retrain
    from ticketops.settings import RetrainSettings, RolloutSettings, project_root, service_settings

    root = project_root()
    settings = RetrainSettings()
    publishing = settings if (settings.publish if publish is None else publish) else None
    console.print("exporting feedback labels and running dvc repro ...", highlight=False)
    result = retrain(
        root,
        service_settings().prediction_log_url,
        RolloutSettings().resolved_state_dir(),
        sys.stderr.write,
        publish=publishing,
    )
    export = result.export
    summary = {
        "feedback_batch": str(export.path.relative_to(root)) if export.path else None,
        "feedback_rows": export.rows,
        "skipped_known": export.skipped_known,
        "skipped_conflicts": export.skipped_conflicts,
        "skipped_test": export.skipped_test,
        "registration": result.registration,
        "data_version": asdict(result.data_version) if result.data_version else None,
        "rollout": None,
    }
    if not result.registration:
        console.print("no new feedback labels: nothing to retrain, no data version to publish", highlight=False)
        return summary
    gate = result.registration["gate"]
    console.print(
        f"feedback batch: {summary['feedback_batch'] or 'none (no new labels)'} ({export.rows} rows); "
        f"v{result.registration['version']} gate {'passed' if gate['passed'] else 'failed'}: {gate['reason']}",
        highlight=False,
    )
    if result.data_version is not None:
        data = result.data_version
        console.print(
            f"data version: branch {data.branch} ({data.commit[:12]}) on {data.git_remote}; "
            f"data in DVC remote {data.dvc_remote} ({data.dvc_remote_url})",
            highlight=False,
        )
    if rollout and result.rollout_candidate:  # only after a passed gate
        from ticketops.cli.rollout import make_controller

        controller = make_controller(backend)
        summary["rollout"] = controller.run(controller.start()).as_dict()
    return summary


def retrain(
    rollout: Annotated[
        bool, typer.Option(help="Start a canary rollout when the gate makes a new @challenger.")
    ] = False,
    backend: Annotated[str | None, typer.Option(help="Rollout backend: local or kubernetes.")] = None,
    publish: Annotated[
        bool | None,
        typer.Option(
            "--publish/--no-publish",
            help="dvc push the data, commit it on a retrain/ branch and git push it (default: "
            "TICKETOPS_RETRAIN_PUBLISH); an empty workspace is cloned from TICKETOPS_RETRAIN_GIT_URL first.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object on stdout.")] = False,
) -> None:
    """Export new feedback labels as a DVC-tracked batch, retrain with `dvc repro`, and let the gate decide."""
    import subprocess

    from ticketops.retraining.gitops import GitError
    from ticketops.retraining.publish import PublishError

    try:
        summary = _retrain_once(rollout, backend, publish)
    except subprocess.CalledProcessError as exc:
        fail(f"{' '.join(exc.cmd)} failed:\n{exc.output}")
    except (GitError, PublishError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(summary))


def _kubernetes_launcher():
    """Jobs from the suspended CronJob, in the cluster the Kubernetes settings name (in-cluster: the pod's SA)."""
    from ticketops.retraining.k8s_job import JobLauncher
    from ticketops.rollout.kubernetes.connection import api_client_from_settings
    from ticketops.settings import KubernetesSettings, RetrainSettings

    k8s = KubernetesSettings()
    return JobLauncher(api_client_from_settings(k8s), k8s.namespace, RetrainSettings().cronjob)


def retrain_webhook(
    port: Annotated[int, typer.Option(help="Port for Alertmanager's webhook (POST /alerts).")] = 9095,
    host: str = "127.0.0.1",
    rollout: Annotated[bool, typer.Option(help="Roll out a new @challenger after retraining.")] = True,
    backend: Annotated[str | None, typer.Option(help="Rollout backend: local or kubernetes.")] = None,
    alert_pattern: Annotated[str, typer.Option(help="Alert names (regex) that trigger retraining.")] = r".*Drift.*",
) -> None:
    """Receive Alertmanager webhooks; a firing drift alert retrains (one at a time) and rolls out. With
    TICKETOPS_RETRAIN_TRIGGER=kubernetes it creates a Job from the CronJob ticketops-retrain instead."""
    from aiohttp import web

    from ticketops.retraining.webhook import RetrainTrigger, build_app, webhook_authorizer
    from ticketops.serving.auth import AuthConfigError, directory_from_settings
    from ticketops.settings import RetrainSettings, service_settings

    try:
        authorizer = webhook_authorizer(directory_from_settings(service_settings()))
    except AuthConfigError as exc:
        fail(str(exc))

    if RetrainSettings().trigger == "kubernetes":
        launcher = _kubernetes_launcher()

        def on_alert(names: list[str]) -> str:
            console.print(f"alert {', '.join(names)} firing: retrain Job", highlight=False)
            return launcher.launch(names)

        where = f"Jobs from cronjob/{launcher.cronjob} in namespace {launcher.namespace}"
    else:

        def on_alert(names: list[str]) -> str:
            console.print(f"alert {', '.join(names)} firing: retraining", highlight=False)
            return json.dumps(_retrain_once(rollout, backend))

        where = "retraining in this process"
    console.print(
        f"retrain webhook on http://{host}:{port}/alerts (alerts matching {alert_pattern!r}; {where})",
        highlight=False,
    )
    from ticketops.audit import AuditTrail

    trigger = RetrainTrigger(on_alert, alert_pattern, record=AuditTrail.from_settings().record)
    web.run_app(build_app(trigger, authorizer), host=host, port=port, print=None, access_log=None)
