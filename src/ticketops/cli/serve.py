"""``ticketops serve``: the BentoML service on one port (replaces this process with ``bentoml serve``).

Replacing the process (exec) keeps one PID: SIGTERM from a supervisor, the rollout's local backend or
Ctrl-C reaches BentoML directly, which lets in-flight requests finish and flushes the prediction log.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ticketops.cli.common import fail
from ticketops.settings import project_root

SERVICE = "serving.service:TicketClassifier"


def serve(
    model_uri: Annotated[
        str | None,
        typer.Option("--model-uri", help="Registry URI to serve (default: TICKETOPS_MODEL_URI or the champion)."),
    ] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="HTTP port.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (0.0.0.0 in a container).")] = "127.0.0.1",
) -> None:
    """Serve the classifier over HTTP: /classify, /feedback, /review, /ui, /audit, /metrics, /livez, /readyz."""
    from ticketops.serving.auth import AuthConfigError, check_bind, directory_from_settings
    from ticketops.settings import ServiceSettings

    try:  # a users file that does not load, or no credentials beyond loopback: refuse before binding
        check_bind(host, directory_from_settings(ServiceSettings()))
    except AuthConfigError as exc:
        fail(str(exc))
    root = project_root()
    if not (root / "serving" / "service.py").is_file():
        fail(f"serving/service.py not found under {root}: run from the ticketops checkout or set TICKETOPS_ROOT")
    env = dict(os.environ)
    if model_uri:
        env["TICKETOPS_MODEL_URI"] = model_uri
    env.setdefault("TICKETOPS_ROOT", str(root))
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--port", str(port), "--host", host]
    command += ["--working-dir", str(Path(root))]
    os.chdir(root)
    os.execve(sys.executable, command, env)
