"""``ticketops dashboard``: serve the monitor's Evidently workspace (project, panels, every window's report).

The UI runs in this process so it can read snapshots holding ticketops' own Evidently metric (embedding drift).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def dashboard(
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="HTTP port (default: TICKETOPS_MONITOR_DASHBOARD_PORT).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    workspace: Annotated[Path | None, typer.Option(help="Evidently workspace (default: the monitor's).")] = None,
) -> None:
    """Start the Evidently UI on the monitor's workspace (the classifier's project is created if missing)."""
    # The UI reports usage to Evidently's server unless DO_NOT_TRACK is set: ticket dashboards stay in-house.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import evidently.ui.service.app as evidently_app

    import ticketops.monitoring.evidently_metrics  # noqa: F401 - registers the metric snapshots refer to
    from ticketops.monitoring.dashboard import ensure_project, open_workspace
    from ticketops.settings import MonitorSettings

    settings = MonitorSettings()
    path = (workspace or settings.resolved_workspace()).resolve()
    ensure_project(open_workspace(path), settings.project)
    typer.echo(f"Evidently UI for {path} on http://{host}:{port or settings.dashboard_port}", err=True)
    config = evidently_app.get_config(host=host, port=port or settings.dashboard_port, workspace=str(path))
    evidently_app.run(config)
