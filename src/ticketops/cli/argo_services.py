"""``ticketops rollout analysis-service`` and ``ticketops rollout shadow-mirror``: the two small services an Argo
Rollouts cluster runs beside the model service (k8s/overlays/argo-rollouts)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from ticketops.cli.common import console, fail

HostOption = Annotated[str, typer.Option(help="Address to listen on (beyond loopback only with a token).")]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _serve(make_app, host: str, port: int, banner: str) -> None:
    """Build the app for ``host`` (an AuthConfigError is a one-line error), say where it listens, serve it."""
    from aiohttp import web

    from ticketops.serving.auth import AuthConfigError

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        app = make_app(host)
    except AuthConfigError as exc:
        fail(str(exc))
    console.print(banner, highlight=False)
    web.run_app(app, host=host, port=port, print=None, access_log=None)


def analysis_service(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of /v1/checks, /v1/analysis, probes and /metrics.")] = 8080,
) -> None:
    """Answer Argo's web metrics with ticketops' checks (pass / fail / inconclusive); with
    TICKETOPS_ARGO_RECONCILE=true also keep the registry following the cluster."""
    from ticketops.rollout.argo.analysis_service import app_from_settings

    _serve(app_from_settings, host, port, f"analysis service on http://{host}:{port}/v1/checks/<phase>/<check>")


def shadow_mirror(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the HTTPRoute mirrors /classify and /feedback to.")] = 3000,
) -> None:
    """Pair stable's and the canary's answers to mirrored tickets (the shadow phase on a cluster)."""
    from ticketops.rollout.argo.shadow_mirror import app_from_settings

    _serve(app_from_settings, host, port, f"shadow mirror on http://{host}:{port} (mirrored /classify and /feedback)")
